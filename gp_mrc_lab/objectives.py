"""The variants the study measured and rejected (BENCHMARKS.md), kept here so that their result files can be
re-run: they plug into the training recipe as its components (gp_mrc.training.loop.train's `loss_fn` and
`model_fn`): a frozen ObjectiveConfig subclass with further fields and its own batch loss, and a model part whose
head may drop RoPE.

    --reward soft_f1 --soft_f1_tau τ    F1 soft targets instead of −E[F1] − λ·H after the warm start
    --aux_start_end_weight w            + w × the start/end cross-entropy of the head's span_bias terms, every step
    --multilabel_offset none            the multilabel loss on raw scores (not s − log N)
    --keep_optimizer_state              never reset AdamW's moments at the switch
    --no_rope                           the GlobalPointer head without rotary position embedding
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from gp_mrc.argtypes import non_negative_float, positive_float
from gp_mrc.errors import UsageError
from gp_mrc.flags import setting
from gp_mrc.method import (
    FILL,
    at_least_fp32,
    expected_f1_loss,
    gold_span_loss,
    multilabel_categorical_crossentropy,
    span_log_probs,
)
from gp_mrc.models.modeling import SpanOutput
from gp_mrc.training.config import ModelConfig, TrainConfig
from gp_mrc.training.losses import batch_loss
from gp_mrc.training.model_init import model_for_training
from gp_mrc.training.objective import ObjectiveConfig

REWARDS = ("expected_f1", "soft_f1")


def soft_f1_loss(logits: torch.Tensor, f1: torch.Tensor, mask: torch.Tensor, tau: float = 0.3) -> torch.Tensor:
    """Per-window −Σ q log p with q(i, j) ∝ exp(f1(i, j) / τ) over the valid spans whose reward is > 0.

    The optimum of −E_p[F1] − τ·H(p) restricted to those spans, reached by plain cross-entropy: its gradient
    p − q stays large while p is diffuse, where the expected-F1 gradient p·(f1 − E[f1]) vanishes. Windows
    without the answer have f1 = 1 on the null span only, so q is one-hot there. A window with no
    rewarded span contributes 0."""
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    logp = span_log_probs(logits, mask)
    support = (f1 > 0) & mask
    z = torch.where(support, f1.to(logp.dtype) / tau, torch.full_like(logp, FILL))
    q = torch.softmax(z.flatten(1), dim=1) * support.flatten(1)
    return -(q * logp.flatten(1)).sum(1)


def start_end_cross_entropy(
    start_logits: torch.Tensor,
    end_logits: torch.Tensor,
    start_positions: torch.Tensor,
    end_positions: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    """Per-window (CE(start) + CE(end)) / 2 over the tokens that can start / end a valid span (passage tokens and
    [CLS] for the null span), as the start/end reader is trained: the auxiliary "independent" half of Fajcik et
    al.'s compound objective, applied to the linear start/end terms of a `span_bias` GlobalPointer."""

    def ce(logits: torch.Tensor, valid: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(at_least_fp32(logits).masked_fill(~valid, FILL), dim=-1)
        return -logp.gather(1, target.view(-1, 1)).squeeze(1)

    # a token that can end a valid span can also start one (every passage token and [CLS], the null span, is a
    # one-token span), so the rows of the mask name both sets — in the dense layout and in the band alike
    tokens = mask.any(-1)
    return (ce(start_logits, tokens, start_positions) + ce(end_logits, tokens, end_positions)) / 2


@dataclass(frozen=True)
class LabObjectiveConfig(ObjectiveConfig):
    """The product objective and the rejected variants' switches (their defaults: the product's behaviour)."""

    keep_optimizer_state: bool = setting(
        False,
        "keep AdamW's moments at the end of the warm start (default: reset "
        "them when the gold-span loss is dropped or down-weighted there)",
        research=True,
    )
    multilabel_offset: str = setting(
        "log_n",
        "log_n: the multilabel loss scores spans by s − log(#valid spans); none: raw s",
        choices=("log_n", "none"),
        research=True,
    )
    reward: str = setting(
        "expected_f1",
        "the F1 loss after the warm start: expected_f1 = −Σ p·f1 + λ Σ p log p; "
        "soft_f1 = cross-entropy against q ∝ exp(f1 / τ) over the rewarded spans",
        choices=REWARDS,
        research=True,
    )
    soft_f1_tau: float = setting(0.3, "temperature τ of the soft_f1 targets", type=positive_float, research=True)
    aux_start_end_weight: float = setting(
        0.0,
        "add this weight × the start/end cross-entropy of the head's linear start/end terms (needs --span_bias)",
        type=non_negative_float,
        research=True,
    )

    def resets_optimizer(self, step: int) -> bool:
        return not self.keep_optimizer_state and super().resets_optimizer(step)


def lab_batch_loss(
    objective: ObjectiveConfig, out: SpanOutput, batch: dict[str, torch.Tensor], step: int
) -> tuple[torch.Tensor, dict[str, float]]:
    """The product's batch loss (gp_mrc.training.losses.batch_loss) with the rejected variants' switches."""
    if not isinstance(objective, LabObjectiveConfig) or out.loss is not None:
        return batch_loss(objective, out, batch, step)
    w_gold, w_reward = objective.weights(step)
    logits, mask = out.logits, out.span_mask
    loss = torch.zeros((), device=logits.device)
    stats: dict[str, float] = {}
    if w_gold:
        if objective.warm_start_loss == "multilabel" and objective.multilabel_offset == "none":
            gold = multilabel_categorical_crossentropy(logits, batch["targets"], mask, log_n_offset=False).mean()
        else:
            gold = gold_span_loss(objective.warm_start_loss, logits, batch["targets"], mask).mean()
        loss = loss + w_gold * gold
        stats[objective.warm_start_loss] = gold.item()
    if w_reward:
        if objective.reward == "expected_f1":
            ef = expected_f1_loss(logits, batch["f1"], mask, objective.entropy_lambda)
            reward = ef.loss
        else:
            with torch.no_grad():  # logged only: no graph to build or backpropagate
                ef = expected_f1_loss(logits, batch["f1"], mask, objective.entropy_lambda)
            reward = soft_f1_loss(logits, batch["f1"], mask, objective.soft_f1_tau)
        loss = loss + w_reward * reward.mean()
        stats.update(expected_f1=ef.expected_f1.mean().item(), entropy=ef.entropy.mean().item())
    if objective.aux_start_end_weight:
        start, end = START_END_TERMS["terms"]
        aux = start_end_cross_entropy(start, end, batch["start_positions"], batch["end_positions"], mask).mean()
        loss = loss + objective.aux_start_end_weight * aux
        stats["aux_start_end"] = aux.item()
    return loss, stats


# The span_bias terms of the latest forward pass, for the auxiliary loss: a forward hook on the head's bias_dense
# (lab_model_fn) puts them here; the product's SpanOutput does not carry them.
START_END_TERMS: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}


