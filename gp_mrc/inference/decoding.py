"""Windows' top spans → answers. The same functions serve evaluation during training and prediction.

Per window (window_topk, vectorised): log p(i, j) = log-softmax of the span scores over the window's valid spans
(the null span included), then the top-k non-null spans and the null log-probability.
Per example (here, across its windows): candidates are ranked by log p — comparable across windows because
each window's softmax also holds the null span, which takes the mass where the answer is not in that
window. For SQuAD v2 the answer is "" when min_window log p(null) − best log p(span) > threshold.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..choices import DECODINGS
from ..metrics.scoring import answer_tokens
from ..settings import N_BEST_SIZE, InferenceSettings


def pairwise_f1(texts: Sequence[str], lang: str) -> np.ndarray:
    """(k, k) matrix of the metric's F1 between candidate answers (symmetric, 1 on the diagonal).

    English: bag-of-tokens overlap as min-counts over a shared vocabulary, 2·overlap / (n_a + n_b) — the
    official F1 (2PR / (P + R)) rewritten; two empty answers score 1, one empty 0 (SQuAD v2.0's rule).
    Chinese: the CMRC longest common run of segmented tokens, for all pairs at once (common_run_lengths)."""
    toks = [answer_tokens(t, lang) for t in texts]
    k = len(toks)
    lengths = np.array([len(t) for t in toks], dtype=np.float64)
    if lang == "en":
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(w, len(vocab)) for w in t] for t in toks]
        counts = np.zeros((k, max(len(vocab), 1)), dtype=np.int32)
        for a, row in enumerate(ids):
            np.add.at(counts[a], row, 1)
        overlap = np.minimum(counts[:, None, :], counts[None, :, :]).sum(-1).astype(np.float64)
    else:
        overlap = common_run_lengths(toks)
    total = lengths[:, None] + lengths[None, :]
    f1 = np.where(overlap > 0, 2 * overlap / np.maximum(total, 1), 0.0)
    empty = lengths == 0
    return np.where(empty[:, None] | empty[None, :], (empty[:, None] & empty[None, :]).astype(np.float64), f1)


def common_run_lengths(toks: Sequence[Sequence[str]]) -> np.ndarray:
    """(k, k) lengths of the longest common contiguous run of tokens of every pair (CMRC's find_lcs length).

    The same dynamic programme as scoring.longest_common_substring, run(i, j) = run(i−1, j−1) + 1 where
    a_i = b_j, but visiting only the positions where tokens match (looked up by token): n-best candidates share
    few characters outside their overlap, so this is 2-4x less work than the full table (tests check it equals
    the pair-by-pair reference)."""
    k = len(toks)
    out = np.zeros((k, k))
    where = []  # per candidate: token → positions
    for t in toks:
        positions: dict[str, list[int]] = {}
        for j, w in enumerate(t):
            positions.setdefault(w, []).append(j)
        where.append(positions)
    for a in range(k):
        out[a, a] = len(toks[a])
        for b in range(a + 1, k):
            in_b, best, prev = where[b], 0, {}
            for x in toks[a]:
                cur = {}
                for j in in_b.get(x, ()):
                    cur[j] = v = prev.get(j - 1, 0) + 1
                    if v > best:
                        best = v
                prev = cur
            out[a, b] = out[b, a] = best
    return out


def expected_f1(
    texts: Sequence[str],
    log_probs: Sequence[float],
    lang: str,
    temperature: float = 1.0,
    pairwise: np.ndarray | None = None,
) -> np.ndarray:
    """E[F1(c, s)] of each candidate c: Σ_s p_s^(1/temperature) · F1(c, s) over the candidates s themselves.

    p_s is each candidate's probability in its window (the span softmax, which holds the null span), not
    renormalised over the candidates: the mass they do not hold (the null answer, spans outside the n-best)
    counts as F1 0. So the value means the same in every window of every passage, and answers of several passages
    are ranked by it directly; within one question, renormalising would change no choice. Minimum-Bayes-risk
    decoding picks the argmax: under a calibrated span distribution it is the answer with the highest expected
    metric, which is not the most probable span when probability is spread over overlapping spans (the shared
    words of near-duplicates add up). `pairwise`: pairwise_f1(texts, lang) when the caller already has it."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    w = np.exp(np.asarray(log_probs, dtype=np.float64) / temperature)
    return (pairwise_f1(texts, lang) if pairwise is None else pairwise) @ w


def entry_log_prob(entry: dict, raw_scores: bool) -> float:
    """A candidate's log-probability in its window: its score (a GlobalPointer's log p), or for a start/end reader
    (raw scores: logit sums) the log of the probability it is reported with, p_start·p_end."""
    if not raw_scores:
        return entry["score"]
    return math.log(entry["probability"]) if entry["probability"] > 0 else -math.inf


def entries_expected_f1(
    entries: Sequence[dict],
    decoding: str,
    lang: str,
    temperature: float,
    pairwise: np.ndarray | None = None,
    raw_scores: bool = False,
) -> np.ndarray | None:
    """The expected F1 of each n-best entry that `decoding` ranks by, or None where it ranks by score alone
    (argmax, or fewer than two entries). Reads the entries' "text", "score" and "probability"; writes nothing."""
    if decoding not in DECODINGS:
        raise ValueError(f"decoding must be one of {DECODINGS}, got {decoding!r}")
    if decoding == "argmax" or len(entries) < 2:
        return None
    log_probs = [entry_log_prob(x, raw_scores) for x in entries]
    return expected_f1([x["text"] for x in entries], log_probs, lang, temperature, pairwise)


def choose(
    entries: Sequence[dict], decoding: str, lang: str, temperature: float, pairwise: np.ndarray | None = None
) -> int:
    """Index of the answer among n-best entries (in rank order, `rank_key`) under `decoding` (`pairwise`: see
    expected_f1). The entries are left as they are."""
    ef = entries_expected_f1(entries, decoding, lang, temperature, pairwise)
    return 0 if ef is None else int(np.argmax(ef))  # ties go to the earlier entry (rank_key's order)


def rank_key(entry: dict) -> tuple:
    """The one ranking rule of every answer list, over the decoder's n-best entries and the answers Reader returns
    alike: the decoding's key first — "expected_f1" where the entry carries it, else its ranking score: a start/end
    reader's "logit" (start + end, as transformers' post-processing ranks) where there is one, else "score" (a
    GlobalPointer's log p in the decoder, its probability in an answer: the same order) — then that score, then the
    earlier passage (answers of several passages ranked together), the earlier span, the shorter. Sort ascending by
    it. The same in fp32 and bf16: exact ties (bf16 makes them) fall to the span's position, never to the order the
    candidates were found in."""
    score = entry.get("logit", entry["score"])
    return (-entry.get("expected_f1", score), -score, entry.get("passage", 0), entry["start"], entry["end"])


def _decode(entries: list[dict], decoding: str, lang: str, temperature: float, raw_scores: bool) -> str:
    """The answer among the entries' spans (the null entry aside), which get their "expected_f1" where the decoding
    ranks by it."""
    spans = [x for x in entries if x["start"] >= 0]
    if not spans:
        return ""
    ef = entries_expected_f1(spans, decoding, lang, temperature, raw_scores=raw_scores)
    if ef is None:
        return spans[0]["text"]
    for x, v in zip(spans, ef):
        x["expected_f1"] = float(v)
    return spans[int(np.argmax(ef))]["text"]


@dataclass
class Candidate:
    log_prob: float
    start: int  # character offsets into the context, end exclusive
    end: int


def best_answers(
    examples: Any,
    features: Any,
    results: dict[int, tuple[Sequence[float], Sequence[int], Sequence[int], float]],
    *,
    n_best_size: int = N_BEST_SIZE,
    version_2_with_negative: bool = InferenceSettings.version_2_with_negative,
    null_score_diff_threshold: float = InferenceSettings.null_score_diff_threshold,
    raw_scores: bool = False,
    decoding: str = InferenceSettings.decoding,
    temperature: float = InferenceSettings.decoding_temperature,
    lang: str = InferenceSettings.lang,
) -> tuple[dict[str, str], dict[str, list[dict]], dict[str, float]]:
    """Per example: the best answer text over all its windows, an n-best list, and the null score diff.

    `results[feature_index] = (log_probs, starts, ends, null_log_prob)` for every feature (a start/end reader's
    may add (report_log_probs, report_null): see WindowTopK). Text is cut
    from the original context by offsets, so it is exactly the passage's characters.
    Returns (predictions {id: text}, nbest {id: [{text, start, end, score, probability}]},
    null_diff {id: min null log p − best span log p}). With `raw_scores` (start/end baseline) scores are
    raw logits; probabilities p_start·p_end in the window where the span scored best (transformers' pipeline;
    the null's in the window of its minimum), or without those a softmax over the example's n-best.
    `decoding="expected_f1"` answers with the n-best entry of highest expected F1 (metric of `lang`) under
    p ∝ exp(score / temperature) (see `expected_f1`); the null decision of SQuAD v2 is unchanged.
    """
    by_example: dict[int, list[int]] = defaultdict(list)
    ex_index = features["example_index"]
    for f in range(len(ex_index)):
        by_example[ex_index[f]].append(f)
    predictions, nbest, null_diff = {}, {}, {}
    offsets_col = features["offset_mapping"]
    for e in range(len(examples)):
        ex = examples[e]
        found, null, reported, null_reported = _example_spans(ex["id"], by_example.get(e, []), results, offsets_col)
        cands = sorted(
            (Candidate(lp, s, t) for (s, t), lp in found.items()), key=lambda c: (-c.log_prob, c.start, c.end)
        )[:n_best_size]
        entries = _nbest_entries(ex["context"], cands)
        best_lp = cands[0].log_prob if cands else -math.inf
        diff = null - best_lp if math.isfinite(null) else -math.inf
        if version_2_with_negative and math.isfinite(null):
            entries.append({"text": "", "start": -1, "end": -1, "score": null, "probability": math.exp(null)})
            entries.sort(key=rank_key)
        if raw_scores and entries and reported:
            _reported_probabilities(entries, reported, null_reported)
        elif raw_scores and entries:
            _softmax_probabilities(entries)
        for x in entries if raw_scores else ():
            x["logit"] = x["score"]  # kept as "logit" in the answers, whose "score" is the probability (rank_key)
        answer = _decode(entries, decoding, lang, temperature, raw_scores)
        if version_2_with_negative and (not cands or diff > null_score_diff_threshold):
            answer = ""
        predictions[ex["id"]] = answer
        nbest[ex["id"]] = entries
        null_diff[ex["id"]] = diff
    return predictions, nbest, null_diff


def _nbest_entries(context: str, cands: list[Candidate]) -> list[dict]:
    """The n-best entries of the candidates, their text cut from the context."""
    return [
        {
            "text": context[c.start : c.end],
            "start": c.start,
            "end": c.end,
            "score": c.log_prob,
            "probability": math.exp(c.log_prob),
        }
        for c in cands
    ]


def _example_spans(
    example_id: str, feature_ids: list[int], results: dict, offsets_col: Any
) -> tuple[dict[tuple[int, int], float], float, dict[tuple[int, int], float], float | None]:
    """({(char start, char end): best log p over the example's windows}, the lowest null log p of its windows,
    and for start/end readers the reported log p_start·p_end of each span (in the window where it scored best)
    and of the null answer (in the window with the lowest null), else {} and None."""
    found: dict[tuple[int, int], float] = {}
    reported: dict[tuple[int, int], float] = {}
    null, null_reported = math.inf, None
    for f in feature_ids:
        if f not in results:
            raise KeyError(f"no model output for feature {f} of example {example_id!r}")
        log_probs, starts, ends, null_lp, *report = results[f]
        report_lps = report[0] if report else [None] * len(log_probs)
        offsets = offsets_col[f]
        if float(null_lp) < null and report:
            null_reported = float(report[1])
        null = min(null, float(null_lp))
        for lp, s, t, rep in zip(log_probs, starts, ends, report_lps):
            lp = float(lp)
            if not math.isfinite(lp):
                continue
            span = (offsets[int(s)][0], offsets[int(t)][1])
            if span[0] < 0 or span[1] <= span[0]:
                continue  # cannot happen for masked logits; guards hand-made inputs
            if lp > found.get(span, -math.inf):
                found[span] = lp
                if rep is not None:
                    reported[span] = float(rep)
    return found, null, reported, null_reported


def _reported_probabilities(entries: list[dict], reported: dict, null_reported: float | None) -> None:
    """Start/end: the probability reported is p_start·p_end in the span's window (the old pipeline's score)."""
    for x in entries:
        lp = null_reported if x["start"] < 0 else reported.get((x["start"], x["end"]))
        x["probability"] = math.exp(lp) if lp is not None else 0.0


def _softmax_probabilities(entries: list[dict]) -> None:
    """Raw scores (start/end): probabilities as a softmax over the example's n-best, as the transformers examples."""
    top = max(x["score"] for x in entries)
    z = sum(math.exp(x["score"] - top) for x in entries)
    for x in entries:
        x["probability"] = math.exp(x["score"] - top) / z
