"""gp_mrc.rewards: pruned per-span F1 equals the metric's F1 span by span; the cache is safe."""

from __future__ import annotations

import os
import re
import string

import datasets
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gp_mrc import rewards
from gp_mrc.rewards import (
    DEFAULT_F1_WINDOW,
    CacheError,
    F1Table,
    compute_f1_table,
    feature_span_f1,
    load_f1_table,
    load_or_compute_f1_table,
)
from gp_mrc.metrics.scoring import f1_score, normalize_answer

NP = [-1, -1]  # offsets of a token that is not in the passage


def tokens_of(context: str, cuts: dict[int, list[int]] | None = None, n_question: int = 2) -> list[list[int]]:
    """[CLS] + question tokens + [SEP] + passage tokens (words, optionally cut at char offsets) + [SEP]."""
    cuts = cuts or {}
    offsets = [NP] * (n_question + 2)
    for w, m in enumerate(re.finditer(r"\S+", context)):
        bounds = [m.start()] + [m.start() + c for c in cuts.get(w, [])] + [m.end()]
        offsets += [[a, b] for a, b in zip(bounds[:-1], bounds[1:])]
    return offsets + [NP]


def brute_force(context, offsets, gold_texts, gold_starts, gold_ends, *, lang, window, max_answer_length):
    """Every span the pruning rules keep, scored with scoring.f1_score."""
    out = {}
    passage = [t for t, (s, _) in enumerate(offsets) if s >= 0]
    for i in passage:
        for j in passage:
            if not (i <= j and j - i + 1 <= max_answer_length):
                continue
            if any(abs(i - gs) <= window and abs(j - ge) <= window for gs, ge in zip(gold_starts, gold_ends)):
                out[(i, j)] = f1_score(context[offsets[i][0] : offsets[j][1]], gold_texts, lang)
    return out


def as_dict(result) -> dict[tuple[int, int], float]:
    starts, ends, values = result
    assert starts.dtype == np.int32 and ends.dtype == np.int32 and values.dtype == np.float32
    return {(int(s), int(e)): float(v) for s, e, v in zip(starts, ends, values)}


def assert_matches_brute_force(
    context, offsets, gold_texts, gold_starts, gold_ends, *, lang="en", window=8, max_answer_length=30
):
    got = as_dict(
        feature_span_f1(
            context,
            offsets,
            gold_texts,
            gold_starts,
            gold_ends,
            False,
            lang=lang,
            window=window,
            max_answer_length=max_answer_length,
        )
    )
    want = brute_force(
        context,
        offsets,
        gold_texts,
        gold_starts,
        gold_ends,
        lang=lang,
        window=window,
        max_answer_length=max_answer_length,
    )
    assert set(got) <= set(want), "a span outside the pruning window was stored"
    assert all(v > 0 for v in got.values()), "zero values must not be stored"
    for span, f1 in want.items():
        assert got.get(span, 0.0) == pytest.approx(f1, abs=1e-6), (
            span,
            context[offsets[span[0]][0] : offsets[span[1]][1]],
        )
    return got


# ----------------------------------------------------------------------------- one feature, English

CONTEXT = "The quick brown fox jumps over the lazy dog."
# passage tokens: 4 The, 5 quick, 6 brown, 7 fox, 8 jump, 9 ##s, 10 over, 11 the, 12 lazy, 13 dog, 14 "."
OFFSETS = tokens_of(CONTEXT, cuts={4: [4], 8: [3]})


def test_hand_built_feature_values():
    assert [CONTEXT[s:e] for s, e in OFFSETS[4:15]] == [
        "The",
        "quick",
        "brown",
        "fox",
        "jump",
        "s",
        "over",
        "the",
        "lazy",
        "dog",
        ".",
    ]
    got = assert_matches_brute_force(CONTEXT, OFFSETS, ["brown fox"], [6], [7])
    assert got[(6, 7)] == 1.0
    assert got[(5, 7)] == pytest.approx(0.8)  # [quick, brown, fox]: p = 2/3, r = 1
    assert got[(7, 8)] == 0.5  # "fox jump" (cut inside "jumps"): [fox, jump], p = r = 1/2
    assert got[(4, 7)] == pytest.approx(0.8)  # the leading article does not count
    assert (4, 5) not in got and (4, 4) not in got  # "The quick", "The": no overlap -> not stored
    assert (0, 0) not in got  # answerable with a gold in the window: the null span is 0


