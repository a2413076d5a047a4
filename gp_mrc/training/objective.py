"""The training objective's flags and schedule (torch-free: the command line's parsers read the fields).

    gold-span loss (span-softmax CE, or multilabel CE)      for the warm start, and after it × mixed_weight (mixed)
  + reward loss (−E[F1] − λ·H)                               after the warm start, ramped in over reward_ramp_steps

`config.resolved(total_steps)` turns the step counts given as fractions of the run into steps; the schedule
(`weights`, `switched`, `resets_optimizer`, `phase`) reads a resolved one. The formulas are gp_mrc/method.py's;
training/losses.py applies this schedule to them for a batch. The start/end baseline brings its own loss.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..argtypes import non_negative_float, steps_or_fraction
from ..choices import GOLD_SPAN_LOSSES, OBJECTIVES
from ..flags import setting


def steps_of(value: float, total: int) -> int:
    """An int, or a fraction (0 < value < 1) of `total` steps."""
    return int(value * total) if 0 < value < 1 else int(value)


def objective_weights(
    step: int, objective: str, warm_start_steps: int, mixed_weight: float, reward_weight: float, ramp_steps: int
) -> tuple[float, float]:
    """(weight of the gold-span loss, weight of the reward loss) at an optimizer step.

    multilabel: (1, 0) always.  f1: the gold-span loss for the first `warm_start_steps`, then (0, w).
    mixed: the gold-span loss for the warm start, then both: (mixed_weight, w). The reward weight w rises
    linearly from reward_weight / ramp_steps to reward_weight over the first `ramp_steps` steps after the
    warm start (DCN+ and the Reinforced Mnemonic Reader bring the reward in once cross-entropy has converged).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if objective == "multilabel" or step < warm_start_steps:
        return 1.0, 0.0
    w = reward_weight * min(1.0, (step - warm_start_steps + 1) / ramp_steps) if ramp_steps > 0 else reward_weight
    return (0.0, w) if objective == "f1" else (mixed_weight, w)


@dataclass(frozen=True)
class ObjectiveConfig:
    """The objective's flags (steps as given: an int or a fraction of the run) and its schedule."""

    objective: str = setting(
        "mixed",
        "multilabel: the gold-span loss only; f1: the reward replaces it after the warm start (the seed's "
        "recipe); mixed: the reward is added to it after the warm start",
        choices=OBJECTIVES,
        by_architecture={"start_end": "multilabel"},
        depends="{default} for GlobalPointer (the study's best, BENCHMARKS.md), {start_end} for start/end (which "
        "trains on its own cross-entropy)",
    )
    warm_start_steps: float = setting(
        0.5,
        "gold-span-loss steps before the reward comes in: an int, or a fraction (< 1) of the training steps",
        type=steps_or_fraction,
    )
    entropy_lambda: float = setting(0.01, "λ of the reward loss −E[F1] − λ·H (entropy bonus)", type=non_negative_float)
    reward_weight: float = setting(1.0, "weight of the F1 loss after the warm start", type=non_negative_float)
    warm_start_loss: str = setting(
        "softmax",
        "the gold-span loss (objective multilabel, and the warm start of f1/mixed): softmax, −log Σ_gold p "
        "under the span softmax (the study's best, BENCHMARKS.md), or the multilabel categorical cross-entropy",
        choices=GOLD_SPAN_LOSSES,
        research=True,
    )
    mixed_weight: float = setting(
        1.0, "weight of the gold-span loss after the warm start (mixed)", type=non_negative_float, research=True
    )
    reward_ramp_steps: float = setting(
        0.25,
        "raise the F1 loss's weight linearly over this many steps after the warm start (int or fraction)",
        type=steps_or_fraction,
        research=True,
    )

    def resolved(self, total_steps: int) -> "ObjectiveConfig":
        """The same objective with its step counts in steps of a run of `total_steps` (no warm start for
        multilabel, which has no reward to bring in)."""
        warm = steps_of(self.warm_start_steps, total_steps) if self.uses_rewards else 0
        return dataclasses.replace(
            self, warm_start_steps=warm, reward_ramp_steps=steps_of(self.reward_ramp_steps, total_steps)
        )

    @property
    def uses_rewards(self) -> bool:
        return self.objective != "multilabel"

    def weights(self, step: int) -> tuple[float, float]:
        """(gold-span loss weight, reward loss weight) at an optimizer step."""
        return objective_weights(
            step, self.objective, self.warm_start_steps, self.mixed_weight, self.reward_weight, self.reward_ramp_steps
        )

    def switched(self, step: int) -> bool:
        """True at the first step after the warm start (the reward comes in; a ramp does not count)."""
        return self.uses_rewards and 0 < self.warm_start_steps == step

    def resets_optimizer(self, step: int) -> bool:
        """At the switch, when the gold-span loss is dropped or down-weighted: AdamW's second moments, learnt on
        its large gradients, would shrink the reward's steps for hundreds of updates. When the gold-span loss
        stays at full weight (the reward added to it), the moments still fit and are kept."""
        return self.switched(step) and self.weights(step)[0] < 1.0

    def phase(self, step: int) -> str:
        w_gold, w_reward = self.weights(step)
        return self.warm_start_loss if not w_reward else ("f1" if not w_gold else "mixed")
