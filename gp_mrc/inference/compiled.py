"""The compiled forward pass: `Reader(..., compile=...)`, predict.py and serve.py `--compile`.

torch.compile (inductor) of the model's forward, in place (an instance attribute over the class's method: the model
keeps its class, its state dict, and its hooks, which run eagerly around the compiled forward), with frozen weights:
inductor's `freezing` makes the weights constants of the graph, so autocast's bf16 casts of them fold into bf16
weights once and the linear layers run oneDNN's prepacked kernels; the elementwise work around the matrix products
(layer norm, GELU, residual adds, the attention mask, the span head, its RoPE and masks) is fused. Dynamic shapes:
one graph for windows of every length and for batches of two or more, one for a batch of one window, both made
by the compile's warm-up; after it nothing recompiles (tests/test_compiled.py). Measured on a 2-core AMX Xeon
(BENCHMARKS.md "Compiled inference"): the options that did not pay are an unbacked batch dimension (one graph for
batches of one too, 1.3x slower) and `freezing` given as a compile option (not applied).

`auto` compiles where it was measured faster, its compile time included: on a device, CPU kind and precision of
COMPILE_PAYS_ON, in the service (compiled and warmed before it reports ready) and in `Reader.answer` / predict.py for
a call of at least break_even_windows(model) windows; eager elsewhere. Where compiling fails (no C++ compiler, a model
the compiler cannot trace), the eager model answers, after one warning."""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

import torch
import torch._inductor.config as inductor_config
from torch import nn

from ..choices import COMPILE_CHOICES
from ..data.collate import SpanCollator
from ..models.modeling import GlobalPointerForQuestionAnswering
from ..precision import CPU_AMX_BF16, CPU_NO_BF16, autocast, cpu_bf16_kind
from ..settings import N_BEST_SIZE, InferenceSettings
from .predict import LENGTH_BUCKET, bucket_lengths, model_device, score_batch

logger = logging.getLogger("gp_mrc")

# (CPU kind, resolved precision) where the compiled model answered faster than the eager one, measured with
# `python scripts/benchmark_speed.py careful` (BENCHMARKS.md "Compiled inference against the careful loop"): AMX
# with bf16 (1.09-1.17x / 1.28-1.31x eager, start/end / GlobalPointer, 1-2 threads), and fp32 with oneDNN capped
# below bf16 (1.03x / 1.09x), which runs the fp32 kernels an AMX CPU told --mixed_precision no runs. Not measured
# (eager): AMD and Intel AVX512-BF16 without AMX, CUDA.
COMPILE_PAYS_ON = ((CPU_AMX_BF16, "bf16"), (CPU_AMX_BF16, "no"), (CPU_NO_BF16, "no"))
# The windows of one call from which compiling (once per process, cold cache: 25-43 s on those 2 cores) pays for
# itself there: compile seconds over the seconds it saves a window, the largest of bf16's and fp32's at 1 and 2
# threads, rounded up (BENCHMARKS.md, "Compiled inference against the careful loop": 8,338-14,741 / 32,079-61,311).
BREAK_EVEN_WINDOWS = {"globalpointer": 16_000, "start_end": 64_000}


def break_even_windows(model: nn.Module) -> int:
    return BREAK_EVEN_WINDOWS["globalpointer" if isinstance(model, GlobalPointerForQuestionAnswering) else "start_end"]


def check_compile(requested: Any) -> str:
    if requested not in COMPILE_CHOICES:
        raise ValueError(f"compile must be one of {COMPILE_CHOICES}, got {requested!r}")
    return requested


def compile_pays(device_type: str, mixed_precision: str) -> bool:
    """Whether compiling was measured faster here: a CPU of a kind (and at a precision) in COMPILE_PAYS_ON."""
    return device_type == "cpu" and (cpu_bf16_kind(), mixed_precision) in COMPILE_PAYS_ON


