"""Which dtype to compute in: bfloat16 where the hardware runs it faster than fp32, fp32 elsewhere.

Importing this module does not import torch (the command-line parsers use it before anything heavy loads).
Span logits, the softmax and every loss stay fp32 whatever is chosen here (see modeling.py and losses.py).
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # annotations only: importing this module must not load torch
    import torch

AUTO = "auto"  # every command's default: bf16 where the CPU (or GPU) runs it faster than fp32, else fp32
MIXED_PRECISION_CHOICES = (AUTO, "no", "fp16", "bf16")
# CPU flags (Linux /proc/cpuinfo) of native bfloat16 arithmetic: AVX512-BF16 (Cooper Lake, Zen 4 and later),
# AMX-BF16 (Sapphire Rapids and later). Without them bf16 is emulated and slower than fp32.
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# The kinds of CPU, for bf16, each measured (BENCHMARKS.md "Speed", "ONNX Runtime"): with AMX's tile products bf16
# autocast answered 2.1x and trained 1.4-1.5x as fast as fp32; on an AMD Zen 4 (AVX512-BF16, no AMX, 2026-12-02)
# it answered 1.7x and trained 1.4-1.7x as fast (one product: 4.1x); on an Intel AVX10.1 Xeon with AVX512-BF16 but
# no AMX (2026-12-02) it answered at 0.65-0.82x and trained at 0.72-0.87x fp32's speed. The same flag, opposite
# results: the vendor decides, and an AVX512-BF16 CPU of any other vendor gets the cautious fp32.
CPU_AMX_BF16, CPU_AMD_AVX512_BF16 = "AMX bf16", "AMD AVX512-BF16"
CPU_AVX512_BF16, CPU_NO_BF16 = "AVX512-BF16 without AMX (not AMD)", "no native bf16"
BF16_FASTER_ON = (CPU_AMX_BF16, CPU_AMD_AVX512_BF16)
# what `auto` picks, as the one --mixed_precision flag's help says it (gp_mrc.settings.Precision)
AUTO_HELP = (
    "auto: bf16 where it runs faster than fp32 (a CUDA GPU with bf16, a CPU with AMX, an AMD CPU with AVX512-BF16), "
    "else fp32"
)


def parse_cpuinfo(text: str) -> tuple[str, set[str]]:
    """(vendor_id, feature flags) of the first processor in a /proc/cpuinfo text ("" and an empty set if absent)."""
    vendor = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "vendor_id" and not vendor:
            vendor = value.strip()
        elif key == "flags":
            return vendor, set(value.split())
    return vendor, set()


def cpu_info(cpuinfo_path: str = "/proc/cpuinfo") -> tuple[str, set[str]]:
    """The CPU's vendor and feature flags as the kernel reports them (empty where there is no /proc/cpuinfo)."""
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as f:
            return parse_cpuinfo(f.read())
    except OSError:
        return "", set()


# oneDNN ISA caps (ONEDNN_MAX_CPU_ISA) below AVX512_CORE_BF16: oneDNN then emulates bf16 even on a CPU that has
# it, which is how the benchmarks emulate a CPU without native bf16 on one that has it. A cap at or above it but
# without "AMX" in its name leaves AVX512-BF16 without AMX.
ONEDNN_ISAS_WITHOUT_BF16 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI")


def cpu_bf16_kind(cpuinfo_path: str = "/proc/cpuinfo") -> str:
    """CPU_AMX_BF16, CPU_AMD_AVX512_BF16, CPU_AVX512_BF16 or CPU_NO_BF16, from the vendor and flags, less what
    GP_MRC_CPU_BF16=0 (none) or an ONEDNN_MAX_CPU_ISA cap switches off."""
    if os.environ.get("GP_MRC_CPU_BF16", "") in ("0", "false"):
        return CPU_NO_BF16
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    if cap in ONEDNN_ISAS_WITHOUT_BF16:
        return CPU_NO_BF16
    vendor, flags = cpu_info(cpuinfo_path)
    if "amx_bf16" in flags and (cap in ("", "ALL", "DEFAULT") or "AMX" in cap):
        return CPU_AMX_BF16
    if not flags & set(NATIVE_BF16_CPU_FLAGS):
        return CPU_NO_BF16
    return CPU_AMD_AVX512_BF16 if vendor == "AuthenticAMD" else CPU_AVX512_BF16


def cpu_bf16_is_faster(cpuinfo_path: str = "/proc/cpuinfo") -> bool:
    """Whether bf16 autocast runs faster than fp32 on this CPU (what `auto` picks it for)."""
    return cpu_bf16_kind(cpuinfo_path) in BF16_FASTER_ON


def resolve_mixed_precision(
    requested: str, device_type: str, *, cuda_bf16: bool | None = None, cpu_bf16: bool | None = None
) -> str:
    """`auto` → "bf16" on a CUDA device that supports it or a CPU where bf16 is faster than fp32 (BF16_FASTER_ON),
    else "no"; other values pass.

    cuda_bf16 / cpu_bf16 override the hardware probes (tests simulate machines with them)."""
    if requested not in MIXED_PRECISION_CHOICES:
        raise ValueError(f"mixed precision must be one of {MIXED_PRECISION_CHOICES}, got {requested!r}")
    if requested != "auto":
        return requested
    if device_type == "cuda":
        if cuda_bf16 is None:
            import torch

            cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return "bf16" if cuda_bf16 else "no"
    if device_type == "cpu":
        if cpu_bf16 is None:
            cpu_bf16 = cpu_bf16_is_faster()
        return "bf16" if cpu_bf16 else "no"
    return "no"  # mps and others: fp32


@contextlib.contextmanager
def autocast(device_type: str, mixed_precision: str) -> Iterator[Any]:
    """torch.autocast for "bf16" / "fp16" on `device_type`; a no-op for "no"."""
    if mixed_precision == "no":
        yield None
        return
    import torch

    dtype = torch.bfloat16 if mixed_precision == "bf16" else torch.float16
    with torch.autocast(device_type=device_type, dtype=dtype) as ctx:
        yield ctx


def describe_device(device: torch.device) -> str:
    """ "cpu", or the GPU a run trained on and what drove it: "NVIDIA H100 80GB HBM3 (CUDA 13.0, torch 2.11.0)"."""
    if device.type != "cuda":
        return device.type
    import torch

    return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda}, torch {torch.__version__})"


def peak_gpu_memory(device: torch.device) -> dict[str, float]:
    """{"peak_gpu_mb": ...} for a CUDA device (what a run's timing records), else {}."""
    if device.type != "cuda":
        return {}
    import torch

    return {"peak_gpu_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)}
