"""The loss of a training batch: the objective's schedule (objective.py) applied to the method's formulas
(gp_mrc/method.py), on the band layout the model returns when training (`banded=True`)."""

from __future__ import annotations

import torch

from ..method import objective_loss
from ..models.modeling import SpanOutput
from .objective import ObjectiveConfig


def batch_loss(
    objective: ObjectiveConfig, out: SpanOutput, batch: dict[str, torch.Tensor], step: int
) -> tuple[torch.Tensor, dict[str, float]]:
    """(loss, stats to log) of one batch at an optimizer step: `out` the model's SpanOutput, `batch` the collator's
    (targets and rewards in the band layout of max_answer_length). A start/end reader brings its own loss."""
    if out.loss is not None:
        return out.loss, {"start_end_ce": out.loss.item()}
    return objective_loss(
        out.logits,
        out.span_mask,
        batch["targets"],
        batch.get("f1"),
        objective.weights(step),
        objective.warm_start_loss,
        objective.entropy_lambda,
    )
