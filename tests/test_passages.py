"""One question over many passages: the ranking equals answering each passage on its own and merging by score;
near-duplicates merged; min_score; predict.py records with "contexts"; bad inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gp_mrc.inference.passages import is_duplicate, merge_ranked, normalized

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSAGES = [
    "the king was born in 1811 . the queen was born in 1861 .",
    "the river is long . the city was founded in 1875 by the first king .",
    "",  # unusable: no answers from it, a warning
    "the king was born in 1811 .",
]  # the same text again: its answers merge with passage 0's
Q = "when was the king born?"


def a(text, score, passage, start):
    return {"answer": text, "score": score, "start": start, "end": start + len(text), "passage": passage}


def test_ranking_equals_each_passage_on_its_own_merged_by_score(reader):
    got = reader.answer_passages(Q, PASSAGES, top_k=8)
    alone = []
    for i, c in enumerate(PASSAGES):
        if c:
            alone += [dict(x, passage=i) for x in reader.answer([{"question": Q, "context": c}], top_k=20)[0]]
    assert got == merge_ranked(alone, top_k=8)
    assert 3 <= len(got) <= 8 and [x["score"] for x in got] == sorted((x["score"] for x in got), reverse=True)
    best = max(alone, key=lambda x: x["score"])
    assert got[0] == best  # the most probable span of any passage comes first, with its own score
    for x in got:
        assert PASSAGES[x["passage"]][x["start"] : x["end"]] == x["answer"]
    for i, x in enumerate(got):  # no kept answer duplicates another
        assert not any(is_duplicate(x, y) for y in got[:i])


def test_duplicates_and_overlaps_merge_keeping_the_higher_score():
    pooled = [
        a("1811", 0.5, 0, 21),
        a("in 1811", 0.3, 0, 18),
        a("1811", 0.4, 3, 21),
        a("The 1811.", 0.35, 1, 0),
        a("1861", 0.2, 0, 50),
        a("queen", 0.1, 1, 30),
    ]
    merged = merge_ranked(pooled, top_k=5)
    # "in 1811" overlaps "1811" in passage 0; "1811" in passage 3 and "The 1811." are the same text normalized
    assert [(x["answer"], x["passage"]) for x in merged] == [("1811", 0), ("1861", 0), ("queen", 1)]
    assert merged[0]["score"] == 0.5  # kept answers keep their own score: never summed
    assert normalized("The  Eiffel Tower.") == normalized("eiffel tower")


def test_min_score_is_the_no_answer_rule(reader):
    everything = reader.answer_passages(Q, PASSAGES, top_k=50)
    cut = everything[3]["score"]
    kept = reader.answer_passages(Q, PASSAGES, top_k=50, min_score=cut)
    assert kept == [x for x in everything if x["score"] >= cut] and len(kept) >= 4
    assert reader.answer_passages(Q, PASSAGES, min_score=1.0) == []  # nothing that sure: no answer


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(question="", contexts=["x"]), "question must be a non-empty string"),
        (dict(question=Q, contexts="one passage"), "contexts must be a non-empty list"),
        (dict(question=Q, contexts=[]), "contexts must be a non-empty list"),
        (dict(question=Q, contexts=["a", 3]), "passage 1 is a int"),
        (dict(question=Q, contexts=["a"], top_k=0), "top_k must be an integer >= 1"),
        (dict(question=Q, contexts=["a"], min_score=1.5), r"min_score is a probability: it must be in \[0, 1\]"),
    ],
)
def test_bad_inputs_are_one_line_errors(reader, kwargs, message):
    with pytest.raises(ValueError, match=message):
        reader.answer_passages(**kwargs)


@pytest.mark.slow  # a subprocess: imports torch and transformers afresh
def test_predict_py_ranks_a_record_with_contexts(reader, tiny_tokenizer, tmp_path):
    model_dir = tmp_path / "model"
    reader.model.save_pretrained(str(model_dir), tokenizer=tiny_tokenizer)
    inp = tmp_path / "q.jsonl"
    inp.write_text(
        json.dumps({"id": "q1", "question": Q, "contexts": PASSAGES[:2]})
        + "\n"
        + json.dumps({"id": "q2", "question": Q, "context": PASSAGES[3]})
        + "\n"
    )
    env = {**os.environ, "PYTHONPATH": ROOT}
    cmd = [
        sys.executable,
        os.path.join(ROOT, "scripts", "predict.py"),
        "--model",
        str(model_dir),
        "--input",
        str(inp),
        "--output_dir",
        str(tmp_path / "out"),
        "--top_k",
        "3",
        "--mixed_precision",
        "no",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    nbest = json.loads((tmp_path / "out" / "nbest_predictions.json").read_text())
    preds = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert nbest["q1"] == reader.answer_passages(Q, PASSAGES[:2], top_k=3)
    assert preds == {"q1": nbest["q1"][0]["answer"], "q2": nbest["q2"][0]["answer"]}
    assert all(x["passage"] == 0 for x in nbest["q2"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "z", "question": Q, "contexts": "not a list"}) + "\n")
    out = subprocess.run(cmd[:5] + [str(bad)], capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "line 1 (id 'z'): contexts must be a non-empty list" in out.stderr


def test_no_answer_probability_is_haystacks_product():
    from gp_mrc.inference.passages import no_answer_probability

    assert no_answer_probability([]) == 1.0
    assert no_answer_probability([a("x", 0.5, 0, 0), a("y", 0.2, 1, 0)]) == pytest.approx(0.5 * 0.8)
    assert no_answer_probability([a("x", 1.0, 0, 0)]) == 0.0


ROUTE_QUESTIONS = ["when was the king born?", "who founded the city?", "what is long?", "when was the queen born?"]
ROUTE_PASSAGES = [
    "the king was born in 1811 . the queen was born in 1861 . the river is long .",
    "the river is long . the city was founded in 1875 by the first king . " * 3,
    "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 4,
]


@pytest.mark.parametrize("mixed_precision", ["no", "bf16"])
@pytest.mark.parametrize("decoding", ["argmax", "expected_f1"])
def test_one_passage_as_context_or_as_contexts_gets_the_same_answers(tiny_tokenizer, decoding, mixed_precision):
    """The one ranking rule: a passage asked as `context` and as `contexts: [C]` gives the same top answer (text
    and offsets), under either decoding, in fp32 and bf16 (which makes exact ties); both lists in the rule's order
    (contexts also merges overlapping answers of a passage, so the rest of the lists may differ)."""
    from conftest import tiny_gp
    from gp_mrc.inference.answers import answer_rank_key
    from gp_mrc.inference.reader import Reader

    reader = Reader(tiny_gp(tiny_tokenizer), tiny_tokenizer, device="cpu", mixed_precision=mixed_precision)
    for q in ROUTE_QUESTIONS:
        for c in ROUTE_PASSAGES:
            alone = reader.answer([{"question": q, "context": c}], top_k=3, decoding=decoding)[0]
            listed = reader.answer_passages(q, [c], top_k=3, decoding=decoding)
            assert (listed[0]["answer"], listed[0]["start"], listed[0]["end"]) == (
                alone[0]["answer"],
                alone[0]["start"],
                alone[0]["end"],
            ), (q, c)
            assert listed == sorted(listed, key=answer_rank_key) and alone == sorted(alone, key=answer_rank_key)
            key = "expected_f1" if decoding == "expected_f1" else "score"
            assert all(key in a for a in alone)  # each answer carries the key it is ranked by
