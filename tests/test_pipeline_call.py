"""`Reader(...)` called as transformers' pipeline("question-answering") was: its argument forms, its output shapes,
its limits; and scripts/predict.py on a plain transformers QA folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from gp_mrc.inference.reader import Reader

from conftest import PREDICT, run_predict_main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C1 = "the king was born in 1811 . the queen was born in 1861 ."
C2 = "the river is long . the city was founded in 1875 by the first king ."
Q1, Q2 = "when was the king born?", "who founded the city?"
KEYS = ["score", "start", "end", "answer"]


def is_answer(a, context):
    return isinstance(a, dict) and list(a) == KEYS and context[a["start"] : a["end"]] == a["answer"]


def test_one_question_gives_one_answer_dict(reader):
    a = reader(question=Q1, context=C1)
    assert is_answer(a, C1) and a["answer"]
    assert reader(Q1, C1) == a == reader({"question": Q1, "context": C1})
    assert reader(question=[Q1], context=[C1]) == a  # one question in lists: still the dict, as the pipeline did


def test_top_k_gives_a_list_sorted_by_score(reader):
    top = reader(question=Q1, context=C1, top_k=4)
    assert isinstance(top, list) and len(top) == 4 and all(is_answer(a, C1) for a in top)
    assert [a["score"] for a in top] == sorted((a["score"] for a in top), reverse=True)
    assert top[0] == reader(question=Q1, context=C1)
    assert reader(Q1, C1, 4) == top  # the positional top_k of the earlier Reader call


def test_lists_give_one_result_per_question(reader):
    both = reader(question=[Q1, Q2], context=[C1, C2])
    assert isinstance(both, list) and len(both) == 2
    assert is_answer(both[0], C1) and is_answer(both[1], C2)
    assert both == [reader(question=Q1, context=C1), reader(question=Q2, context=C2)]
    shared = reader(question=[Q1, Q2], context=C1, top_k=2)
    assert len(shared) == 2 and all(len(r) == 2 and all(is_answer(a, C1) for a in r) for r in shared)
    records = reader([{"question": Q1, "context": C1}, {"question": Q2, "context": C2}])
    assert records == both
    assert reader(question=[Q1, Q2], context=[C1, C2], batch_size=1) == both  # the pipeline's batch_size too


def test_the_pipelines_argument_errors(reader):
    with pytest.raises(ValueError, match="Questions and contexts don't have the same lengths"):
        reader(question=[Q1, Q2], context=[C1])
    with pytest.raises(ValueError, match="Arguments can't be understood"):
        reader(question=Q1, context=[C1, C2])
    with pytest.raises(ValueError, match="top_k parameter should be >= 1"):
        reader(question=Q1, context=C1, top_k=0)
    with pytest.raises(ValueError, match="max_answer_len parameter should be >= 1"):
        reader(question=Q1, context=C1, max_answer_len=0)


def test_pipeline_settings_apply_per_call(reader):
    short = reader(question=Q1, context=C1, top_k=20, max_answer_len=1, align_to_words=False)  # words: longer
    assert all(len(reader.tokenizer(a["answer"], add_special_tokens=False)["input_ids"]) == 1 for a in short)
    long_context = " ".join([C2] * 12)
    windowed = reader(question=Q2, context=long_context, max_seq_len=32, doc_stride=8, max_question_len=8, top_k=3)
    assert all(is_answer(a, long_context) for a in windowed)
    with pytest.raises(ValueError, match="doc_stride"):
        reader(question=Q1, context=C1, max_seq_len=32, doc_stride=30)


def test_the_pipelines_names_are_translated_in_one_place(reader):
    """pipeline_compat.answer_keywords: the pipeline's three differently named settings become Reader.answer's
    keywords (the others pass as they are); one setting under both names is refused."""
    from gp_mrc.inference.pipeline_compat import CALL_PARAMETERS, PIPELINE_NAMES, answer_keywords, as_pipeline_answer

    assert answer_keywords(
        {
            "max_answer_len": 3,
            "max_seq_len": 64,
            "max_question_len": 9,
            "doc_stride": 16,
            "handle_impossible_answer": True,
        }
    ) == {
        "max_answer_length": 3,
        "max_seq_length": 64,
        "max_query_length": 9,
        "doc_stride": 16,
        "handle_impossible_answer": True,
    }
    assert set(PIPELINE_NAMES) < set(CALL_PARAMETERS)
    with pytest.raises(ValueError, match="give max_answer_len or max_answer_length, not both"):
        reader(question=Q1, context=C1, max_answer_len=3, max_answer_length=4)
    records = [{"question": Q1, "context": C1}]
    ours = reader.answer(records, top_k=5, max_answer_length=2, max_seq_length=32, doc_stride=8)[0]
    assert reader(question=Q1, context=C1, top_k=5, max_answer_len=2, max_seq_len=32, doc_stride=8) == [
        as_pipeline_answer(a) for a in ours
    ]


def test_impossible_answer_is_empty_at_0_0(hf_qa_dir):
    """handle_impossible_answer=True: the null answer comes back as the pipeline's {"answer": "", start 0, end 0}."""
    reader = Reader.from_pretrained(hf_qa_dir, device="cpu", mixed_precision="no")
    with torch.no_grad():  # every start and end scores 0: null and spans tie, and a negative threshold picks null
        reader.model.qa_model.qa_outputs.weight.zero_()
        reader.model.qa_model.qa_outputs.bias.zero_()
    a = reader(question=Q1, context=C1, handle_impossible_answer=True, null_score_diff_threshold=-1.0)
    assert a == {"score": a["score"], "start": 0, "end": 0, "answer": ""}
    assert reader(question=Q1, context=C1, null_score_diff_threshold=-1.0)["answer"]  # default: never ""


