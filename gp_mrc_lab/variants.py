"""The study's variants (`VARIANTS`: objective, decoding and the trunk a branch resumes from); the protocols they
run under are gp_mrc_lab/studies.py's `STUDIES`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    label: str
    flags: tuple[str, ...]
    parent: str | None = None  # the trunk variant this one branches from
    at: float = 0.5  # branch point, a fraction of the protocol's steps (a multiple of 1/4)
    trunk: bool = False
    versus: str | None = None  # the paired table's reference (default: the parent, else the multilabel GP)


GP = ("--span_bias",)
ML = ("--warm_start_loss", "multilabel")  # pinned: the default became softmax after these runs
SM = ("--warm_start_loss", "softmax")
AD0 = ("--attention_dropout", "0")
LLRD = ("--layer_lr_decay", "0.8")
NEG = ("--negative_passages", "0.5")
ADDED = ("--mixed_weight", "1", "--reward_ramp_steps", "0.25", "--keep_optimizer_state")  # after "--objective mixed"
VARIANTS = {
    "start_end": Variant("start/end reader", ("--architecture", "start_end")),
    "gp_ml": Variant("GP, multilabel CE", GP + ML + ("--objective", "multilabel"), trunk=True),
    "gp_sm": Variant("GP, span-softmax CE", GP + ("--objective", "multilabel") + SM, trunk=True),
    "gp_ml__f1_added": Variant(
        "GP, multilabel + expected F1 ramped in (added)", GP + ML + ("--objective", "mixed") + ADDED, parent="gp_ml"
    ),
    "gp_sm__f1_added": Variant(
        "GP, span-softmax CE + expected F1 ramped in (added)",
        GP + ("--objective", "mixed") + SM + ADDED,
        parent="gp_sm",
    ),
    # issue #10: the same run in fp32 (the later --mixed_precision wins over the protocol's bf16)
    "gp_ml_fp32": Variant(
        "GP, multilabel CE, fp32", GP + ML + ("--objective", "multilabel", "--mixed_precision", "no")
    ),
    "gp_ml__f1": Variant(
        "GP, multilabel → expected F1 + 0.01·H (the seed's objective)", GP + ML + ("--objective", "f1"), parent="gp_ml"
    ),
    "gp_ml__soft_f1": Variant(
        "GP, multilabel → F1 soft targets τ=0.3",
        GP + ML + ("--objective", "f1", "--reward", "soft_f1", "--soft_f1_tau", "0.3"),
        parent="gp_ml",
    ),
    "gp_ml__soft_f1_added": Variant(
        "GP, multilabel + F1 soft targets τ=0.3 (added)",
        GP
        + ML
        + (
            "--objective",
            "mixed",
            "--mixed_weight",
            "1",
            "--reward",
            "soft_f1",
            "--soft_f1_tau",
            "0.3",
            "--keep_optimizer_state",
        ),
        parent="gp_ml",
    ),
    "gp_sm__soft_f1": Variant(
        "GP, span-softmax CE → F1 soft targets τ=0.3",
        GP + ("--objective", "f1") + SM + ("--reward", "soft_f1", "--soft_f1_tau", "0.3"),
        parent="gp_sm",
    ),
    "gp_ml__f1_lam0.1": Variant(
        "GP, multilabel → expected F1 + 0.1·H",
        GP + ML + ("--objective", "f1", "--entropy_lambda", "0.1"),
        parent="gp_ml",
    ),
    "gp_ml__f1_at75": Variant(
        "GP, multilabel (75%) → expected F1 + 0.01·H", GP + ML + ("--objective", "f1"), parent="gp_ml", at=0.75
    ),
    "gp_ml__soft_f1_t0.1": Variant(
        "GP, multilabel → F1 soft targets τ=0.1",
        GP + ML + ("--objective", "f1", "--reward", "soft_f1", "--soft_f1_tau", "0.1"),
        parent="gp_ml",
    ),
    "gp_aux": Variant(
        "GP, multilabel + start/end CE (compound)",
        GP + ML + ("--objective", "multilabel", "--aux_start_end_weight", "1"),
        trunk=True,
    ),
    "gp_aux__soft_f1": Variant(
        "GP, multilabel + start/end CE → F1 soft targets τ=0.3 (+ start/end CE)",
        GP + ML + ("--objective", "f1", "--aux_start_end_weight", "1", "--reward", "soft_f1", "--soft_f1_tau", "0.3"),
        parent="gp_aux",
    ),
    # issue #10: attention dropout 0 (the fused CPU attention kernel; ~2x faster steps) for the default recipe;
    # a "<name>_ad0…" variant is "<name>…" at attention dropout 0 (the report pairs them by that rule)
    "start_end_ad0": Variant("start/end reader, attention dropout 0", ("--architecture", "start_end") + AD0),
    "gp_ml_ad0": Variant(
        "GP, multilabel CE, attention dropout 0", GP + ML + AD0 + ("--objective", "multilabel"), trunk=True
    ),
    "gp_ml_ad0__f1_added": Variant(
        "GP, multilabel + expected F1 ramped in (added), attention dropout 0",
        GP + ML + AD0 + ("--objective", "mixed") + ADDED,
        parent="gp_ml_ad0",
    ),
    "gp_sm_ad0": Variant(
        "GP, span-softmax CE, attention dropout 0", GP + AD0 + ("--objective", "multilabel") + SM, trunk=True
    ),
    "gp_sm_ad0__f1_added": Variant(
        "GP, span-softmax CE + expected F1 ramped in (added), attention dropout 0",
        GP + AD0 + ("--objective", "mixed") + SM + ADDED,
        parent="gp_sm_ad0",
    ),
    # issue #10: the default line in fp32, against gp_sm_ad0 (bf16) on the same seeds ("<name>_fp32" = "<name>")
    "gp_sm_ad0_fp32": Variant(
        "GP, span-softmax CE, attention dropout 0, fp32",
        GP + AD0 + ("--objective", "multilabel") + SM + ("--mixed_precision", "no"),
    ),
    # the reward's share on the default line (attention dropout 0): replacing the gold-span loss, weighted up, earlier
    "gp_sm_ad0__f1": Variant(
        "GP, span-softmax CE → expected F1 + 0.01·H, attention dropout 0",
        GP + AD0 + ("--objective", "f1") + SM,
        parent="gp_sm_ad0",
    ),
    "gp_sm_ad0__f1_added_w3": Variant(
        "GP, span-softmax CE + 3 × expected F1 ramped in (added), attention dropout 0",
        GP
        + AD0
        + ("--objective", "mixed")
        + SM
        + ("--mixed_weight", "1", "--reward_weight", "3", "--reward_ramp_steps", "0.25", "--keep_optimizer_state"),
        parent="gp_sm_ad0",
    ),
    "gp_sm_ad0__f1_added_at25": Variant(
        "GP, span-softmax CE + expected F1 ramped in from 25% (added), attention dropout 0",
        GP + AD0 + ("--objective", "mixed") + SM + ADDED,
        parent="gp_sm_ad0",
        at=0.25,
    ),
    "gp_sm__f1": Variant("GP, span-softmax CE → expected F1 + 0.01·H", GP + ("--objective", "f1") + SM, parent="gp_sm"),
    # issue #17 (Chinese): the seed's objective and F1 soft targets at attention dropout 0
    "gp_ml_ad0__f1": Variant(
        "GP, multilabel → expected F1 + 0.01·H (the seed's objective), attention dropout 0",
        GP + ML + AD0 + ("--objective", "f1"),
        parent="gp_ml_ad0",
    ),
    "gp_sm_ad0__soft_f1": Variant(
        "GP, span-softmax CE → F1 soft targets τ=0.3, attention dropout 0",
        GP + AD0 + ("--objective", "f1") + SM + ("--reward", "soft_f1", "--soft_f1_tau", "0.3"),
        parent="gp_sm_ad0",
    ),
    # the compound objective (Fajcik et al. 2021) on the default line: + start/end CE on the span_bias terms
    "gp_sm_ad0_aux": Variant(
        "GP, span-softmax CE + start/end CE (compound), attention dropout 0",
        GP + AD0 + ("--objective", "multilabel") + SM + ("--aux_start_end_weight", "1"),
        trunk=True,
        versus="gp_sm_ad0",
    ),
    "gp_sm_ad0_aux__f1_added": Variant(
        "GP, span-softmax CE + start/end CE + expected F1 ramped in (added), attention dropout 0",
        GP + AD0 + ("--objective", "mixed") + SM + ADDED + ("--aux_start_end_weight", "1"),
        parent="gp_sm_ad0_aux",
    ),
}


def with_candidate(suffix: str, label: str, extra: tuple[str, ...]) -> dict[str, Variant]:
    """The default line's three variants (start_end_ad0, gp_sm_ad0 and its f1_added branch) with `extra` flags: a
    candidate that is not the GlobalPointer's own, given to both readers, each paired with its line without it."""
    se, gp, branch = VARIANTS["start_end_ad0"], VARIANTS["gp_sm_ad0"], VARIANTS["gp_sm_ad0__f1_added"]
    trunk = f"gp_sm_ad0_{suffix}"
    return {
        f"start_end_ad0_{suffix}": Variant(f"{se.label}, {label}", se.flags + extra, versus="start_end_ad0"),
        trunk: Variant(f"{gp.label}, {label}", gp.flags + extra, trunk=True, versus="gp_sm_ad0"),
        f"{trunk}__f1_added": Variant(f"{branch.label}, {label}", branch.flags + extra, parent=trunk),
    }


# issue #27 point 1: layer-wise learning-rate decay (0.8: ELECTRA-small's value), and negative windows (the
# "trustworthy component" point 9 flag, 0.5 as on the built-in sample: half the questions get one unanswerable copy
# over another article's passage)
VARIANTS.update(with_candidate("llrd", "layer-wise lr decay 0.8", LLRD))
VARIANTS.update(with_candidate("neg", "negative passages 0.5", NEG))