def resolve_compile(
    requested: str, device_type: str, mixed_precision: str, *, quantize: str = "none", backend: str = "torch"
) -> str:
    """ "yes", "no", or "auto" (kept only where compiling pays here: compile_pays); `mixed_precision` as
    resolved ("no" | "bf16" | "fp16"). int8 layers or ONNX Runtime rule compiling out: "yes" is then a ValueError
    saying so, "auto" is "no"."""
    requested = check_compile(requested)
    cannot = "int8 layers (quantize='int8')" if quantize == "int8" else None
    cannot = "the onnxruntime backend" if backend == "onnxruntime" else cannot
    if cannot is not None and requested == "yes":
        raise ValueError(f"compile='yes' compiles the torch model; it cannot go with {cannot}")
    if cannot is not None or (requested == "auto" and not compile_pays(device_type, mixed_precision)):
        return "no"
    return requested


def cpp_compiler_problem() -> str | None:
    """Why inductor cannot build its CPU kernels here (no C++ compiler), or None."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()
    except Exception as e:  # noqa: BLE001  (inductor raises its own kinds; any of them means: no compiler)
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")
    return None


def is_compiled(model: nn.Module) -> bool:
    return "forward" in vars(model)


def compile_model(model: nn.Module, warm: Callable[[], Any]) -> bool:
    """Compiles the model's forward in place (an instance attribute over the class's method: its hooks still run
    eagerly around it) and runs `warm` (a forward pass as the reader runs them, which compiles); True if the model
    now runs compiled (already did: True at once). If compiling fails: the model is eager again, one warning says
    why, False."""
    if is_compiled(model):  # another view of the same model compiled it (the service's lanes)
        return True
    device = next(model.parameters()).device.type
    problem = cpp_compiler_problem() if device == "cpu" else None
    if problem is None:
        model.forward = torch.compile(model.forward, dynamic=True)
        try:
            # freezing given as a compile option is not applied (measured); emulate_precision_casts rounds fused
            # bf16 steps where the eager model rounds them (answers closer to the eager model's)
            with inductor_config.patch(freezing=True, emulate_precision_casts=True):
                warm()
            return True
        except Exception as e:  # noqa: BLE001  (whatever the compiler raises, the eager model still answers)
            del model.forward  # the class's forward again
            problem = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    logger.warning("could not compile the model (%s); answering with the eager model", problem)
    return False


def dummy_batch(tokenizer: Any, batch_size: int, length: int) -> dict[str, torch.Tensor]:
    """`batch_size` windows of `length` tokens as inference_loader collates them (the same keys and dtypes: a
    compiled model sees what `answer` gives it), every token but [CLS] a passage token."""
    ids = [tokenizer.cls_token_id or 0] + [tokenizer.unk_token_id or 0] * (length - 1)
    row = {"input_ids": ids, "attention_mask": [1] * length, "offset_mapping": [(-1, -1)] + [(0, 1)] * (length - 1)}
    if "token_type_ids" in tokenizer.model_input_names:
        row["token_type_ids"] = [0] * length
    rows = [dict(row, feature_index=i) for i in range(batch_size)]
    return SpanCollator(tokenizer.pad_token_id or 0, with_targets=False, pad_to_multiple_of=LENGTH_BUCKET)(rows)


def warm_forward(
    model: nn.Module,
    tokenizer: Any,
    settings: InferenceSettings,
    mixed_precision: str,
    batch_sizes: Iterable[int],
    lengths: Iterable[int] | None = None,
) -> None:
    """A forward pass (and its top-k) at every length bucket up to the settings' max_seq_length (or `lengths`) and
    every batch size, as `answer` runs them: compiles a compiled model, and leaves each shape's kernels ready."""
    device = model_device(model)
    with torch.no_grad(), autocast(device.type, mixed_precision):
        for n in lengths or bucket_lengths(settings.max_seq_length):
            for b in batch_sizes:
                batch = {k: v.to(device) for k, v in dummy_batch(tokenizer, b, n).items()}
                score_batch(model, batch, N_BEST_SIZE, settings.max_answer_length)