def test_tokens_cutting_words_and_punctuation_match_brute_force():
    context = "An apple-pie, the (a)b thé café... the end"
    offsets = tokens_of(context, cuts={0: [1], 1: [3, 6, 9], 3: [2], 4: [2], 5: [3, 5], 6: [1]})
    for gs in range(4, len(offsets) - 1):
        for ge in range(gs, min(gs + 4, len(offsets) - 1)):
            gold = context[offsets[gs][0] : offsets[ge][1]]
            assert_matches_brute_force(context, offsets, [gold, "apple pie"], [gs], [ge], window=3)


def test_value_is_max_over_all_golds_of_the_example():
    # "lazy dog" is not in the window's gold list (e.g. it lies in another window) but still counts
    got = assert_matches_brute_force(CONTEXT, OFFSETS, ["brown fox", "lazy dog"], [6], [7], window=6)
    assert got[(12, 13)] == 1.0


def test_spans_outside_the_window_or_too_long_are_absent():
    got = as_dict(
        feature_span_f1(
            CONTEXT, OFFSETS, ["quick brown fox jumps"], [5], [9], False, lang="en", window=1, max_answer_length=30
        )
    )
    assert {i for i, _ in got} <= {4, 5, 6} and {j for _, j in got} <= {8, 9, 10}
    assert got[(5, 9)] == 1.0
    got = as_dict(
        feature_span_f1(
            CONTEXT, OFFSETS, ["quick brown fox jumps"], [5], [9], False, lang="en", window=8, max_answer_length=3
        )
    )
    assert max(j - i + 1 for i, j in got) == 3
    assert got[(5, 7)] == pytest.approx(2 * 0.75 / 1.75)  # 3 of 4 gold tokens, precision 1


def test_window_zero_keeps_only_the_gold_span():
    got = as_dict(
        feature_span_f1(CONTEXT, OFFSETS, ["brown fox"], [6], [7], False, lang="en", window=0, max_answer_length=30)
    )
    assert got == {(6, 7): 1.0}


def test_null_span_rules():
    null_only = {(0, 0): 1.0}
    assert as_dict(feature_span_f1(CONTEXT, OFFSETS, [], [], [], True, lang="en")) == null_only
    # answerable, but no gold inside this window: the window's target is the null span
    assert as_dict(feature_span_f1(CONTEXT, OFFSETS, ["brown fox"], [], [], False, lang="en")) == null_only


def test_gold_spans_must_be_passage_spans():
    with pytest.raises(ValueError, match="passage tokens"):
        feature_span_f1(CONTEXT, OFFSETS, ["x"], [1], [6], False, lang="en")
    with pytest.raises(ValueError, match="gold span"):
        feature_span_f1(CONTEXT, OFFSETS, ["x"], [7], [6], False, lang="en")
    with pytest.raises(ValueError, match="2 gold starts but 1 gold ends"):
        feature_span_f1(CONTEXT, OFFSETS, ["x"], [6, 7], [7], False, lang="en")
    bad = [list(o) for o in OFFSETS]
    bad[14] = [43, 50]
    with pytest.raises(ValueError, match="token 14 has offsets"):
        feature_span_f1(CONTEXT, bad, ["x"], [6], [7], False, lang="en")


# ----------------------------------------------------------------------------- property tests

_ALPHABET = "ab the an A THE ,.-'()é İ\u00a0\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=_ALPHABET, max_size=40))
def test_normalization_decomposes_over_whitespace_pieces(text):
    # the fact the English fast path is built on
    assert normalize_answer(text).split() == [t for piece in text.split() for t in normalize_answer(piece).split()]


