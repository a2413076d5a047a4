"""The span scorer: the metric's own F1 of every candidate span near a gold, for one feature at a time.

For one feature (window) the reward of span (i, j) is ``scoring.f1_score`` of the text it decodes
to, ``context[offsets[i][0]:offsets[j][1]]`` (exactly what prediction returns), against ALL gold
texts of the example (max over golds). Only spans that matter are scored:

* pruning: both tokens are passage tokens, i <= j, j - i + 1 <= max_answer_length, and for at
  least one gold (gs, ge) inside the window |i - gs| <= window and |j - ge| <= window;
* sparsity: only nonzero values are returned; every other span's reward is 0;
* null span (0, 0) ([CLS]): reward 1 and nothing else when the question is unanswerable, and
  also when the question is answerable but no gold lies inside this window (the transformers QA
  examples label [CLS] for such windows, and so do we); otherwise it is absent (0).

Speed (English). normalize_answer(text).split() equals the concatenation, over text.split()
pieces, of normalize_answer(piece).split(): lowercasing and punctuation removal act per
character and never create whitespace, and an article's \\b boundary at a piece edge behaves
like a string edge. So a span's tokens are those of the context's whitespace words it covers
(the first and last possibly cut), and for a fixed start the token bag is grown word by word as
the end moves right, with the per-gold overlap counts updated incrementally. Normalized pieces
are memoized. Chinese (longest common substring) is scored per span with memoized segmentation;
its data sets are small.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from ..metrics.scoring import answer_tokens, check_lang, f1_from_overlap, gold_answers, longest_common_substring
from ..settings import MAX_ANSWER_LENGTH

from .inputs import check_offsets
from .table import NULL_INDEX
from .window import DEFAULT_F1_WINDOW, candidate_spans, check_golds, check_params

_WORD = re.compile(r"\S+")  # \s in re is exactly str.isspace, what str.split() splits on
_PIECE_MEMO_MAX = 2_000_000


def _word_bounds(context: str) -> tuple[list[int], list[int]]:
    """Start and end char of every whitespace-delimited word of the context."""
    starts, ends = [], []
    for m in _WORD.finditer(context):
        starts.append(m.start())
        ends.append(m.end())
    return starts, ends


def _en_golds(gold_texts: Sequence[str]) -> list[tuple[dict[str, int], int]]:
    """(token counts, length) of each distinct English gold, after the metric's gold filtering."""
    seen, out = set(), []
    for g in gold_answers(gold_texts, "en"):
        toks = answer_tokens(g, "en")
        counts = Counter(toks)
        key = frozenset(counts.items())
        if key not in seen:
            seen.add(key)
            out.append((counts, len(toks)))
    return out


class SpanScorer:
    """Scores the candidate spans of features one after another, with memos shared across them."""

    def __init__(self, lang: str):
        check_lang(lang)
        self.lang = lang
        self.pieces: dict[str, tuple[str, ...]] = {}  # en: piece -> normalized tokens
        self._context: str | None = None
        self._words: tuple[list[int], list[int]] = ([], [])
        self._gold_key: tuple[str, ...] | None = None
        self._gold_toks: list[list[str]] = []

    def words(self, context: str) -> tuple[list[int], list[int]]:
        if context is not self._context:  # consecutive features usually share one example
            self._context, self._words = context, _word_bounds(context)
        return self._words

    def piece_tokens(self, piece: str) -> tuple[str, ...]:
        toks = self.pieces.get(piece)
        if toks is None:
            if len(self.pieces) >= _PIECE_MEMO_MAX:  # bound memory on huge corpora
                self.pieces.clear()
            toks = self.pieces[piece] = tuple(answer_tokens(piece, "en"))
        return toks

    # -- English: incremental bag of tokens per start --------------------------------------

    def english(
        self, context: str, offsets: Sequence[Sequence[int]], spans: dict[int, list[int]], gold_texts: Sequence[str]
    ) -> tuple[list[int], list[int], list[float]]:
        golds = _en_golds(gold_texts)
        word_starts, word_ends = self.words(context)
        n_words = len(word_ends)
        out_s: list[int] = []
        out_e: list[int] = []
        out_v: list[float] = []
        for i, ends in spans.items():
            a = offsets[i][0]
            bag: dict[str, int] = {}  # tokens of the words fully covered so far
            n_bag = 0
            common = [0] * len(golds)  # per gold: overlap of bag with it
            w = bisect.bisect_right(word_ends, a)  # first word ending after a
            prev_b = -1
            for j in ends:
                b = offsets[j][1]
                if b < prev_b:  # offsets not monotone (unusual tokenizer): score this span directly
                    f1 = self.direct(context[a:b], gold_texts)
                    if f1 > 0:
                        out_s.append(i), out_e.append(j), out_v.append(f1)
                    continue
                prev_b = b
                while w < n_words and word_ends[w] <= b:  # commit words now fully inside
                    s = word_starts[w]
                    for t in self.piece_tokens(context[a if a > s else s : word_ends[w]]):
                        c = bag.get(t, 0)
                        bag[t] = c + 1
                        n_bag += 1
                        for g, (counts, _) in enumerate(golds):
                            if c < counts.get(t, 0):
                                common[g] += 1
                    w += 1
                tail: tuple[str, ...] = ()
                if w < n_words and word_starts[w] < b:  # the last word, cut at b
                    s = word_starts[w]
                    tail = self.piece_tokens(context[a if a > s else s : b])
                n_pred = n_bag + len(tail)
                best = 0.0
                for g, (counts, n_gold) in enumerate(golds):
                    overlap = common[g]
                    if tail:
                        overlap += _extra_overlap(tail, bag, counts)
                    f1 = f1_from_overlap(overlap, n_pred, n_gold)
                    if f1 > best:
                        best = f1
                if best > 0:
                    out_s.append(i), out_e.append(j), out_v.append(best)
        return out_s, out_e, out_v

    # -- any language: span by span ------------------------------------------------------------

    def direct(self, text: str, gold_texts: Sequence[str]) -> float:
        """scoring.f1_score, with the gold tokens memoized per gold set."""
        pred = answer_tokens(text, self.lang)
        best = 0.0
        for gold in self.gold_tokens(gold_texts):
            if self.lang == "en":
                overlap = _bag_overlap(pred, gold)
            else:
                overlap = longest_common_substring(pred, gold)
            best = max(best, f1_from_overlap(overlap, len(pred), len(gold)))
        return best

    def gold_tokens(self, gold_texts: Sequence[str]) -> list[list[str]]:
        key = tuple(gold_texts)
        if self._gold_key != key:
            self._gold_key = key
            self._gold_toks = [answer_tokens(g, self.lang) for g in gold_answers(gold_texts, self.lang)]
        return self._gold_toks

    def chinese(
        self, context: str, offsets: Sequence[Sequence[int]], spans: dict[int, list[int]], gold_texts: Sequence[str]
    ) -> tuple[list[int], list[int], list[float]]:
        out_s: list[int] = []
        out_e: list[int] = []
        out_v: list[float] = []
        memo: dict[tuple[int, int], float] = {}
        for i, ends in spans.items():
            a = offsets[i][0]
            for j in ends:
                b = offsets[j][1]
                f1 = memo.get((a, b))
                if f1 is None:
                    f1 = memo[(a, b)] = self.direct(context[a:b], gold_texts)
                if f1 > 0:
                    out_s.append(i), out_e.append(j), out_v.append(f1)
        return out_s, out_e, out_v


