"""The variants the study measured and rejected (BENCHMARKS.md), kept here so that their result files can be
re-run: they plug into training through the extension point of gp_mrc.training.objective.ObjectiveConfig (a
frozen subclass with further fields, overriding its loss methods) and a model part whose head may drop RoPE.

    --reward soft_f1 --soft_f1_tau τ    F1 soft targets instead of −E[F1] − λ·H after the warm start
    --aux_start_end_weight w            + w × the start/end cross-entropy of the head's span_bias terms, every step
    --multilabel_offset none            the multilabel loss on raw scores (not s − log N)
    --keep_optimizer_state              never reset AdamW's moments at the switch
    --no_rope                           the GlobalPointer head without rotary position embedding
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import torch

from gp_mrc.argtypes import non_negative_float, positive_float
from gp_mrc.errors import UsageError
from gp_mrc.flags import setting
from gp_mrc.models.span_probs import FILL, at_least_fp32, span_log_probs
from gp_mrc.training.config import ModelConfig, TrainConfig
from gp_mrc.training.losses import ExpectedF1, expected_f1_loss, multilabel_categorical_crossentropy
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

    def gold_span_loss(self) -> Callable[..., torch.Tensor]:
        if self.warm_start_loss == "multilabel" and self.multilabel_offset == "none":
            return functools.partial(multilabel_categorical_crossentropy, log_n_offset=False)
        return super().gold_span_loss()

    def reward_loss(
        self, logits: torch.Tensor, f1: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, ExpectedF1]:
        if self.reward == "expected_f1":
            return super().reward_loss(logits, f1, mask)
        with torch.no_grad():  # logged only: no graph to build or backpropagate
            ef = expected_f1_loss(logits, f1, mask, self.entropy_lambda)
        return soft_f1_loss(logits, f1, mask, self.soft_f1_tau), ef

    def extra_loss(self, out: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor | None, dict[str, float]]:
        if not self.aux_start_end_weight:
            return None, {}
        aux = start_end_cross_entropy(
            out.start_logits, out.end_logits, batch["start_positions"], batch["end_positions"], out.span_mask
        ).mean()
        return self.aux_start_end_weight * aux, {"aux_start_end": aux.item()}


@dataclass(frozen=True)
class LabModelConfig(ModelConfig):
    no_rope: bool = setting(False, "ablation: GlobalPointer without rotary position embedding", research=True)

    @property
    def use_rope(self) -> bool:
        return not self.no_rope


LAB_PARTS = {"model": LabModelConfig, "objective": LabObjectiveConfig}


def check(config: TrainConfig) -> None:
    """The checks across the lab's parts."""
    if config.objective.aux_start_end_weight and not (
        config.model.architecture == "globalpointer" and config.model.span_bias
    ):
        raise UsageError("--aux_start_end_weight needs the GlobalPointer's start/end terms: add --span_bias")
