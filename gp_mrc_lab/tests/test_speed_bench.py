"""scripts/benchmark_speed.py matmul: the bf16-against-fp32 product rate that decides whether bf16 pays on a CPU."""

from __future__ import annotations

import argparse

import pytest

from gp_mrc_lab.speed_step import bench_matmul


def test_the_matmul_benchmark_times_each_way_and_reports_bf16_over_fp32():
    got = bench_matmul(argparse.Namespace(batch_size=2, max_seq_length=16, repeats=2), square=64)
    rates = got["gflop_per_s"]
    assert got["rows"] == 32 and got["square"] == 64
    assert set(rates) == {"fp32", "bf16 autocast", "bf16 tensors", "fp32, square", "bf16 tensors, square"}
    assert all(r > 0 for r in rates.values())
    assert got["peak"] == {
        "fp32": max(rates["fp32"], rates["fp32, square"]),
        "bf16": max(rates["bf16 tensors"], rates["bf16 tensors, square"]),
    }
    assert got["bf16_autocast_over_fp32"] == pytest.approx(rates["bf16 autocast"] / rates["fp32"], abs=0.01)
