"""Negative passages for training (`--negative_passages K`): each training question asked again over passages of
other articles, as unanswerable examples whose every window's target is the null span.

Why: a reader only learns that the null span takes the mass of a window without the answer from such windows.
Data whose passages fit one window (the built-in sample, most of CMRC2018) has none, and its reader then finds
"an answer" in any passage with a confident score — it cannot rank passages (gp_mrc/inference/passages.py).

Which passages: distinct passages of articles with another title (another passage when the set has one title),
drawn by `random.Random(seed)`, so the same data and seed give the same set. K may be fractional: question i gets
floor((i + 1)·K) − floor(i·K) of them (K = 0.5: every other question, n·K in all). The added examples come after
the originals (ids `<id>#neg<j>`, is_impossible), so the F1 rewards (null span = 1) and both architectures'
targets ([CLS]) need nothing new.
"""

from __future__ import annotations

import math
import random
from typing import Any

import datasets

NEGATIVE_ID = "{id}#neg{j}"


def negative_counts(n: int, k: float) -> list[int]:
    """How many negatives each of n questions gets: K each on average, spread evenly, n·K (floored) in all."""
    return [math.floor((i + 1) * k) - math.floor(i * k) for i in range(n)]


def _passage_pool(titles: list[str], contexts: list[str]) -> tuple[list[str], list[str]]:
    """Distinct passages in order of first appearance, and each one's title."""
    seen: dict[str, str] = {}
    for t, c in zip(titles, contexts):
        seen.setdefault(c, t)
    return list(seen), list(seen.values())


def pick_negatives(titles: list[str], contexts: list[str], k: float, seed: int) -> list[list[str]]:
    """For each question (its title and passage), the passages of its negative examples (see module doc)."""
    pool, pool_titles = _passage_pool(titles, contexts)
    other_titles = len(set(pool_titles)) > 1
    rng = random.Random(seed)
    out = []
    for title, context, count in zip(titles, contexts, negative_counts(len(contexts), k)):
        chosen: list[str] = []
        tries = 0
        while len(chosen) < count and tries < 50 * (count + 1):  # rejection sampling: the pool is mostly "other"
            tries += 1
            i = rng.randrange(len(pool))
            if pool[i] != context and pool[i] not in chosen and not (other_titles and pool_titles[i] == title):
                chosen.append(pool[i])
        out.append(chosen)
    return out


def with_negative_passages(examples: Any, k: float, seed: int) -> Any:
    """The examples (a datasets.Dataset of gp_mrc.data.examples' columns) followed by their negatives."""
    if k <= 0:
        return examples
    rows = examples.select_columns(["id", "title", "context", "question"]).to_dict()
    picks = pick_negatives(rows["title"], rows["context"], k, seed)
    added = [
        {
            "id": NEGATIVE_ID.format(id=qid, j=j),
            "title": "",
            "context": passage,
            "question": question,
            "answers": {"text": [], "answer_start": []},
            "is_impossible": True,
        }
        for qid, question, passages in zip(rows["id"], rows["question"], picks)
        for j, passage in enumerate(passages)
    ]
    if not added:
        return examples
    extra = datasets.Dataset.from_list(added, features=examples.features)
    return datasets.concatenate_datasets([examples, extra])
