"""A trained folder keeps its inference settings (scripts/train.py writes them into config.json); Reader and
scripts/predict.py answer with them unless told otherwise. Both architectures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import gp_mrc.inference.reader
from gp_mrc.models.loading import load_model
from gp_mrc.inference.reader import Reader
from gp_mrc.settings import InferenceSettings
from gp_mrc.training.arguments import parse_args
from gp_mrc.training.loop import train
from conftest import PREDICT, research_parse_args, run_predict_main, tiny_train_args, write_toy_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CTX = "the king was born in 1811 . the queen was born in 1861 ."
TRAINED = InferenceSettings(
    max_seq_length=256,
    doc_stride=64,
    max_query_length=32,
    max_answer_length=12,
    lang="en",
    metric="squad_v2",
    version_2_with_negative=True,
    null_score_diff_threshold=0.5,
    decoding="expected_f1",
    decoding_temperature=0.7,
)


@pytest.fixture(scope="module", params=["globalpointer", "start_end"])
def trained(request, tiny_encoder_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp(f"settings_{request.param}")
    data = write_toy_data(d / "toy.jsonl", n=8)
    out = str(d / "run")
    flags = (  # every inference setting (--max_query_length, --decoding_temperature: research flags)
        f"--do_eval no --architecture {request.param} --max_seq_length 256 --doc_stride 64 --max_query_length 32"
        " --max_answer_length 12 --version_2_with_negative --null_score_diff_threshold 0.5 --decoding expected_f1"
        " --decoding_temperature 0.7 --lang en --per_device_train_batch_size 4 --max_train_steps 2 --learning_rate 1e-3"
    )
    train(research_parse_args(tiny_train_args(tiny_encoder_dir, data, out, flags)))
    return request.param, out


def test_training_writes_the_settings_into_config_json(trained):
    architecture, out = trained
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    assert config["inference_settings"] == TRAINED.to_dict()
    assert config["model_type"] == ("gp_mrc" if architecture == "globalpointer" else "bert")
    loaded = load_model(out)
    assert loaded.architecture == architecture and loaded.settings == TRAINED


def test_reader_windows_and_decodes_with_the_folders_settings(trained, monkeypatch):
    _, out = trained
    reader = Reader.from_pretrained(out)
    assert reader.settings == TRAINED and reader.version_2
    seen = {}
    real = gp_mrc.inference.reader.prepare_features

    def spy(examples, tokenizer, **kw):
        seen.update(kw)
        return real(examples, tokenizer, **kw)

    monkeypatch.setattr(gp_mrc.inference.reader, "prepare_features", spy)
    reader.answer([{"question": "when was the king born?", "context": CTX}])
    assert (seen["max_seq_length"], seen["doc_stride"], seen["max_query_length"]) == (256, 64, 32)
    reader(question="when was the king born?", context=CTX, max_seq_len=128, doc_stride=32)  # per call
    assert (seen["max_seq_length"], seen["doc_stride"]) == (128, 32)
    assert Reader.from_pretrained(out, max_seq_length=192, decoding="argmax").settings == TRAINED.replace(
        max_seq_length=192, decoding="argmax"
    )


def test_reader_passes_one_settings_object_to_the_decoder(trained, monkeypatch):
    """Reader.answer's keyword arguments (the pipeline's names too) become the settings object answer_features
    takes, the folder's where a call says nothing."""
    _, out = trained
    reader = Reader.from_pretrained(out)
    seen = []
    real = gp_mrc.inference.reader.answer_features

    def spy(model, examples, features, settings, **kw):
        seen.append(settings)
        assert set(kw) == {"pad_token_id", "batch_size", "n_best_size", "disable_progress", "mixed_precision"}
        return real(model, examples, features, settings, **kw)

    monkeypatch.setattr(gp_mrc.inference.reader, "answer_features", spy)
    record = [{"question": "when was the king born?", "context": CTX}]
    reader.answer(record)
    reader.answer(record, decoding="argmax", temperature=2.0, max_answer_length=5, handle_impossible_answer=False)
    reader(question="when?", context=CTX, max_answer_len=7, doc_stride=32)
    assert seen == [
        TRAINED,
        TRAINED.replace(
            decoding="argmax", decoding_temperature=2.0, max_answer_length=5, version_2_with_negative=False
        ),
        TRAINED.replace(max_answer_length=7, doc_stride=32),
    ]


