#!/usr/bin/env python
"""Load test of the HTTP service on loopback: throughput and latency at several numbers of concurrent clients,
and a count showing nothing was dropped (every request answered 200).

    python scripts/load_test.py --model runs/sample_gp --clients 1 8 32 --duration 20 --output runs/load_test.json

Starts scripts/serve.py on a free loopback port (or uses --url), then, per level, runs N clients for --duration
seconds, each sending its next question as soon as the previous answer arrives (closed loop), with questions from
--data (SQuAD layout; the packaged sample dev set by default). Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time

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
    return p


def load_questions(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)["data"]
    return [{"question": qa["question"], "context": par["context"]}
            for art in data for par in art["paragraphs"] for qa in par["qas"]]


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
    return {"clients": clients, "sent": sent, "ok": statuses.get("200", 0), "statuses": statuses,
            "wall_s": round(wall, 2), "throughput_rps": round(len(lat) / wall, 2),
            "p50_ms": round(1000 * statistics.median(lat), 1) if lat else None,
            "p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1) if lat else None,
            "model_calls": calls,
            "mean_batch": round((after["questions"] - before["questions"]) / calls, 2) if calls else None}


async def measure(args: argparse.Namespace, url: str) -> list[dict]:
    import httpx

    questions = load_questions(args.data)
    limits = httpx.Limits(max_connections=max(args.clients) + 4, max_keepalive_connections=max(args.clients) + 4)
    async with httpx.AsyncClient(timeout=args.timeout, limits=limits) as client:
        health = (await client.get(url + "/health")).json()
        print(f"model {health['model']} ({health['architecture']}), batching {health['batching']}", file=sys.stderr)
        for q in questions[:args.warmup]:
            (await client.post(url + "/", json={"inputs": q})).raise_for_status()
        rows = []
        for n in args.clients:
            rows.append(await level(client, url, questions, n, args.duration, args.top_k))
            print(json.dumps(rows[-1]), file=sys.stderr)
        return rows


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if min(args.clients) < 1 or args.duration <= 0:
        print("error: --clients must be >= 1 and --duration > 0", file=sys.stderr)
        return 2
    if args.url:
        rows = asyncio.run(measure(args, args.url))
    else:
        from gp_mrc.serving.launch import served

        with served(args.model, args.serve_args.split()) as url:
            rows = asyncio.run(measure(args, url))
    print("| concurrent clients | requests | answered 200 | other | throughput (req/s) | p50 latency (ms) "
          "| p99 latency (ms) | questions per model call |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        other = r["sent"] - r["ok"]
        print(f"| {r['clients']} | {r['sent']} | {r['ok']} | {other} | {r['throughput_rps']} | {r['p50_ms']} "
              f"| {r['p99_ms']} | {r['mean_batch']} |")
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "args": vars(args), "levels": rows},
                      f, indent=1)
    return 0 if all(r["ok"] == r["sent"] for r in rows) else 1

