import math

import torch

from gp_mrc.inference.decoding import best_answers
from gp_mrc.inference.window_topk import collect_results, topk_spans
from gp_mrc.data.features import prepare_features
from gp_mrc.method import MASK_VALUE, valid_span_mask
from test_features import LONG_EN, make_examples


def window_logits(f, spans, n=None):
    """Logits for one feature: every valid span −5, given spans their score."""
    n = n or len(f["input_ids"])
    passage = torch.tensor([[o[0] >= 0 for o in f["offset_mapping"]]])
    mask = valid_span_mask(passage, 30)
    s = torch.full((1, n, n), -5.0)
    for (i, j), v in spans.items():
        s[0, i, j] = v
    return s.masked_fill(~mask, MASK_VALUE), mask


def test_topk_spans_is_vectorised_argmax():
    s = torch.tensor([[[0.0, 9.0, 0.0], [0.0, 1.0, 3.0], [0.0, 0.0, 2.0]]])
    mask = valid_span_mask(torch.tensor([[False, True, True]]), None)
    top = topk_spans(s.masked_fill(~mask, MASK_VALUE), mask, k=5)
    pairs = [
        (a, b)
        for a, b, lp in zip(top.starts[0].tolist(), top.ends[0].tolist(), top.log_probs[0].tolist())
        if lp > -math.inf
    ]
    assert pairs == [(1, 2), (2, 2), (1, 1)]  # (0,1) is invalid even with the highest score
    z = math.log(math.exp(0) + math.exp(1) + math.exp(3) + math.exp(2))
    assert math.isclose(top.log_probs[0, 0].item(), 3 - z, rel_tol=1e-5)
    assert math.isclose(top.null_log_prob[0].item(), 0 - z, rel_tol=1e-5)


def test_best_answer_across_windows(tiny_tokenizer):
    answer = "1875 in the city of bay"
    ex = make_examples([(LONG_EN, "when?", [(answer, LONG_EN.index(answer))])])
    feats = prepare_features(ex, tiny_tokenizer, max_seq_length=48, doc_stride=16, max_query_length=16)
    with_gold = [k for k in range(len(feats)) if feats[k]["gold_starts"]]
    batches = []
    for k in range(len(feats)):
        f = feats[k]
        if k == with_gold[-1]:
            spans = {(f["gold_starts"][0], f["gold_ends"][0]): 6.0, (0, 0): -2.0}
        else:  # other windows: the null span takes the mass, a wrong span has a high raw score
            p = [t for t, o in enumerate(f["offset_mapping"]) if o[0] >= 0]
            spans = {(0, 0): 12.0, (p[0], p[0]): 7.0}
        s, mask = window_logits(f, spans)
        batches.append((torch.tensor([k]), topk_spans(s, mask, 5)))
    results = collect_results(batches)
    preds, nbest, null_diff = best_answers(ex, feats, results, n_best_size=5)
    assert preds["q0"] == answer
    top = nbest["q0"][0]
    assert LONG_EN[top["start"] : top["end"]] == answer
    assert 0 < top["probability"] <= 1 and math.isclose(math.log(top["probability"]), top["score"], rel_tol=1e-6)
    assert [e["score"] for e in nbest["q0"]] == sorted((e["score"] for e in nbest["q0"]), reverse=True)
    assert len({(e["start"], e["end"]) for e in nbest["q0"]}) == len(nbest["q0"])  # overlap windows merged
    # v2: the same outputs answer; with the null span dominant everywhere it abstains
    preds2, _, _ = best_answers(ex, feats, results, version_2_with_negative=True)
    assert preds2["q0"] == answer
    null_only = {k: (v[0], v[1], v[2], 0.0) for k, v in results.items()}
    preds3, nbest3, _ = best_answers(ex, feats, null_only, version_2_with_negative=True)
    assert preds3["q0"] == "" and nbest3["q0"][0]["text"] == ""


def test_duplicate_gathered_windows_collapse():
    s = torch.zeros(2, 3, 3)
    mask = valid_span_mask(torch.tensor([[False, True, True]] * 2), None)
    t = topk_spans(s.masked_fill(~mask, MASK_VALUE), mask, 2)
    results = collect_results([(torch.tensor([0, 1]), t), (torch.tensor([1, 1]), t)])
    assert sorted(results) == [0, 1]


# ---- expected-F1 (minimum-Bayes-risk) decoding


import numpy as np
import pytest

from gp_mrc.inference.decoding import choose, expected_f1, pairwise_f1
from gp_mrc.metrics.scoring import f1_score

EN = ["the Denver Broncos", "Denver Broncos", "Broncos", "Carolina Panthers", "the", "Denver Broncos won", "1,000"]
ZH = ["北京大学", "北京", "大学的校长", "上海", "北京大学。", "2008年"]


@pytest.mark.parametrize("texts,lang", [(EN, "en"), (ZH, "zh")])
def test_pairwise_f1_is_the_metric(texts, lang):
    brute = np.array([[f1_score(a, [b], lang) for b in texts] for a in texts])
    assert np.allclose(pairwise_f1(texts, lang), brute, atol=1e-12)


