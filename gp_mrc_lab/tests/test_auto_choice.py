"""The measured table behind the product's automatic choices (gp_mrc_lab/auto_choice.py): its rule, and the
product's decisions agree with it: `mixed_precision="auto"` picks bf16 where the table does, and int8 (an explicit
choice, no `auto`) is the best measured torch way nowhere."""

from __future__ import annotations

import pytest

from gp_mrc_lab.auto_choice import (
    CPU_KINDS,
    F1_BUDGET,
    MEASURED,
    TORCH_FP32,
    Measured,
    Way,
    best_way,
    cpu_kind,
)
from gp_mrc.inference.quantization import QUANTIZE_CHOICES
from gp_mrc.precision import (
    BF16_FASTER_ON,
    CPU_AMD_AVX512_BF16,
    CPU_AMX_BF16,
    CPU_AVX512_BF16,
    CPU_NO_BF16,
    resolve_mixed_precision,
)


def test_the_fastest_way_under_the_f1_budget_wins():
    rows = (
        Measured("x", TORCH_FP32, 1.0, 0.0, ""),
        Measured("x", Way("onnxruntime", "int8"), 3.0, F1_BUDGET, ""),  # at the budget: too costly
        Measured("x", Way("torch", "bf16"), 1.5, 0.1, ""),
        Measured("x", Way("onnxruntime", "fp32"), 1.2, 0.0, ""),
        Measured("y", Way("torch", "int8"), 9.0, 0.0, ""),  # another CPU's
    )
    assert best_way("x", measured=rows) == Way("torch", "bf16")
    assert best_way("x", lambda w: w.backend == "onnxruntime", measured=rows) == Way("onnxruntime", "fp32")
    assert best_way("z", measured=rows) == TORCH_FP32  # nothing measured: the reference


def test_every_cpu_kind_has_its_reference_and_every_row_says_where_it_comes_from():
    assert set(CPU_KINDS) == {CPU_AMX_BF16, CPU_AMD_AVX512_BF16, CPU_AVX512_BF16, CPU_NO_BF16}
    for kind in CPU_KINDS:
        assert Measured(kind, TORCH_FP32, 1.0, 0.0, "the reference") in MEASURED
        assert cpu_kind(kind) == kind
    assert all(m.cpu in CPU_KINDS and m.source and m.speed > 0 and m.f1_cost >= 0 for m in MEASURED)
    with pytest.raises(ValueError, match="cpu must be one of"):
        cpu_kind("native bf16")


def test_auto_precision_follows_the_table_and_int8_is_never_the_best_way():
    for kind in CPU_KINDS:
        torch_way = best_way(kind, lambda w: w.backend == "torch")
        want_bf16 = torch_way.precision == "bf16"
        assert (resolve_mixed_precision("auto", "cpu", cpu_bf16=kind in BF16_FASTER_ON) == "bf16") == want_bf16
        assert best_way(kind).precision != "int8"  # so quantize has no `auto`: int8 is the user's explicit choice
    assert QUANTIZE_CHOICES == ("none", "int8")
    # measured: bf16 pays with AMX and on AMD's AVX512-BF16 (Zen 4); on Intel's AVX512-BF16 alone it ran slower
    assert [best_way(k, lambda w: w.backend == "torch").precision for k in CPU_KINDS] == [
        "bf16",
        "bf16",
        "fp32",
        "fp32",
    ]
