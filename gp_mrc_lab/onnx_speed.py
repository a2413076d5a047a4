"""ONNX Runtime against torch on the CPU, side by side on the same dev questions (issue #26), for BENCHMARKS.md's
"ONNX Runtime" section.

    python scripts/benchmark_onnx.py --model runs/sample_se --questions 300 --max_seq_length 256 \\
        --output runs/onnx/squad_v1.json

The model folder (a reader of either architecture) is exported into --work_dir: fp32; int8 as `gp-mrc export
--quantize int8` writes it (dynamic); and, unless --no_static, the lab's static int8 calibrated on
--calibration_windows windows of --calibration_file, SQuAD v1.1 training questions (gp_mrc_lab/onnx_static.py).
Then each system answers the questions in turn (interleaved, `--repeats` times, after a warm-up): transformers' fp32
loop (gp_mrc_lab/speed_predict.py; a start/end reader only), predict.py's Reader on torch fp32 and bf16 (bf16 only
where the CPU has it natively, unless --emulated_bf16), on ONNX Runtime fp32, int8 (dynamic) and int8 (static).
Reported: questions/s (median wall), F1 against the gold answers, and agreement: the share of questions answered
exactly as torch fp32 answers them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

from .bench_io import interleaved, quiet_datasets
from .paths import SHARED
from .speed import machine
from .speed_predict import transformers_loop


def cpu_has_native_bf16(cpuinfo_path: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU's flags name native bf16 arithmetic (AVX512-BF16 or AMX-BF16): torch bf16 joins the systems
    then (emulated bf16 is several times slower than fp32)."""
    from gp_mrc.precision import NATIVE_BF16_CPU_FLAGS, cpu_info

    return bool(cpu_info(cpuinfo_path)[1] & set(NATIVE_BF16_CPU_FLAGS))


def build_systems(args: argparse.Namespace, records: list[dict]) -> dict:
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from gp_mrc.inference.onnx_export import export_onnx
    from gp_mrc.models.folders import folder_kind
    from gp_mrc.inference.reader import Reader

    from .onnx_static import export_static_int8

    dirs = {k: os.path.join(args.work_dir, k) for k in ("fp32", "int8", "int8_static")}
    export_onnx(args.model, dirs["fp32"])
    export_onnx(args.model, dirs["int8"], quantize="int8")
    kw = dict(max_seq_length=args.max_seq_length, doc_stride=args.doc_stride, batch_size=args.batch_size)
    if args.decoding:  # else the folder's
        kw["decoding"] = args.decoding
    readers = {
        "predict.py torch fp32": Reader.from_pretrained(args.model, mixed_precision="no", **kw),
        "predict.py onnxruntime fp32": Reader.from_pretrained(dirs["fp32"], **kw),
        "predict.py onnxruntime int8 (dynamic)": Reader.from_pretrained(dirs["int8"], **kw),
    }
    if not args.no_static:
        export_static_int8(args.model, dirs["int8_static"], args.calibration_file, args.calibration_windows)
        readers["predict.py onnxruntime int8 (static, lab)"] = Reader.from_pretrained(dirs["int8_static"], **kw)
    if cpu_has_native_bf16() or args.emulated_bf16:  # emulated bf16 is several times slower than fp32
        readers["predict.py torch bf16"] = Reader.from_pretrained(args.model, mixed_precision="bf16", **kw)
    systems = {k: (lambda r=r: [a[0]["answer"] if a else "" for a in r.answer(records)]) for k, r in readers.items()}
    if folder_kind(args.model).architecture != "start_end":  # transformers' loop needs a start/end QA model
        return systems
    hf_model = AutoModelForQuestionAnswering.from_pretrained(args.model).eval()
    tok = AutoTokenizer.from_pretrained(args.model)
    qs, cs = [r["question"] for r in records], [r["context"] for r in records]
    systems["transformers fp32 loop"] = lambda: transformers_loop(
        hf_model,
        tok,
        qs,
        cs,
        batch_size=args.batch_size,
        max_seq_length=args.max_seq_length,
        doc_stride=args.doc_stride,
    )
    return systems


def bench_onnx(args: argparse.Namespace) -> dict:
    import torch

    from gp_mrc.data.examples import load_examples
    from gp_mrc.inference.predict import score_predictions

    with quiet_datasets():
        examples = load_examples(args.dev_file, max_samples=args.questions)
        records = [{"id": e["id"], "question": e["question"], "context": e["context"]} for e in examples]
        systems = build_systems(args, records)
        with torch.no_grad():  # a context, not set_grad_enabled: tests call this in-process
            answers, times = interleaved(systems, args.repeats)
    ref = answers["predict.py torch fp32"]
    return {
        "questions": len(records),
        "repeats": args.repeats,
        "threads": torch.get_num_threads(),
        "questions_per_s": {k: len(records) / statistics.median(v) for k, v in times.items() if v},
        "f1": {
            k: score_predictions({r["id"]: a for r, a in zip(records, v)}, examples, "squad")["f1"]
            for k, v in answers.items()
        },
        "agreement_with_torch_fp32": {k: sum(a == b for a, b in zip(v, ref)) / len(ref) for k, v in answers.items()},
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model", required=True, help="a reader folder (transformers' loop runs only for a start/end reader)"
    )
    p.add_argument("--no_static", action="store_true", help="leave out the lab's static int8 (its calibration)")
    p.add_argument("--dev_file", default=os.path.join(SHARED, "squad_v1.1", "dev-v1.1.shared.json"))
    p.add_argument("--calibration_file", default=os.path.join(SHARED, "squad_v1.1", "train-v1.1.explorer.json"))
    p.add_argument("--calibration_windows", type=int, default=256)
    p.add_argument("--work_dir", default=os.path.join("runs", "onnx_export"))
    p.add_argument("--questions", type=int, default=300)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--max_seq_length", type=int, default=256)
    p.add_argument("--doc_stride", type=int, default=128)
    p.add_argument("--decoding", default=None, choices=["argmax", "expected_f1"], help="default: the folder's")
    p.add_argument(
        "--repeats", type=int, default=1, help="timed passes after the scored one (0: F1 and agreement only)"
    )
    p.add_argument("--emulated_bf16", action="store_true", help="time torch bf16 on a CPU without native bf16 too")
    p.add_argument("--output", default=None, help="also write the result JSON here")
    args = p.parse_args(argv)
    result = {"command": "python " + " ".join(sys.argv), "machine": machine(), **bench_onnx(args)}
    text = json.dumps(result, indent=1)
    print(text)
    if args.output:
        from gp_mrc.atomic import write_text_atomic

        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        write_text_atomic(args.output, text + "\n")
