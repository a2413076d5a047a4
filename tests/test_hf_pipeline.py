"""transformers.pipeline("extractive-question-answering", model=DIR) after `import gp_mrc`: every folder kind
Reader takes, answers equal to Reader's (single, batched, top_k, handle_impossible_answer), the opt-in for the
old task name, and `import gp_mrc` staying free of torch/transformers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import gp_mrc  # noqa: F401  (registers the task)
from conftest import tiny_bert_qa, tiny_gp
from gp_mrc.models.baseline import StartEndForQuestionAnswering
from gp_mrc.inference.reader import Reader
from gp_mrc.settings import InferenceSettings
from legacy_folders import old_head_config, save_old_globalpointer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C1 = "the king was born in 1811 . the queen was born in 1861 ."
C2 = "the river is long . the city was founded in 1875 by the first king ."
Q1, Q2 = "when was the king born?", "who founded the city?"
TASK = "extractive-question-answering"


@pytest.fixture(scope="module")
def folders(tiny_tokenizer, tmp_path_factory):
    """One folder of each kind Reader takes."""
    out = {}
    d = str(tmp_path_factory.mktemp("gp"))
    tiny_gp(tiny_tokenizer).save_pretrained(d, tokenizer=tiny_tokenizer)
    out["globalpointer"] = d
    d = str(tmp_path_factory.mktemp("se"))
    settings = InferenceSettings(max_seq_length=64, doc_stride=16, max_answer_length=12)
    StartEndForQuestionAnswering.with_settings(tiny_bert_qa(tiny_tokenizer, seed=1), settings).save_pretrained(
        d, tokenizer=tiny_tokenizer
    )
    out["start_end"] = d
    d = str(tmp_path_factory.mktemp("plain"))
    tiny_bert_qa(tiny_tokenizer, seed=1).save_pretrained(d)
    tiny_tokenizer.save_pretrained(d)
    out["plain_transformers_qa"] = d
    d = str(tmp_path_factory.mktemp("legacy_gp"))
    model = tiny_gp(tiny_tokenizer)
    save_old_globalpointer(model.encoder.config, model.state_dict(), old_head_config(head_size=16), d, tiny_tokenizer)
    out["legacy_globalpointer"] = d
    return out


def make_pipeline(path, **kw):
    from transformers import pipeline

    return pipeline(TASK, model=path, device="cpu", mixed_precision="no", **kw)


@pytest.mark.parametrize("kind", ["globalpointer", "start_end", "plain_transformers_qa", "legacy_globalpointer"])
def test_pipeline_answers_equal_readers_for_every_folder_kind(folders, kind):
    pipe = make_pipeline(folders[kind])
    reader = Reader.from_pretrained(folders[kind], device="cpu", mixed_precision="no")
    one = pipe(question=Q1, context=C1)
    assert set(one) == {"score", "start", "end", "answer"} and C1[one["start"] : one["end"]] == one["answer"]
    assert one == reader(question=Q1, context=C1)
    assert pipe(Q1, C1) == one == pipe({"question": Q1, "context": C1})
    batched = pipe(question=[Q1, Q2], context=[C1, C2])
    assert batched == reader(question=[Q1, Q2], context=[C1, C2])
    assert batched[0] == one and batched[1] == pipe(question=Q2, context=C2)  # batching changes no answer
    assert pipe([{"question": Q1, "context": C1}, {"question": Q2, "context": C2}]) == batched


def test_pipeline_top_k_and_handle_impossible_answer_equal_readers(folders):
    path = folders["globalpointer"]
    pipe = make_pipeline(path)
    reader = Reader.from_pretrained(path, device="cpu", mixed_precision="no")
    top = pipe(question=Q1, context=C1, top_k=3)
    assert isinstance(top, list) and len(top) == 3 and top == reader(question=Q1, context=C1, top_k=3)
    assert [a["score"] for a in top] == sorted((a["score"] for a in top), reverse=True)
    assert pipe(question=Q1, context=C1, topk=3) == top  # the old alias
    for flag in (True, False):
        kw = dict(
            top_k=100,
            handle_impossible_answer=flag,
            max_answer_len=5,
            doc_stride=16,
            max_seq_len=48,
            max_question_len=16,
        )
        got = pipe(question=[Q1, Q2], context=[C1, C2], **kw)
        assert got == reader(question=[Q1, Q2], context=[C1, C2], **kw)
        nulls = [a for answers in got for a in answers if a["answer"] == ""]  # every span is in a top 100
        assert (len(nulls) > 0) == flag  # the null answer ("" at 0, 0) only when allowed
        assert all(a["start"] == 0 and a["end"] == 0 for a in nulls)


def test_parameters_given_to_pipeline_apply_to_every_call(folders):
    pipe = make_pipeline(folders["globalpointer"], top_k=2)
    assert isinstance(pipe(question=Q1, context=C1), list) and len(pipe(question=Q1, context=C1)) == 2


def test_bad_arguments_are_one_line_errors(folders):
    pipe = make_pipeline(folders["globalpointer"])
    with pytest.raises(ValueError, match="top_k parameter should be >= 1"):
        pipe(question=Q1, context=C1, top_k=0)
    with pytest.raises(ValueError, match="same lengths"):
        pipe(question=[Q1, Q2], context=[C1])
    with pytest.raises(TypeError, match="unexpected question-answering pipeline argument.*temperature_x"):
        pipe(question=Q1, context=C1, temperature_x=2)


def run_fresh_python(code: str, *argv: str) -> str:
    """The stdout of `code` run by a new interpreter (torch and transformers imported afresh); it must exit 0."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.slow  # a subprocess: imports torch and transformers afresh
