"""gp_mrc_lab/calibration_metrics.py on known values, and scripts/calibration.py end to end on a tiny reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import tiny_gp
from gp_mrc_lab.calibration_metrics import (
    accuracy_at_coverage,
    coverage_curve,
    expected_calibration_error,
    reliability_bins,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_ece_of_known_bins():
    # bin [0.9, 1]: scores 0.95, 0.95 both right → |1 − 0.95| = 0.05; bin [0.2, 0.3): 0.25, 0.25, one right → 0.25
    scores, correct = [0.95, 0.95, 0.25, 0.25], [1, 1, 1, 0]
    assert expected_calibration_error(scores, correct) == pytest.approx(0.5 * 0.05 + 0.5 * 0.25)
    bins = reliability_bins(scores, correct)
    assert [b["count"] for b in bins] == [0, 0, 2, 0, 0, 0, 0, 0, 0, 2]
    assert bins[9]["mean_score"] == pytest.approx(0.95) and bins[2]["accuracy"] == 0.5
    assert reliability_bins([1.0, 0.0], [1, 0])[9]["count"] == 1  # 1.0 falls in the last, closed bin
    assert expected_calibration_error([0.3] * 10, [1] * 3 + [0] * 7) == pytest.approx(0.0)  # perfectly calibrated


def test_bad_calibration_inputs():
    with pytest.raises(ValueError, match="same length"):
        reliability_bins([0.5], [1, 0])
    with pytest.raises(ValueError, match="probabilities in"):
        reliability_bins([1.5], [1])
    with pytest.raises(ValueError, match="undefined"):
        expected_calibration_error([], [])


def test_accuracy_at_coverage_answers_the_most_confident_first():
    scores, em, f1 = [0.9, 0.1, 0.8, 0.2], [1, 0, 1, 0], [1.0, 0.5, 1.0, 0.0]
    rows = accuracy_at_coverage(scores, em, f1, coverages=(1.0, 0.5, 0.25))
    assert [(r["answered"], r["threshold"], r["em"], r["f1"]) for r in rows] == [
        (4, 0.1, 50.0, 62.5),
        (2, 0.8, 100.0, 100.0),
        (1, 0.9, 100.0, 100.0),
    ]
    cov, curve = coverage_curve(scores, f1, points=4)
    assert cov.tolist() == [0.25, 0.5, 0.75, 1.0] and curve.tolist() == pytest.approx([100.0, 100.0, 200 / 3, 62.5])


@pytest.mark.slow  # a subprocess: imports torch and transformers afresh
def test_calibration_script_end_to_end(tiny_tokenizer, tmp_path):
    tiny_gp(tiny_tokenizer).save_pretrained(str(tmp_path / "gp"), tokenizer=tiny_tokenizer)
    dev = tmp_path / "dev.jsonl"
    dev.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": str(i),
                    "question": "when was the king born?",
                    "context": "the king was born in 1811 .",
                    "answers": {"text": ["1811"], "answer_start": [21]},
                }
            )
            for i in range(6)
        )
    )
    reader_args = ["--model", f"gp={tmp_path / 'gp'}", "--dev_file", str(dev), "--mixed_precision", "no"]
    outputs = ["--output", str(tmp_path / "c.json"), "--plot", str(tmp_path / "c.png")]
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "calibration.py"), *reader_args, *outputs],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads((tmp_path / "c.json").read_text())["readers"][0]
    assert res["questions"] == 6 and 0 <= res["ece_em"] <= 1 and len(res["coverage"]) == 10
    assert res["ece_em"] == pytest.approx(expected_calibration_error(res["scores"], res["em_per_question"]))
    assert (tmp_path / "c.png").stat().st_size > 10_000
