"""--negative_passages: unanswerable copies of training questions over other articles' passages, whose windows
target the null span (both architectures, F1 rewards); the built-in sample uses them, so its reader ranks passages."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gp_mrc.data.examples import load_examples
from gp_mrc.data.features import prepare_features
from gp_mrc.data.negatives import negative_counts, with_negative_passages
from gp_mrc.training.arguments import parse_args
from gp_mrc.training.loop import train

from conftest import tiny_train_args

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_articles(path, n_titles=4, per_title=3):
    """n_titles articles of per_title one-sentence passages, one question each."""
    with open(path, "w") as f:
        for t in range(n_titles):
            for p in range(per_title):
                y = 1700 + 10 * t + p
                ctx = f"the king of city {t} was born in {y} . it is on the river {p} ."
                f.write(
                    json.dumps(
                        {
                            "id": f"q{t}-{p}",
                            "title": f"article {t}",
                            "context": ctx,
                            "question": "when was the king born?",
                            "answers": {"text": [str(y)], "answer_start": [ctx.index(str(y))]},
                        }
                    )
                    + "\n"
                )
    return str(path)


def test_counts_spread_k_per_question():
    assert negative_counts(6, 2) == [2] * 6
    assert negative_counts(6, 0.5) == [0, 1, 0, 1, 0, 1]
    assert sum(negative_counts(7, 1.5)) == 10


def test_negatives_come_from_other_articles_deterministically(tmp_path):
    ex = load_examples(write_articles(tmp_path / "a.jsonl"), version_2=False)
    out = with_negative_passages(ex, 2, seed=0)
    assert len(out) == len(ex) * 3 and out.select(range(len(ex)))["id"] == ex["id"]
    title_of = dict(zip(ex["context"], ex["title"]))
    for r in out.select(range(len(ex), len(out))):
        qid = r["id"].split("#neg")[0]
        own = ex[ex["id"].index(qid)]
        assert r["is_impossible"] and r["answers"]["text"] == [] and r["question"] == own["question"]
        assert title_of[r["context"]] != own["title"]  # another article's passage
    pairs = [(r["id"], r["context"]) for r in out.select(range(len(ex), len(out)))]
    assert len({c for i, c in pairs if i.startswith("q0-0#")}) == 2  # two different passages
    assert pairs == [
        (r["id"], r["context"]) for r in with_negative_passages(ex, 2, seed=0).select(range(len(ex), len(out)))
    ]
    assert pairs != [
        (r["id"], r["context"]) for r in with_negative_passages(ex, 2, seed=1).select(range(len(ex), len(out)))
    ]


def test_negative_windows_have_only_the_null_target(tmp_path, tiny_tokenizer):
    from gp_mrc.data.collate import SpanCollator

    ex = with_negative_passages(load_examples(write_articles(tmp_path / "a.jsonl"), version_2=False), 1, seed=0)
    feats = prepare_features(ex, tiny_tokenizer, max_seq_length=64, doc_stride=16, progress=False)
    neg = [f for f in feats if "#neg" in f["example_id"]]
    assert len(neg) == 12 and all(f["gold_starts"] == [] for f in neg)
    assert all(f["gold_starts"] for f in feats if "#neg" not in f["example_id"])
    batch = SpanCollator(0)(neg)
    assert batch["targets"].sum().item() == len(neg) and batch["targets"][:, 0, 0].all()  # the null span only
    assert (batch["start_positions"] == 0).all() and (batch["end_positions"] == 0).all()  # start/end: [CLS]


@pytest.mark.parametrize("architecture", ["globalpointer", "start_end"])
def test_training_with_negative_passages(architecture, tmp_path, tiny_encoder_dir, caplog):
    data = write_articles(tmp_path / "a.jsonl")
    caplog.set_level("INFO", logger="gp_mrc")
    out = str(tmp_path / "run")
    flags = f"--architecture {architecture} --negative_passages 2 --max_train_steps 4"
    flags += " --per_device_train_batch_size 8 --seed 0"
    cache = ("--cache_dir", str(tmp_path / "cache"))
    train(parse_args(tiny_train_args(tiny_encoder_dir, data, out, flags, *cache, validate=True)))
    assert "12 questions + 24 over passages of other articles" in caplog.text
    with open(os.path.join(out, "predictions.json")) as f:
        assert sorted(json.load(f)) == sorted(load_examples(data, version_2=False)["id"])  # eval: no negatives


def test_the_sample_recipe_adds_negatives_and_real_data_does_not(tmp_path):
    assert parse_args(["--output_dir", str(tmp_path / "r")]).data.negative_passages == 0.5
    real = parse_args(["--train_file", "x.json", "--output_dir", str(tmp_path / "r")])
    assert real.data.negative_passages == 0.0


WEATHER = (
    "Heavy rain is expected across the north on Tuesday, with winds of up to 70 km/h along the coast. "
    "Temperatures will stay below ten degrees until the weekend."
)
CORDALE = "Cordale is a market town on the Vell river. It was founded in 1587 by wool traders."


@pytest.mark.slow
def test_the_default_sample_reader_ranks_passages(tmp_path):
    """docs/prediction.md's example: `python scripts/train.py` (the built-in sample), then one question, 3 passages."""
    from gp_mrc.inference.reader import Reader

    with open(os.path.join(ROOT, "data", "sample_dev.json"), encoding="utf-8") as f:
        ravling = next(
            p["context"]
            for a in json.load(f)["data"]
            for p in a["paragraphs"]
            if "Ravling Limited has made" in p["context"]
        )
    out = str(tmp_path / "gp_mrc")
    subprocess.run(
        [sys.executable, "scripts/train.py", "--output_dir", out],
        cwd=ROOT,
        check=True,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    reader = Reader.from_pretrained(out)
    got = reader.answer_passages("Who founded Ravling Limited?", [WEATHER, CORDALE, ravling], top_k=3)
    print("ranked:", [(a["answer"], round(a["score"], 3), a["passage"]) for a in got])
    none = reader.answer_passages("Who founded Ravling Limited?", [WEATHER, CORDALE], min_score=0.2)
    print("without the Ravling passage, min_score 0.2:", [(a["answer"], round(a["score"], 3)) for a in none])
    assert got[0]["passage"] == 2 and got[0]["answer"] == "Aldric Hallowe"
    assert none == []  # measured 2026-12-02: their best span was Cordale's '1587 by wool traders', 0.036
