"""The training objective: which losses a batch pays at a given step, and their weights.

    gold-span loss (multilabel CE, or span-softmax CE)      for the warm start, and after it × mixed_weight (mixed)
  + reward loss (expected F1 + λ·H, or F1 soft targets)     after the warm start, ramped in over ramp_steps
  + aux_start_end_weight × start/end CE                     every step, if asked (needs the span_bias terms)

The start/end baseline brings its own loss (the model's `loss`) and ignores all of this. The pure pieces (the
losses and `objective_weights`) live in losses.py; this module only combines them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import torch

from .losses import (expected_f1_loss, multilabel_categorical_crossentropy, objective_weights, soft_f1_loss,
                     span_cross_entropy, start_end_cross_entropy)


def steps_of(value: float, total: int) -> int:
    """An int, or a fraction (0 < value < 1) of `total` steps."""
    return int(value * total) if 0 < value < 1 else int(value)


@dataclass(frozen=True)
class Objective:
    """Defaults: the command line's recipe (gp_mrc.training.config.ObjectiveConfig), its step counts resolved to 0."""

    objective: str = "mixed"  # multilabel | f1 | mixed
    warm_start_steps: int = 0
    gold_loss: str = "softmax"  # multilabel | softmax
    log_n_offset: bool = True
    reward: str = "expected_f1"  # expected_f1 | soft_f1
    entropy_lambda: float = 0.01
    soft_f1_tau: float = 0.3
    mixed_weight: float = 1.0
    reward_weight: float = 1.0
    ramp_steps: int = 0
    aux_start_end_weight: float = 0.0

    @classmethod
    def from_config(cls, config: Any, total_steps: int) -> "Objective":
        """From a gp_mrc.training.config.ObjectiveConfig (steps as given: an int or a fraction of `total_steps`)."""
        return cls(objective=config.objective,
                   warm_start_steps=steps_of(config.warm_start_steps, total_steps)
                   if config.objective != "multilabel" else 0,
                   gold_loss=config.warm_start_loss, log_n_offset=config.multilabel_offset == "log_n",
                   reward=config.reward, entropy_lambda=config.entropy_lambda, soft_f1_tau=config.soft_f1_tau,
                   mixed_weight=config.mixed_weight, reward_weight=config.reward_weight,
                   ramp_steps=steps_of(config.reward_ramp_steps, total_steps),
                   aux_start_end_weight=config.aux_start_end_weight)

    @property
    def uses_rewards(self) -> bool:
        return self.objective != "multilabel"

    def weights(self, step: int) -> tuple[float, float]:
        """(gold-span loss weight, reward loss weight) at an optimizer step."""
        return objective_weights(step, self.objective, self.warm_start_steps, self.mixed_weight,
                                 self.reward_weight, self.ramp_steps)

    def switched(self, step: int) -> bool:
        """True at the first step after the warm start (the reward comes in; a ramp does not count)."""
        return self.objective != "multilabel" and 0 < self.warm_start_steps == step

    def resets_optimizer(self, step: int) -> bool:
        """At the switch, when the gold-span loss is dropped or down-weighted: AdamW's second moments, learnt on
        its large gradients, would shrink the reward's steps for hundreds of updates. When the gold-span loss
        stays at full weight (the reward added to it), the moments still fit and are kept."""
        return self.switched(step) and self.weights(step)[0] < 1.0

    def phase(self, step: int) -> str:
        w_gold, w_reward = self.weights(step)
        return self.gold_loss if not w_reward else ("f1" if not w_gold else "mixed")

    @functools.cached_property
    def _gold_span_loss(self) -> Callable[..., torch.Tensor]:
        if self.gold_loss == "softmax":
            return span_cross_entropy
        return functools.partial(multilabel_categorical_crossentropy, log_n_offset=self.log_n_offset)

    def __call__(self, out: Any, batch: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """(loss, stats to log) of one batch: `out` is the model's SpanOutput, `batch` the collator's (targets and
        rewards in the band layout of max_answer_length)."""
        if out.loss is not None:  # the start/end baseline's own cross-entropy
            return out.loss, {"start_end_ce": out.loss.item()}
        w_gold, w_reward = self.weights(step)
        loss = torch.zeros((), device=out.logits.device)
        stats: dict[str, float] = {}
        mask, logits = out.span_mask, out.logits  # the band, as the targets (the model called with banded=True)
        if w_gold:
            gold = self._gold_span_loss(logits, batch["targets"], mask).mean()
            loss = loss + w_gold * gold
            stats[self.gold_loss] = gold.item()  # "multilabel" or "softmax"
        if w_reward:
            if self.reward == "expected_f1":
                ef = expected_f1_loss(logits, batch["f1"], mask, self.entropy_lambda)
                reward = ef.loss
            else:
                reward = soft_f1_loss(logits, batch["f1"], mask, self.soft_f1_tau)
                with torch.no_grad():  # logged only: no graph to build or backpropagate
                    ef = expected_f1_loss(logits, batch["f1"], mask, self.entropy_lambda)
            loss = loss + w_reward * reward.mean()
            stats.update(expected_f1=ef.expected_f1.mean().item(), entropy=ef.entropy.mean().item())
        if self.aux_start_end_weight:
            aux = start_end_cross_entropy(out.start_logits, out.end_logits, batch["start_positions"],
                                          batch["end_positions"], out.span_mask).mean()
            loss = loss + self.aux_start_end_weight * aux
            stats["aux_start_end"] = aux.item()
        return loss, stats