@dataclass(frozen=True)
class LabModelConfig(ModelConfig):
    no_rope: bool = setting(False, "ablation: GlobalPointer without rotary position embedding", research=True)


def lab_model_fn(config: Any) -> tuple[Any, Any]:
    """The product's model_for_training, then the lab's model switches: --no_rope (the head and the saved config
    say so), and the hook that keeps the span_bias terms for --aux_start_end_weight."""
    model, tokenizer = model_for_training(config)
    if config.model.architecture != "globalpointer":
        return model, tokenizer
    if getattr(config.model, "no_rope", False):
        model.head.use_rope = model.config.use_rope = False
    if getattr(config.objective, "aux_start_end_weight", 0):
        keep_start_end_terms(model)
    return model, tokenizer


def keep_start_end_terms(model: Any) -> None:
    """Every forward pass of a span_bias GlobalPointer leaves its start and end terms in START_END_TERMS."""

    def keep(module: torch.nn.Module, args: Any, output: torch.Tensor) -> None:
        START_END_TERMS["terms"] = tuple(output.unbind(-1))

    if model.head.bias_dense is not None:
        model.head.bias_dense.register_forward_hook(keep)


LAB_PARTS = {"model": LabModelConfig, "objective": LabObjectiveConfig}


def check(config: TrainConfig) -> None:
    """The checks across the lab's parts."""
    if config.objective.aux_start_end_weight and not (
        config.model.architecture == "globalpointer" and config.model.span_bias
    ):
        raise UsageError("--aux_start_end_weight needs the GlobalPointer's start/end terms: add --span_bias")
