"""The packaged evaluate modules (squad, squad_v2, cmrc): loaded by path, numbers as the official scripts."""

import os
import subprocess
import sys

import pytest

from gp_mrc.metrics import METRIC_NAMES, load_metric, metric_name, metric_path
from gp_mrc.metrics.aggregate import best_null_threshold, em_f1, squad_v2_scores


def ref(qid, *texts):
    return {"id": qid, "answers": {"text": list(texts), "answer_start": [0] * len(texts)}}


def pred(qid, text, p_na=0.0):
    return {"id": qid, "prediction_text": text, "no_answer_probability": p_na}


@pytest.fixture(scope="module")
def squad():
    return load_metric("squad")


@pytest.fixture(scope="module")
def squad_v2():
    return load_metric("squad_v2")


@pytest.fixture(scope="module")
def cmrc():
    return load_metric("cmrc")


def test_squad_v1(squad):
    refs = [
        ref("1", "Denver Broncos", "Broncos"),
        ref("2", "Denver Broncos"),
        ref("3", "Levi's Stadium", "Santa Clara"),
    ]
    preds = [
        {"id": "1", "prediction_text": "the Broncos."},  # EM 1, F1 1 (article, punctuation)
        {"id": "2", "prediction_text": "Denver"},  # F1: p = 1, r = 1/2 -> 2/3
        {"id": "3", "prediction_text": "Santa Clara, California"},
    ]  # F1 vs "Santa Clara": 0.8
    out = squad.compute(predictions=preds, references=refs)
    assert set(out) == {"exact_match", "f1"}
    assert out["exact_match"] == pytest.approx(100 / 3, abs=1e-12)
    assert out["f1"] == pytest.approx(100 * (1 + 2 / 3 + 0.8) / 3, abs=1e-12)


def test_squad_v2_has_and_no_answer_breakdown(squad_v2):
    refs = [
        ref("h1", "Normans"),
        ref("h2", "10th and 11th centuries", "in the 10th and 11th centuries"),
        ref("n1"),
        ref("n2"),
    ]
    preds = [
        pred("h1", "The Normans"),  # 1 / 1
        pred("h2", "10th century"),  # EM 0; F1 max(1/3, 2/7) = 1/3
        pred("n1", ""),  # abstains on an unanswerable question: 1 / 1
        pred("n2", "France"),
    ]  # answers an unanswerable question: 0 / 0
    out = squad_v2.compute(predictions=preds, references=refs)
    assert out == pytest.approx(
        {
            "exact": 50.0,
            "f1": 100 * (1 + 1 / 3 + 1 + 0) / 4,
            "total": 4,
            "HasAns_exact": 50.0,
            "HasAns_f1": 100 * (4 / 3) / 2,
            "HasAns_total": 2,
            "NoAns_exact": 50.0,
            "NoAns_f1": 50.0,
            "NoAns_total": 2,
        },
        abs=1e-12,
    )


def test_squad_v2_omits_an_empty_group(squad_v2):
    out = squad_v2.compute(predictions=[pred("h1", "Normans")], references=[ref("h1", "Normans")])
    assert out == {
        "exact": 100.0,
        "f1": 100.0,
        "total": 1,
        "HasAns_exact": 100.0,
        "HasAns_f1": 100.0,
        "HasAns_total": 1,
    }
    out = squad_v2.compute(predictions=[pred("n1", "the")], references=[ref("n1")])
    assert out == {"exact": 100.0, "f1": 100.0, "total": 1, "NoAns_exact": 100.0, "NoAns_f1": 100.0, "NoAns_total": 1}


def test_squad_v2_no_answer_threshold():
    refs = [ref("h1", "Normans"), ref("n1")]
    preds = [pred("h1", "Normans", p_na=0.9), pred("n1", "France", p_na=0.9)]
    assert squad_v2_scores(preds, refs)["exact"] == 50.0  # default 1.0: probabilities ignored
    out = squad_v2_scores(preds, refs, no_answer_threshold=0.5)  # both now count as "no answer"
    assert (out["HasAns_exact"], out["NoAns_exact"], out["NoAns_f1"]) == (0.0, 100.0, 100.0)


def test_cmrc(cmrc):
    refs = [ref("c1", "北京大学"), ref("c2", "红楼梦", "《红楼梦》"), ref("c3", "1,000人")]
    preds = [
        {"id": "c1", "prediction_text": "大学北京"},  # LCS 2 of 4: F1 0.5 (bag overlap would say 1)
        {"id": "c2", "prediction_text": "《红楼梦》。"},  # EM after CMRC punctuation removal
        {"id": "c3", "prediction_text": "约1,000人"},
    ]  # [约, 1,000, 人] vs [1,000, 人]: p 2/3, r 1 -> 0.8
    out = cmrc.compute(predictions=preds, references=refs)
    assert out["total"] == 3
    assert out["exact_match"] == pytest.approx(100 / 3, abs=1e-12)
    assert out["f1"] == pytest.approx(100 * (0.5 + 1 + 0.8) / 3, abs=1e-12)


