"""`gp-mrc evaluate` (issue 36): any folder predict.py takes, any labelled file as published, scored as the official
scripts score its predictions (SQuAD v1.1, SQuAD v2.0 with best_f1, CMRC2018), with predict.py's answers."""

from __future__ import annotations

import json
import os
import re
import statistics
import string
from collections import Counter

import pytest
from conftest import tiny_bert_qa, tiny_gp, write_toy_data
from test_published_files import ZH_CTX, official_cmrc, official_squad, squad_file

from gp_mrc import cli
from gp_mrc.inference import command as predict_command
from gp_mrc.inference import evaluate_command
from gp_mrc.inference.reader import Reader
from gp_mrc.models.loading import save_model
from gp_mrc.settings import InferenceSettings, store_settings

FP32 = ("--mixed_precision", "no")
CTX_A = "the normans were a people who gave their name to normandy , a region in france . rollo was their first duke ."
CTX_B = "the king was born in 1811 in paris . the queen was born in 1861 in rome and died in 1901 ."


def save(model, tokenizer, folder, settings: InferenceSettings | None = None) -> str:
    if settings is not None:
        store_settings(model.config, settings)
    save_model(model, str(folder))
    tokenizer.save_pretrained(str(folder))
    return str(folder)


@pytest.fixture(scope="module")
def folders(tiny_tokenizer, tmp_path_factory) -> dict[str, str]:
    """A GlobalPointer folder of gp_mrc's, a plain transformers start/end folder, and the GlobalPointer exported."""
    root = tmp_path_factory.mktemp("eval_models")
    found = {
        "globalpointer": save(tiny_gp(tiny_tokenizer), tiny_tokenizer, root / "gp"),
        "transformers": save(tiny_bert_qa(tiny_tokenizer, seed=3), tiny_tokenizer, root / "qa"),
    }
    assert cli.main(["export", found["globalpointer"], str(root / "onnx"), "--format", "onnx"]) == 0
    found["onnx"] = str(root / "onnx")
    return found


def squad_v1(tmp_path) -> str:
    """A SQuAD v1.1 file as published: several golds per question, one free-form (not in the passage)."""
    return squad_file(
        tmp_path / "dev-v1.1.json",
        [
            (
                CTX_A,
                [
                    ("a1", "who gave their name to normandy?", [("the normans", 0), ("normans", 4)]),
                    ("a2", "who was the first duke?", [("rollo", CTX_A.index("rollo")), ("duke rollo", 0)]),
                ],
            ),
            (
                CTX_B,
                [
                    ("b1", "when was the king born?", [("1811", CTX_B.index("1811"))]),
                    ("b2", "where was the queen born?", [("rome", CTX_B.index("rome")), ("in rome", None)]),
                    ("b3", "when did the queen die?", [("1901", CTX_B.index("1901"))]),
                ],
            ),
        ],
    )


def run(main, *argv: str, capsys) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def read(folder, name: str):
    with open(os.path.join(folder, name), encoding="utf-8") as f:
        return json.load(f)


def data_of(path: str) -> list:
    with open(path, encoding="utf-8") as f:
        return json.load(f)["data"]


@pytest.mark.parametrize("kind", ["globalpointer", "transformers", "onnx"])
def test_a_squad_file_scores_as_the_official_script_with_predicts_answers(folders, kind, tmp_path, capsys):
    path, out = squad_v1(tmp_path), tmp_path / "eval"
    code, stdout, err = run(evaluate_command.main, "--model", folders[kind], "--file", path, "--output_dir", str(out),
                            *(() if kind == "onnx" else FP32), capsys=capsys)  # fmt: skip
    assert code == 0, err
    results = read(out, "eval_results.json")
    assert json.loads(stdout) == results and results["metric"] == "squad" and results["total"] == 5
    predictions = read(out, "predictions.json")
    official = official_squad(data_of(path), predictions)
    assert results["exact_match"] == pytest.approx(official["exact_match"], abs=1e-9)
    assert results["f1"] == pytest.approx(official["f1"], abs=1e-9)
    # the answers are predict.py's: the same predictions, and each n-best list starts with predict's answer
    code, _, err = run(predict_command.main, "--model", folders[kind], "--input", path, "--output_dir",
                       str(tmp_path / "predict"), *(() if kind == "onnx" else FP32), capsys=capsys)  # fmt: skip
    assert code == 0, err
    assert read(tmp_path / "predict", "predictions.json") == predictions
    nbest, first = read(out, "nbest_predictions.json"), read(tmp_path / "predict", "nbest_predictions.json")
    assert {q: a[:1] for q, a in nbest.items()} == first
    assert all(len(a) > 1 for a in nbest.values())  # evaluate keeps the n-best, predict its --top_k 1


