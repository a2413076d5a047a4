"""Dataset-level EM/F1 from per-question scores, as the official SQuAD / CMRC scripts aggregate them.

Inputs use the Hugging Face `squad` / `squad_v2` metric format:
predictions = [{"id", "prediction_text"(, "no_answer_probability")}],
references = [{"id", "answers": {"text": [...], "answer_start": [...]}}].
Every reference needs a prediction with its id (the official scripts would silently score a
missing one 0; here it is an error naming the id, since it always means a pipeline bug).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from .scoring import exact_match, f1_score


def index_predictions(predictions: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Predictions by id; a repeated id is an error (which one would count is ambiguous)."""
    by_id: dict[str, Mapping[str, Any]] = {}
    for k, p in enumerate(predictions):
        if p["id"] in by_id:
            raise ValueError(f"prediction #{k}: id {p['id']!r} appears more than once")
        by_id[p["id"]] = p
    return by_id


def _prediction_for(by_id: Mapping[str, Mapping[str, Any]], ref: Mapping[str, Any]) -> Mapping[str, Any]:
    if ref["id"] not in by_id:
        raise ValueError(f"reference id {ref['id']!r} has no prediction")
    return by_id[ref["id"]]


def em_f1(
    predictions: Sequence[Mapping[str, Any]], references: Sequence[Mapping[str, Any]], lang: str
) -> dict[str, float | int]:
    """{"exact_match", "f1"} in percent over the references, and their "total"."""
    by_id = index_predictions(predictions)
    em = f1 = 0.0
    for ref in references:
        pred = _prediction_for(by_id, ref)["prediction_text"]
        golds = list(ref["answers"]["text"])
        em += exact_match(pred, golds, lang)
        f1 += f1_score(pred, golds, lang)
    total = len(references)
    if total == 0:
        raise ValueError("no references to score")
    return {"exact_match": 100.0 * em / total, "f1": 100.0 * f1 / total, "total": total}


def _group(exact: dict[str, float], f1: dict[str, float], qids: list[str]) -> tuple[float, float, int]:
    total = len(qids)
    return (100.0 * sum(exact[q] for q in qids) / total, 100.0 * sum(f1[q] for q in qids) / total, total)


def squad_v2_scores(
    predictions: Sequence[Mapping[str, Any]], references: Sequence[Mapping[str, Any]], no_answer_threshold: float = 1.0
) -> dict[str, float | int]:
    """evaluate-v2.0.py's main numbers: overall, HasAns_* and NoAns_* (a group only if non-empty).

    A prediction whose no_answer_probability exceeds the threshold counts as "no answer"
    (scored 1 on unanswerable questions, 0 otherwise); the default 1.0 disables this, as the
    official script does without a probability file.
    """
    by_id = index_predictions(predictions)
    exact: dict[str, float] = {}
    f1: dict[str, float] = {}
    has_ans: list[str] = []
    no_ans: list[str] = []
    for ref in references:
        qid = ref["id"]
        if qid in exact:
            raise ValueError(f"reference id {qid!r} appears more than once")
        pred = _prediction_for(by_id, ref)
        golds = list(ref["answers"]["text"])
        (has_ans if golds else no_ans).append(qid)
        if float(pred.get("no_answer_probability", 0.0)) > no_answer_threshold:
            exact[qid] = f1[qid] = float(not golds)
        else:
            exact[qid] = exact_match(pred["prediction_text"], golds, "en")
            f1[qid] = f1_score(pred["prediction_text"], golds, "en")
    if not exact:
        raise ValueError("no references to score")
    out: dict[str, float | int] = dict(zip(("exact", "f1", "total"), _group(exact, f1, list(exact))))
    for prefix, qids in (("HasAns", has_ans), ("NoAns", no_ans)):
        if qids:
            out.update(zip((f"{prefix}_exact", f"{prefix}_f1", f"{prefix}_total"), _group(exact, f1, qids)))
    return out


def best_null_threshold(
    answer_scores: Mapping[str, float], has_answer: Mapping[str, bool], null_odds: Mapping[str, float]
) -> tuple[float, float]:
    """evaluate-v2.0.py's `best_f1` / `best_exact` and its threshold: (score in percent, threshold).

    `answer_scores[qid]` is the F1 (or EM) in [0, 1] of the model's best non-null answer, `null_odds[qid]` how
    much the model prefers "no answer" (higher = more sure). Answering exactly the questions with
    null_odds ≤ t, this finds the t that maximises the score, as the official script does with its na_prob file.
    It is tuned on the scored set itself, so it is an upper bound for a threshold chosen elsewhere. Questions
    with equal odds are answered together (the official script can split a tie, a score no threshold gives)."""
    if not answer_scores:
        raise ValueError("no questions to score")
    score = best = float(sum(not has_answer[q] for q in answer_scores))  # answer nothing
    best_t = min(null_odds[q] for q in answer_scores) - 1.0
    for t, group in itertools.groupby(sorted(answer_scores, key=lambda q: null_odds[q]), key=lambda q: null_odds[q]):
        # answering a question gains its score if it has an answer, loses the null credit otherwise
        score += sum(answer_scores[q] if has_answer[q] else -1.0 for q in group)
        if score > best:
            best, best_t = score, t
    return 100.0 * best / len(answer_scores), best_t


def best_f1(
    answers: Mapping[str, str], golds: Mapping[str, Sequence[str]], null_odds: Mapping[str, float], lang: str
) -> tuple[float, float]:
    """SQuAD v2's best_f1 and its null threshold (see best_null_threshold) for the questions in `golds`
    ({qid: gold texts}, [] = unanswerable): `answers[qid]` is the model's best non-null answer ("" or absent: none),
    `null_odds[qid]` its null odds (absent: never answered "", odds +inf). The one scorer of evaluation (the
    dev-tuned threshold saved with a SQuAD v2 model), the study's report and the benchmark."""
    scores = {q: f1_score(answers.get(q) or "", list(g), lang) for q, g in golds.items()}
    has_answer = {q: bool(g) for q, g in golds.items()}
    odds = {q: null_odds.get(q, float("inf")) for q in golds}
    return best_null_threshold(scores, has_answer, odds)


def squad_features(with_no_answer_probability: bool = False) -> Any:
    """The `datasets.Features` of the squad / squad_v2 / cmrc metric inputs (one definition for all three)."""
    import datasets

    prediction = {"id": datasets.Value("string"), "prediction_text": datasets.Value("string")}
    if with_no_answer_probability:
        prediction["no_answer_probability"] = datasets.Value("float32")
    return datasets.Features(
        {
            "predictions": prediction,
            "references": {
                "id": datasets.Value("string"),
                "answers": {
                    "text": datasets.List(datasets.Value("string")),
                    "answer_start": datasets.List(datasets.Value("int32")),
                },
            },
        }
    )


SQUAD_INPUTS_DOC = """
Args:
    predictions: list of {"id": str, "prediction_text": str}.
    references: list of {"id": str, "answers": {"text": [str], "answer_start": [int]}}.
"""


def metric_info(
    description: str, citation: str, inputs_description: str, url: str, with_no_answer_probability: bool = False
) -> Any:
    """The evaluate.MetricInfo of one of the packaged metric modules (they differ only in these texts)."""
    import evaluate

    return evaluate.MetricInfo(
        description=description,
        citation=citation,
        inputs_description=inputs_description,
        features=squad_features(with_no_answer_probability),
        reference_urls=[url],
    )
