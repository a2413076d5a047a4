"""scripts/predict.py and Reader on bad input: a model folder with missing or broken files, an input file with
no question, passages with no token after normalization. Each problem ends in one `error: ...` line on
stderr (no traceback) and exit code 2 when nothing could be done; unusable questions among good ones get
"" and a warning naming them."""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys

import pytest

from gp_mrc.data.examples import DataError
from gp_mrc.inference.reader import Reader

from conftest import tiny_gp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREDICT = os.path.join(ROOT, "scripts", "predict.py")
CTX = "the king was born in 1811 . the queen was born in 1861 ."


@pytest.fixture(scope="module")
def model_dir(tiny_tokenizer, tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    tiny_gp(tiny_tokenizer).save_pretrained(str(d), tokenizer=tiny_tokenizer)
    return str(d)


@pytest.fixture(scope="module")
def predict_main():
    return runpy.run_path(PREDICT)["main"]


@pytest.fixture
def run_predict(predict_main, monkeypatch, capsys):
    """scripts/predict.py's main() run with an argv: its exit code, stdout and stderr."""

    def run(*argv):
        monkeypatch.setattr(sys, "argv", [PREDICT, *argv])
        code = predict_main()
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_one_error_line(err, *fragments):
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def broken_copy(model_dir, tmp_path, breakage):
    d = tmp_path / "broken"
    shutil.copytree(model_dir, d)
    breakage(d)
    return str(d)


def remove(*names):
    return lambda d: [os.remove(d / n) for n in names]


def truncate(name):
    return lambda d: (d / name).write_bytes((d / name).read_bytes()[:1000])


def write(name, text):
    return lambda d: (d / name).write_text(text)


def edit_config(**changes):
    def edit(d):
        cfg = json.loads((d / "config.json").read_text())
        cfg.update(changes)
        (d / "config.json").write_text(json.dumps(cfg))

    return edit


def encoder_config_only(d):
    """config.json of the bare encoder (no answer head), as a folder holding a pretrained encoder has."""
    cfg = json.loads((d / "config.json").read_text())["encoder"]
    (d / "config.json").write_text(json.dumps({**cfg, "architectures": ["BertModel"]}))


@pytest.mark.parametrize(
    "breakage, fragments",
    [
        (remove("model.safetensors"), ["missing model.safetensors"]),
        (remove("config.json"), ["missing config.json"]),
        (encoder_config_only, ["cannot load the model", "not a question-answering model"]),
        (remove("tokenizer.json", "tokenizer_config.json"), ["no tokenizer files"]),
        (truncate("model.safetensors"), ["cannot load the model", "SafetensorError"]),
        (edit_config(inference_settings={"decoding": "beam"}), ["cannot load the model", "decoding"]),
        (write("config.json", "{oops"), ["cannot load the model"]),
        (edit_config(head_size=8), ["cannot load the model", "RuntimeError"]),  # weights saved with head_size 16
    ],
    ids=[
        "no-weights",
        "no-config",
        "encoder-config",
        "no-tokenizer",
        "truncated-weights",
        "bad-inference-settings",
        "bad-config",
        "weights-of-another-shape",
    ],
)
def test_broken_model_folder(model_dir, tmp_path, run_predict, breakage, fragments):
    broken = broken_copy(model_dir, tmp_path, breakage)
    code, out, err = run_predict("--model", broken, "--question", "when?", "--context", CTX)
    assert code == 2 and out == ""
    assert_one_error_line(err, broken, *fragments)


def test_missing_model_folder_and_input_file(model_dir, tmp_path, run_predict):
    code, _, err = run_predict("--model", str(tmp_path / "nope"), "--question", "when?", "--context", CTX)
    assert code == 2
    assert_one_error_line(err, "nope: no such model folder")
    code, _, err = run_predict("--model", model_dir, "--input", str(tmp_path / "questions.jsonl"))
    assert code == 2
    assert_one_error_line(err, "questions.jsonl: no such input file")


def test_reader_raises_clear_errors(model_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model folder"):
        Reader.from_pretrained(str(tmp_path / "nope"))
    broken = broken_copy(model_dir, tmp_path, remove("tokenizer.json", "tokenizer_config.json"))
    with pytest.raises(FileNotFoundError, match="no tokenizer files"):
        Reader.from_pretrained(broken)


@pytest.mark.parametrize("content", ["", "[]", '{"version": "1.1", "data": []}'])
def test_input_with_zero_questions(model_dir, tmp_path, run_predict, content):
    path = tmp_path / "questions.json"
    path.write_text(content)
    code, _, err = run_predict("--model", model_dir, "--input", str(path), "--output_dir", str(tmp_path / "out"))
    assert code == 2 and not os.path.exists(tmp_path / "out" / "predictions.json")
    assert_one_error_line(err, "questions.json")


@pytest.mark.parametrize(
    "context, fragment",
    [
        ("   \n\t", "empty context"),
        ("\x00\x01\u200b\ufeff", "only control/format characters"),
        ("\ufffd \ufffd", "no token left after the tokenizer's normalization"),  # the normalizer drops U+FFFD
    ],
)
def test_context_without_tokens(model_dir, run_predict, context, fragment):
    code, out, err = run_predict("--model", model_dir, "--question", "when?", "--context", context)
    assert code == 2 and out == ""
    assert_one_error_line(err, fragment)


def test_unusable_questions_among_good_ones_get_empty_answers(model_dir, tmp_path, run_predict, caplog):
    path = tmp_path / "questions.jsonl"
    records = [
        {"id": "good", "question": "when was the king born?", "context": CTX},
        {"id": "no-question", "question": "", "context": CTX},
        {"id": "blank-context", "question": "when?", "context": " \u200b "},
        {"id": "no-tokens", "question": "when?", "context": "\ufffd"},
        {"id": "good-2", "question": "when was the queen born?", "context": CTX},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    code, _, err = run_predict("--model", model_dir, "--input", str(path), "--output_dir", str(tmp_path / "out"))
    assert code == 0, err
    with open(tmp_path / "out" / "predictions.json") as f:
        predictions = json.load(f)
    assert sorted(predictions) == sorted(r["id"] for r in records)  # nothing lost
    assert predictions["no-question"] == predictions["blank-context"] == predictions["no-tokens"] == ""
    assert predictions["good"] and predictions["good"] in CTX
    logged = caplog.text
    assert "skipped 2 questions with an empty question or passage" in logged
    assert "'no-question'" in logged and "'blank-context'" in logged
    assert "no token after the tokenizer's normalization" in logged and "'no-tokens'" in logged
    assert "2 unusable questions answered with" in err


def test_reader_keeps_one_answer_list_per_record(model_dir):
    reader = Reader.from_pretrained(model_dir)
    out = reader.answer(
        [
            {"question": "when?", "context": CTX},
            {"question": "", "context": CTX},
            {"question": "when?", "context": "\t"},
            {"question": "who?", "context": CTX},
        ]
    )
    assert len(out) == 4 and out[1] == [] and out[2] == []
    for answers in (out[0], out[3]):
        assert answers and CTX[answers[0]["start"] : answers[0]["end"]] == answers[0]["answer"]
    with pytest.raises(DataError, match="no usable questions .*empty question"):
        reader("", CTX)


def test_bad_settings_are_one_line(model_dir, run_predict):
    code, _, err = run_predict(
        "--model", model_dir, "--question", "when?", "--context", CTX, "--max_seq_length", "32", "--doc_stride", "30"
    )
    assert code == 2
    assert_one_error_line(err, "doc_stride")


@pytest.mark.slow
def test_the_process_exits_2_without_traceback(model_dir, tmp_path):
    broken = broken_copy(model_dir, tmp_path, remove("model.safetensors"))
    r = subprocess.run(
        [sys.executable, PREDICT, "--model", broken, "--question", "when?", "--context", CTX],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]  # exactly one line
    assert_one_error_line(r.stderr, "missing model.safetensors")


def test_predict_never_writes_over_its_input(model_dir, tmp_path, run_predict):
    """--input X/predictions.json without --output_dir: the output would be the input itself."""
    for name in ("predictions.json", "nbest_predictions.json"):
        path = tmp_path / name
        text = json.dumps([{"id": "q1", "question": "when was the king born?", "context": CTX}])
        path.write_text(text)
        code, out, err = run_predict("--model", model_dir, "--input", str(path))
        assert code == 2 and out == "" and path.read_text() == text
        assert_one_error_line(err, name, "would replace the input file", "--output_dir")


def test_min_score_applies_to_every_kind_of_input(model_dir, tmp_path, run_predict, capsys):
    """A random model is never sure: at --min_score 1 nothing is left, so every answer is ""."""
    args = ("--model", model_dir, "--top_k", "3")
    code, out, _ = run_predict(*args, "--question", "when?", "--context", CTX)
    assert code == 0 and len(out.splitlines()) == 3 and all(json.loads(x)["answer"] for x in out.splitlines())
    code, out, _ = run_predict(*args, "--question", "when?", "--context", CTX, "--min_score", "1")
    assert code == 0 and [json.loads(x)["answer"] for x in out.splitlines()] == [""]
    path = tmp_path / "questions.jsonl"
    path.write_text(json.dumps({"id": "q1", "question": "when was the king born?", "context": CTX}) + "\n")
    code, _, err = run_predict(*args, "--input", str(path), "--min_score", "1", "--output_dir", str(tmp_path / "out"))
    assert code == 0, err
    with open(tmp_path / "out" / "predictions.json") as f:
        assert json.load(f) == {"q1": ""}
    with pytest.raises(SystemExit) as exit_:
        run_predict(*args, "--input", str(path), "--min_score", "2")
    assert exit_.value.code == 2 and "a probability in [0, 1]" in capsys.readouterr().err


def test_predict_aligns_answers_to_words_unless_told_not_to(model_dir, run_predict):
    context = "cordale was founded in 1587 by wool traders and in 1611 it burnt ."
    args = ("--model", model_dir, "--question", "when was it founded?", "--context", context, "--top_k", "20")
    spans = {}
    for flag in ("--align_to_words", "--no_align_to_words"):
        code, out, err = run_predict(*args, flag)
        assert code == 0, err
        spans[flag] = [(a["start"], a["end"]) for a in map(json.loads, out.splitlines())]
    cuts = [
        (s, e)
        for s, e in spans["--no_align_to_words"]
        if (s > 0 and context[s - 1].isalnum() and context[s].isalnum())
        or (e < len(context) and context[e].isalnum() and context[e - 1].isalnum())
    ]
    assert cuts  # the tiny tokenizer cuts numbers into digits
    assert not set(cuts) & set(spans["--align_to_words"])
    assert all(
        context[s - 1 : s] in ("", " ") and context[e : e + 1] in ("", " ") for s, e in spans["--align_to_words"]
    )