@st.composite
def english_features(draw):
    words = draw(
        st.lists(
            st.sampled_from(
                ["the", "a", "An", "cat", "cats", "dog,", "(a)b", "é-t", "Über", "...", "c.a.t", "İthe", "the."]
            ),
            min_size=1,
            max_size=14,
        )
    )
    seps = draw(st.lists(st.sampled_from([" ", "  ", "\n", "\u00a0"]), min_size=len(words), max_size=len(words)))
    context = "".join(s + w for s, w in zip(seps, words))
    cuts = {}
    for w, word in enumerate(words):
        if len(word) > 1 and draw(st.booleans()):
            cuts[w] = sorted(draw(st.sets(st.integers(1, len(word) - 1), max_size=2)))
    offsets = tokens_of(context, cuts)
    first, last = 4, len(offsets) - 2
    gs = draw(st.integers(first, last))
    ge = draw(st.integers(gs, min(last, gs + 5)))
    golds = [context[offsets[gs][0] : offsets[ge][1]]] + draw(
        st.lists(st.sampled_from(["cat dog", "the", "a cat"]), max_size=2)
    )
    return context, offsets, golds, gs, ge, draw(st.integers(0, 4)), draw(st.integers(1, 8))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(english_features())
def test_english_fast_path_equals_brute_force(feature):
    context, offsets, golds, gs, ge, window, max_len = feature
    assert_matches_brute_force(context, offsets, golds, [gs], [ge], window=window, max_answer_length=max_len)


# ----------------------------------------------------------------------------- Chinese


def test_chinese_values_use_the_longest_common_substring():
    context = "北京大学位于北京市海淀区，大学北京。"
    offsets = [NP, NP, NP] + [[k, k + 1] for k in range(len(context))] + [NP]
    tok = {ch_idx: ch_idx + 3 for ch_idx in range(len(context))}  # char k is token k + 3
    got = assert_matches_brute_force(context, offsets, ["北京大学"], [tok[0]], [tok[3]], lang="zh")
    assert got[(tok[0], tok[3])] == 1.0
    # "北京大学位" vs "北京大学": lcs 4, p = 4/5, r = 1
    assert got[(tok[0], tok[4])] == pytest.approx(2 * 0.8 / 1.8)
    # "大学北京" (chars 13..16): bag overlap would be 4 of 4, the contiguous run is 2 -> F1 1/2
    far = assert_matches_brute_force(context, offsets, ["北京大学"], [tok[13]], [tok[16]], lang="zh", window=0)
    assert far == {(tok[13], tok[16]): 0.5}


def test_chinese_mixed_latin_tokens_match_brute_force():
    context = "版本3.5发布于2019年，支持Python和C++。"
    offsets = tokens_of(context, n_question=1)  # one passage token...
    offsets = offsets[:3] + [[k, k + 1] for k in range(len(context))] + [NP]  # ...replaced by chars
    for gs in range(3, 3 + len(context), 3):
        assert_matches_brute_force(
            context, offsets, [context[gs - 3 : gs], "Python"], [gs], [gs + 2], lang="zh", window=4
        )


# ----------------------------------------------------------------------------- tables of features


def small_dataset():
    """4 features: q0 and q1 with their gold, a q1 window without it, and the unanswerable q2."""
    contexts = [CONTEXT, "A cat sat on the mat. The dog sat too."]
    examples = {
        "id": ["q0", "q1", "q2"],
        "context": [contexts[0], contexts[1], contexts[1]],
        "answers": [
            {"text": ["brown fox"], "answer_start": [10]},
            {"text": ["the mat"], "answer_start": [13]},
            {"text": [], "answer_start": []},
        ],
    }
    off1 = tokens_of(contexts[1])  # passage tokens 4..13: A cat sat on the mat. The dog sat too.
    features = {
        "example_id": ["q0", "q1", "q1", "q2"],
        "example_index": [0, 1, 1, 2],
        "offset_mapping": [OFFSETS, off1, [NP] * 4 + off1[10:], off1],
        "gold_starts": [[6], [8], [], []],
        "gold_ends": [[7], [9], [], []],
        "is_impossible": [False, False, False, True],
    }
    return features, examples


