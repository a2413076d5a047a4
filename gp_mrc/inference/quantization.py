"""Dynamic int8 quantization of the encoder's linear layers, for CPU inference (`Reader(..., quantize=...)`).

`torch.ao.quantization.quantize_dynamic` swaps the encoder's `nn.Linear` layers for ones with int8 weights (one
scale per output channel) that quantize their input per batch (fbgemm kernels: VNNI where the CPU has it) — all but
the feed-forward down-projections (`int8_layer_names`): their input is the activation's output, whose few large
values one per-batch scale cannot hold (all 36 MiniLM linears in int8 lost 2.2 F1 on the full SQuAD dev set;
without the 6 down-projections no loss, BENCHMARKS.md "CPU int8"). The answer head stays fp32: span scores are
differences of large dot products, and the head is a few percent of the compute.

int8 is an explicit choice, never picked for the user: measured on all 2,288 SQuAD v1.1 dev questions
(BENCHMARKS.md "CPU int8"), torch int8 costs 1.6 F1 on both readers, on a CPU with native bf16 and on one without,
for 1.2-1.4x fp32 per CPU second.
torch 2.13 deprecates the quantized tensors this uses (pytorch#184982, to be removed in a later release; torchao
is the successor): it works and is tested with the torch pinned here.
Importing this module does not import torch.
"""

from __future__ import annotations

from typing import Any

QUANTIZE_CHOICES = ("none", "int8")


def resolve_quantize(requested: str, device_type: str) -> str:
    """ "none" | "int8", checked: int8 runs on the CPU only."""
    if requested not in QUANTIZE_CHOICES:
        raise ValueError(f"quantize must be one of {QUANTIZE_CHOICES}, got {requested!r}")
    if requested == "int8" and device_type != "cpu":
        raise ValueError(f"quantize='int8' runs on the CPU only (dynamic int8 kernels), not on {device_type!r}")
    return requested


def encoder_of(model: Any) -> Any:
    """The transformer encoder of a span model (GlobalPointer: `.encoder`; start/end: the QA model's base)."""
    if hasattr(model, "qa_model"):
        return model.qa_model.base_model
    if hasattr(model, "encoder"):
        return model.encoder
    raise ValueError(f"{type(model).__name__} has no encoder to quantize")


def quantize_encoder(model: Any) -> Any:
    """The model with its encoder's nn.Linear layers replaced by dynamic int8 ones (in place; returned)."""
    import torch

    if next(model.parameters()).device.type != "cpu":
        raise ValueError("int8 dynamic quantization runs on the CPU only: move the model to the CPU first")
    import warnings

    with warnings.catch_warnings():  # torch 2.13 announces the removal of quantized tensors (pytorch#184982):
        warnings.simplefilter("ignore", DeprecationWarning)  # known, documented (docs/prediction.md); not the user's
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor", category=UserWarning)
        # per-output-channel weight scales: on the SQuAD reader of BENCHMARKS.md they lose 0.1 F1 where one
        # scale per tensor lost 0.55 (100 dev questions), at the same speed
        encoder = encoder_of(model)
        qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
        torch.ao.quantization.quantize_dynamic(
            encoder, {name: qconfig for name in int8_layer_names(encoder)}, inplace=True
        )
    return model


def int8_layer_names(encoder: Any) -> list[str]:
    """The encoder's linears that int8 serves: every `nn.Linear` except the down-projections (in_features >
    out_features: BERT's `layer.N.output.dense`, ALBERT's `ffn_output`), which read the activation's outliers.
    Found by shape, so any encoder gets the same rule without knowing its layer names."""
    from torch import nn

    return [name for name, m in encoder.named_modules() if isinstance(m, nn.Linear) and m.in_features <= m.out_features]
