#!/usr/bin/env python
"""Load test of the HTTP service on loopback: throughput and latency at several numbers of concurrent clients,
and a count showing nothing was dropped (every request answered 200).

    python scripts/load_test.py --model runs/sample_gp --clients 1 8 32 --duration 20 --output runs/load_test.json

Starts scripts/serve.py on a free loopback port (or uses --url), then, per level, runs N clients for --duration
seconds, each sending its next question as soon as the previous answer arrives (closed loop), with questions from
--data (SQuAD layout; the packaged sample dev set by default). Prints a Markdown table for BENCHMARKS.md.

Mixed sizes (issue #24: one request must not hold everyone):

    python scripts/load_test.py --mixed --untrained_default --clients 2 --duration 30 --output runs/load_mixed.json

measures the small requests' latency (p50/p95) first alone, then while one client keeps sending a large request
(--big_passages passages of --big_chars characters each, one after another). `--untrained_default` serves the
packaged all-MiniLM-L6-v2 with an untrained GlobalPointer head (latency only: the answers mean nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time

from .first_request import first_request
from .paths import ROOT


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--model", help="a model folder: start scripts/serve.py with it")
    where.add_argument("--url", help="a running service, e.g. http://127.0.0.1:8000")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--duration", type=float, default=20.0, help="seconds per level")
    p.add_argument("--warmup", type=int, default=8, help="requests before measuring")
    p.add_argument("--data", default=os.path.join(ROOT, "data", "sample_dev.json"))
    p.add_argument("--top_k", type=int, default=1)
    p.add_argument("--timeout", type=float, default=120.0, help="a request slower than this counts as dropped")
    p.add_argument("--output", default=None, help="write the figures as JSON here")
    p.add_argument("--serve_args", default="", help="more flags for scripts/serve.py, e.g. '--max_wait_ms 5'")
    p.add_argument(
        "--first_request",
        type=int,
        default=0,
        help="N: only the first request to each lane after ready against the next N (gp_mrc_lab/first_request.py)",
    )
    m = p.add_argument_group("mixed sizes (--mixed): small requests alone, then beside a large one")
    m.add_argument("--mixed", action="store_true")
    m.add_argument("--big_passages", type=int, default=32)
    m.add_argument("--big_chars", type=int, default=19_000)
    where.add_argument(
        "--untrained_default",
        action="store_true",
        help="serve the packaged all-MiniLM-L6-v2 with an untrained GlobalPointer head",
    )
    return p


def untrained_default_folder(out_dir: str) -> str:
    """The packaged default encoder with a fresh GlobalPointer head, saved as a model folder (for latency)."""
    import torch
    from transformers import AutoTokenizer

    from gp_mrc.defaults import default_encoder_path
    from gp_mrc.models.modeling import GlobalPointerForQuestionAnswering

    torch.manual_seed(0)
    encoder = default_encoder_path()
    GlobalPointerForQuestionAnswering.from_encoder(encoder).save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(encoder).save_pretrained(out_dir)
    return out_dir


def big_request(questions: list[dict], passages: int, chars: int) -> dict:
    """One question over `passages` passages of `chars` characters (the sample passages, repeated)."""
    text = " ".join(dict.fromkeys(q["context"] for q in questions))
    text = (text + " ") * (chars // max(1, len(text)) + 1)
    return {"inputs": [{"question": questions[0]["question"], "context": text[:chars]} for _ in range(passages)]}


def percentiles(lat: list[float]) -> dict:
    lat = sorted(lat)
    pick = (lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1)) if lat else (lambda q: None)
    return {"n": len(lat), "p50_ms": pick(0.5), "p95_ms": pick(0.95), "max_ms": pick(1.0)}


async def small_latencies(
    client, url: str, questions: list[dict], clients: int, duration: float, statuses: dict
) -> list[float]:
    latencies: list[float] = []
    stop_at = time.monotonic() + duration

    async def one_client(n: int) -> None:
        while time.monotonic() < stop_at:
            t = time.perf_counter()
            r = await client.post(url + "/", json={"inputs": questions[n % len(questions)]})
            statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
            if r.status_code == 200:
                latencies.append(time.perf_counter() - t)
            n += clients

    await asyncio.gather(*(one_client(k) for k in range(clients)))
    return latencies


async def mixed(client, url: str, questions: list[dict], args: argparse.Namespace) -> dict:
    """Small requests' latency alone, then while one large request runs (the client leaves it after --duration)."""
    clients, statuses = args.clients[0], {}
    alone = await small_latencies(client, url, questions, clients, args.duration, statuses)
    big, big_s = big_request(questions, args.big_passages, args.big_chars), {}

    async def big_client() -> None:
        t = time.perf_counter()
        r = await client.post(url + "/", json=big, timeout=None)
        statuses["big " + str(r.status_code)] = 1
        big_s["latency_s"] = round(time.perf_counter() - t, 2)

    task = asyncio.create_task(big_client())
    await asyncio.sleep(1.0)  # the large request is in the model before the small ones are timed
    started = time.perf_counter()
    beside = await small_latencies(client, url, questions, clients, args.duration, statuses)
    if not task.done():  # measured enough: the client leaves, and the server drops what is left of it
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        big_s["unfinished_after_s"] = round(time.perf_counter() - started + 1.0, 1)
    lanes = (await client.get(url + "/health")).json()["batching"]["lanes"]
    return {
        "small_clients": clients,
        "alone": percentiles(alone),
        "beside_big": percentiles(beside),
        "big_request": {
            "passages": args.big_passages,
            "chars": args.big_chars,
            **big_s,
            "passages_answered": lanes["large"]["questions"],
        },
        "statuses": statuses,
    }


