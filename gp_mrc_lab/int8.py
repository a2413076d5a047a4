#!/usr/bin/env python
"""CPU inference: fp32, bf16 and dynamic int8 side by side — questions/s and F1 on the same dev questions — on this
CPU as it is and with oneDNN capped below bf16 (an emulation of a CPU without native bf16), for BENCHMARKS.md's
"CPU int8" section.

    python scripts/benchmark_int8.py --model globalpointer=runs/calib_gp --model start_end=runs/calib_se \\
        --dev_file ../shared/data/squad_v1.1/dev-v1.1.shared.json --questions 300 --repeats 3 \\
        --output runs/int8/squad_v1.json

Each ISA setting runs in its own process (ONEDNN_MAX_CPU_ISA must be set before oneDNN starts): "native" (no cap)
and AVX512_CORE_VNNI (AVX-512 with VNNI, no bf16: bf16 is then emulated by oneDNN; fbgemm's int8 kernels keep
VNNI). The cap's effect is checked from oneDNN's own report (ONEDNN_VERBOSE "isa:" line). Within a process the
three Readers (mixed_precision="no"; mixed_precision="bf16"; quantize="int8") answer the same questions in
turn, `--repeats` times, after one warm-up; questions/s are medians, per wall second and per CPU second
(time.process_time: on a shared machine other jobs stretch wall time, not the work done).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from .argtypes import named_model
from .paths import ROOT

ISAS = ("native", "AVX512_CORE_VNNI")
CONFIGS = {"fp32": dict(mixed_precision="no"), "bf16": dict(mixed_precision="bf16"), "int8": dict(quantize="int8")}


def onednn_isa(isa: str) -> str:
    """oneDNN's own "isa:" report for a bf16 linear under this cap."""
    env = dict(os.environ, ONEDNN_VERBOSE="1")
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if isa != "native":
        env["ONEDNN_MAX_CPU_ISA"] = isa
    code = "import torch; torch.nn.functional.linear(torch.randn(64, 384).bfloat16(), torch.randn(384, 384).bfloat16())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    lines = [x for x in out.stdout.splitlines() if ",isa:" in x]
    return lines[0].split("isa:", 1)[1] if lines else "(no oneDNN report)"


def child(args: argparse.Namespace) -> dict:
    from gp_mrc.data.examples import load_examples
    from gp_mrc.inference.reader import Reader
    from gp_mrc.metrics.scoring import exact_match, f1_score

    examples = load_examples(args.dev_file, require_answers=False, max_samples=args.questions)
    records = [{"id": e["id"], "question": e["question"], "context": e["context"]} for e in examples]
    out = {}
    for name, path in args.model:
        readers = {
            c: Reader.from_pretrained(path, batch_size=args.batch_size, device="cpu", **kw) for c, kw in CONFIGS.items()
        }
        wall: dict[str, list[float]] = {c: [] for c in readers}
        cpu: dict[str, list[float]] = {c: [] for c in readers}
        answers = {}
        for c, r in readers.items():  # warm-up: oneDNN primitive caches, first-call allocations
            r.answer(records[:16], top_k=1)
        for _ in range(args.repeats):
            for c, r in readers.items():
                t0, c0 = time.perf_counter(), time.process_time()
                answers[c] = r.answer(records, top_k=1)
                wall[c].append(time.perf_counter() - t0)
                cpu[c].append(time.process_time() - c0)
        lang = readers["fp32"].settings.lang
        out[name] = {}
        for c in readers:
            preds = [a[0]["answer"] if a else "" for a in answers[c]]
            golds = [list(e["answers"]["text"]) for e in examples]
            out[name][c] = {
                "questions_per_s": len(records) / statistics.median(wall[c]),
                "questions_per_cpu_s": len(records) / statistics.median(cpu[c]),
                "wall_s": wall[c],
                "cpu_s": cpu[c],
                "em": 100 * statistics.mean(exact_match(p, g, lang) for p, g in zip(preds, golds)),
                "f1": 100 * statistics.mean(f1_score(p, g, lang) for p, g in zip(preds, golds)),
                "same_answer_as_fp32": statistics.mean(
                    float(p == q) for p, q in zip(preds, [a[0]["answer"] if a else "" for a in answers["fp32"]])
                ),
            }
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", type=named_model, required=True, help="NAME=MODEL_DIR (repeat)")
    p.add_argument("--dev_file", required=True)
    p.add_argument("--questions", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--isa", nargs="+", default=list(ISAS), help="native and/or oneDNN ISA caps")
    p.add_argument("--output", default=None)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return p


def run_child(args: argparse.Namespace, isa: str) -> subprocess.CompletedProcess:
    """This command again with --child, in a process of its own under the oneDNN ISA cap (native: none)."""
    env = dict(os.environ)
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if isa != "native":
        env["ONEDNN_MAX_CPU_ISA"] = isa
    cmd = [
        sys.executable,
        os.path.join(ROOT, "scripts", "benchmark_int8.py"),
        "--child",  # this command again
        "--dev_file",
        args.dev_file,
        "--questions",
        str(args.questions),
        "--repeats",
        str(args.repeats),
        "--batch_size",
        str(args.batch_size),
    ]
    for name, path in args.model:
        cmd += ["--model", f"{name}={path}"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def print_readers(isa: str, readers: dict) -> None:
    """One line per reader and configuration: questions/s, EM, F1 and agreement with fp32."""
    for name, cfgs in readers.items():
        for c, r in cfgs.items():
            print(
                f"{isa:>17} {name:>14} {c}: {r['questions_per_s']:6.2f} q/s ({r['questions_per_cpu_s']:.2f} "
                f"per CPU-s)  EM {r['em']:.2f} F1 {r['f1']:.2f}  same answer as fp32 "
                f"{r['same_answer_as_fp32']:.1%}",
                flush=True,
            )


def main() -> int:
    args = build_parser().parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args)))
        return 0
    from gp_mrc.precision import cpu_bf16_kind

    results = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {cpu_bf16_kind()}",
        "questions": args.questions,
        "repeats": args.repeats,
        "command": " ".join(sys.argv),
        "isa": {},
    }
    for isa in args.isa:
        out = run_child(args, isa)
        line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
        if out.returncode or not line:
            print(out.stderr[-3000:], file=sys.stderr)
            print(f"error: the {isa} run failed", file=sys.stderr)
            return 2
        results["isa"][isa] = {"onednn_reports": onednn_isa(isa), "readers": json.loads(line[0][7:])}
        print_readers(isa, results["isa"][isa]["readers"])
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 0
