"""nbest_predictions.json: one format for every writer, and a reader that also takes the files of older runs.

Each question id maps to a list of answers, best first, each
`{"answer", "score", "start", "end"[, "expected_f1"][, "logit"][, "passage"][, "log_prob"]}`: `score` is the answer's
probability and start/end are character offsets into the context (-1 for the no-answer ""), as the Reader returns
them. predict.py writes the top_k word-aligned answers; training's evaluation writes the whole n-best as the model
found it (token spans, the SQuAD v2 null entry included) plus `log_prob`, the span's decoding score (its
log-probability; a start/end reader's start + end logit sum), which the study's re-scoring decodes with.

Runs written before this format hold `{"text", "score" (the decoding score), "probability", "start", "end"}`;
`read_nbest` returns either as the decoder's entries, `{"text", "score" (decoding score), "probability", ...}`.
"""

from __future__ import annotations

import json
import os
from typing import Any

# keys that keep their name between the decoder's entries and the file
_SHARED = ("start", "end", "expected_f1", "logit", "passage")


def file_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A decoder's n-best entry (gp_mrc.inference.decoding.best_answers) as nbest_predictions.json holds it."""
    out = {"answer": entry["text"], "score": entry["probability"]}
    out.update((k, entry[k]) for k in _SHARED if k in entry)
    out["log_prob"] = entry["score"]
    return out


def decoder_entry(answer: dict[str, Any]) -> dict[str, Any]:
    """The inverse of file_entry; an entry of the old format (it has "text") is returned as it is."""
    if "text" in answer:
        return answer
    if "log_prob" not in answer:
        raise ValueError("an n-best entry without log_prob (predict.py's answers) has no decoding score to re-score")
    out = {"text": answer["answer"], "score": answer["log_prob"], "probability": answer["score"]}
    out.update((k, answer[k]) for k in _SHARED if k in answer)
    return out


def to_file(nbest: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {qid: [file_entry(x) for x in entries] for qid, entries in nbest.items()}


def read_nbest(path: str | os.PathLike) -> dict[str, list[dict[str, Any]]]:
    """A training run's nbest_predictions.json (either format) as the decoder's entries, for re-scoring."""
    with open(path, encoding="utf-8") as f:
        nbest = json.load(f)
    return {qid: [decoder_entry(x) for x in entries] for qid, entries in nbest.items()}
