"""predict.py against the strongest plain loop (`python scripts/benchmark_speed.py careful`), for BENCHMARKS.md's
"Compiled inference": questions/s of `Reader` (what scripts/predict.py --input runs), eager and compiled, for a
start/end and a GlobalPointer folder, against the loop a careful user writes in twenty lines: transformers'
AutoModelForQuestionAnswering over windows sorted by length and padded per batch, fp32 and under bf16 autocast,
with the QA examples' n-best (top-20 starts x top-20 ends per window). Also: the compile time (a cold inductor
cache), the windows from which compiling pays for itself, the forward pass alone and the share of the measured
matrix-product peak (`matmul`, in the same process) it reaches."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any

from .bench_io import interleaved, quiet_datasets


def careful_loop(
    model: Any,
    tokenizer: Any,
    questions: list[str],
    contexts: list[str],
    *,
    bf16: bool,
    max_seq_length: int = 384,
    doc_stride: int = 128,
    batch_size: int = 32,
    n_best_size: int = 20,
    max_answer_length: int = 30,
) -> list[str]:
    """The careful user's loop: windows with stride, sorted by length, each batch padded to its own longest; start
    and end logits (bf16 autocast or fp32); per window the top-n starts x top-n ends, the best span over windows."""
    import torch

    enc = tokenizer(
        questions,
        contexts,
        truncation="only_second",
        max_length=max_seq_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    order = sorted(range(len(enc["input_ids"])), key=lambda f: len(enc["input_ids"][f]))
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    best: dict[int, tuple[float, str]] = {}
    for lo in range(0, len(order), batch_size):
        rows = order[lo : lo + batch_size]
        batch = tokenizer.pad({k: [enc[k][f] for f in rows] for k in keys}, return_tensors="pt")
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(**batch)
        starts, ends = out.start_logits.float(), out.end_logits.float()
        top_s, top_e = (x.topk(n_best_size, dim=1).indices.tolist() for x in (starts, ends))
        starts, ends = starts.tolist(), ends.tolist()
        for b, f in enumerate(rows):
            seq, offs, ex = enc.sequence_ids(f), enc["offset_mapping"][f], enc["overflow_to_sample_mapping"][f]
            for s in top_s[b]:
                for e in top_e[b]:
                    if max(s, e) >= len(seq) or seq[s] != 1 or seq[e] != 1 or e < s or e - s + 1 > max_answer_length:
                        continue
                    score = starts[b][s] + ends[b][e]
                    if ex not in best or score > best[ex][0]:
                        best[ex] = (score, contexts[ex][offs[s][0] : offs[e][1]])
    return [best.get(i, (0.0, ""))[1] for i in range(len(questions))]


def forward_gflop(config: Any, lengths: list[int], architecture: str) -> float:
    """Multiply-adds x 2 of the encoder (and head) over windows padded to `lengths`: per layer the four attention
    projections, the feed-forward pair and the two attention products; the head's projection (and a
    GlobalPointer's span scores)."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    total = 0.0
    for n in lengths:
        total += layers * (2 * n * (4 * h * h + 2 * h * i) + 2 * 2 * n * n * h)
        total += 2 * n * h * 128 + 2 * n * n * 64 if architecture == "globalpointer" else 2 * n * h * 2
    return total / 1e9


