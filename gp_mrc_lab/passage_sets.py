"""The question sets of the passage-ranking benchmark (gp_mrc_lab/passages_bench.py), drawn by a seed.

For each sampled dev question: its gold passage and 5 other passages, drawn from articles with another title
("other_articles") or from the other paragraphs of its own article ("same_article": the hard case — same topic,
same names; only questions whose article has ≥ 6 distinct paragraphs qualify, so none of CMRC2018, whose articles
are one paragraph). The answerable set is the gold passage at a random position among the first 4 distractors;
the unanswerable set is the same question over the same layout with the 5th distractor in the gold's place.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

MODES = ("other_articles", "same_article")
DISTRACTORS = 4  # per answerable set (plus the gold passage: 5 passages)


@dataclass(frozen=True)
class PassageSet:
    id: str
    question: str
    golds: tuple[str, ...]  # the gold answer texts
    gold: str  # the gold passage
    distractors: tuple[str, ...]  # DISTRACTORS + 1 passages, none the gold
    position: int  # where the gold passage sits in the answerable set

    def answerable(self) -> list[str]:
        rest = list(self.distractors[:DISTRACTORS])
        return rest[: self.position] + [self.gold] + rest[self.position :]

    def unanswerable(self) -> list[str]:
        rest = list(self.distractors[:DISTRACTORS])
        return rest[: self.position] + [self.distractors[DISTRACTORS]] + rest[self.position :]


def _candidates(
    mode: str, title: str, context: str, by_title: dict[str, list[str]], everything: list[tuple[str, str]]
) -> list[str]:
    if mode == "same_article":
        return [c for c in by_title[title] if c != context]
    return [c for t, c in everything if t != title and c != context]


def build_sets(examples: Any, mode: str, *, max_questions: int | None, seed: int) -> list[PassageSet]:
    """Up to max_questions sets (all eligible questions when None), questions and passages drawn by `seed`;
    `examples` are gp_mrc.data.examples' rows (id, title, context, question, answers)."""
    if mode not in MODES:
        raise ValueError(f"unknown set mode {mode!r}: expected one of {', '.join(MODES)}")
    rows = (
        examples.select_columns(["id", "title", "context", "question", "answers"]).to_list()
        if hasattr(examples, "select_columns")
        else list(examples)
    )
    by_title: dict[str, list[str]] = {}
    for r in rows:  # distinct paragraphs per article, in file order
        if r["context"] not in by_title.setdefault(r["title"], []):
            by_title[r["title"]].append(r["context"])
    everything = [(t, c) for t, cs in by_title.items() for c in cs]
    need = DISTRACTORS + 1
    eligible = [
        i
        for i, r in enumerate(rows)
        if r["answers"]["text"] and len(_candidates(mode, r["title"], r["context"], by_title, everything)) >= need
    ]
    rng = random.Random(seed)
    chosen = sorted(rng.sample(eligible, min(len(eligible), max_questions or len(eligible))))
    sets = []
    for i in chosen:
        r = rows[i]
        pool = _candidates(mode, r["title"], r["context"], by_title, everything)
        sets.append(
            PassageSet(
                id=r["id"],
                question=r["question"],
                golds=tuple(r["answers"]["text"]),
                gold=r["context"],
                distractors=tuple(rng.sample(pool, need)),
                position=rng.randrange(DISTRACTORS + 1),
            )
        )
    return sets
