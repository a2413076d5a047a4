"""The in-process speed benchmarks of scripts/benchmark_speed.py: one training step of each head (`step`) and
scaled_dot_product_attention alone (`attention`)."""

from __future__ import annotations

import argparse
import functools
import statistics
import time


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
    from gp_mrc.training.losses import batch_loss
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
        seconds = median_step_seconds(
            models, rows, functools.partial(batch_loss, objective), last, args.repeats, dtypes=("fp32", "bf16")
        )
        med = {k: round(v, 4) for k, v in seconds.items()}
        out = {"median_cpu_s": med}
        for d in ("fp32", "bf16"):
            for name in ("globalpointer", "globalpointer_dense"):
                out[f"{name}_over_start_end_{d}_pct"] = round(100 * (med[f"{name}/{d}"] / med[f"start_end/{d}"] - 1), 2)
        out["bf16_speedup"] = {n: round(med[f"{n}/fp32"] / med[f"{n}/bf16"], 3) for n in models}
        result[f"attention_dropout={ad}"] = out
    return result


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


SQUARE = 2048  # a product large enough in every dimension to be bound by arithmetic, not memory


def bench_matmul(args: argparse.Namespace, square: int = SQUARE) -> dict:
    """One linear layer at MiniLM's feed-forward shape (batch × length rows of 384 → 1,536), fp32 against bf16
    (autocast, as training and Reader run it, and bf16 tensors), and a square product of `square` (the CPU's
    peak: the linear layer writes more than it computes), interleaved: GFLOP/s, median of --repeats rounds of 20
    products. Whether the CPU's bf16 products are faster than its fp32 ones at all decides `auto`; `peak` is the
    faster of the two shapes at each precision, what a forward pass's rate is set against."""
    import torch

    from .bench_io import interleaved

    rows = args.batch_size * args.max_seq_length
    x, w = torch.randn(rows, 384), torch.randn(1536, 384)
    xb, wb = x.bfloat16(), w.bfloat16()
    a = torch.randn(square, square)
    ab = a.bfloat16()

    def autocast_bf16() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.functional.linear(x, w)

    ways = {
        "fp32": lambda: torch.nn.functional.linear(x, w),
        "bf16 autocast": autocast_bf16,
        "bf16 tensors": lambda: torch.nn.functional.linear(xb, wb),
        "fp32, square": lambda: a @ a,
        "bf16 tensors, square": lambda: ab @ ab,
    }
    _, times = interleaved({k: (lambda f=f: [f() for _ in range(20)]) for k, f in ways.items()}, args.repeats)
    flops = {k: 20 * 2 * (square**3 if "square" in k else rows * 384 * 1536) for k in ways}
    gflops = {k: round(flops[k] / statistics.median(v) / 1e9, 1) for k, v in times.items()}
    return {
        "rows": rows,
        "square": square,
        "gflop_per_s": gflops,
        "peak": {
            "fp32": max(gflops["fp32"], gflops["fp32, square"]),
            "bf16": max(gflops["bf16 tensors"], gflops["bf16 tensors, square"]),
        },
        "bf16_autocast_over_fp32": round(gflops["bf16 autocast"] / gflops["fp32"], 2),
    }
