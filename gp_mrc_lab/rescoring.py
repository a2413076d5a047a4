"""Scoring a run's saved n-best lists: EM/F1 under every decoding (argmax, expected F1 at several temperatures),
the SQuAD v2 null-threshold figures, and diagnostics of the top-1 answers."""

from __future__ import annotations

import bisect
import statistics

from .studies import Study

TEMPERATURES = (0.25, 0.5, 1.0, 2.0)


def load_golds(path: str, version_2: bool) -> dict[str, list[str]]:
    from gp_mrc.data.examples import load_examples

    examples = load_examples(path, version_2=version_2, split="validation", require_answers=False)
    return {e["id"]: list(e["answers"]["text"]) for e in examples}


GOLDS: dict[str, dict[str, list[str]]] = {}


def decodings(
    nbest: dict[str, list[dict]], golds: dict[str, list[str]], lang: str, null_odds: dict[str, float] | None = None
) -> dict[str, dict]:
    """EM/F1 of argmax and expected-F1 decoding at several temperatures, from a run's saved n-best lists (the
    same `choose` the library decodes with), plus diagnostics of the argmax answers. With `null_odds` (SQuAD v2)
    a question is answered "" where its null odds are > 0, and each decoding also gets the official best_f1
    (the dev-tuned threshold) and HasAns / NoAns F1."""
    from gp_mrc.inference.decoding import choose, pairwise_f1
    from gp_mrc.metrics.aggregate import best_f1
    from gp_mrc.metrics.scoring import answer_tokens, exact_match, f1_score

    # per question, once: the non-null candidates and their pairwise F1 (the same at every temperature)
    cands = {q: [x for x in nbest.get(q, []) if x["text"]] for q in golds}
    pairwise = {q: pairwise_f1([x["text"] for x in c], lang) for q, c in cands.items() if len(c) > 1}
    has = {q: bool(g) for q, g in golds.items()}
    odds = {q: null_odds.get(q, float("inf")) for q in golds} if null_odds is not None else None
    out: dict[str, dict] = {}
    for name, decoding, temp in [("argmax", "argmax", 1.0)] + [
        (f"expected_f1@{t:g}", "expected_f1", t) for t in TEMPERATURES
    ]:
        spans, span_f1, pred_f1, em = {}, {}, {}, 0.0
        for qid, gold in golds.items():
            entries = [dict(x) for x in cands[qid]]
            span = entries[choose(entries, decoding, lang, temp, pairwise.get(qid))]["text"] if entries else ""
            spans[qid], span_f1[qid] = span, f1_score(span, gold, lang)
            pred = "" if odds is not None and odds[qid] > 0 else span
            pred_f1[qid] = f1_score(pred, gold, lang)
            em += exact_match(pred, gold, lang)
        scores = {"exact_match": 100 * em / len(golds), "f1": 100 * sum(pred_f1.values()) / len(golds)}
        if odds is not None:
            scores["best_f1"], scores["best_f1_thresh"] = best_f1(spans, golds, null_odds, lang)
            for group, keep in (("HasAns", True), ("NoAns", False)):
                qs = [q for q in golds if has[q] == keep]
                if qs:
                    scores[f"{group}_f1"] = 100 * sum(pred_f1[q] for q in qs) / len(qs)
                    if keep:  # the reader's span where it must answer: what separates readers that never do
                        scores["HasAns_span_f1"] = 100 * sum(span_f1[q] for q in qs) / len(qs)
        out[name] = scores
    tops = [cands[q][0] if cands[q] else None for q in golds]
    f1s = [f1_score(t["text"] if t else "", golds[q], lang) for t, q in zip(tops, golds)]
    partial = [partial_kind(t["text"], golds[q], lang) for t, q, f in zip(tops, golds, f1s) if t and 0 < f < 1]
    out["diagnostics"] = {
        "share_f1_zero": sum(f == 0 for f in f1s) / len(f1s),
        # top-1 answers with partial credit, by how they miss: inside the best-matching gold, around it, or astride
        **{f"share_{kind}": sum(k == kind for k in partial) / len(f1s) for kind in ("too_short", "too_long")},
        "mean_answer_tokens": statistics.mean(len(answer_tokens(t["text"], lang)) if t else 0 for t in tops),
        "mean_gold_tokens": statistics.mean(len(answer_tokens(g[0], lang)) if g else 0 for g in golds.values()),
        "mean_top_probability": statistics.mean(t["probability"] if t else 0.0 for t in tops),
        # raw string lengths (Chinese: characters, punctuation included) — the tokens above are the metric's
        "mean_answer_chars": statistics.mean(len(t["text"]) if t else 0 for t in tops),
        "mean_gold_chars": statistics.mean(len(g[0]) if g else 0 for g in golds.values()),
    }
    if odds is not None:
        out["diagnostics"]["null_auc"] = null_auc(odds, {q: not h for q, h in has.items()})
    return out


def partial_kind(answer: str, golds: list[str], lang: str) -> str:
    """ "too_short" if the answer's tokens are a run inside the gold it matches best, "too_long" if that gold's
    tokens are a run inside the answer, else "overlap"."""
    from gp_mrc.metrics.scoring import answer_tokens, gold_answers, token_f1

    a = answer_tokens(answer, lang)
    g = max((answer_tokens(x, lang) for x in gold_answers(golds, lang)), key=lambda g: token_f1(a, g, lang))

    def inside(small: list[str], big: list[str]) -> bool:
        return any(big[i : i + len(small)] == small for i in range(len(big) - len(small) + 1))

    return "too_short" if inside(a, g) else "too_long" if inside(g, a) else "overlap"


def null_auc(odds: dict[str, float], unanswerable: dict[str, bool]) -> float | None:
    """How well the null odds rank questions: the chance that an unanswerable question has higher odds than an
    answerable one (ties count half; 0.5 = no better than chance, independent of any threshold)."""
    pos = [odds[q] for q in odds if unanswerable[q]]
    neg = sorted(odds[q] for q in odds if not unanswerable[q])
    if not pos or not neg:
        return None
    wins = sum((bisect.bisect_left(neg, x) + bisect.bisect_right(neg, x)) / 2 for x in pos)
    return wins / (len(pos) * len(neg))


def evaluated_golds(study: Study) -> dict[str, list[str]]:
    """The golds of the dev questions a study's runs answer: all of them, or the first N with --max_eval_samples N
    (the smoke studies), as training loads them."""
    golds = GOLDS[study.validation_file]
    if "--max_eval_samples" in study.flags:
        at = max(i for i, flag in enumerate(study.flags) if flag == "--max_eval_samples")  # the last one wins
        golds = dict(list(golds.items())[: int(study.flags[at + 1])])
    return golds