def padded_lengths(reader: Any, records: list[dict]) -> list[int]:
    """Every window's length as `answer` pads it (to its 32-token bucket)."""
    from gp_mrc.data.examples import build_examples, labelled_records
    from gp_mrc.inference.predict import LENGTH_BUCKET

    examples = build_examples(labelled_records(records), source="input", version_2=True, require_answers=False)
    return [-(-len(x) // LENGTH_BUCKET) * LENGTH_BUCKET for x in reader.windows(examples)["input_ids"]]


def forward_only(reader: Any, lengths: list[int]) -> None:
    """The model alone over those windows (bucketed batches of the reader's batch size, unk tokens)."""
    from collections import Counter

    from gp_mrc.inference.compiled import dummy_batch
    from gp_mrc.inference.predict import score_batch
    from gp_mrc.precision import autocast
    import torch

    with torch.no_grad(), autocast("cpu", reader.mixed_precision):
        for n, count in Counter(lengths).items():
            for lo in range(0, count, reader.batch_size):
                batch = dummy_batch(reader.tokenizer, min(reader.batch_size, count - lo), n)
                score_batch(reader.model, batch, 20, reader.settings.max_answer_length)


def build_readers(args: argparse.Namespace, kw: dict) -> tuple[dict, dict]:
    """{name: Reader}, eager and compiled, of each folder, and each compiled one's compile seconds: its
    construction's less the eager one's (loading the folder)."""
    from gp_mrc.inference.reader import Reader

    readers, compile_s = {}, {}
    for arch, folder in (("start/end", args.start_end_model), ("GlobalPointer", args.globalpointer_model)):
        seconds = {}
        for how in ("no", "yes"):
            t = time.perf_counter()
            readers[f"predict.py {arch}, {'compiled' if how == 'yes' else 'eager'}"] = r = Reader.from_pretrained(
                folder, compile=how, **kw
            )
            seconds[how] = time.perf_counter() - t
        assert r.compiled, f"{folder}: the model did not compile"
        compile_s[arch] = round(seconds["yes"] - seconds["no"], 1)
    return readers, compile_s


def same_top_answers(a: list[list[dict]], b: list[list[dict]]) -> float:
    return sum((x[0]["answer"] if x else "") == (y[0]["answer"] if y else "") for x, y in zip(a, b)) / len(a)


def forward_rates(args: argparse.Namespace, readers: dict, records: list[dict], peak: dict) -> dict:
    """Each reader's model alone over the windows (interleaved, medians): seconds, GFLOP/s, share of the measured
    matrix-product peak at the precision it computes in (bench_matmul's `peak`: bf16, or fp32)."""
    systems, flops = {}, {}
    for name, r in readers.items():
        lengths = padded_lengths(r, records)
        arch = "start_end" if "start/end" in name else "globalpointer"
        flops[name] = forward_gflop(r.model.config if arch == "start_end" else r.model.config.encoder, lengths, arch)
        systems[name] = lambda r=r, lengths=lengths: forward_only(r, lengths)
    _, times = interleaved(systems, args.repeats)
    out = {}
    for name, r in readers.items():
        sec = statistics.median(times[name])
        top = peak["bf16"] if r.mixed_precision == "bf16" else peak["fp32"]
        out[name] = {
            "seconds": round(sec, 3),
            "gflop": round(flops[name], 1),
            "gflop_per_s": round(flops[name] / sec, 1),
        }
        out[name]["share_of_matmul_peak"] = round(flops[name] / sec / top, 3)
    return out


def summarize(
    args: argparse.Namespace, readers: dict, records: list[dict], outputs: dict, times: dict, compile_s: dict
) -> dict:
    qps = {k: len(records) / statistics.median(v) for k, v in times.items()}
    loops = {k: v for k, v in qps.items() if k.startswith("careful loop")}
    windows = len(padded_lengths(readers["predict.py start/end, eager"], records))
    result: dict = {"questions": len(records), "windows": windows, "repeats": args.repeats}
    result["questions_per_s"] = {k: round(v, 2) for k, v in qps.items()}
    result["over_careful_loop"] = {
        r: {loop: round(qps[r] / q, 3) for loop, q in loops.items()} for r in qps if r.startswith("predict.py")
    }
    result["compile_s"] = compile_s
    result["break_even_windows"], result["same_top_answer_compiled_vs_eager"] = {}, {}
    for arch in ("start/end", "GlobalPointer"):
        eager, fast = (statistics.median(times[f"predict.py {arch}, {how}"]) for how in ("eager", "compiled"))
        saved = (eager - fast) / windows
        result["break_even_windows"][arch] = round(compile_s[arch] / saved) if saved > 0 else None
        result["same_top_answer_compiled_vs_eager"][arch] = same_top_answers(
            outputs[f"predict.py {arch}, compiled"], outputs[f"predict.py {arch}, eager"]
        )
    return result


def bench_careful(args: argparse.Namespace) -> dict:
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="gp_mrc_inductor_"))  # cold compiles
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from gp_mrc.data.examples import load_examples

    from .speed_step import bench_matmul

    with quiet_datasets():
        examples = load_examples(args.validation_file, max_samples=args.questions)
    records = [{"id": e["id"], "question": e["question"], "context": e["context"]} for e in examples]
    qs, cs = [r["question"] for r in records], [r["context"] for r in records]
    kw = dict(max_seq_length=args.max_seq_length, doc_stride=128, mixed_precision=args.mixed_precision)
    readers, compile_s = build_readers(args, kw)
    hf = AutoModelForQuestionAnswering.from_pretrained(args.start_end_model).eval()
    tok = AutoTokenizer.from_pretrained(args.start_end_model)
    loop_kw = dict(max_seq_length=args.max_seq_length, batch_size=args.batch_size)
    systems = {
        f"careful loop, {p}": (lambda bf16=(p == "bf16"): careful_loop(hf, tok, qs, cs, bf16=bf16, **loop_kw))
        for p in args.loops
    }
    systems.update({k: (lambda r=r: r.answer(records)) for k, r in readers.items()})
    torch.set_grad_enabled(False)
    with quiet_datasets():
        outputs, times = interleaved(systems, args.repeats)
        result = summarize(args, readers, records, outputs, times, compile_s)
        peak = bench_matmul(args)
        result["forward_only"] = forward_rates(args, readers, records, peak["peak"])
    return {"mixed_precision": {k: r.mixed_precision for k, r in readers.items()}, **result, "matmul": peak}