@pytest.mark.parametrize("texts,lang", [(EN, "en"), (ZH, "zh")])
def test_expected_f1_choice_against_brute_force(texts, lang):
    rng = np.random.default_rng(0)
    for _ in range(20):
        scores = sorted(rng.normal(size=len(texts)) * 2, reverse=True)
        for temp in (0.5, 1.0, 2.0):
            w = np.exp(np.array(scores) / temp)  # the window probabilities, not renormalised over the n-best
            brute = [sum(wj * f1_score(c, [s], lang) for s, wj in zip(texts, w)) for c in texts]
            assert np.allclose(expected_f1(texts, scores, lang, temp), brute, atol=1e-12)
            entries = [{"text": t, "score": s} for t, s in zip(texts, scores)]
            assert choose(entries, "expected_f1", lang, temp) == int(np.argmax(brute))
            renormalised = np.array(brute) / w.sum()  # what the choice was before: the same argmax
            assert choose(entries, "expected_f1", lang, temp) == int(np.argmax(renormalised))


def test_expected_f1_prefers_the_shared_core_over_a_lone_top_span():
    # 0.4 on a wrong span, 0.6 spread over three overlapping spans around "Denver Broncos"
    texts = ["Carolina Panthers", "Denver Broncos team", "Denver Broncos", "Denver Broncos won"]
    scores = np.log([0.4, 0.2, 0.2, 0.2])
    entries = [{"text": t, "score": s} for t, s in zip(texts, scores)]
    assert choose(entries, "argmax", "en", 1.0) == 0
    assert texts[choose(entries, "expected_f1", "en", 1.0)] == "Denver Broncos"
    with pytest.raises(ValueError, match="decoding"):
        choose(entries, "mbr", "en", 1.0)
    with pytest.raises(ValueError, match="temperature"):
        expected_f1(texts, scores, "en", 0.0)


def test_expected_f1_means_the_same_in_every_passage():
    """The mass a window gives its null answer counts as F1 0: the same spans in a passage that doubts them score
    lower, so answers of several passages rank by it directly."""
    texts = ["Denver Broncos", "Denver Broncos team"]
    sure = expected_f1(texts, np.log([0.6, 0.3]), "en")
    doubtful = expected_f1(texts, np.log([0.06, 0.03]), "en")  # the null holds 90%
    assert np.allclose(doubtful, sure / 10)
    assert sure[0] == pytest.approx(0.6 + 0.3 * 0.8)


def test_rank_key_breaks_exact_ties_by_position_then_length():
    from gp_mrc.inference.decoding import rank_key

    tied = [
        {"text": "b c", "score": -1.0, "start": 4, "end": 7},
        {"text": "b", "score": -1.0, "start": 4, "end": 5},
        {"text": "a", "score": -1.0, "start": 0, "end": 1},
        {"text": "z", "score": -0.5, "start": 9, "end": 10},
    ]
    assert [x["text"] for x in sorted(tied, key=rank_key)] == ["z", "a", "b", "b c"]
    by_ef = [dict(x, expected_f1=0.5) for x in tied]
    assert [x["text"] for x in sorted(by_ef, key=rank_key)] == ["z", "a", "b", "b c"]  # then the score
    answers = [
        {"answer": "x", "score": 0.2, "logit": 3.0, "start": 5, "end": 6, "passage": 1},
        {"answer": "y", "score": 0.9, "logit": 2.0, "start": 0, "end": 1, "passage": 0},
        {"answer": "w", "score": 0.2, "logit": 3.0, "start": 5, "end": 6, "passage": 0},
    ]
    # a start/end reader's answers rank by their logit, not their probability; ties: the earlier passage
    assert [a["answer"] for a in sorted(answers, key=rank_key)] == ["w", "x", "y"]


def test_choose_leaves_its_entries_as_they_are():
    """choose reads the n-best entries and writes nothing into them (best_answers adds "expected_f1" to copies)."""
    import copy

    texts = ["Carolina Panthers", "Denver Broncos team", "Denver Broncos", "Denver Broncos won"]
    entries = [{"text": t, "score": float(s)} for t, s in zip(texts, np.log([0.4, 0.2, 0.2, 0.2]))]
    before = copy.deepcopy(entries)
    for decoding in ("argmax", "expected_f1"):
        choose(entries, decoding, "en", 1.0)
        assert entries == before


def test_common_run_lengths_equals_the_pair_by_pair_reference():
    """The match-only dynamic programme (decoding) against CMRC's find_lcs (scoring) on random Chinese n-best
    lists cut from one passage, as a reader's candidates are (overlapping, repeated characters, mixed words)."""
    import random

    from gp_mrc.inference.decoding import common_run_lengths
    from gp_mrc.metrics.scoring import answer_tokens, longest_common_substring

    passage = (
        "北京是中华人民共和国的首都，也是全国的政治、文化中心。2008年北京举办了第29届夏季奥运会，"
        "共有204个国家和地区参加。The Games cost 3.14 billion。北京北京北京。"
    )
    rng = random.Random(0)
    for _ in range(200):
        texts = []
        for _ in range(rng.randint(1, 20)):
            s = rng.randrange(len(passage))
            texts.append(passage[s : s + rng.randint(0, 45)])
        toks = [answer_tokens(t, "zh") for t in texts]
        reference = np.array([[longest_common_substring(a, b) if a is not b else len(a) for b in toks] for a in toks])
        assert np.array_equal(common_run_lengths(toks), reference), texts
