"""Answering a file of any size (BENCHMARKS.md, "Files of any size"): how memory grows with the number of questions,
and questions/s in one process and in several.

    python scripts/benchmark_corpus.py memory --records 100 10000 100000 --threads 1 --output benchmarks/corpus/memory.json
    python scripts/benchmark_corpus.py speed --records 2000 --processes 1 2 --output benchmarks/corpus/speed.json

Each run is scripts/predict.py over a JSONL file of N short records (one invented sentence each: "the king was born
in 1811 . the queen ..."), in a child process. `memory`: the child's peak resident memory (its own rusage), and its
growth over the 100-record run's: torch and the model dwarf the records, so what grows with N is what is measured.
`speed`: questions/s of the answering loop (predict.py's last line: reading, windows, model, decoding, writing;
the model loaded) with P processes (torchrun, gloo; each with cores / P torch threads, or --threads). `--model tiny` (memory's
default): a random 2-layer GlobalPointer of width 64 over MiniLM's tokenizer; `default` (speed's): the packaged
MiniLM with a fresh head, the compute of the default reader; or a model folder.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

from .bench_io import emit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREDICT = os.path.join(ROOT, "scripts", "predict.py")
RATE = re.compile(r"; (\d+) answered in ([\d.]+) s \(([\d.]+) questions/s\)")


def write_records(path: str, n: int) -> str:
    """n short questions, one JSON line each (ids q0, q1, ...)."""
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            y = 1000 + i % 1000
            ctx = f"the king was born in {y} . the queen was born in {y + 50} and the city was founded in {y - 7} ."
            f.write(json.dumps({"id": f"q{i}", "question": "when was the king born?", "context": ctx}) + "\n")
    return path


def model_folder(kind: str, work: str) -> str:
    """A model folder for `kind` (tiny | default | a folder), built under `work` when not a folder."""
    if kind not in ("tiny", "default"):
        return kind
    import torch
    from transformers import AutoTokenizer, BertConfig

    from gp_mrc.defaults import default_encoder_path
    from gp_mrc.models.modeling import GlobalPointerForQuestionAnswering, HeadConfig

    torch.manual_seed(0)
    encoder, out = default_encoder_path(), os.path.join(work, kind)
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    if kind == "tiny":
        sizes = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
        config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=512, **sizes)
        model = GlobalPointerForQuestionAnswering.from_encoder_config(config, HeadConfig(head_size=16))
    else:
        model = GlobalPointerForQuestionAnswering.from_encoder(encoder)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def rss_mb(pid: int) -> float | None:
    """A process's resident memory now (MB), None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS"))
    except (OSError, StopIteration):
        return None


def run_predict(model: str, data: str, out: str, processes: int, threads: int, port: int) -> dict:
    """predict.py over `data` in `processes` processes of `threads` torch threads: its wall seconds, answering rate,
    peak memory (MB; with several processes, the largest one's) and, for one process, its resident memory at 25, 50,
    75 and 100% of the run's wall time (sampled every 0.5 s; the start is imports and loading): flat when the
    memory does not grow with the questions."""
    env = dict(os.environ, ACCELERATE_USE_CPU="true", OMP_NUM_THREADS=str(threads))
    launch = [sys.executable]
    if processes > 1:
        launch += ["-m", "torch.distributed.run", "--nproc_per_node", str(processes), "--master_port", str(port)]
    command = [*launch, PREDICT, "--model", model, "--input", data, "--output_dir", out, "--mixed_precision", "no"]
    t, samples = time.perf_counter(), []
    with tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
        while True:  # reaped here, not by Popen: wait4 gives this child's own rusage (ru_maxrss, KB)
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            samples.append((time.perf_counter() - t, rss_mb(child.pid)))
            time.sleep(0.5)
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    wall = time.perf_counter() - t
    if child.returncode != 0:
        raise RuntimeError(f"predict.py failed: {stderr[-2000:]}")
    found = RATE.search(stderr)
    known = [x for x in samples if x[1] is not None]
    at = {f"{q}%": min(known, key=lambda x: abs(x[0] - wall * q / 100))[1] for q in (25, 50, 75, 100)} if known else {}
    return {
        "wall_seconds": round(wall, 2),
        "answering_seconds": float(found.group(2)),
        "questions_per_second": float(found.group(3)),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "rss_mb_at_wall_time": None if processes > 1 else {k: round(v, 1) for k, v in at.items()},
    }


def machine() -> str:
    """The CPU's model name, its cores and whether it has AMX (as /proc/cpuinfo says)."""
    from gp_mrc.precision import cpu_info

    _, flags = cpu_info()
    name = platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    return f"{name}, {os.cpu_count()} cores, {'AMX' if 'amx_bf16' in flags else 'no AMX'}"


def measure(args: argparse.Namespace) -> dict:
    work, load = tempfile.mkdtemp(prefix="corpus_bench_"), os.getloadavg()[0]  # the machine is shared: say how busy
    try:
        model = model_folder(args.model or ("tiny" if args.what == "memory" else "default"), work)
        rows = []
        for n in args.records:
            data = write_records(os.path.join(work, f"records_{n}.jsonl"), n)
            for p in [q for q in (args.processes if args.what == "speed" else [1]) for _ in range(args.repeats)]:
                threads = args.threads or max(1, (os.cpu_count() or 1) // p)
                row = run_predict(model, data, os.path.join(work, f"out_{n}_{p}"), p, threads, 29600 + len(rows))
                rows.append({"records": n, "processes": p, "threads_per_process": threads, **row})
                print(json.dumps(rows[-1]), file=sys.stderr)
                shutil.rmtree(os.path.join(work, f"out_{n}_{p}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.what == "memory":  # growth over the smallest run's peak (the first of its repeats)
        base = next(r["peak_rss_mb"] for r in rows if r["records"] == min(args.records))
        for r in rows:
            r["growth_mb"] = round(r["peak_rss_mb"] - base, 1)
    return {
        "benchmark": f"corpus {args.what}",
        "command": "python scripts/benchmark_corpus.py " + " ".join(sys.argv[1:]),
        "model": args.model or ("tiny" if args.what == "memory" else "default"),
        "machine": machine(),
        "load_average_at_start": round(load, 1),
        "date": datetime.date.today().isoformat(),
        "rows": rows,
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["memory", "speed"])
    p.add_argument("--records", type=int, nargs="+", default=[100, 10000, 100000])
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="speed: the process counts")
    p.add_argument("--repeats", type=int, default=1, help="runs of each size (and process count)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per process (default: cores / processes)")
    p.add_argument("--model", default=None, help="tiny | default | a model folder (default: tiny / default)")
    p.add_argument("--output", default=None, help="also write the result JSON here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    emit(measure(args), args.output)
    return 0
