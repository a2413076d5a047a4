"""The official CMRC2018 script's scoring (cmrc2018_evaluate.py, transcribed: nltk.word_tokenize on the non-CJK
runs, with preserve_line=True since punkt's sentence model is a download), against gp_mrc.metrics on a labelled
file as published: each question's EM and F1 of one prediction, by both.

    python -m gp_mrc_lab.official_cmrc --file ../shared/data/cmrc2018/cmrc2018_dev.shared.json
    python -m gp_mrc_lab.official_cmrc --file FILE --predictions runs/zh/eval/predictions.json

Without --predictions, a stand-in reader answers: the first gold widened by 0-6 characters each side (seeded),
so predictions cut through words, numbers and punctuation as a model's do.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys

from gp_mrc.metrics.scoring import exact_match, f1_score, mixed_segmentation

SP_CHAR = ["-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=", "，", "。", "：", "？", "！", "“", "”", "；", "’",
           "《", "》", "……", "·", "、", "「", "」", "（", "）", "－", "～", "『", "』"]  # fmt: skip


def official_segmentation(in_str: str, rm_punc: bool = False) -> list[str]:
    import nltk

    def tokenize(run: str) -> list[str]:
        return nltk.word_tokenize(run, preserve_line=True)

    segs, run = [], ""
    for char in str(in_str).lower().strip():
        if rm_punc and char in SP_CHAR:
            continue
        if re.search(r"[\u4e00-\u9fa5]", char) or char in SP_CHAR:
            if run:
                segs.extend(tokenize(run))
                run = ""
            segs.append(char)
        else:
            run += char
    return segs + (tokenize(run) if run else [])


def official_f1(golds: list[str], pred: str) -> float:
    scores = []
    for gold in golds:
        a, p = official_segmentation(gold, True), official_segmentation(pred, True)
        m = [[0] * (len(p) + 1) for _ in range(len(a) + 1)]
        n = 0
        for i in range(len(a)):
            for j in range(len(p)):
                if a[i] == p[j]:
                    m[i + 1][j + 1] = m[i][j] + 1
                    n = max(n, m[i + 1][j + 1])
        scores.append(0.0 if n == 0 else 2 * (n / len(p)) * (n / len(a)) / (n / len(p) + n / len(a)))
    return max(scores)


def official_em(golds: list[str], pred: str) -> float:
    def strip(s: str) -> str:
        return "".join(c for c in str(s).lower().strip() if c not in SP_CHAR)

    return float(any(strip(g) == strip(pred) for g in golds))


def stand_in_predictions(data: list[dict], seed: int = 0) -> dict[str, str]:
    rng, out = random.Random(seed), {}
    for qa, ctx in ((qa, p["context"]) for a in data for p in a["paragraphs"] for qa in p["qas"]):
        gold = qa["answers"][0]
        start = gold.get("answer_start", -1)
        start = max(0, ctx.find(gold["text"]) if start is None or start < 0 else start)
        out[qa["id"]] = ctx[max(0, start - rng.randint(0, 6)) : start + len(gold["text"]) + rng.randint(0, 6)]
    return out


def compare(data: list[dict], predictions: dict[str, str]) -> dict:
    n = seg = f1_differ = em_differ = 0
    ours_f1 = off_f1 = ours_em = off_em = 0.0
    for qa in (qa for a in data for p in a["paragraphs"] for qa in p["qas"]):
        golds, pred = [x["text"] for x in qa["answers"]], str(predictions.get(qa["id"], ""))
        n += 1
        seg += sum(mixed_segmentation(t, True) != official_segmentation(t, True) for t in golds + [pred])
        f_ours, f_off = f1_score(pred, golds, "zh"), official_f1(golds, pred)
        e_ours, e_off = exact_match(pred, golds, "zh"), official_em(golds, pred)
        f1_differ += f_ours != f_off
        em_differ += e_ours != e_off
        ours_f1, off_f1, ours_em, off_em = ours_f1 + f_ours, off_f1 + f_off, ours_em + e_ours, off_em + e_off
    return {
        "questions": n,
        "segmentations_differing": seg,
        "f1_differing": f1_differ,
        "em_differing": em_differ,
        "ours": {"exact_match": 100 * ours_em / n, "f1": 100 * ours_f1 / n},
        "official": {"exact_match": 100 * off_em / n, "f1": 100 * off_f1 / n},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--file", required=True, help="a SQuAD-layout file as published (CMRC2018, DRCD, DuReader)")
    p.add_argument("--predictions", help="{id: answer} (predictions.json); default: the stand-in reader's")
    args = p.parse_args(argv)
    data = json.load(open(args.file, encoding="utf-8"))["data"]
    preds = json.load(open(args.predictions, encoding="utf-8")) if args.predictions else stand_in_predictions(data)
    result = compare(data, preds)
    print(json.dumps(dict(result, file=args.file, predictions=args.predictions or "stand-in"), indent=1))
    return 0 if not (result["f1_differing"] or result["em_differing"]) else 1


if __name__ == "__main__":
    sys.exit(main())
