"""The passage-ranking benchmark (gp_mrc_lab/passages_bench.py): its sets, its metrics on known values, and the
command end to end on a tiny reader."""

from __future__ import annotations

import json
import os

import pytest

from conftest import tiny_gp
from gp_mrc.inference.passages import answer_passages
from gp_mrc_lab.passage_sets import DISTRACTORS, PassageSet, build_sets
from gp_mrc_lab.passages_bench import auroc, main, measure, set_outcome, summarize, table


def articles(n_titles=4, per_title=7):
    """Rows as gp_mrc.data.examples gives them: n_titles articles of per_title paragraphs, one question each."""
    rows = []
    for t in range(n_titles):
        for p in range(per_title):
            y = str(1700 + 10 * t + p)
            ctx = f"the king of city {t} - {p} was born in {y} ."
            rows.append(
                {
                    "id": f"q{t}-{p}",
                    "title": f"article {t}",
                    "context": ctx,
                    "question": f"when {t} {p}?",
                    "answers": {"text": [y], "answer_start": [ctx.index(y)]},
                }
            )
    rows.append(
        {
            "id": "short",
            "title": "short article",
            "context": "a lone paragraph .",
            "question": "who?",
            "answers": {"text": ["lone"], "answer_start": [2]},
        }
    )
    return rows


@pytest.mark.parametrize("mode", ["other_articles", "same_article"])
def test_sets_hold_the_gold_once_when_answerable_and_never_otherwise(mode):
    rows = articles()
    title_of = {r["context"]: r["title"] for r in rows}
    sets = build_sets(rows, mode, max_questions=None, seed=0)
    # same_article needs 5 other paragraphs: the one-paragraph article has none
    assert len(sets) == (len(rows) if mode == "other_articles" else len(rows) - 1)
    for s in sets:
        yes, no = s.answerable(), s.unanswerable()
        assert len(yes) == len(no) == DISTRACTORS + 1 and len(set(yes)) == len(set(no)) == 5
        assert yes.count(s.gold) == 1 and yes[s.position] == s.gold and s.gold not in no
        own = title_of[s.gold]
        for p in s.distractors:
            assert (title_of[p] != own) if mode == "other_articles" else (title_of[p] == own)
    positions = {s.position for s in sets}
    assert len(positions) > 1  # the gold is not always first


def test_sets_are_fixed_by_the_seed():
    rows = articles()
    a = build_sets(rows, "other_articles", max_questions=10, seed=3)
    assert a == build_sets(rows, "other_articles", max_questions=10, seed=3) and len(a) == 10
    assert a != build_sets(rows, "other_articles", max_questions=10, seed=4)
    with pytest.raises(ValueError, match="unknown set mode"):
        build_sets(rows, "nearby", max_questions=1, seed=0)


def test_auroc_of_known_scores():
    assert auroc([0.9, 0.8], [0.1, 0.85]) == pytest.approx(0.75)  # 3 of 4 pairs ordered right
    assert auroc([0.5, 0.5], [0.5]) == pytest.approx(0.5)  # ties count half
    assert auroc([0.2], [0.1, 0.0, 0.3]) == pytest.approx(2 / 3)
    assert auroc([1.0, 0.9], [0.1]) == 1.0


def nb(text, score, start=0):
    return {"answer": text, "score": score, "start": start, "end": start + len(text)}