def test_compute_f1_table_rows_follow_feature_order():
    features, examples = small_dataset()
    table = compute_f1_table(features, examples, lang="en", window=3, max_answer_length=10)
    assert len(table) == 4
    for k in range(2):
        ex = examples["context"][features["example_index"][k]]
        want = feature_span_f1(
            ex,
            features["offset_mapping"][k],
            examples["answers"][k]["text"],
            features["gold_starts"][k],
            features["gold_ends"][k],
            False,
            lang="en",
            window=3,
            max_answer_length=10,
        )
        assert as_dict(table.row(k)) == as_dict(want)
    assert as_dict(table.row(2)) == {(0, 0): 1.0}  # gold outside the window
    assert as_dict(table.row(3)) == {(0, 0): 1.0}  # unanswerable
    cols = table.as_columns()
    assert cols["f1_starts"][3] == [0] and cols["f1_values"][3] == [1.0]
    assert len(cols["f1_ends"][0]) == len(table.row(0)[1]) > 0
    with pytest.raises(IndexError):
        table.row(4)


def test_datasets_input_with_indices_mapping_matches_dict_input():
    features, examples = small_dataset()
    ds_feat = datasets.Dataset.from_dict(features).select([3, 1, 0, 2])
    ds_ex = datasets.Dataset.from_dict(examples)
    table = compute_f1_table(ds_feat, ds_ex, lang="en", window=3, max_answer_length=10)
    ref = compute_f1_table(features, examples, lang="en", window=3, max_answer_length=10)
    for k, orig in enumerate([3, 1, 0, 2]):
        assert as_dict(table.row(k)) == as_dict(ref.row(orig))


def test_bad_records_are_named():
    features, examples = small_dataset()
    features["example_id"][1] = "q9"
    with pytest.raises(ValueError, match=r"feature 1: example_id 'q9' but examples row 1 has id 'q1'"):
        compute_f1_table(features, examples, lang="en", window=3, max_answer_length=10)
    features, examples = small_dataset()
    features["offset_mapping"][1] = [list(o) for o in features["offset_mapping"][1]]
    features["offset_mapping"][1][5] = [30, 99]
    with pytest.raises(ValueError, match=r"feature 1 \(example 'q1'\): token 5 has offsets \[30, 99\]"):
        compute_f1_table(features, examples, lang="en", window=3, max_answer_length=10)
    features, examples = small_dataset()
    features["gold_starts"][0] = [1]
    with pytest.raises(ValueError, match=r"example 'q0'.*passage tokens"):
        compute_f1_table(features, examples, lang="en", window=3, max_answer_length=10)


def test_worker_processes_give_the_same_table(monkeypatch):
    features, examples = small_dataset()
    big = {k: v * 50 for k, v in features.items()}
    one = compute_f1_table(big, examples, lang="en", window=3, max_answer_length=10)
    monkeypatch.setattr(rewards.parallel, "_MIN_FEATURES_PER_PROC", 1)
    two = compute_f1_table(big, examples, lang="en", window=3, max_answer_length=10, num_proc=2)
    assert one.checksum() == two.checksum() and len(two) == 200


# ----------------------------------------------------------------------------- cache


@pytest.fixture
def counted(monkeypatch):
    calls = []
    real = rewards.parallel._compute_table

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(rewards.cache, "_compute_table", counting)  # the name the cache calls
    return calls


def cached(tmp_path, **overrides):
    features, examples = small_dataset()
    kwargs = dict(cache_dir=tmp_path, data_key="squad-test", lang="en", window=3, max_answer_length=10)
    kwargs.update(overrides)
    return load_or_compute_f1_table(features, examples, **kwargs)


def cache_files(tmp_path):
    return sorted(p for p in os.listdir(tmp_path) if p.endswith(".npz"))


def test_cache_round_trip_loads_without_recomputing(tmp_path, counted):
    first = cached(tmp_path)
    assert len(counted) == 1 and len(cache_files(tmp_path)) == 1
    second = cached(tmp_path)
    assert len(counted) == 1
    assert second.checksum() == first.checksum()
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []  # no temp file left behind


@pytest.mark.parametrize("change", [{"window": 4}, {"max_answer_length": 9}, {"data_key": "other"}, {"lang": "zh"}])
def test_changed_key_recomputes(tmp_path, counted, change):
    cached(tmp_path)
    cached(tmp_path, **change)
    assert len(counted) == 2 and len(cache_files(tmp_path)) == 2