def load_questions(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)["data"]
    return [
        {"question": qa["question"], "context": par["context"]}
        for art in data
        for par in art["paragraphs"]
        for qa in par["qas"]
    ]


async def level(client, url: str, questions: list[dict], clients: int, duration: float, top_k: int) -> dict:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    sent = 0
    stop_at = time.monotonic() + duration

    async def one_client(offset: int) -> None:
        nonlocal sent
        n = offset
        while time.monotonic() < stop_at:
            q = questions[n % len(questions)]
            n += clients
            sent += 1
            t = time.perf_counter()
            try:
                r = await client.post(url + "/", json={"inputs": q, "parameters": {"top_k": top_k}})
                key = str(r.status_code)
            except Exception as e:  # noqa: BLE001  (a dropped request: timeout or connection error)
                key = type(e).__name__
            statuses[key] = statuses.get(key, 0) + 1
            if key == "200":
                latencies.append(time.perf_counter() - t)

    before = (await client.get(url + "/health")).json()["batching"]
    t0 = time.perf_counter()
    await asyncio.gather(*(one_client(k) for k in range(clients)))
    wall = time.perf_counter() - t0
    after = (await client.get(url + "/health")).json()["batching"]
    calls = after["model_calls"] - before["model_calls"]
    lat = sorted(latencies)
    return {
        "clients": clients,
        "sent": sent,
        "ok": statuses.get("200", 0),
        "statuses": statuses,
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(lat) / wall, 2),
        "p50_ms": round(1000 * statistics.median(lat), 1) if lat else None,
        "p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1) if lat else None,
        "model_calls": calls,
        "mean_batch": round((after["questions"] - before["questions"]) / calls, 2) if calls else None,
    }


async def measure(args: argparse.Namespace, url: str) -> list[dict]:
    """The levels (or, with --mixed, one row: small requests alone and beside a large one)."""
    import httpx

    questions = load_questions(args.data)
    limits = httpx.Limits(max_connections=max(args.clients) + 4, max_keepalive_connections=max(args.clients) + 4)
    async with httpx.AsyncClient(timeout=args.timeout, limits=limits) as client:
        health = (await client.get(url + "/health")).json()
        print(f"model {health['model']} ({health['architecture']}), batching {health['batching']}", file=sys.stderr)
        if args.first_request:  # before any other request: the service exactly as it reported ready
            return [await first_request(client, url, questions, args.first_request)]
        for q in questions[: args.warmup]:
            (await client.post(url + "/", json={"inputs": q})).raise_for_status()
        if args.mixed:
            return [await mixed(client, url, questions, args)]
        rows = []
        for n in args.clients:
            rows.append(await level(client, url, questions, n, args.duration, args.top_k))
            print(json.dumps(rows[-1]), file=sys.stderr)
        return rows


def serve_and_measure(args: argparse.Namespace) -> list[dict]:
    if args.url:
        return asyncio.run(measure(args, args.url))
    from .launch import served

    if not args.untrained_default:
        with served(args.model, args.serve_args.split()) as url:
            return asyncio.run(measure(args, url))
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gp_mrc_untrained_") as folder:
        with served(untrained_default_folder(folder), args.serve_args.split()) as url:
            return asyncio.run(measure(args, url))


def print_mixed(row: dict) -> None:
    print("| small requests | clients | p50 latency (ms) | p95 latency (ms) | max (ms) | answered |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, key in (("alone", "alone"), ("beside the large request", "beside_big")):
        r = row[key]
        print(f"| {name} | {row['small_clients']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} | {r['n']} |")
    big = row["big_request"]
    print(f"\nlarge request: {big['passages']} passages x {big['chars']} characters: {big}; statuses {row['statuses']}")


def in_repo(values: dict) -> dict:
    """The arguments as the result file keeps them: paths inside the repository relative to it (no machine's path
    in a committed file)."""
    inside = ROOT + os.sep
    return {
        k: os.path.relpath(v, ROOT) if isinstance(v, str) and v.startswith(inside) else v for k, v in values.items()
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if min(args.clients) < 1 or args.duration <= 0:
        print("error: --clients must be >= 1 and --duration > 0", file=sys.stderr)
        return 2
    rows = serve_and_measure(args)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "args": in_repo(vars(args)),
                    "levels": rows,
                },
                f,
                indent=1,
            )
    if args.first_request:
        print(json.dumps(rows[0], indent=1))
        return 0
    if args.mixed:
        print_mixed(rows[0])
        return 0 if set(rows[0]["statuses"]) <= {"200", "big 200"} else 1  # an unfinished large one is no error
    print(
        "| concurrent clients | requests | answered 200 | other | throughput (req/s) | p50 latency (ms) "
        "| p99 latency (ms) | questions per model call |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        other = r["sent"] - r["ok"]
        print(
            f"| {r['clients']} | {r['sent']} | {r['ok']} | {other} | {r['throughput_rps']} | {r['p50_ms']} "
            f"| {r['p99_ms']} | {r['mean_batch']} |"
        )
    return 0 if all(r["ok"] == r["sent"] for r in rows) else 1