def test_set_outcome_and_summary_on_a_hand_made_case():
    s = PassageSet(id="1", question="q", golds=("1811",), gold="G", distractors=("A", "B", "C", "D", "E"), position=2)
    assert s.answerable() == ["A", "B", "G", "C", "D"] and s.unanswerable() == ["A", "B", "E", "C", "D"]
    nbest = {
        "G": [nb("1811", 0.7)],
        "A": [nb("1700", 0.2)],
        "B": [],
        "C": [nb("x", 0.1)],
        "D": [nb("y", 0.05)],
        "E": [nb("in 1811 too", 0.6)],
    }
    right = set_outcome(s, nbest, "en")
    assert right == {"gold_passage": True, "f1": 1.0, "single_f1": 1.0, "score": 0.7, "unanswerable_score": 0.6}
    nbest["A"] = [nb("1811 1700", 0.9)]  # a distractor outranks the gold passage with a half-right answer
    wrong = set_outcome(s, nbest, "en")
    assert wrong == {
        "gold_passage": False,
        "f1": pytest.approx(2 / 3),
        "single_f1": 1.0,
        "score": 0.9,
        "unanswerable_score": 0.9,
    }
    m = summarize([right, wrong])
    assert m["sets"] == 2 and m["passage_accuracy"] == 50.0 and m["top1_f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    # answerable 0.7, 0.9 vs unanswerable 0.6, 0.9: pairs (0.7>0.6) (0.7<0.9) (0.9>0.6) (0.9=0.9) → 2.5 / 4
    assert m["auroc"] == pytest.approx(0.625) and m["unanswerable_answered"] == 100.0
    assert m["single_passage_f1"] == 100.0 and m["answerable_answered"] == 100.0


@pytest.fixture(scope="module")
def tiny_reader_dir(tiny_tokenizer, tmp_path_factory):
    d = tmp_path_factory.mktemp("gp")
    tiny_gp(tiny_tokenizer).save_pretrained(str(d), tokenizer=tiny_tokenizer)
    return str(d)


def test_measure_ranks_as_answer_passages_does(tiny_reader_dir):
    from gp_mrc.inference.reader import Reader

    reader = Reader.from_pretrained(tiny_reader_dir, mixed_precision="no")
    sets = build_sets(articles(), "other_articles", max_questions=4, seed=0)
    m = measure(reader, sets, "en")
    tops = [answer_passages(reader, s.question, s.answerable(), top_k=1)[0] for s in sets]
    empty = [answer_passages(reader, s.question, s.unanswerable(), top_k=1)[0]["score"] for s in sets]
    assert m["passage_accuracy"] == pytest.approx(100 * sum(t["passage"] == s.position for t, s in zip(tops, sets)) / 4)
    assert m["auroc"] == pytest.approx(auroc([t["score"] for t in tops], empty), abs=1e-6)


def test_the_command_writes_one_file_per_reader_and_a_table(tiny_reader_dir, tmp_path, capsys):
    dev = tmp_path / "dev.jsonl"
    dev.write_text("\n".join(json.dumps(r) for r in articles()))
    out = tmp_path / "results"
    assert (
        main(
            [
                "--model",
                f"gp={tiny_reader_dir}",
                "--model",
                f"gp2={tiny_reader_dir}",
                "--dev_file",
                str(dev),
                "--name",
                "toy",
                "--max_questions",
                "3",
                "--mixed_precision",
                "no",
                "--output_dir",
                str(out),
            ]
        )
        == 0
    )
    files = sorted(p.name for p in out.iterdir())
    assert files == ["toy_gp.json", "toy_gp2.json"]
    res = json.loads((out / "toy_gp.json").read_text())
    assert set(res["modes"]) == {"other_articles", "same_article"} and res["modes"]["same_article"]["sets"] == 3
    assert res["command"].startswith("python scripts/benchmark_passages.py --model gp=")
    capsys.readouterr()
    assert main(["--table", "--output_dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(table([res, json.loads((out / "toy_gp2.json").read_text())]) + "\n\nOver seeds")
    assert printed.count("| toy |") == 4 and "same article" in printed
    with pytest.raises(SystemExit):
        main(["--name", "toy"])  # no model, no dev file: one usage line


def test_named_model_flags():
    """The one NAME=MODEL_DIR parser (gp_mrc_lab/argtypes.py); the passage benchmark's names also name files."""
    import argparse

    from gp_mrc_lab.argtypes import named_model
    from gp_mrc_lab.passages_bench import file_named_model

    assert named_model("gp=runs/a=b") == ("gp", "runs/a=b")
    assert named_model("a/b=dir") == ("a/b", "dir")
    assert file_named_model("gp=runs/gp") == ("gp", "runs/gp")
    for bad in ("gp", "=dir", "gp="):
        with pytest.raises(argparse.ArgumentTypeError):
            named_model(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        file_named_model(f"a{os.sep}b=dir")


def test_pooled_table_averages_seeds_and_pairs_readers_by_seed():
    from gp_mrc_lab.passages_report import paired_mean, pooled_table

    def result(reader: str, accuracy: float, auroc: float) -> dict:
        metrics = {
            "sets": 10,
            "passage_accuracy": accuracy,
            "top1_f1": 50.0,
            "single_passage_f1": 60.0,
            "auroc": auroc,
            "unanswerable_answered": 5.0,
        }
        return {"reader": reader, "name": "dev", "modes": {"same_article": metrics}}

    results = [
        result("gp_s1", 80.0, 0.9),
        result("gp_s2", 70.0, 0.8),
        result("se_s1", 60.0, 0.7),
        result("se_s2", 65.0, 0.75),
        result("other", 10.0, 0.1),
    ]  # no seed suffix: left out
    table = pooled_table(results, versus=("gp", "se"))
    assert "| dev | same article | gp | 2 | 75.0 ± 7.1 | 50.0 ± 0.0 | 60.0 ± 0.0 | 0.850 ± 0.071 | 5.0 ± 0.0 |" in table
    assert "| dev | same article | gp − se (paired) | 2 | 12.5 ± 10.6 |" in table
    assert "other" not in table
    assert paired_mean(results, "dev", "same_article", "gp", "se", "auroc") == pytest.approx(0.125)