def test_a_chinese_file_as_published_is_scored_by_the_cmrc_script(folders, tmp_path, capsys):
    path = squad_file(
        tmp_path / "cmrc2018_dev.json",
        [
            (
                ZH_CTX,
                [
                    ("q1", "中国的首都是哪里？", [("北京", 0), ("北京", 0)]),
                    ("q2", "上海在哪里？", [("在长江的入海口", -1)]),
                ],
            )
        ],
    )
    code, _, err = run(evaluate_command.main, "--model", folders["globalpointer"], "--file", path, "--output_dir",
                       str(tmp_path / "eval"), *FP32, capsys=capsys)  # fmt: skip
    assert code == 0, err
    results = read(tmp_path / "eval", "eval_results.json")
    official = official_cmrc(data_of(path), read(tmp_path / "eval", "predictions.json"))
    assert results["metric"] == "cmrc" and results["total"] == 2
    assert results["exact_match"] == pytest.approx(official["exact_match"], abs=1e-9)
    assert results["f1"] == pytest.approx(official["f1"], abs=1e-9)


# evaluate-v2.0.py, transcribed (its main() with and without --na-prob-file)
def _normalize(s):
    s = "".join(ch for ch in s.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", s).split())


def _f1_v2(gold, pred):
    g, p = (_normalize(gold).split() if gold else []), (_normalize(pred).split() if pred else [])
    if not g or not p:
        return int(g == p)
    same = sum((Counter(g) & Counter(p)).values())
    return 0 if same == 0 else 2 * (same / len(p)) * (same / len(g)) / (same / len(p) + same / len(g))


def _best_thresh(preds, scores, na_probs, has_ans):
    cur = best = sum(1 for q in has_ans if not has_ans[q])
    best_t = 0.0
    for q in sorted(na_probs, key=lambda k: na_probs[k]):
        cur += scores[q] if has_ans[q] else (-1 if preds[q] else 0)
        if cur > best:
            best, best_t = cur, na_probs[q]
    return 100.0 * best / len(scores), best_t


def official_v2(dataset, preds, na_probs=None):
    qas = [qa for a in dataset for p in a["paragraphs"] for qa in p["qas"]]
    has_ans = {qa["id"]: bool(qa["answers"]) for qa in qas}
    exact_raw, f1_raw = {}, {}
    for qa in qas:
        golds = [a["text"] for a in qa["answers"] if _normalize(a["text"])] or [""]
        exact_raw[qa["id"]] = max(int(_normalize(g) == _normalize(preds[qa["id"]])) for g in golds)
        f1_raw[qa["id"]] = max(_f1_v2(g, preds[qa["id"]]) for g in golds)
    probs = na_probs or {q: 0.0 for q in preds}
    exact = {q: float(not has_ans[q]) if probs[q] > 1.0 else s for q, s in exact_raw.items()}
    f1 = {q: float(not has_ans[q]) if probs[q] > 1.0 else s for q, s in f1_raw.items()}
    out = {}
    for prefix, ids in (("", list(exact)), ("HasAns_", [q for q in exact if has_ans[q]]),
                        ("NoAns_", [q for q in exact if not has_ans[q]])):  # fmt: skip
        if ids:
            out[f"{prefix}exact"] = 100.0 * sum(exact[q] for q in ids) / len(ids)
            out[f"{prefix}f1"] = 100.0 * sum(f1[q] for q in ids) / len(ids)
            out[f"{prefix}total"] = len(ids)
    if na_probs:
        out["best_exact"], out["best_exact_thresh"] = _best_thresh(preds, exact_raw, na_probs, has_ans)
        out["best_f1"], out["best_f1_thresh"] = _best_thresh(preds, f1_raw, na_probs, has_ans)
    return out


def squad_v2(tmp_path) -> str:
    """A SQuAD v2.0 file as published: is_impossible on every question, plausible_answers on the unanswerable."""
    qas = [
        ("a1", "who gave their name to normandy?", CTX_A, [("the normans", 0)]),
        ("a2", "who was the first king?", CTX_A, []),
        ("a3", "who was the first duke?", CTX_A, [("rollo", CTX_A.index("rollo"))]),
        ("b1", "when was the king born?", CTX_B, [("1811", CTX_B.index("1811"))]),
        ("b2", "when did the king die?", CTX_B, []),
        ("b3", "where was the queen born?", CTX_B, [("rome", CTX_B.index("rome")), ("in rome", None)]),
        ("b4", "where did the king die?", CTX_B, []),
        ("b5", "when did the queen die?", CTX_B, [("1901", CTX_B.index("1901"))]),
    ]
    paragraphs = {}
    for qid, question, ctx, answers in qas:
        paragraphs.setdefault(ctx, []).append(
            {
                "id": qid,
                "question": question,
                "answers": [{"text": t, **({} if s is None else {"answer_start": s})} for t, s in answers],
                "is_impossible": not answers,
                **({} if answers else {"plausible_answers": [{"text": "paris", "answer_start": 0}]}),
            }
        )
    data = [{"title": "t", "paragraphs": [{"context": c, "qas": q} for c, q in paragraphs.items()]}]
    path = tmp_path / "dev-v2.0.json"
    path.write_text(json.dumps({"version": "v2.0", "data": data}))
    return str(path)


def test_a_squad_v2_file_with_the_folders_threshold_and_best_f1_as_the_official_script(
    tiny_tokenizer, tmp_path, capsys
):
    path = squad_v2(tmp_path)
    records = [
        {"id": qa["id"], "question": qa["question"], "context": p["context"]}
        for a in data_of(path)
        for p in a["paragraphs"]
        for qa in p["qas"]
    ]
    v2 = InferenceSettings(version_2_with_negative=True, decoding="argmax")
    _, odds = Reader(tiny_gp(tiny_tokenizer), tiny_tokenizer, v2, device="cpu", mixed_precision="no").answer(
        records, return_null_odds=True
    )
    threshold = statistics.median(odds)  # the folder's threshold: some questions answered "", some not
    folder = save(
        tiny_gp(tiny_tokenizer), tiny_tokenizer, tmp_path / "gp_v2", v2.replace(null_score_diff_threshold=threshold)
    )
    out = tmp_path / "eval"
    code, _, err = run(evaluate_command.main, "--model", folder, "--file", path, "--output_dir", str(out), *FP32,
                       capsys=capsys)  # fmt: skip
    assert code == 0, err
    results, predictions = read(out, "eval_results.json"), read(out, "predictions.json")
    null_odds, nbest = read(out, "null_odds.json"), read(out, "nbest_predictions.json")
    assert null_odds == pytest.approx(dict(zip((r["id"] for r in records), odds)))
    assert {q for q, p in predictions.items() if p == ""} == {q for q, x in null_odds.items() if x > threshold}
    assert results["metric"] == "squad_v2" and results["HasAns_total"] == 5 and results["NoAns_total"] == 3
    main = official_v2(data_of(path), predictions)  # predictions.json, no probability file
    assert {k: results[k] for k in main} == pytest.approx(main, abs=1e-9)
    best_non_null = {q: next(a["answer"] for a in answers if a["start"] >= 0) for q, answers in nbest.items()}
    tuned = official_v2(data_of(path), best_non_null, null_odds)  # --na-prob-file null_odds.json
    for name in ("best_exact", "best_f1"):
        assert results[name] == pytest.approx(tuned[name], abs=1e-9)
        if tuned[name] > 100.0 * 3 / 8:  # better than answering nothing: the same threshold
            assert results[f"{name}_thresh"] == pytest.approx(tuned[f"{name}_thresh"], abs=1e-9)
        else:  # answering nothing: a threshold under every odds (the official script says 0.0, which answers some)
            assert results[f"{name}_thresh"] < min(null_odds.values())


def test_a_flat_jsonl_file_and_records_without_ids(folders, tmp_path, capsys):
    path = tmp_path / "dev.jsonl"
    lines = [json.loads(x) for x in open(write_toy_data(tmp_path / "toy.jsonl", n=6))]
    for line in lines[3:]:
        del line["id"]  # numbered by their place in the file
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    code, _, err = run(evaluate_command.main, "--model", folders["globalpointer"], "--file", str(path),
                       "--output_dir", str(tmp_path / "eval"), *FP32, capsys=capsys)  # fmt: skip
    assert code == 0, err
    assert list(read(tmp_path / "eval", "predictions.json")) == ["x0", "x1", "x2", "3", "4", "5"]
    assert read(tmp_path / "eval", "eval_results.json")["total"] == 6


def test_a_file_without_answers_is_one_line_suggesting_predict(folders, tmp_path, capsys):
    path = tmp_path / "questions.jsonl"
    path.write_text(json.dumps({"id": "q", "question": "when?", "context": CTX_B}) + "\n")
    code, out, err = run(evaluate_command.main, "--model", folders["globalpointer"], "--file", str(path),
                         "--output_dir", str(tmp_path / "eval"), capsys=capsys)  # fmt: skip
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {path}: no answers to score against") and "gp-mrc predict --input" in err
    assert not os.path.exists(tmp_path / "eval")


def test_an_earlier_run_is_refused_and_left_as_it_was(folders, tmp_path, capsys):
    path, out = squad_v1(tmp_path), tmp_path / "eval"
    argv = ("--model", folders["globalpointer"], "--file", path, "--output_dir", str(out), *FP32)
    assert run(evaluate_command.main, *argv, capsys=capsys)[0] == 0
    before = {name: (out / name).read_bytes() for name in os.listdir(out)}
    code, _, err = run(evaluate_command.main, *argv, capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {out} already holds predictions.jsonl") and "--resume" in err
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == before


def test_scripts_beside_scripts_evaluate_py_still_import_the_evaluate_library():
    """scripts/evaluate.py has the library's name: a script of its folder (train.py scores with the library) that
    imports `evaluate` gets the library."""
    import subprocess
    import sys

    from conftest import ROOT

    code = "import sys; sys.path.insert(0, 'scripts'); import evaluate; print(evaluate.load.__module__)"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "evaluate.loading", r.stderr[-2000:]


def test_a_chinese_file_with_unanswerable_questions_is_one_line(folders, tmp_path, capsys):
    path = squad_file(tmp_path / "zh.json", [(ZH_CTX, [("q1", "首都？", [("北京", 0)]), ("q2", "海？", [])])])
    code, _, err = run(evaluate_command.main, "--model", folders["globalpointer"], "--file", path, "--output_dir",
                       str(tmp_path / "eval"), *FP32, capsys=capsys)  # fmt: skip
    assert code == 2 and [x for x in err.splitlines() if x.startswith("error:")] == [
        f"error: {path}: no Chinese metric with unanswerable questions (CMRC2018/DRCD/DuReader have none); "
        "drop version_2 for lang 'zh'"
    ]
    assert not (tmp_path / "eval" / "eval_results.json").exists()


@pytest.mark.parametrize("problem", ["missing", "directory", "output_is_a_file"])
def test_bad_paths_are_one_line_before_the_model_loads(folders, tmp_path, capsys, problem):
    path, out = squad_v1(tmp_path), tmp_path / "eval"
    if problem == "missing":
        path, fragment = str(tmp_path / "nope.json"), "nope.json: no such file"
    elif problem == "directory":
        path, fragment = str(tmp_path), "is a directory; give a JSON or JSONL file"
    else:
        out.write_text("notes")
        fragment = "is a file, not a folder"
    code, stdout, err = run(evaluate_command.main, "--model", folders["globalpointer"], "--file", path, "--output_dir",
                            str(out), capsys=capsys)  # fmt: skip
    assert code == 2 and stdout == "" and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert fragment in err


def test_without_output_dir_the_results_go_beside_the_model(tiny_tokenizer, tmp_path, capsys):
    folder = save(tiny_gp(tiny_tokenizer), tiny_tokenizer, tmp_path / "gp")
    code, _, err = run(evaluate_command.main, "--model", folder, "--file", squad_v1(tmp_path), *FP32, capsys=capsys)
    assert code == 0, err
    assert read(tmp_path / "gp" / "eval_dev-v1.1", "eval_results.json")["total"] == 5