def bench_compiled_f1(args: argparse.Namespace) -> dict:
    """EM/F1 of each given folder's reader eager and compiled (predict.py's default settings, the folder's own
    windows) on the first --questions questions of --validation_file, and the share of identical top answers; for
    scale, the same share between the eager reader and an eager fp32 one (bf16's own noise) when it computes in bf16."""
    from gp_mrc.data.examples import load_examples
    from gp_mrc.inference.predict import score_predictions
    from gp_mrc.inference.reader import Reader

    with quiet_datasets():
        examples = load_examples(args.validation_file, max_samples=args.questions)
    records = [{"id": e["id"], "question": e["question"], "context": e["context"]} for e in examples]
    result: dict = {"questions": len(records), "validation_file": os.path.basename(args.validation_file)}
    ways = {
        "eager": ("no", args.mixed_precision),
        "compiled": ("yes", args.mixed_precision),
        "eager fp32": ("no", "no"),
    }
    for arch, folder in (("start/end", args.start_end_model), ("GlobalPointer", args.globalpointer_model)):
        if folder is None:
            continue
        answers, scores, precision = {}, {}, {}
        for way, (how, mixed) in ways.items():
            reader = Reader.from_pretrained(folder, compile=how, mixed_precision=mixed)
            precision[way] = reader.mixed_precision
            if way == "eager fp32" and precision["eager"] == "no":
                continue  # the eager reader is fp32 already
            with quiet_datasets():
                answers[way] = reader.answer(records)
            preds = {r["id"]: (a[0]["answer"] if a else "") for r, a in zip(records, answers[way])}
            scores[way] = score_predictions(preds, examples, reader.settings.metric)
        result[arch] = {"mixed_precision": precision, **scores}
        result[arch]["f1_compiled_minus_eager"] = round(scores["compiled"]["f1"] - scores["eager"]["f1"], 3)
        result[arch]["same_top_answer"] = {"compiled, eager": same_top_answers(answers["compiled"], answers["eager"])}
        if "eager fp32" in answers:
            result[arch]["same_top_answer"]["eager, eager fp32"] = same_top_answers(
                answers["eager"], answers["eager fp32"]
            )
    return result


def bench_batch_sizes(args: argparse.Namespace) -> dict:
    """Questions/s of the GlobalPointer folder's compiled reader at each --reader_batch_sizes (windows per forward
    pass) and torch thread count (1 to the cores), interleaved: what the defaults are chosen from."""
    import torch

    from gp_mrc.data.examples import load_examples
    from gp_mrc.inference.reader import Reader

    with quiet_datasets():
        examples = load_examples(args.validation_file, max_samples=args.questions)
    records = [{"id": e["id"], "question": e["question"], "context": e["context"]} for e in examples]
    reader = Reader.from_pretrained(
        args.globalpointer_model,
        compile="yes",
        mixed_precision=args.mixed_precision,
        max_seq_length=args.max_seq_length,
    )
    cores = os.cpu_count() or 1

    def run(batch_size: int, threads: int) -> None:
        torch.set_num_threads(threads)
        reader.answer(records, batch_size=batch_size)

    systems = {
        f"batch {b}, {t} threads": (lambda b=b, t=t: run(b, t))
        for b in args.reader_batch_sizes
        for t in sorted({1, cores})
    }
    with quiet_datasets():
        _, times = interleaved(systems, args.repeats)
    torch.set_num_threads(cores)
    return {
        "questions": len(records),
        "questions_per_s": {k: round(len(records) / statistics.median(v), 2) for k, v in times.items()},
    }
