"""AdamW parameter groups for a reader, and the moment reset at the objective switch."""

from __future__ import annotations

import re

import torch

HEAD_PREFIXES = ("head.", "qa_model.qa_outputs.")  # the span heads of GlobalPointer and of the start/end reader


LAYER = re.compile(r"(?:^|\.)layer\.(\d+)\.")  # encoder block k of BERT-like encoders: "...encoder.layer.k...."


def decay_exponents(names: list[str]) -> dict[str, int]:
    """Each encoder parameter's power of the layer-wise learning-rate decay, for N blocks: the embeddings N + 1,
    block k N - 1 - k (the top block 0), the rest of the encoder (pooler, final norm) 0."""
    blocks = 1 + max((int(m.group(1)) for n in names if (m := LAYER.search(n))), default=-1)
    return {
        n: blocks + 1 if "embeddings" in n else blocks - 1 - int(m.group(1)) if (m := LAYER.search(n)) else 0
        for n in names
    }


def param_groups(
    model: torch.nn.Module, lr: float, head_lr: float | None, weight_decay: float, layer_decay: float = 1.0
) -> list[dict]:
    """AdamW groups: no decay on biases and norms; the span head (randomly initialised) at `head_lr`; the encoder at
    lr · layer_decay^power (decay_exponents; `layer_decay` < 1: layer-wise learning-rate decay, lower layers move less, as
    ELECTRA's fine-tuning; 1: one learning rate).

    The GlobalPointer score is bilinear in the head's weights (q·k), so it starts on a saddle where Adam's
    steps of size ~lr need many updates to grow the logits; a larger head learning rate shortens that."""
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
    named = list(model.named_parameters())
    power = decay_exponents([n for n, _ in named if not n.startswith(HEAD_PREFIXES)])
    groups: dict[tuple, dict] = {}
    for n, p in named:
        is_head, decay = n.startswith(HEAD_PREFIXES), not any(x in n for x in no_decay)
        scale = 1.0 if is_head or layer_decay == 1.0 else layer_decay ** power[n]
        key = (is_head, decay, scale)
        if key not in groups:
            base = (head_lr if head_lr and head_lr > 0 else lr) if is_head else lr
            groups[key] = {"params": [], "weight_decay": weight_decay if decay else 0.0, "lr": base * scale}
        groups[key]["params"].append(p)
    return list(groups.values())


def reset_adam_moments(optimizer: torch.optim.Optimizer) -> None:
    """Forget Adam's moment estimates; the next step starts them afresh (bias-corrected, so its size is ~lr).

    Expected-F1 gradients are ~10x smaller than multilabel ones; kept, the multilabel second moment
    (β2 = 0.999, a memory of ~1,000 steps) would shrink every step after the switch by as much."""
    inner = getattr(optimizer, "optimizer", optimizer)  # accelerate wraps the torch optimizer
    inner.state.clear()
