"""Answer-length calibration of expected-F1 decoding (issue #27 candidate), measured offline on a run's saved n-best
lists: each candidate's probability tilted by exp(beta · its length in metric tokens) before the expected F1 is
taken, so beta > 0 moves the chosen answer longer (the GlobalPointer answers shorter than the golds), beta < 0
shorter (start/end answers longer). beta is chosen on one half of the dev questions and scored on the other (and the
other way round: 2-fold), so the figure is not tuned to the questions it is scored on.

    python -m gp_mrc_lab.length_prior --run runs/study/squad_v1_4k_2ep/gp_sm_ad0-seed42 \\
        --dev_file ../shared/data/squad_v1.1/dev-v1.1.shared.json
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .bench_io import emit

BETAS = (-0.6, -0.4, -0.2, -0.1, 0.0, 0.1, 0.2, 0.4, 0.6)


def tilted_choice(
    texts: Sequence[str],
    log_probs: Sequence[float],
    lang: str,
    beta: float,
    temperature: float = 1.0,
    pairwise=None,
    lengths: Sequence[int] | None = None,
) -> int:
    """Index of the candidate with the highest expected F1 under p(c) ∝ exp((log_prob(c) + beta · len(c)) / T)
    (`pairwise`, `lengths`: the candidates' pairwise F1 and token counts, when the caller already has them)."""
    from gp_mrc.inference.decoding import expected_f1
    from gp_mrc.metrics.scoring import answer_tokens

    if len(texts) < 2:
        return 0
    if lengths is None:
        lengths = [len(answer_tokens(t, lang)) for t in texts]
    scores = [lp + beta * n for lp, n in zip(log_probs, lengths)]
    return int(expected_f1(texts, scores, lang, temperature, pairwise).argmax())


def per_question_f1(
    nbest: dict[str, list[dict]], golds: dict[str, list[str]], lang: str, settings: Sequence[tuple[float, float]]
) -> dict[tuple[float, float], dict[str, float]]:
    """{(temperature, beta): {question: F1 of its tilted expected-F1 answer}}."""
    from gp_mrc.inference.decoding import pairwise_f1
    from gp_mrc.metrics.scoring import answer_tokens, f1_score

    out: dict[tuple[float, float], dict[str, float]] = {k: {} for k in settings}
    for qid, gold in golds.items():
        texts = [x["text"] for x in nbest.get(qid, []) if x["text"]]
        if not texts:
            for k in settings:
                out[k][qid] = 0.0
            continue
        lps = [x["score"] for x in nbest[qid] if x["text"]]
        # once per question, not once per setting: what does not depend on (T, beta)
        pairwise = pairwise_f1(texts, lang) if len(texts) > 1 else None
        lengths = [len(answer_tokens(t, lang)) for t in texts]
        cand_f1 = [f1_score(t, gold, lang) for t in texts]
        for t, b in settings:
            out[(t, b)][qid] = cand_f1[tilted_choice(texts, lps, lang, b, t, pairwise, lengths)]
    return out


def two_fold(f1: dict[tuple[float, float], dict[str, float]]) -> dict:
    """On each half of the questions (even / odd positions) the best (T, beta) and the best T at beta = 0 are
    chosen, then scored on the other half: the held-out gain of the length prior over temperature alone."""
    qids = sorted(next(iter(f1.values())))
    halves = (qids[0::2], qids[1::2])

    def mean(k: tuple[float, float], qs: list[str]) -> float:
        return 100 * sum(f1[k][q] for q in qs) / len(qs)

    folds = []
    for tune, test in (halves, halves[::-1]):
        best = max(f1, key=lambda k: mean(k, tune))
        plain = max((k for k in f1 if k[1] == 0.0), key=lambda k: mean(k, tune))
        folds.append(
            {"T_beta": best, "held_out_f1": mean(best, test), "T_alone": plain, "T_alone_f1": mean(plain, test)}
        )
    gain = sum((f["held_out_f1"] - f["T_alone_f1"]) * len(h) for f, h in zip(folds, halves[::-1])) / len(qids)
    return {"folds": folds, "held_out_gain": gain, "f1": {f"T={t:g} beta={b:g}": mean((t, b), qids) for t, b in f1}}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="a run folder with nbest_predictions.json")
    p.add_argument("--dev_file", required=True)
    p.add_argument("--lang", default="en")
    p.add_argument("--output", default=None)
    args = p.parse_args(argv)
    from gp_mrc.inference.nbest_file import read_nbest

    from .rescoring import TEMPERATURES, load_golds

    golds = load_golds(args.dev_file, version_2=False)
    nbest = read_nbest(os.path.join(args.run, "nbest_predictions.json"))
    result = {"command": "python -m gp_mrc_lab.length_prior " + " ".join(sys.argv[1:] if argv is None else argv)}
    result.update(two_fold(per_question_f1(nbest, golds, args.lang, [(t, b) for t in TEMPERATURES for b in BETAS])))
    emit(result, args.output)


if __name__ == "__main__":
    main()
