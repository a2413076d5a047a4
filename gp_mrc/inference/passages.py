"""One question over many passages: answers ranked across passages, near-duplicates merged, a no-answer rule.

What the score is. Each passage is read in windows; a span's score is its probability in the window it was
found in, under a softmax over that window's candidates *and its null answer*:
* GlobalPointer: p(i, j) = softmax over all valid spans of the window and the null span [CLS];
* start/end: p_start(i) · p_end(j), each a softmax over the window's passage tokens and [CLS] (transformers'
  question-answering pipeline's score).
The null takes the mass of a window that does not hold the answer (the readers are trained so), which is what
makes a span probability mean "this span answers the question, judging from this window" on the same scale in
every window of every passage: a passage is just one more window, and answers of different passages are ranked
together by the one rule of every answer list (answers.py): the decoding's key — the expected F1, which is built
from these window probabilities and so means the same in every passage; the probability; a start/end reader's
logit under argmax — then the earlier passage and span. The scores do not sum to 1 across passages (two passages can each hold the answer
with p ≈ 1); each is a probability one can threshold (BENCHMARKS.md "Calibration" measures how well it tracks
exact match and F1). Within one passage, a span found in several windows keeps its best window's probability.

Merging: an answer is dropped from the top-k when a higher-scored kept answer has the same normalized text
(any passage) or overlaps its character range in the same passage; the kept one keeps its own score (scores are
never summed, so the ranking is exactly that of the per-passage answers merged by their key). No answer: answers
under `min_score` are dropped; none left → []. `no_answer_probability(answers)` is the probability that none
of the returned answers is right, Π(1 − score), as haystack's ExtractiveReader gives its no-answer (the answers
treated as independent events; 1.0 when none is left).
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Any, Iterable, Sequence

from ..data.json_files import parse_json_or_jsonl, read_text
from ..errors import DataError
from ..settings import N_BEST_SIZE
from .decoding import rank_key

_PUNCT = set(string.punctuation) | {
    "，",
    "。",
    "、",
    "；",
    "：",
    "？",
    "！",
    "“",
    "”",
    "‘",
    "’",
    "（",
    "）",
    "《",
    "》",
}


def normalized(text: str) -> str:
    """Case, punctuation, articles and spacing folded: "The Eiffel Tower." ≡ "eiffel tower"."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def is_duplicate(a: dict, b: dict) -> bool:
    """Same normalized text anywhere, or overlapping character ranges in the same passage."""
    if a["passage"] == b["passage"] and a["start"] < b["end"] and b["start"] < a["end"]:
        return True
    return normalized(a["answer"]) == normalized(b["answer"])


def merge_ranked(answers: Iterable[dict], *, top_k: int, min_score: float = 0.0) -> list[dict]:
    """The top_k of {answer, score, start, end, passage[, expected_f1][, logit]} answers by the ranking rule of
    every answer list (decoding.rank_key), without duplicates (see is_duplicate) and without any whose
    probability (`score`) is under min_score."""
    check_limits(top_k, min_score)
    kept: list[dict] = []
    for a in sorted(answers, key=rank_key):
        if len(kept) == top_k:
            break
        if a["score"] < min_score or a["start"] < 0 or not a["answer"].strip() or any(is_duplicate(a, k) for k in kept):
            continue  # the null answer of a SQuAD v2 reader: "no answer" is min_score's job here
        kept.append(a)
    return kept


def no_answer_probability(answers: Iterable[dict]) -> float:
    """Π(1 − score) over the answers: haystack's ExtractiveReader no-answer score (1.0 for no answers)."""
    p = 1.0
    for a in answers:
        p *= max(0.0, 1.0 - float(a["score"]))
    return p


def check_limits(top_k: int, min_score: float) -> None:
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be an integer >= 1 (got {top_k!r})")
    if not 0.0 <= min_score <= 1.0:
        raise ValueError(f"min_score is a probability: it must be in [0, 1] (got {min_score!r})")


def check_inputs(question: Any, contexts: Any) -> list[str]:
    if not isinstance(question, str) or not question.strip():
        raise ValueError("the question must be a non-empty string")
    if isinstance(contexts, str) or not isinstance(contexts, Sequence) or not contexts:
        raise ValueError("contexts must be a non-empty list of passages (strings)")
    bad = [i for i, c in enumerate(contexts) if not isinstance(c, str)]
    if bad:
        raise ValueError(f"contexts must be strings: passage {bad[0]} is a {type(contexts[bad[0]]).__name__}")
    return list(contexts)


def with_passage(answers: list[dict], passage: int) -> list[dict]:
    return [{**a, "passage": passage} for a in answers]


def answer_passages(
    reader: Any,
    question: str,
    contexts: Sequence[str],
    *,
    top_k: int = 5,
    min_score: float = 0.0,
    n_best_size: int = N_BEST_SIZE,
    **kwargs: Any,
) -> list[dict]:
    """`reader.answer` on (question, passage) for every passage in one batched call, then merge_ranked.
    Each passage contributes its n-best (at least top_k spans); fewer than top_k answers come back when what is
    left of those after merging overlaps is fewer."""
    check_limits(top_k, min_score)
    contexts = check_inputs(question, contexts)
    records = [{"id": f"passage-{i}", "question": question, "context": c} for i, c in enumerate(contexts)]
    k = max(n_best_size, top_k)
    per_passage = reader.answer(records, top_k=k, n_best_size=k, **kwargs)
    pooled = [a for i, answers in enumerate(per_passage) for a in with_passage(answers, i)]
    return merge_ranked(pooled, top_k=top_k, min_score=min_score)


def load_passage_records(path: str) -> list[dict] | None:
    """The records of a flat JSON/JSONL input file if any carries "contexts" (a list of passages), each as
    {id, question, contexts} (a record with one "context" gets [context]); None for any other file (SQuAD
    layout, one passage per record), which `gp_mrc.data.examples.load_examples` reads. Bad records raise DataError
    naming the file, the record and the problem."""
    obj = parse_json_or_jsonl(path, read_text(path))
    if isinstance(obj, dict) and isinstance(obj.get("data"), list):
        obj = obj["data"]
    if not isinstance(obj, list) or not any(isinstance(r, dict) and "contexts" in r for r in obj):
        return None
    lines = getattr(obj, "line_numbers", None)
    out = []
    for n, r in enumerate(obj, 1):
        where = f"{path}: {'line ' + str(lines[n - 1]) if lines else 'record ' + str(n)}"
        if not isinstance(r, dict):
            raise DataError(f"{where}: expected an object with id, question, contexts")
        contexts = r.get("contexts", [r["context"]] if "context" in r else None)
        try:
            contexts = check_inputs(r.get("question"), contexts)
        except ValueError as e:
            raise DataError(f"{where} (id {r.get('id', '?')!r}): {e}") from None
        out.append({"id": str(r.get("id", n - 1)), "question": r["question"], "contexts": contexts})
    return out


def answer_passage_records(
    reader: Any, records: list[dict], *, top_k: int, min_score: float, **kwargs: Any
) -> tuple[dict[str, str], dict[str, list[dict]]]:
    """({id: best answer or ""}, {id: ranked answers with their passage index}) for load_passage_records'
    records."""
    predictions, nbest = {}, {}
    for r in records:
        answers = answer_passages(reader, r["question"], r["contexts"], top_k=top_k, min_score=min_score, **kwargs)
        predictions[r["id"]] = answers[0]["answer"] if answers else ""
        nbest[r["id"]] = answers
    return predictions, nbest
