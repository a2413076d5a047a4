"""The measured table behind the product's automatic choices on a CPU: the fastest measured way to answer among
those that cost under F1_BUDGET.

The ways are a backend (torch, or ONNX Runtime over a `gp-mrc export` folder) and a precision (fp32, bf16 autocast,
int8). Each row of MEASURED is a measurement, not a guess: questions/s relative to torch fp32 on the same CPU and
questions, and the F1 lost against torch fp32 on all 2,288 SQuAD v1.1 dev questions (the worst over the readers
measured), with the BENCHMARKS.md section it comes from. A way with no row on a kind of CPU is never picked there.
The kinds of CPU are gp_mrc.precision's: with AMX-BF16, an AMD one with AVX512-BF16 (Zen 4 and later), another
with AVX512-BF16 but no AMX, without native bf16. Today that makes the best way torch bf16 on the first two and
torch fp32 on the others: no int8 way and no ONNX Runtime way measured beats torch within the budget. The product
keeps only the decision: `mixed_precision="auto"` is bf16 on gp_mrc.precision.BF16_FASTER_ON; int8 and ONNX Runtime
are explicit choices (`quantize="int8"`, `gp-mrc export`), and a model folder is never exported behind the user's
back. gp_mrc_lab/tests/test_auto_choice.py holds that decision to this table.
Importing this module does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from gp_mrc.precision import CPU_AMD_AVX512_BF16, CPU_AMX_BF16, CPU_AVX512_BF16, CPU_NO_BF16, cpu_bf16_kind

F1_BUDGET = 0.3  # issue #26: a faster way may cost at most this much F1 against torch fp32
CPU_KINDS = (CPU_AMX_BF16, CPU_AMD_AVX512_BF16, CPU_AVX512_BF16, CPU_NO_BF16)  # the kinds of CPU measured


@dataclass(frozen=True)
class Way:
    backend: str  # "torch" | "onnxruntime"
    precision: str  # "fp32" | "bf16" | "int8"


TORCH_FP32 = Way("torch", "fp32")


@dataclass(frozen=True)
class Measured:
    cpu: str
    way: Way
    speed: float  # questions/s over torch fp32's, same CPU and questions (the median over readers and runs)
    f1_cost: float  # F1 below torch fp32 on the full SQuAD v1.1 dev set (the worst reader)
    source: str  # where in BENCHMARKS.md


MEASURED = (
    Measured(CPU_AMX_BF16, TORCH_FP32, 1.0, 0.0, "the reference"),
    # the study's two 4k readers, 2026-11-27: bf16 autocast 2.10-2.50x, F1 -0.08 / +0.04; torch int8 -1.6
    Measured(CPU_AMX_BF16, Way("torch", "bf16"), 2.1, 0.08, 'BENCHMARKS.md "CPU int8"'),
    Measured(CPU_AMX_BF16, Way("torch", "int8"), 1.26, 1.64, 'BENCHMARKS.md "CPU int8"'),
    Measured(CPU_AMD_AVX512_BF16, TORCH_FP32, 1.0, 0.0, "the reference"),
    # an AMD EPYC Zen 4, 2026-12-02, 200 questions interleaved: bf16 autocast 1.71x (start/end) / 1.68x
    # (GlobalPointer) fp32, its F1 cost as measured above (bf16 products accumulate in fp32 on either ISA);
    # ONNX Runtime fp32 1.17x, its dynamic int8 1.63x at the int8 cost measured on the CPUs above
    Measured(CPU_AMD_AVX512_BF16, Way("torch", "bf16"), 1.7, 0.08, 'BENCHMARKS.md "ONNX Runtime", AMD Zen 4'),
    Measured(CPU_AMD_AVX512_BF16, Way("onnxruntime", "fp32"), 1.17, 0.0, 'BENCHMARKS.md "ONNX Runtime", AMD Zen 4'),
    Measured(CPU_AMD_AVX512_BF16, Way("onnxruntime", "int8"), 1.63, 0.80, 'BENCHMARKS.md "ONNX Runtime", AMD Zen 4'),
    Measured(CPU_AVX512_BF16, TORCH_FP32, 1.0, 0.0, "the reference"),
    # an Intel AVX10.1 Xeon with AVX512-BF16 and AVX512-VNNI but no AMX, 2026-12-02, 200 questions interleaved:
    # bf16 autocast at 0.65x / 0.82x fp32 (two readers; bf16's F1 cost as measured above); ONNX Runtime fp32
    # 0.80x, its dynamic int8 on VNNI 1.48x, costing 0.32 F1 on that CPU's reader over the full dev set (0.73 / 0.80
    # on the readers above)
    Measured(CPU_AVX512_BF16, Way("torch", "bf16"), 0.73, 0.08, 'BENCHMARKS.md "ONNX Runtime", AVX512-BF16'),
    Measured(CPU_AVX512_BF16, Way("onnxruntime", "fp32"), 0.80, 0.0, 'BENCHMARKS.md "ONNX Runtime", AVX512-BF16'),
    Measured(CPU_AVX512_BF16, Way("onnxruntime", "int8"), 1.48, 0.80, 'BENCHMARKS.md "ONNX Runtime", AVX512-BF16'),
    Measured(CPU_NO_BF16, TORCH_FP32, 1.0, 0.0, "the reference"),
    # emulated bf16 (oneDNN capped below bf16), 2026-11-27: a third of fp32's speed
    Measured(CPU_NO_BF16, Way("torch", "bf16"), 0.32, 0.08, 'BENCHMARKS.md "CPU int8"'),
    Measured(CPU_NO_BF16, Way("torch", "int8"), 1.21, 1.64, 'BENCHMARKS.md "CPU int8"'),
    # an AVX2 CPU without native bf16 (nor VNNI), 2026-12-02, 200 questions interleaved: ONNX Runtime fp32 answers
    # exactly as torch fp32; its dynamic int8 costs 0.80 F1 on a SQuAD-trained GlobalPointer and 0.73 on a start/end
    # reader (0.21 on the weak sample reader)
    Measured(CPU_NO_BF16, Way("onnxruntime", "fp32"), 0.97, 0.0, 'BENCHMARKS.md "ONNX Runtime"'),
    Measured(CPU_NO_BF16, Way("onnxruntime", "int8"), 1.20, 0.80, 'BENCHMARKS.md "ONNX Runtime"'),
)


def cpu_kind(cpu: str | None = None) -> str:
    """This CPU's kind in MEASURED (`cpu`, one of CPU_KINDS, overrides the probe: tests simulate machines)."""
    if cpu is None:
        return cpu_bf16_kind()
    if cpu not in CPU_KINDS:
        raise ValueError(f"cpu must be one of {CPU_KINDS}, got {cpu!r}")
    return cpu


def best_way(
    cpu: str, allowed: Callable[[Way], bool] = lambda way: True, measured: tuple[Measured, ...] = MEASURED
) -> Way:
    """The fastest measured way on `cpu` that costs under F1_BUDGET and `allowed` accepts; torch fp32 if none."""
    fit = [m for m in measured if m.cpu == cpu and m.f1_cost < F1_BUDGET and allowed(m.way)]
    return max(fit, key=lambda m: m.speed).way if fit else TORCH_FP32