def test_progress_bars_only_for_many_questions(reader, capfd):
    reader.answer([{"question": Q1, "context": C1}], progress=True)
    assert "Building windows" not in capfd.readouterr().err
    reader.answer([{"question": Q1, "context": C1}] * 65, progress=True)
    assert "Building windows" in capfd.readouterr().err


# ------------------------------------------------------------------ scripts/predict.py on a plain transformers folder


def answer_file_args(model: str, tmp_path) -> list[str]:
    """predict.py's flags to answer the questions written to tmp_path/q.jsonl into tmp_path/out."""
    return ["--model", model, "--input", str(tmp_path / "q.jsonl"), "--output_dir", str(tmp_path / "out")]


def write_questions(path):
    records = [{"id": "a", "question": Q1, "context": C1}, {"id": "b", "question": Q2, "context": C2}]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return {r["id"]: r["context"] for r in records}


def check_predictions(out_dir, contexts):
    with open(os.path.join(out_dir, "predictions.json")) as f:
        preds = json.load(f)
    with open(os.path.join(out_dir, "nbest_predictions.json")) as f:
        nbest = json.load(f)
    assert sorted(preds) == sorted(contexts)
    for qid, answers in nbest.items():
        assert preds[qid] == answers[0]["answer"] != ""
        assert all(contexts[qid][a["start"] : a["end"]] == a["answer"] for a in answers)


def test_predict_main_answers_with_a_plain_transformers_folder(hf_qa_dir, tmp_path, monkeypatch, capsys):
    code, out, err = run_predict_main(
        monkeypatch, capsys, "--model", hf_qa_dir, "--question", Q1, "--context", C1, "--top_k", "2"
    )
    assert code == 0, err
    answers = [json.loads(line) for line in out.splitlines()]
    assert len(answers) == 2 and all(C1[a["start"] : a["end"]] == a["answer"] for a in answers)
    assert "max_seq_length=384 doc_stride=128 max_query_length=64 max_answer_length=15" in err  # the pipeline's
    contexts = write_questions(tmp_path / "q.jsonl")
    code, _, err = run_predict_main(monkeypatch, capsys, *answer_file_args(hf_qa_dir, tmp_path))
    assert code == 0, err
    check_predictions(tmp_path / "out", contexts)


@pytest.mark.slow
def test_predict_process_answers_with_a_plain_transformers_folder(hf_qa_dir, tmp_path):
    r = subprocess.run(
        [sys.executable, PREDICT, "--model", hf_qa_dir, "--question", Q1, "--context", C1],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    a = json.loads(r.stdout.strip().splitlines()[0])
    # a start/end reader's answer carries the start + end logit it is ranked by (gp_mrc/inference/answers.py)
    assert (
        list(a) == ["answer", "score", "start", "end", "logit"]
        and C1[a["start"] : a["end"]] == a["answer"]
        and a["answer"]
    )
    contexts = write_questions(tmp_path / "q.jsonl")
    r = subprocess.run(
        [sys.executable, PREDICT, *answer_file_args(hf_qa_dir, tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    check_predictions(tmp_path / "out", contexts)
