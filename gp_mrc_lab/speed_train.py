"""The speed benchmarks of scripts/benchmark_speed.py that run training in a subprocess (train.py with the research
flags, gp_mrc_lab/train_variant.py): training windows/s at each precision (`train`) and where a step's time goes
under cProfile (`profile`)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from .commands import ENTRY
from .paths import ROOT


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
    ("GlobalPointer head forward", "modeling.py:head_scores", "cumtime"),
    ("objective (losses) forward", "losses.py:batch_loss", "cumtime"),
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