def test_changed_inputs_recompute_even_with_the_same_data_key(tmp_path, counted):
    cached(tmp_path)
    features, examples = small_dataset()
    examples["answers"][0] = {"text": ["quick brown fox"], "answer_start": [4]}
    table = load_or_compute_f1_table(
        features, examples, cache_dir=tmp_path, data_key="squad-test", lang="en", window=3, max_answer_length=10
    )
    assert len(counted) == 2
    assert as_dict(table.row(0))[(5, 7)] == 1.0


def test_cache_version_is_part_of_the_key(tmp_path, counted, monkeypatch):
    cached(tmp_path)
    monkeypatch.setattr(rewards.cache, "CACHE_VERSION", rewards.CACHE_VERSION + 1)
    cached(tmp_path)
    assert len(counted) == 2


def test_truncated_cache_file_is_rebuilt(tmp_path, counted):
    good = cached(tmp_path)
    path = tmp_path / cache_files(tmp_path)[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.warns(RuntimeWarning, match="rebuilding the F1 reward cache"):
        rebuilt = cached(tmp_path)
    assert len(counted) == 2 and rebuilt.checksum() == good.checksum()
    assert load_f1_table(path).checksum() == good.checksum()  # and the file was rewritten


def test_corrupted_cache_bytes_are_detected(tmp_path, counted):
    good = cached(tmp_path)
    path = tmp_path / cache_files(tmp_path)[0]
    data = bytearray(path.read_bytes())
    target = good.values.tobytes()
    pos = bytes(data).find(target)
    assert pos > 0
    data[pos + 2] ^= 0xFF  # flip bits inside the stored values
    path.write_bytes(bytes(data))
    with pytest.raises(CacheError):
        load_f1_table(path)
    with pytest.warns(RuntimeWarning, match="rebuilding"):
        rebuilt = cached(tmp_path)
    assert len(counted) == 2 and rebuilt.checksum() == good.checksum()


def test_payload_checksum_catches_a_consistent_looking_file(tmp_path):
    good = cached(tmp_path)
    path = tmp_path / cache_files(tmp_path)[0]
    with np.load(path) as z:
        arrays = dict(z)
    arrays["values"] = arrays["values"] * np.float32(0.5)  # a valid zip, valid shapes, wrong rewards
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(CacheError, match="checksum"):
        load_f1_table(path)
    assert len(good) == 4


def test_table_shape_errors_are_cache_errors(tmp_path):
    table = F1Table.from_rows([(np.array([0]), np.array([0]), np.array([1.0]))])
    path = tmp_path / "t.npz"
    rewards.save_f1_table(table, path, "k")
    assert load_f1_table(path, "k", 1).nnz == 1
    with pytest.raises(CacheError, match="another key"):
        load_f1_table(path, "other")
    with pytest.raises(CacheError, match="1 rows for 2 features"):
        load_f1_table(path, "k", 2)


# ----------------------------------------------------------------------------- real tokenizer


def tiny_wordpiece_tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = (
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
        + list(string.ascii_lowercase)
        + ["##" + c for c in string.ascii_lowercase]
        + list(string.punctuation)
        + ["the", "fox", "brown", "over", "what", "who", "lazy", "dog", "##s", "cat"]
    )
    tok = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )


def test_rewards_on_features_from_a_real_tokenizer():
    features_mod = pytest.importorskip("gp_mrc.data.features")
    context = (
        "The quick brown fox jumps over the lazy dog. Meanwhile, a cat watched the fox and the dog "
        'from the hill; the cat\'s owner (Anna) said: "what a day!"'
    )
    records = [
        {
            "id": "a",
            "title": "t",
            "context": context,
            "question": "Who jumps?",
            "is_impossible": False,
            "answers": {"text": ["quick brown fox", "fox"], "answer_start": [4, 16]},
        },
        {
            "id": "b",
            "title": "t",
            "context": context,
            "question": "Who said it?",
            "is_impossible": False,
            "answers": {"text": ["Anna"], "answer_start": [context.index("Anna")]},
        },
        {
            "id": "c",
            "title": "t",
            "context": context,
            "question": "Why?",
            "is_impossible": True,
            "answers": {"text": [], "answer_start": []},
        },
    ]
    examples = datasets.Dataset.from_list(records)
    features = features_mod.prepare_features(
        examples, tiny_wordpiece_tokenizer(), max_seq_length=48, doc_stride=16, max_query_length=8
    )
    table = compute_f1_table(features, examples, lang="en", window=DEFAULT_F1_WINDOW, max_answer_length=12)
    assert len(table) == len(features) > 3  # several windows per example
    n_checked = 0
    for k, feat in enumerate(features):
        ex = records[feat["example_index"]]
        got = as_dict(table.row(k))
        if feat["is_impossible"] or not feat["gold_starts"]:
            assert got == {(0, 0): 1.0}
            continue
        want = brute_force(
            ex["context"],
            feat["offset_mapping"],
            ex["answers"]["text"],
            feat["gold_starts"],
            feat["gold_ends"],
            lang="en",
            window=DEFAULT_F1_WINDOW,
            max_answer_length=12,
        )
        assert set(got) == {s for s, v in want.items() if v > 0}
        for span, f1 in want.items():
            assert got.get(span, 0.0) == pytest.approx(f1, abs=1e-6)
            n_checked += 1
    assert n_checked > 100