def test_predict_uses_the_folders_settings_unless_given(trained, monkeypatch, capsys):
    _, out = trained
    code, stdout, err = run_predict_main(
        monkeypatch, capsys, "--model", out, "--question", "when was the king born?", "--context", CTX, "--top_k", "3"
    )
    assert code == 0, err
    assert ("inference settings: " + " ".join(f"{k}={v}" for k, v in TRAINED.to_dict().items())) in err
    answers = [json.loads(line) for line in stdout.splitlines()]
    assert answers and all(CTX[a["start"] : a["end"]] == a["answer"] for a in answers if a["start"] >= 0)
    settings = "--max_seq_length 128 --doc_stride 32 --decoding argmax --handle_impossible_answer no".split()
    code, _, err = run_predict_main(
        monkeypatch, capsys, "--model", out, "--question", "when?", "--context", CTX, *settings
    )
    assert code == 0, err
    assert "max_seq_length=128 doc_stride=32" in err and "version_2_with_negative=False" in err
    assert "decoding=argmax" in err


@pytest.mark.slow
def test_predict_process_answers_with_a_trained_folder(trained, tmp_path):
    """The folder of either architecture answers through scripts/predict.py (a start/end folder could not be
    read by it before: "Error(s) in loading state_dict for GlobalPointerForQuestionAnswering")."""
    _, out = trained
    question = ("--question", "when was the king born?", "--context", CTX, "--handle_impossible_answer", "no")
    r = subprocess.run(
        [sys.executable, PREDICT, "--model", out, *question], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-2000:]
    a = json.loads(r.stdout.strip().splitlines()[0])
    assert CTX[a["start"] : a["end"]] == a["answer"] and a["answer"]
    data = write_toy_data(tmp_path / "q.jsonl", n=5)
    r = subprocess.run(
        [sys.executable, PREDICT, "--model", out, "--input", data, "--output_dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    with open(tmp_path / "predictions.json") as f:
        assert sorted(json.load(f)) == [f"x{i}" for i in range(5)]


def test_training_continues_a_trained_folder_as_its_architecture(trained, tmp_path):
    architecture, out = trained
    data = write_toy_data(tmp_path / "toy.jsonl", n=4)
    flags = "--do_eval no --per_device_train_batch_size 4 --max_train_steps 1"
    args = parse_args(tiny_train_args(out, data, tmp_path / "more", flags))
    train(args)
    assert args.model.architecture == architecture
    again = load_model(str(tmp_path / "more"))
    assert again.architecture == architecture
    assert (again.settings.max_seq_length, again.settings.doc_stride) == (64, 16)  # this run's settings now


def test_squad_v2_run_saves_its_dev_tuned_null_threshold(tiny_encoder_dir, tmp_path):
    """--version_2_with_negative: the final evaluation reports the official best_f1 and its threshold, and the
    folder keeps that threshold, which Reader then uses."""
    path = tmp_path / "v2.jsonl"
    with open(path, "w") as f:
        for i in range(12):
            y = 1800 + i
            ctx = f"the king was born in {y} . the queen was born in {y + 50} ."
            answerable = i % 3 != 0
            q = "when was the king born?" if answerable else "when was the prince born?"
            ans = (
                {"text": [str(y)], "answer_start": [ctx.index(str(y))]}
                if answerable
                else {"text": [], "answer_start": []}
            )
            f.write(
                json.dumps(
                    {
                        "id": f"v{i}",
                        "title": "t",
                        "context": ctx,
                        "question": q,
                        "answers": ans,
                        "is_impossible": not answerable,
                    }
                )
                + "\n"
            )
    out = str(tmp_path / "run")
    flags = "--version_2_with_negative --per_device_train_batch_size 4 --max_train_steps 3 --learning_rate 1e-3"
    results = train(parse_args(tiny_train_args(tiny_encoder_dir, path, out, flags, validate=True)))
    assert {"best_f1", "best_f1_thresh", "HasAns_f1", "NoAns_f1"} <= set(results)
    assert results["best_f1"] >= results["f1"] - 1e-9  # the tuned threshold is at least as good as 0 on dev
    saved = load_model(out).settings
    assert saved.null_score_diff_threshold == pytest.approx(results["best_f1_thresh"])
    assert Reader.from_pretrained(out).settings.null_score_diff_threshold == pytest.approx(results["best_f1_thresh"])