def _extra_overlap(tail: tuple[str, ...], bag: Mapping[str, int], counts: Mapping[str, int]) -> int:
    """How much the tokens of the cut last word add to the overlap of `bag` with one gold."""
    if len(tail) == 1:
        t = tail[0]
        return int(bag.get(t, 0) < counts.get(t, 0))
    extra, added = 0, {}
    for t in tail:
        k = added.get(t, 0)
        if bag.get(t, 0) + k < counts.get(t, 0):
            extra += 1
        added[t] = k + 1
    return extra


def _bag_overlap(a: Sequence[str], b: Sequence[str]) -> int:
    counts = Counter(b)
    overlap = 0
    for t in a:
        c = counts.get(t, 0)
        if c:
            counts[t] = c - 1
            overlap += 1
    return overlap


_NULL_ONLY = (np.array([NULL_INDEX], np.int32), np.array([NULL_INDEX], np.int32), np.array([1.0], np.float32))


def score_feature(
    scorer: SpanScorer,
    context: str,
    offsets: Sequence[Sequence[int]],
    gold_texts: Sequence[str],
    gold_starts: Sequence[int],
    gold_ends: Sequence[int],
    is_impossible: bool,
    window: int,
    max_answer_length: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """feature_span_f1 for offsets already validated by check_offsets (read_inputs checks a whole set at once)."""
    if is_impossible or len(gold_starts) == 0:
        return tuple(a.copy() for a in _NULL_ONLY)  # type: ignore[return-value]
    check_golds(offsets, gold_starts, gold_ends)
    spans = candidate_spans(offsets, gold_starts, gold_ends, window, max_answer_length)
    score = scorer.english if scorer.lang == "en" else scorer.chinese
    s, e, v = score(context, offsets, spans, gold_texts)
    return np.array(s, np.int32), np.array(e, np.int32), np.array(v, np.float32)


def feature_span_f1(
    context: str,
    offsets: Sequence[Sequence[int]],
    gold_texts: Sequence[str],
    gold_starts: Sequence[int],
    gold_ends: Sequence[int],
    is_impossible: bool,
    *,
    lang: str,
    window: int = DEFAULT_F1_WINDOW,
    max_answer_length: int = MAX_ANSWER_LENGTH,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nonzero rewards of one feature: (starts int32, ends int32, values float32), sorted by (start, end).

    See the module docstring for the pruning window and the null-span rules.
    """
    check_params(window, max_answer_length)
    offsets = [(int(s), int(e)) for s, e in offsets]
    check_offsets(np.array(offsets, dtype=np.int64).reshape(-1, 2), np.array([0, len(offsets)]), [len(context)])
    return score_feature(
        SpanScorer(lang),
        context,
        offsets,
        gold_texts,
        gold_starts,
        gold_ends,
        bool(is_impossible),
        window,
        max_answer_length,
    )
