"""The answer metric: normalization, tokenization, exact match and F1 (the one place it lives).

Both the training reward (``gp_mrc.rewards``) and evaluation (``gp_mrc.metrics``) call these
functions, so what training maximizes is by construction what evaluation reports.

English ("en") reproduces the official SQuAD scripts (evaluate-v1.1.py / evaluate-v2.0.py):
normalize, split on whitespace, bag-of-tokens overlap, with the v2.0 rules for empty answers
(evaluate-v1.1.py differs only on answers that normalize to nothing, e.g. "the": it scores F1 0
where v2.0, and we, score 1 for an empty prediction against an empty gold).
Chinese ("zh") reproduces the official CMRC2018 script (cmrc2018_evaluate.py), also used for
DRCD and DuReader: exact match on punctuation-stripped strings, F1 from the longest common
*contiguous* run of segmented tokens (CJK characters one by one, other text as words).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

LANGS = ("en", "zh")

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_DROP_PUNCT = str.maketrans("", "", string.punctuation)

# CMRC2018's list, verbatim. "……" is two characters, so the per-character membership test of
# the official script never matches it (a lone "…" is kept); we keep that quirk on purpose.
CMRC_SP_CHAR = [
    "-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=",
    "，", "。", "：", "？", "！", "“", "”", "；", "’", "《", "》", "……", "·", "、",
    "「", "」", "（", "）", "－", "～", "『", "』",
]  # fmt: skip
_SP_CHAR = frozenset(CMRC_SP_CHAR)  # same membership as the list for single characters
_CJK = re.compile(r"[\u4e00-\u9fa5]")

# nltk.word_tokenize(text, preserve_line=True), which the official CMRC2018 script calls on the non-CJK runs of
# Chinese text: NLTK's NLTKWordTokenizer (nltk 3.10, Apache-2.0), its regexes in its order, so F1 needs no nltk.
# tests/test_scoring.py holds it equal to nltk's own. Not reproduced: word_tokenize's default first splits a run
# into sentences with punkt, whose English model is a download; the runs between CJK characters are short, and
# with the whole run as one sentence only a period inside a run (followed by a space) could be read otherwise.
_QUOTE_AFTER = "\\]\\)}>\"'»”’"
_TREEBANK_STEPS: tuple[tuple[re.Pattern, str], ...] = tuple(
    (re.compile(pattern, re.U), repl)
    for pattern, repl in (
        # starting quotes
        (r"([«“‘„]|[`]+)", r" \1 "),
        (r"^\"", r"``"),
        (r"(``)", r" \1 "),
        (r"([ \(\[{<])(\"|\'{2})", r"\1 `` "),
        (r"(?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)", r"\1 "),
        # punctuation
        (r"([^\.])(\.)([" + _QUOTE_AFTER + r" ]*)\s*$", r"\1 \2 \3 "),
        (r"([:,])([^\d])", r" \1 \2"),
        (r"([:,])$", r" \1 "),
        (r"\.{2,}", r" \g<0> "),
        (r"[;@#$%&]", r" \g<0> "),
        (r"[\u2012-\u2015]", r" \g<0> "),
        (r"([^\.])(\.)([\]\)}>\"\']*)\s*$", r"\1 \2\3 "),
        (r"[?!]", r" \g<0> "),
        (r"([^'])' ", r"\1 ' "),
        (r"[*]", r" \g<0> "),
        # parentheses and brackets, double dashes
        (r"[\]\[\(\)\{\}\<\>]", r" \g<0> "),
        (r"--", r" -- "),
    )
)
_TREEBANK_ENDING: tuple[tuple[re.Pattern, str], ...] = tuple(
    (re.compile(pattern, re.U), repl)
    for pattern, repl in (
        (r"([»”’])", r" \1 "),
        (r"''", " '' "),
        (r'"', " '' "),
        (r"\s+", " "),
        (r"([^' ])('[sS]|'[mM]|'[dD]|') ", r"\1 \2 "),
        (r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", r"\1 \2 "),
    )
)
_CONTRACTIONS = tuple(
    re.compile(p)
    for p in (
        r"(?i)\b(can)(?#X)(not)\b",
        r"(?i)\b(d)(?#X)('ye)\b",
        r"(?i)\b(gim)(?#X)(me)\b",
        r"(?i)\b(gon)(?#X)(na)\b",
        r"(?i)\b(got)(?#X)(ta)\b",
        r"(?i)\b(lem)(?#X)(me)\b",
        r"(?i)\b(more)(?#X)('n)\b",
        r"(?i)\b(wan)(?#X)(na)(?=\s)",
        r"(?i) ('t)(?#X)(is)\b",
        r"(?i) ('t)(?#X)(was)\b",
    )
)


def check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"unknown metric language {lang!r}; expected one of {LANGS}")


# --------------------------------------------------------------------------- English (SQuAD)


def normalize_answer(s: str) -> str:
    """Official SQuAD normalization: lower, drop punctuation, drop articles, collapse spaces."""
    s = s.lower()
    s = s.translate(_DROP_PUNCT)  # the official per-character filter, in one pass
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


# --------------------------------------------------------------------------- Chinese (CMRC)


def word_tokenize(s: str) -> list[str]:
    """nltk.word_tokenize(s, preserve_line=True): the tokens of a non-CJK run (see _TREEBANK_STEPS)."""
    for pattern, repl in _TREEBANK_STEPS:
        s = pattern.sub(repl, s)
    s = " " + s + " "
    for pattern, repl in _TREEBANK_ENDING:
        s = pattern.sub(repl, s)
    for pattern in _CONTRACTIONS:
        s = pattern.sub(r" \1 \2 ", s)
    return s.split()


def mixed_segmentation(s: str, rm_punc: bool = False) -> list[str]:
    """CMRC2018 segmentation: each CJK char / special char alone, other runs word-tokenized.

    As in the official script, a removed special char (rm_punc) does not end the current run:
    "well-known" becomes the single token "wellknown".
    """
    segs: list[str] = []
    run = ""
    for ch in str(s).lower().strip():
        if rm_punc and ch in _SP_CHAR:
            continue
        if ch in _SP_CHAR or _CJK.match(ch):
            if run:
                segs.extend(word_tokenize(run))
                run = ""
            segs.append(ch)
        else:
            run += ch
    if run:
        segs.extend(word_tokenize(run))
    return segs


def remove_punctuation(s: str) -> str:
    """CMRC2018 exact-match normalization: lower, strip, drop the special chars (nothing else)."""
    return "".join(ch for ch in str(s).lower().strip() if ch not in _SP_CHAR)


def longest_common_substring(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common contiguous run of tokens (the official find_lcs length)."""
    if not a or not b:
        return 0
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for k, y in enumerate(b):
            if x == y:
                v = prev[k] + 1
                cur[k + 1] = v
                if v > best:
                    best = v
        prev = cur
    return best


