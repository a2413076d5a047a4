"""A record's decoded n-best → the answers Reader returns: one ranking rule, spans widened to whole words.

Order (the one rule of every route: a Reader's list, predict.py, the service's `context` and `contexts`, and the
answers training's evaluation scores). Answers are sorted by the key the decoding chose by, which each carries:
* expected-F1 decoding: `expected_f1` (E[F1] of the answer under the model's span distribution), with `score` the
  probability next to it;
* argmax decoding: `score` (the span's probability) for a GlobalPointer; `logit` (start + end logit, as
  transformers' post-processing ranks, measured better than ranking by p_start·p_end) for a start/end reader;
then ties (bf16 makes exact ones) by the score, then the earlier span, then the shorter, then the earlier passage
(`answer_rank_key`). So `top_k=1` is always the first answer of `top_k=5`, the first answer is the decoded one, and
one passage as `context` or as `contexts: [C]` gets the same answers. The null answer "" of a SQuAD v2 reader (it
has no expected F1) comes first when the no-answer rule chose it; otherwise it is placed by its score under argmax
decoding (as transformers' pipeline did; below the first answer even when a positive null_score_diff_threshold kept
a more probable "" from being the answer) and after the spans under expected F1.

Words (`align_to_words`, the default, as transformers' question-answering pipeline had it): a span that starts
or ends inside a word is widened to the word's edges, so "158" of "1587" comes back as "1587"; answers that
become the same span are merged (the first, higher-ranked one kept), so fewer than top_k answers come back when
fewer distinct words are left among the n-best (Reader's n_best_size: 20 by default). Words are runs of letters, digits and
marks of scripts written with spaces; Chinese, Japanese and Thai characters are never joined, so those answers
stay character spans.
"""

from __future__ import annotations

import re
import unicodedata

from .decoding import rank_key

# Answers are widened to whole words unless asked otherwise: Reader, predict.py, the service, training's evaluation.
ALIGN_TO_WORDS = True

# Scripts written without spaces between words: a "word" there is no unit an answer should be widened to.
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3100-\u312f\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]"
)


def in_word(ch: str) -> bool:
    """Whether a word continues through `ch`: a letter, digit or mark of a space-delimited script."""
    return (ch.isalnum() or unicodedata.category(ch).startswith("M")) and not _UNSPACED.match(ch)


def word_span(context: str, start: int, end: int) -> tuple[int, int]:
    """(start, end) widened to the edges of the words it cuts; the null span (-1, -1) as it is."""
    if start < 0 or end <= start:
        return start, end
    while start > 0 and in_word(context[start - 1]) and in_word(context[start]):
        start -= 1
    while end < len(context) and in_word(context[end]) and in_word(context[end - 1]):
        end += 1
    return start, end


def answer_rank_key(answer: dict) -> tuple:
    """The ranking rule (module doc) over answers as Reader returns them; sort ascending by it."""
    score = answer.get("logit", answer["score"])
    return (-answer.get("expected_f1", score), -score, answer.get("passage", 0), answer["start"], answer["end"])


def ordered_entries(entries: list[dict], decoded: str | None) -> list[dict]:
    """n-best entries (decoding.best_answers') in the order of the module doc; `decoded` the record's answer."""
    spans = sorted((x for x in entries if x["start"] >= 0), key=rank_key)
    null = [x for x in entries if x["start"] < 0][:1]
    if not null or decoded == "":
        return null + spans
    if spans and "expected_f1" in spans[0]:
        return spans + null
    at = next((i for i, x in enumerate(spans) if i > 0 and x["score"] < null[0]["score"]), len(spans))
    return spans[:at] + null + spans[at:]


def ranked_answers(
    entries: list[dict], decoded: str | None, context: str, top_k: int, align_to_words: bool = ALIGN_TO_WORDS
) -> list[dict]:
    """The top_k answers {answer, score, start, end[, expected_f1][, logit]} of one record (see the module doc)."""
    out: list[dict] = []
    seen: set[tuple[int, int]] = set()
    for x in ordered_entries(entries, decoded):
        start, end = word_span(context, x["start"], x["end"]) if align_to_words else (x["start"], x["end"])
        if (start, end) in seen:
            continue
        seen.add((start, end))
        answer = {
            "answer": context[start:end] if start >= 0 else x["text"],
            "score": x["probability"],
            "start": start,
            "end": end,
        }
        for key in ("expected_f1", "logit"):
            if key in x:
                answer[key] = x[key]
        out.append(answer)
        if len(out) == top_k:
            break
    return out


def first_answer(entries: list[dict], decoded: str | None, context: str, align_to_words: bool = ALIGN_TO_WORDS) -> str:
    """The answer a user gets for one record (the first of ranked_answers; "" when there is none): what training's
    evaluation scores, so that its EM/F1 are those of predict.py's predictions."""
    answers = ranked_answers(entries, decoded, context, 1, align_to_words)
    return answers[0]["answer"] if answers else ""
