"""Where each answer text of a question lies in its passage, whatever its stated `answer_start` says.

Published files do not always give usable offsets: DuReader-robust's official dev set gives -1 for every
answer, CMRC2018's dev set -1 for its free-form answers, other files are off by a few characters. The
official scorers compare answer texts and never need an offset, so an offset only tells us *which*
occurrence of the text was meant. Rules, in order, over the whole passage:

1. the stated offset when the text is there;
2. a stated offset (>= 0) that is wrong: the occurrence nearest to it;
3. no offset (-1, any negative, missing, not an integer): the occurrence that overlaps the spans other
   annotators of the same question agree on (their exact offsets, or their texts found only once), else
   the first occurrence;
4. the text is nowhere in the passage: None (the caller drops the answer or keeps it for scoring only).
"""

from __future__ import annotations

from typing import Any, Sequence

EXACT, REPAIRED, LOCATED, ABSENT = "exact", "repaired", "located", "absent"


def occurrences(context: str, text: str) -> list[int]:
    """Every start of `text` in `context`, overlapping ones included."""
    found, pos = [], context.find(text) if text else -1
    while pos != -1:
        found.append(pos)
        pos = context.find(text, pos + 1)
    return found


def _stated(start: Any) -> int | None:
    # bool is an int in Python, but `true` is no offset
    return start if isinstance(start, int) and not isinstance(start, bool) and start >= 0 else None


def _is_exact(context: str, text: Any, start: Any) -> bool:
    s = _stated(start)
    return isinstance(text, str) and bool(text) and s is not None and context[s : s + len(text)] == text


def _anchor_spans(context: str, texts: Sequence[Any], starts: Sequence[Any], skip: int) -> list[tuple[int, int]]:
    """The spans the other answers certainly cover: their exact offsets, or their only occurrence."""
    spans = []
    for j, (text, start) in enumerate(zip(texts, starts)):
        if j == skip or not isinstance(text, str) or not text:
            continue
        if _is_exact(context, text, start):
            spans.append((start, start + len(text)))
            continue
        found = occurrences(context, text)
        if len(found) == 1:
            spans.append((found[0], found[0] + len(text)))
    return spans


def _agreed(found: list[int], length: int, anchors: list[tuple[int, int]]) -> int:
    """The occurrence overlapping the most anchor spans (the earliest on ties, the first if none overlaps)."""

    def votes(pos: int) -> int:
        return sum(1 for a, b in anchors if pos < b and a < pos + length)

    best = max(found, key=lambda pos: (votes(pos), -pos))
    return best if votes(best) else found[0]


def locate_answers(context: str, texts: Sequence[Any], starts: Sequence[Any]) -> list[tuple[int | None, str]]:
    """(start, how) for each answer text: how is EXACT, REPAIRED (stated offset wrong, nearest occurrence),
    LOCATED (no offset, found by the rules above) or ABSENT (start None: not in the passage, or not a
    non-empty string)."""
    starts = list(starts) + [None] * (len(texts) - len(starts))
    out: list[tuple[int | None, str]] = []
    for i, (text, start) in enumerate(zip(texts, starts)):
        if _is_exact(context, text, start):
            out.append((start, EXACT))
            continue
        found = occurrences(context, text) if isinstance(text, str) else []
        if not found:
            out.append((None, ABSENT))
            continue
        hint = _stated(start)
        if hint is not None:  # out of range counts from the end of the passage
            hint = min(hint, len(context))
            out.append((min(found, key=lambda pos: (abs(pos - hint), pos)), REPAIRED))
        else:
            out.append((_agreed(found, len(text), _anchor_spans(context, texts, starts, i)), LOCATED))
    return out