# --------------------------------------------------------------------------- shared


def answer_tokens(s: str, lang: str) -> list[str]:
    """The token list the F1 of ``lang`` compares."""
    check_lang(lang)
    if lang == "en":
        return normalize_answer(s).split()
    return mixed_segmentation(s, rm_punc=True)


def f1_from_overlap(overlap: int, n_pred: int, n_gold: int) -> float:
    """F1 from an overlap count, computed exactly as the official scripts do (same rounding)."""
    if n_pred == 0 or n_gold == 0:
        # SQuAD v2.0 rule (CMRC has no empty answers; we extend the rule to it).
        return float(n_pred == n_gold)
    if overlap == 0:
        return 0.0
    precision = 1.0 * overlap / n_pred
    recall = 1.0 * overlap / n_gold
    return (2 * precision * recall) / (precision + recall)


def token_f1(pred_tokens: Sequence[str], gold_tokens: Sequence[str], lang: str) -> float:
    """F1 of two already-tokenized answers: bag overlap ("en") or longest common run ("zh")."""
    check_lang(lang)
    if lang == "en":
        overlap = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    else:
        overlap = longest_common_substring(pred_tokens, gold_tokens)
    return f1_from_overlap(overlap, len(pred_tokens), len(gold_tokens))


def gold_answers(golds: Sequence[str], lang: str) -> list[str]:
    """The gold strings the max is taken over.

    No golds means an unanswerable question, scored against [""]. For English we also drop the
    golds that normalize to nothing, as evaluate-v2.0.py does (keeping [""] if none is left).
    """
    check_lang(lang)
    if isinstance(golds, str):
        raise TypeError(f"golds must be a list of strings, got the string {golds!r}")
    if lang == "en":
        kept = [g for g in golds if normalize_answer(g)]
    else:
        kept = list(golds)
    return kept or [""]


def exact_match(prediction: str, golds: Sequence[str], lang: str) -> float:
    """1.0 if the prediction equals some gold after the metric's normalization, else 0.0."""
    refs = gold_answers(golds, lang)
    if lang == "en":
        pred = normalize_answer(prediction)
        return float(any(pred == normalize_answer(g) for g in refs))
    pred = remove_punctuation(prediction)
    return float(any(pred == remove_punctuation(g) for g in refs))


def f1_score(prediction: str, golds: Sequence[str], lang: str) -> float:
    """Max over golds of the token F1 of ``lang``, in [0, 1]."""
    refs = gold_answers(golds, lang)
    pred = answer_tokens(prediction, lang)
    return max(token_f1(pred, answer_tokens(g, lang), lang) for g in refs)