def test_missing_or_repeated_ids_are_errors_naming_the_id(squad):
    with pytest.raises(ValueError, match="reference id 'b' has no prediction"):
        squad.compute(
            predictions=[{"id": "a", "prediction_text": "x"}, {"id": "c", "prediction_text": "y"}],
            references=[ref("a", "x"), ref("b", "y")],
        )
    with pytest.raises(ValueError, match="prediction #1: id 'a' appears more than once"):
        em_f1([{"id": "a", "prediction_text": "x"}, {"id": "a", "prediction_text": "y"}], [ref("a", "x")], "en")
    with pytest.raises(ValueError, match="reference id 'a' appears more than once"):
        squad_v2_scores([pred("a", "x")], [ref("a", "x"), ref("a", "x")])


def test_metric_names_and_paths():
    assert metric_name("en", False) == "squad"
    assert metric_name("en", True) == "squad_v2"
    assert metric_name("zh", False) == "cmrc"
    with pytest.raises(ValueError, match="unanswerable"):
        metric_name("zh", True)
    with pytest.raises(ValueError, match="valid names: squad, squad_v2, cmrc"):
        load_metric("bleu")
    for name in METRIC_NAMES:
        source = metric_path(name).read_text(encoding="utf-8")
        # evaluate's offline loader parses imports line by line
        assert "\nimport datasets\nimport evaluate\n" in source


def test_metrics_load_offline_in_a_fresh_process(tmp_path):
    env = dict(
        os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_EVALUATE_OFFLINE="1", HF_HOME=str(tmp_path / "hf")
    )
    code = (
        "from gp_mrc.metrics import load_metric\n"
        "m = load_metric('squad_v2')\n"
        "print(m.compute(predictions=[{'id': '1', 'prediction_text': '', 'no_answer_probability': 0.0}],"
        " references=[{'id': '1', 'answers': {'text': [], 'answer_start': []}}])['exact'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "100.0"


def test_best_null_threshold_known_value():
    scores = {"q1": 1.0, "q2": 0.0, "q3": 0.5, "q4": 0.0}
    has = {"q1": True, "q2": False, "q3": True, "q4": False}
    odds = {"q1": -2.0, "q2": -1.0, "q3": 0.0, "q4": 3.0}
    # answer only q1 (odds ≤ −2): 1 + q2's and q4's null credit = 3 of 4
    assert best_null_threshold(scores, has, odds) == (75.0, -2.0)
    # answering nothing wins when every answer is wrong
    best, t = best_null_threshold({"a": 0.0, "b": 0.0}, {"a": True, "b": False}, {"a": 0.0, "b": 1.0})
    assert best == 50.0 and t < 0.0


def test_best_null_threshold_equals_brute_force():
    import random

    rng = random.Random(0)
    for _ in range(50):
        qids = [f"q{i}" for i in range(rng.randint(1, 12))]
        has = {q: rng.random() < 0.5 for q in qids}
        scores = {q: rng.choice([0.0, 0.25, 1.0]) if has[q] else 0.0 for q in qids}
        odds = {q: float(rng.randint(-3, 3)) for q in qids}

        def total(t):
            return (
                100.0
                * sum((scores[q] if has[q] else 0.0) if odds[q] <= t else float(not has[q]) for q in qids)
                / len(qids)
            )

        best, t = best_null_threshold(scores, has, odds)
        assert best == pytest.approx(max(total(x) for x in [min(odds.values()) - 1, *odds.values()]))
        assert total(t) == pytest.approx(best)
    with pytest.raises(ValueError, match="no questions"):
        best_null_threshold({}, {}, {})


def test_best_f1_is_the_one_null_threshold_scorer():
    from gp_mrc.metrics.aggregate import best_f1

    golds = {"a": ["the cat"], "b": [], "c": ["a dog"]}
    # a: right, answered at odds -1; b: unanswerable, odds 2 (left ""); c: wrong, odds 0.5
    answers, odds = {"a": "the cat", "b": "mat", "c": "the bird"}, {"a": -1.0, "b": 2.0, "c": 0.5}
    assert best_f1(answers, golds, odds, "en") == (pytest.approx(100 * 2 / 3), -1.0)
    # a question without odds is never answered "" (+inf odds); without an answer it scores 0
    assert best_f1({"a": "the cat"}, {"a": ["the cat"], "c": ["a dog"]}, {}, "en")[0] == pytest.approx(50.0)
