"""The lab's answer-length calibration of expected-F1 decoding (gp_mrc_lab/length_prior.py)."""

from __future__ import annotations

import pytest

from gp_mrc.inference.decoding import choose
from gp_mrc_lab.length_prior import tilted_choice, two_fold

TEXTS = ["1587", "in 1587", "founded in 1587 by wool traders", "wool traders"]
LOG_PROBS = [-0.4, -1.2, -2.5, -1.9]


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_no_tilt_is_expected_f1_decoding(temperature):
    entries = [{"text": t, "score": s} for t, s in zip(TEXTS, LOG_PROBS)]
    assert tilted_choice(TEXTS, LOG_PROBS, "en", 0.0, temperature) == choose(entries, "expected_f1", "en", temperature)


def test_a_tilt_moves_the_answer_by_length():
    assert TEXTS[tilted_choice(TEXTS, LOG_PROBS, "en", 0.0)] == "1587"
    assert TEXTS[tilted_choice(TEXTS, LOG_PROBS, "en", 3.0)] == "founded in 1587 by wool traders"  # the longest
    assert len(TEXTS[tilted_choice(TEXTS, LOG_PROBS, "en", -3.0)].split()) == 1  # a one-token answer
    assert tilted_choice(["only"], [0.0], "en", 5.0) == 0


def test_two_fold_scores_each_half_with_the_setting_chosen_on_the_other():
    # q0, q2 (the even half) gain from beta 0.2; q1, q3 (odd) lose from it: neither half's choice helps the other
    f1 = {
        (1.0, 0.0): {"q0": 0.5, "q1": 1.0, "q2": 0.5, "q3": 1.0},
        (1.0, 0.2): {"q0": 1.0, "q1": 0.0, "q2": 1.0, "q3": 0.0},
    }
    out = two_fold(f1)
    assert [f["T_beta"] for f in out["folds"]] == [(1.0, 0.2), (1.0, 0.0)]
    assert out["folds"][0]["held_out_f1"] == 0.0 and out["folds"][0]["T_alone_f1"] == 100.0
    assert out["held_out_gain"] == pytest.approx((0.0 - 100.0) / 2)
    assert out["f1"] == {"T=1 beta=0": 75.0, "T=1 beta=0.2": 50.0}
