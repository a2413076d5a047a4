"""AdamW parameter groups for a reader, and the moment reset at the objective switch."""

from __future__ import annotations

import torch

HEAD_PREFIXES = ("head.", "qa_model.qa_outputs.")  # the span heads of GlobalPointer and of the start/end reader


def param_groups(model: torch.nn.Module, lr: float, head_lr: float | None, weight_decay: float) -> list[dict]:
    """AdamW groups: no decay on biases and norms; the span head (randomly initialised) at `head_lr`.

    The GlobalPointer score is bilinear in the head's weights (q·k), so it starts on a saddle where Adam's
    steps of size ~lr need many updates to grow the logits; a larger head learning rate shortens that."""
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
    groups = []
    for is_head in (False, True):
        for decay in (True, False):
            params = [
                p
                for n, p in model.named_parameters()
                if n.startswith(HEAD_PREFIXES) == is_head and (not any(x in n for x in no_decay)) == decay
            ]
            if params:
                groups.append(
                    {
                        "params": params,
                        "weight_decay": weight_decay if decay else 0.0,
                        "lr": (head_lr if head_lr and head_lr > 0 else lr) if is_head else lr,
                    }
                )
    return groups


def reset_adam_moments(optimizer: torch.optim.Optimizer) -> None:
    """Forget Adam's moment estimates; the next step starts them afresh (bias-corrected, so its size is ~lr).

    Expected-F1 gradients are ~10x smaller than multilabel ones; kept, the multilabel second moment
    (β2 = 0.999, a memory of ~1,000 steps) would shrink every step after the switch by as much."""
    inner = getattr(optimizer, "optimizer", optimizer)  # accelerate wraps the torch optimizer
    inner.state.clear()
