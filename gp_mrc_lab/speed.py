#!/usr/bin/env python
"""Speed, side by side in one process (interleaved, medians), for BENCHMARKS.md's "Speed" section.

    python scripts/benchmark_speed.py step    --train_file ../shared/data/squad_v1.1/train-v1.1.explorer.json
    python scripts/benchmark_speed.py predict --start_end_model DIR --globalpointer_model DIR \\
        --validation_file ../shared/data/squad_v1.1/dev-v1.1.shared.json
    python scripts/benchmark_speed.py train   --train_file ... (scripts/train.py at --mixed_precision auto vs no)
    python scripts/benchmark_speed.py profile --attention_dropout encoder 0 (where a train.py step's time goes)
    python scripts/benchmark_speed.py attention (scaled_dot_product_attention with and without dropout)

step:    one training step — collate (the training collator, F1 rewards included for GlobalPointer) + forward +
         loss + backward + AdamW — of GlobalPointer (span_bias head, the default recipe's span-softmax CE +
         expected F1, both on) against the start/end reader, same encoder and rows, in fp32 and under bf16
         autocast, at each --attention_dropout (default 0, train.py's default).
         CPU time (time.process_time) per step: other jobs on a shared machine delay a step without changing
         its work.
predict: questions/s of `Reader` (what scripts/predict.py --input runs) on a start/end model and on a GlobalPointer
         model, against transformers' fp32 AutoModelForQuestionAnswering loop with the QA examples' n-best
         post-processing (transformers 5 removed pipeline("question-answering"); that loop is what it ran).
train:   training windows/s of scripts/train.py, --mixed_precision auto against no, the same short run.
profile: scripts/train.py (bf16) under cProfile, the step's seconds split into encoder attention, linear layers,
         dropout, backward (all of it: the autograd engine runs outside Python), AdamW, the collator, the
         GlobalPointer head and the objective's losses.
attention: scaled_dot_product_attention alone at MiniLM's shape, fp32 / bf16, dropout_p 0 / 0.1.
zh_decoding: where predict.py's time goes on a Chinese dev set with a GlobalPointer folder (--globalpointer_model,
         --validation_file, e.g. ../shared/data/cmrc2018/cmrc2018_dev.shared.json): CPU seconds of the model over
         the windows, and of decoding by argmax and by expected F1 with the CMRC longest-common-run F1 computed pair
         by pair (scoring.longest_common_substring) and by the match-only programme decoding uses; answers checked
         equal.
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

from .commands import ENTRY
from .paths import ROOT


def machine() -> str:
    from gp_mrc.precision import cpu_has_native_bf16

    return (
        f"{platform.machine()}, {os.cpu_count()} cores, native bf16: {cpu_has_native_bf16()}, "
        f"{datetime.date.today().isoformat()}"
    )


# --------------------------------------------------------------------------- step


def bench_step(args: argparse.Namespace) -> dict:
    """One training step (collate + forward + loss + backward + AdamW) of each head on the same batch, CPU time,
    at each --attention_dropout value (gp_mrc_lab/step.py). The GlobalPointer pays the default recipe's most
    expensive phase: the span-softmax CE and expected F1 together (train.py's own ObjectiveConfig, from its
    default arguments)."""
    import torch

    from gp_mrc.defaults import default_encoder_path
    from gp_mrc.models.baseline import StartEndForQuestionAnswering
    from gp_mrc.models.modeling import GlobalPointerForQuestionAnswering, HeadConfig
    from gp_mrc.training.arguments import parse_args
    from gp_mrc.training.model_init import set_attention_dropout

    from .step import Timed, median_step_seconds, step_rows

    path = args.model_name_or_path or default_encoder_path()
    rows, collate = step_rows(
        path,
        args.train_file,
        max_seq_length=args.max_seq_length,
        doc_stride=min(128, args.max_seq_length // 4),
        batch_size=args.batch_size,
        max_answer_length=30,
    )
    objective = parse_args([]).objective.resolved(total_steps=100)  # train.py's default recipe
    last = 99  # a step where the default recipe pays both its gold-span loss and the (fully ramped-in) reward
    assert all(objective.weights(last)), objective.weights(last)
    result: dict = {
        "batch": f"{args.batch_size} x {args.max_seq_length}",
        "repeats": args.repeats,
        "globalpointer_objective": f"{objective.warm_start_loss} CE + expected_f1 (weights {objective.weights(last)})",
    }
    for ad in args.attention_dropout:
        torch.manual_seed(0)
        se = StartEndForQuestionAnswering.from_encoder(path)
        gp = GlobalPointerForQuestionAnswering.from_encoder(path, HeadConfig(span_bias=True))
        for m in (se, gp):
            if ad != "encoder":
                set_attention_dropout(m, float(ad))
        models = {
            "start_end": Timed(se, collate["start_end"]),
            "globalpointer": Timed(gp, collate["globalpointer"]),
            # the same model, scores built as (B, n, n) first
            "globalpointer_dense": Timed(gp, collate["globalpointer"], banded=False),
        }
        seconds = median_step_seconds(models, rows, objective, last, args.repeats, dtypes=("fp32", "bf16"))
        med = {k: round(v, 4) for k, v in seconds.items()}
        out = {"median_cpu_s": med}
        for d in ("fp32", "bf16"):
            for name in ("globalpointer", "globalpointer_dense"):
                out[f"{name}_over_start_end_{d}_pct"] = round(100 * (med[f"{name}/{d}"] / med[f"start_end/{d}"] - 1), 2)
        out["bf16_speedup"] = {n: round(med[f"{n}/fp32"] / med[f"{n}/bf16"], 3) for n in models}
        result[f"attention_dropout={ad}"] = out
    return result


# --------------------------------------------------------------------------- predict


def transformers_loop(
    model,
    tokenizer,
    questions,
    contexts,
    *,
    max_seq_length=384,
    doc_stride=128,
    batch_size=32,
    n_best_size=20,
    max_answer_length=30,
) -> list[str]:
    """What pipeline("question-answering") did, in fp32: windows with stride, start/end logits, then per window
    the top-n starts × top-n ends (the QA examples' postprocess_qa_predictions), best over windows."""
    import numpy as np
    import torch

    enc = tokenizer(
        questions,
        contexts,
        truncation="only_second",
        max_length=max_seq_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="longest",
    )
    sample = enc.pop("overflow_to_sample_mapping")
    offsets = enc.pop("offset_mapping")
    best: dict[int, tuple[float, str]] = {}
    for lo in range(0, len(sample), batch_size):
        inputs = {k: torch.tensor(v[lo : lo + batch_size]) for k, v in enc.items()}
        with torch.inference_mode():
            out = model(**inputs)
        starts, ends = out.start_logits.numpy(), out.end_logits.numpy()
        for b in range(starts.shape[0]):
            f = lo + b
            seq = enc.sequence_ids(f)
            offs, ex = offsets[f], sample[f]
            for s in np.argsort(starts[b])[-1 : -n_best_size - 1 : -1]:
                for e in np.argsort(ends[b])[-1 : -n_best_size - 1 : -1]:
                    if seq[s] != 1 or seq[e] != 1 or e < s or e - s + 1 > max_answer_length:
                        continue
                    score = float(starts[b][s] + ends[b][e])
                    if ex not in best or score > best[ex][0]:
                        best[ex] = (score, contexts[ex][offs[s][0] : offs[e][1]])
    return [best.get(i, (0.0, ""))[1] for i in range(len(questions))]


def bench_predict(args: argparse.Namespace) -> dict:
    import datasets
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from gp_mrc.data.examples import load_examples
    from gp_mrc.inference.reader import Reader

    datasets.disable_progress_bars()
    examples = load_examples(args.validation_file, max_samples=args.questions)
    records = [{"id": e["id"], "question": e["question"], "context": e["context"]} for e in examples]
    qs, cs = [r["question"] for r in records], [r["context"] for r in records]
    kw = dict(max_seq_length=args.max_seq_length, doc_stride=128)
    readers = {
        "predict.py start/end (auto)": Reader.from_pretrained(args.start_end_model, **kw),
        "predict.py GlobalPointer (auto)": Reader.from_pretrained(args.globalpointer_model, **kw),
        "predict.py GlobalPointer (fp32)": Reader.from_pretrained(args.globalpointer_model, mixed_precision="no", **kw),
    }
    hf_model = AutoModelForQuestionAnswering.from_pretrained(args.start_end_model).eval()
    tok = AutoTokenizer.from_pretrained(args.start_end_model)
    runners = {k: (lambda r=r: r.answer(records)) for k, r in readers.items()}
    gp = readers["predict.py GlobalPointer (auto)"]
    runners["predict.py GlobalPointer (auto, expected-F1 decoding)"] = lambda: gp.answer(
        records, decoding="expected_f1"
    )
    runners["transformers fp32 loop, start/end"] = lambda: transformers_loop(hf_model, tok, qs, cs, **kw)
    times: dict[str, list[float]] = {k: [] for k in runners}
    torch.set_grad_enabled(False)
    for _ in range(args.repeats):
        for k, run in runners.items():  # interleaved: machine noise hits every system alike
            t = time.perf_counter()
            run()
            times[k].append(time.perf_counter() - t)
    qps = {k: len(records) / statistics.median(v) for k, v in times.items()}
    base = qps["transformers fp32 loop, start/end"]
    return {
        "questions": len(records),
        "repeats": args.repeats,
        "questions_per_s": qps,
        "ratio_to_transformers_fp32": {k: v / base for k, v in qps.items()},
        "globalpointer_over_start_end": qps["predict.py GlobalPointer (auto)"] / qps["predict.py start/end (auto)"],
        "expected_f1_over_argmax": qps["predict.py GlobalPointer (auto, expected-F1 decoding)"]
        / qps["predict.py GlobalPointer (auto)"],
    }


def bench_zh_decoding(args: argparse.Namespace) -> dict:
    import datasets
    import numpy as np
    import torch

    import gp_mrc.inference.decoding as decoding
    from gp_mrc.data.examples import load_examples
    from gp_mrc.data.features import prepare_features
    from gp_mrc.inference.predict import inference_loader, predict_windows
    from gp_mrc.precision import autocast
    from gp_mrc.inference.reader import Reader
    from gp_mrc.metrics.scoring import longest_common_substring

    datasets.disable_progress_bars()
    reader = Reader.from_pretrained(args.globalpointer_model)
    s = reader.settings
    examples = load_examples(args.validation_file, max_samples=args.questions, require_answers=False)
    clock = time.process_time
    t = clock()
    features = prepare_features(
        examples,
        reader.tokenizer,
        max_seq_length=s.max_seq_length,
        doc_stride=s.doc_stride,
        max_query_length=s.max_query_length,
    )
    windows_s = clock() - t
    loader = inference_loader(features, reader.tokenizer.pad_token_id or 0, args.batch_size)
    t = clock()
    with torch.no_grad(), autocast(reader.device.type, reader.mixed_precision):
        results, raw = predict_windows(reader.model, loader, 20, None, s.max_answer_length, True)
    model_s = clock() - t

    def pair_by_pair(toks):  # the implementation before: find_lcs on every pair
        k = len(toks)
        out = np.zeros((k, k))
        for a in range(k):
            out[a, a] = len(toks[a])
            for b in range(a + 1, k):
                out[a, b] = out[b, a] = longest_common_substring(toks[a], toks[b])
        return out

    def decode(kind: str, runs: callable = decoding.common_run_lengths) -> tuple[float, dict]:
        decoding.common_run_lengths = runs
        try:
            times, preds = [], None
            for _ in range(args.repeats):
                t = clock()
                preds = decoding.best_answers(
                    examples,
                    features,
                    results,
                    n_best_size=20,
                    raw_scores=raw,
                    decoding=kind,
                    temperature=1.0,
                    lang=s.lang,
                )[0]
                times.append(clock() - t)
            return statistics.median(times), preds
        finally:
            decoding.common_run_lengths = match_only

    match_only = decoding.common_run_lengths
    argmax_s, _ = decode("argmax")
    old_s, old = decode("expected_f1", pair_by_pair)
    new_s, new = decode("expected_f1")
    total_new = windows_s + model_s + new_s
    return {
        "questions": len(examples),
        "windows": len(features),
        "lang": s.lang,
        "repeats (decoding)": args.repeats,
        "cpu_seconds": {
            "windows": windows_s,
            "model": model_s,
            "decode argmax": argmax_s,
            "decode expected_f1, pair by pair": old_s,
            "decode expected_f1, match-only": new_s,
        },
        "expected_f1_lcs_share_of_predict": {
            "pair by pair": (old_s - argmax_s) / (windows_s + model_s + old_s),
            "match-only": (new_s - argmax_s) / total_new,
        },
        "same_answers": old == new,
    }


# --------------------------------------------------------------------------- train


def train_command(args: argparse.Namespace, out: str, mixed_precision: str, attention_dropout: str) -> list[str]:
    """train.py with the research flags (gp_mrc_lab/train_variant.py) on the first 600 training questions for
    --train_steps steps, no evaluation."""
    return [
        *ENTRY,
        "--train_file",
        args.train_file,
        "--max_train_samples",
        "600",
        "--max_train_steps",
        str(args.train_steps),
        "--do_eval",
        "no",
        "--max_seq_length",
        str(args.max_seq_length),
        "--doc_stride",
        "128",
        "--span_bias",
        "--mixed_precision",
        mixed_precision,
        "--attention_dropout",
        attention_dropout,
        "--output_dir",
        out,
        "--learning_rate",
        "1e-4",
    ]


def run_train(cmd: list[str], out: str) -> dict:
    """`python <cmd>` with this checkout's gp_mrc (not whatever copy is installed); its train_results.json."""
    subprocess.run([sys.executable, *cmd], check=True, capture_output=True, env={**os.environ, "PYTHONPATH": ROOT})
    with open(os.path.join(out, "train_results.json")) as f:
        return json.load(f)


def bench_train(args: argparse.Namespace) -> dict:
    """Interleaved repeats of each (precision, attention dropout) configuration; windows/s of training alone."""
    configs = [(mp, ad) for ad in args.attention_dropout for mp in ("auto", "no")]
    name = {c: c[0] + ("" if c[1] == "encoder" else f"_ad{c[1]}") for c in configs}
    out: dict[str, list[float]] = {name[c]: [] for c in configs}
    for r in range(args.repeats):
        for mp, ad in configs:
            d = os.path.join(ROOT, "runs", "speed", f"train_{name[mp, ad]}_{r}")
            out[name[mp, ad]].append(run_train(train_command(args, d, mp, ad), d)["train_windows_per_second"])
    med = {k: statistics.median(v) for k, v in out.items()}
    ratios = {
        f"{name['auto', ad]}_over_{name['no', ad]}": med[name["auto", ad]] / med[name["no", ad]]
        for ad in args.attention_dropout
    }
    if "encoder" in args.attention_dropout:
        ratios.update(
            {f"{name[mp, ad]}_over_{mp}": med[name[mp, ad]] / med[mp] for mp, ad in configs if ad != "encoder"}
        )
    return {"train_windows_per_s": out, "median": med, "ratios": ratios, "steps": args.train_steps}


# --------------------------------------------------------------------------- profile

# (part, how it is found in the profile, tottime or cumtime): built-ins by name, our functions by file and name
PROFILE_PARTS = (
    ("backward (autograd engine, all layers)", "run_backward", "tottime"),
    ("attention forward (scaled_dot_product_attention)", "scaled_dot_product_attention", "tottime"),
    ("linear layers forward", "torch._C._nn.linear", "tottime"),
    ("dropout forward", "torch.dropout", "tottime"),
    ("AdamW", "adam.py:_single_tensor_adam|adam.py:_multi_tensor_adam|adam.py:_fused_adam", "cumtime"),
    ("collator (targets, F1 rewards)", "collate.py:__call__", "cumtime"),
    ("GlobalPointer head forward", "modeling.py:scores_and_terms", "cumtime"),
    ("objective (losses) forward", "objective.py:__call__", "cumtime"),
)


def profile_parts(prof_path: str, steps: int) -> dict[str, float]:
    """Seconds per step of each PROFILE_PARTS entry in a cProfile file."""
    import pstats

    stats = pstats.Stats(prof_path).stats  # (file, line, name) -> (cc, nc, tottime, cumtime, callers)
    out = {}
    for part, patterns, column in PROFILE_PARTS:
        total = 0.0
        for (file, _line, name), (_cc, _nc, tottime, cumtime, _callers) in stats.items():
            for pattern in patterns.split("|"):
                fname, _, func = pattern.rpartition(":")
                hit = (os.path.basename(file) == fname and name == func) if fname else pattern in name
                if hit:
                    total += tottime if column == "tottime" else cumtime
        out[part] = round(total / steps, 3)
    return out


def bench_profile(args: argparse.Namespace) -> dict:
    result = {}
    for ad in args.attention_dropout:
        d = os.path.join(ROOT, "runs", "speed", f"profile_ad{ad}")
        prof = os.path.join(d, "train.prof")
        os.makedirs(d, exist_ok=True)
        timing = run_train(["-m", "cProfile", "-o", prof, *train_command(args, d, "bf16", ad)], d)
        result[f"attention_dropout={ad}"] = {
            "seconds_per_step": round(timing["train_seconds"] / args.train_steps, 3),
            "parts_per_step": profile_parts(prof, args.train_steps),
        }
    return {"steps": args.train_steps, "profiles": result}


# --------------------------------------------------------------------------- attention


def bench_attention(args: argparse.Namespace) -> dict:
    """scaled_dot_product_attention alone at MiniLM's shape (batch 16, 12 heads, 256 tokens, head dim 32), forward
    and forward + backward, fp32 / bf16, dropout_p 0 / 0.1: the fused kernel against the fallback dropout forces."""
    import torch
    import torch.nn.functional as F

    def seconds(dtype: torch.dtype, p: float, backward: bool) -> float:
        q, k, v = (torch.randn(16, 12, args.max_seq_length, 32, dtype=dtype, requires_grad=backward) for _ in range(3))
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            o = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
            if backward:
                o.sum().backward()
            times.append(time.perf_counter() - t)
        return round(statistics.median(times), 4)

    return {
        f"{dt}_p{p}": {
            "forward_s": seconds(getattr(torch, dt), p, False),
            "forward_backward_s": seconds(getattr(torch, dt), p, True),
        }
        for dt in ("float32", "bfloat16")
        for p in (0.0, 0.1)
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["step", "predict", "train", "profile", "attention", "zh_decoding"])
    p.add_argument("--model_name_or_path", default=None)
    p.add_argument(
        "--train_file",
        default=os.path.join(os.path.dirname(ROOT), "shared", "data", "squad_v1.1", "train-v1.1.explorer.json"),
    )
    p.add_argument(
        "--validation_file",
        default=os.path.join(os.path.dirname(ROOT), "shared", "data", "squad_v1.1", "dev-v1.1.shared.json"),
    )
    p.add_argument("--start_end_model")
    p.add_argument("--globalpointer_model")
    p.add_argument("--questions", type=int, default=300)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--max_seq_length", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--train_steps", type=int, default=20)
    p.add_argument(
        "--attention_dropout",
        nargs="+",
        default=["0"],
        help="step/train/profile: the --attention_dropout values to time, e.g. encoder 0",
    )
    p.add_argument("--output", default=None, help="also write the result JSON here")
    args = p.parse_args()
    result = {
        "what": args.what,
        "command": "python " + " ".join(sys.argv),
        "machine": machine(),
        **{
            "step": bench_step,
            "predict": bench_predict,
            "train": bench_train,
            "profile": bench_profile,
            "attention": bench_attention,
            "zh_decoding": bench_zh_decoding,
        }[args.what](args),
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.output:
        from gp_mrc.atomic import write_text_atomic

        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        write_text_atomic(args.output, text + "\n")
