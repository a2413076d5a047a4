"""A labelled file's scores from a corpus run's predictions.jsonl: eval_results.json, as the official scripts give them.

Every question of the file counts, as in the official scripts (an unusable one, answered "", too), against its
gold texts as published (free-form ones included). The metric follows the file: SQuAD v1.1's (`squad`) for an
English file, SQuAD v2.0's (`squad_v2`: HasAns / NoAns) when some question has no answer, CMRC2018's character
metric (`cmrc`, also DRCD's and DuReader's) for a Chinese one — the packaged evaluate modules (gp_mrc/metrics).
EM/F1 score the predictions as predict.py gives them (SQuAD v2: "" where the folder's null threshold says no
answer), i.e. evaluate-v2.0.py on predictions.json without a probability file. SQuAD v2 adds best_exact / best_f1
and their thresholds: evaluate-v2.0.py on each question's best non-null answer with null_odds.json as its
`--na-prob-file`, the threshold tuned on the file (gp_mrc.metrics.aggregate.best_null_threshold, which answers
questions of equal odds together and, when answering nothing is best, reports a threshold under every odds).
Scoring, once everything is answered, holds each question's prediction and gold texts (a labelled file's size);
the answering before it does not grow with the questions.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterator

from ..data.examples import LANGUAGE_SAMPLE, language_of
from ..data.record_stream import stream_records
from ..errors import UsageError
from ..metrics import load_metric, metric_name
from ..metrics.aggregate import best_null_threshold
from ..metrics.scoring import exact_match, f1_score
from .prediction_log import read_lines

LABEL_PEEK = 1000  # records read to tell a labelled file from a file of questions


def gold_texts(rec: dict) -> list[str]:
    """A record's gold answers as the official scripts read them (its non-empty texts)."""
    return [t for t in rec["answers"]["text"] if isinstance(t, str) and t.strip()]


def check_labelled(path: str) -> None:
    """A UsageError (one line, suggesting predict) when the file's first records hold no answer to score against:
    no gold text and no is_impossible."""
    for _, rec in itertools.islice(stream_records(path), LABEL_PEEK):
        if gold_texts(rec) or rec.get("is_impossible") is not None:
            return
    raise UsageError(
        f"{path}: no answers to score against (no record has answers or is_impossible); to answer its questions, "
        f"use gp-mrc predict --input {path}"
    )


def _references(path: str) -> Iterator[dict]:
    for _, rec in stream_records(path):
        texts = gold_texts(rec)
        yield {
            "id": rec["id"],
            "answers": {"text": texts, "answer_start": [-1] * len(texts)},
            "context": rec.get("context") or " ".join(rec.get("contexts") or []),
        }


def _logged(log: str) -> dict[str, tuple[str, str, float]]:
    """{id: (prediction, best non-null answer, null odds (+inf: none))} of predictions.jsonl's lines."""
    out = {}
    for line in read_lines(log):
        best = next((a["answer"] for a in line["answers"] if a["start"] >= 0), "")
        odds = line.get("null_odds")
        out[line["id"]] = (line["prediction"], best, float("inf") if odds is None else odds)
    return out


def _best_thresholds(logged: dict[str, tuple[str, str, float]], golds: dict[str, list[str]]) -> dict[str, float]:
    """evaluate-v2.0.py's best_exact / best_f1 and their thresholds (the module doc)."""
    best = {q: logged[q][1] for q in golds}
    odds = {q: logged[q][2] for q in golds}
    has_answer = {q: bool(g) for q, g in golds.items()}
    out = {}
    for name, score in (("exact", exact_match), ("f1", f1_score)):
        value, threshold = best_null_threshold({q: score(best[q], g, "en") for q, g in golds.items()}, has_answer, odds)
        out[f"best_{name}"], out[f"best_{name}_thresh"] = value, threshold
    return out


def file_scores(path: str, log: str) -> dict[str, Any]:
    """{"metric", then the metric's numbers} for the questions of `path` answered in `log` (predictions.jsonl)."""
    logged = _logged(log)
    references = list(_references(path))
    missing = [r["id"] for r in references if r["id"] not in logged]
    if missing:
        raise UsageError(f"{log}: no prediction for {len(missing)} questions of {path} (e.g. {missing[0]!r})")
    lang = language_of(r["context"] for r in references[:LANGUAGE_SAMPLE])
    version_2 = any(not r["answers"]["text"] for r in references)
    try:
        name = metric_name(lang, version_2)
    except ValueError as e:
        raise UsageError(f"{path}: {e}") from None
    predictions = [{"id": r["id"], "prediction_text": logged[r["id"]][0]} for r in references]
    if version_2:
        predictions = [dict(p, no_answer_probability=0.0) for p in predictions]  # "" is the no-answer, as given
    for r in references:
        del r["context"]
    results = {"metric": name, **load_metric(name).compute(predictions=predictions, references=references)}
    results.setdefault("total", len(references))
    if version_2:
        results.update(_best_thresholds(logged, {r["id"]: r["answers"]["text"] for r in references}))
    return results