# ----------------------------------------------------------------------------- verification, cache info


def test_verify_f1_table_accepts_a_good_table_and_reports_a_bad_one():
    features, examples = small_dataset()
    ds_feat, ds_ex = datasets.Dataset.from_dict(features), datasets.Dataset.from_dict(examples)
    table = compute_f1_table(ds_feat, ds_ex, lang="en", window=3, max_answer_length=10)
    report = rewards.verify_f1_table(
        table, ds_feat, ds_ex, lang="en", window=3, max_answer_length=10, n_samples=100, spans_per_feature=100
    )
    assert report.mismatches == [] and report.max_abs_diff < 1e-6
    n_window = sum(len(e) for e in rewards.candidate_spans(OFFSETS, [6], [7], 3, 10).values())
    assert report.n_checked > n_window  # zero-valued spans of the window are checked too
    values = table.values.copy()
    values[0] += 0.01
    bad = F1Table(table.row_ptr, table.starts, table.ends, values)
    report = rewards.verify_f1_table(
        bad, ds_feat, ds_ex, lang="en", window=3, max_answer_length=10, n_samples=1000, spans_per_feature=1000
    )
    assert len(report.mismatches) == 1 and "feature 0 (example 'q0')" in report.mismatches[0]
    assert report.max_abs_diff == pytest.approx(0.01, abs=1e-6)


def test_cache_info_and_overwrite(tmp_path):
    features, examples = small_dataset()
    kwargs = dict(cache_dir=tmp_path, data_key="k", lang="en", window=3, max_answer_length=10)
    _, info = rewards.load_or_compute_with_info(features, examples, **kwargs)
    assert not info.loaded and info.n_features == 4 and os.path.exists(info.path)
    _, info = rewards.load_or_compute_with_info(features, examples, **kwargs)
    assert info.loaded and info.seconds == 0.0
    _, info = rewards.load_or_compute_with_info(features, examples, overwrite=True, **kwargs)
    assert not info.loaded


# ----------------------------------------------------------------------------- scripts