def test_the_old_task_name_needs_the_explicit_opt_in(folders):
    code = (
        "import gp_mrc, sys\n"
        "from transformers import pipeline\n"
        "try:\n    pipeline('question-answering', model=sys.argv[1], device='cpu')\n"
        "except KeyError as e:\n    print('refused', 'has been removed' in str(e))\n"
        "gp_mrc.enable_question_answering_task()\n"
        "p = pipeline('question-answering', model=sys.argv[1], device='cpu', mixed_precision='no')\n"
        "print(type(p).__name__, p(question='when was the king born?', context=sys.argv[2]) =="
        " gp_mrc.Reader.from_pretrained(sys.argv[1], device='cpu', mixed_precision='no')("
        "question='when was the king born?', context=sys.argv[2]))\n"
    )
    stdout = run_fresh_python(code, folders["globalpointer"], C1)
    assert stdout.split("\n")[:2] == ["refused True", "ExtractiveQuestionAnsweringPipeline True"]


@pytest.mark.slow  # a subprocess: imports torch and transformers afresh
def test_import_gp_mrc_stays_light_and_registers_in_either_order(folders):
    code = (
        "import sys, gp_mrc\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
        "from transformers import pipeline\n"
        "print(type(pipeline('extractive-question-answering', model=sys.argv[1], device='cpu')).__name__)\n"
    )
    late = (
        "import sys\nfrom transformers import pipeline\nimport gp_mrc\n"
        "print(type(pipeline('extractive-question-answering', model=sys.argv[1], device='cpu')).__name__)\n"
    )
    for src, expected in (
        (code, ["[]", "ExtractiveQuestionAnsweringPipeline"]),
        (late, ["ExtractiveQuestionAnsweringPipeline"]),
    ):
        assert run_fresh_python(src, folders["globalpointer"]).split("\n")[: len(expected)] == expected


def test_pipeline_align_to_words_and_a_generator_of_records(folders):
    pipe = make_pipeline(folders["globalpointer"])
    context = "cordale was founded in 1587 by wool traders and in 1611 it burnt ."
    words = pipe(question=Q1, context=context, top_k=20)
    pieces = pipe(question=Q1, context=context, top_k=20, align_to_words=False)
    assert words != pieces  # no longer silently ignored
    assert all(
        context[a["start"] - 1 : a["start"]] in ("", " ") and context[a["end"] : a["end"] + 1] in ("", " ")
        for a in words
    )
    assert any(
        context[a["end"] : a["end"] + 1].isdigit() or context[a["start"] - 1 : a["start"]].isdigit() for a in pieces
    )
    records = [{"question": Q1, "context": C1}, {"question": Q2, "context": C2}]
    assert pipe(r for r in records) == pipe(records)
    assert pipe(r for r in records[:1]) == [pipe(records[0])]