def run_script(name: str, argv: list[str]) -> int:
    import importlib.util

    scripts = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts")
    spec = importlib.util.spec_from_file_location(name, os.path.join(scripts, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # no sys.path entry: the scripts import only the library
    return module.main(argv)


def test_precompute_and_check_scripts(tmp_path, capsys):
    pytest.importorskip("gp_mrc.data.examples")
    tok_dir = tmp_path / "tok"
    tiny_wordpiece_tokenizer().save_pretrained(str(tok_dir))
    context = "The quick brown fox jumps over the lazy dog. A cat watched the fox and the dog from the hill."
    data = {
        "version": "1.1",
        "data": [
            {
                "title": "t",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "id": "q1",
                                "question": "Who jumps?",
                                "answers": [{"text": "quick brown fox", "answer_start": 4}],
                            },
                            {
                                "id": "q2",
                                "question": "Who watched?",
                                "answers": [{"text": "A cat", "answer_start": 45}],
                            },
                        ],
                    }
                ],
            }
        ],
    }
    train_file = tmp_path / "train.json"
    train_file.write_text(__import__("json").dumps(data), encoding="utf-8")
    common = [
        "--train_file",
        str(train_file),
        "--model_name_or_path",
        str(tok_dir),
        "--max_seq_length",
        "40",
        "--doc_stride",
        "12",
        "--max_query_length",
        "8",
        "--cache_dir",
        str(tmp_path / "cache"),
    ]
    assert run_script("precompute_f1", common + ["--inspect", "40"]) == 0
    lines = [__import__("json").loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 40
    for entry in lines:
        assert set(entry) == {"id", "start", "end", "text", "f1"}
        assert context[entry["start"] : entry["end"]] == entry["text"]
        golds = {"q1": ["quick brown fox"], "q2": ["A cat"]}[entry["id"]]
        assert entry["f1"] == pytest.approx(f1_score(entry["text"], golds, "en"), abs=1e-6)
    assert len(cache_files(tmp_path / "cache")) == 1
    assert run_script("check_rewards", common + ["--n_samples", "50"]) == 0
    assert "mismatches: 0" in capsys.readouterr().out
    # training with the same data flags loads that very file (reward_table_inputs: one cache dir, key and window)
    from accelerate import Accelerator
    from transformers import AutoTokenizer

    from gp_mrc.settings import InferenceSettings
    from gp_mrc.training.config import DataConfig
    from gp_mrc.training.training_data import build_features, load_data

    config = DataConfig(
        model_name_or_path=str(tok_dir), train_file=(str(train_file),), cache_dir=str(tmp_path / "cache")
    )
    windows = InferenceSettings(max_seq_length=40, doc_stride=12, max_query_length=8)
    data = load_data(config, version_2=False, do_eval="auto", seed=42)
    build_features(
        data,
        config,
        windows,
        True,
        str(tmp_path / "run"),
        AutoTokenizer.from_pretrained(str(tok_dir)),
        Accelerator(cpu=True),
    )
    assert len(cache_files(tmp_path / "cache")) == 1
    script_table = rewards.load_f1_table(tmp_path / "cache" / cache_files(tmp_path / "cache")[0])
    assert data.f1_table.checksum() == script_table.checksum()


# ----------------------------------------------------------------------------- the bundled samples, real tokenizer


@pytest.mark.parametrize(
    "sample,lang,metric", [("sample_train.json", "en", "squad"), ("sample_zh_train.json", "zh", "cmrc")]
)
def test_bundled_sample_rewards_equal_the_metric_module(sample, lang, metric):
    """>= 1,000 (feature, span) pairs inside the pruning window of the bundled sample, windows cut by the
    packaged MiniLM tokenizer: cached f1 == the metric's F1 of the decoded text; and for stored entries the
    evaluate module itself (loaded by path, as evaluation does) gives the same number."""
    from transformers import AutoTokenizer

    from gp_mrc.data.examples import load_examples
    from gp_mrc.defaults import DATA_DIR, default_encoder_path
    from gp_mrc.data.features import prepare_features
    from gp_mrc.metrics import load_metric

    try:
        tokenizer = AutoTokenizer.from_pretrained(default_encoder_path())
    except FileNotFoundError as e:
        pytest.skip(str(e))
    examples = load_examples(os.path.join(DATA_DIR, sample), max_samples=150)
    features = prepare_features(examples, tokenizer, max_seq_length=96, doc_stride=32, max_query_length=24)
    table = compute_f1_table(features, examples, lang=lang, window=DEFAULT_F1_WINDOW, max_answer_length=30)
    report = rewards.verify_f1_table(
        table, features, examples, lang=lang, window=DEFAULT_F1_WINDOW, max_answer_length=30, n_samples=1000
    )
    assert report.mismatches == [] and report.n_checked >= 1000 and report.max_abs_diff <= 1e-3
    module = load_metric(metric)
    entries = rewards.sample_entries(table, features, examples, 12, seed=1)  # compute() is slow-ish
    golds = {ex["id"]: ex["answers"] for ex in examples}
    for e in entries:
        res = module.compute(
            predictions=[{"id": e["id"], "prediction_text": e["text"]}],
            references=[{"id": e["id"], "answers": golds[e["id"]]}],
        )
        assert res["f1"] / 100 == pytest.approx(e["f1"], abs=1e-3), e
