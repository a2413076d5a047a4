"""gp_mrc.metrics.scoring against values worked out by hand from the official SQuAD and CMRC2018 scripts."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gp_mrc.metrics.scoring import (
    answer_tokens,
    exact_match,
    f1_score,
    gold_answers,
    longest_common_substring,
    mixed_segmentation,
    word_tokenize,
    normalize_answer,
    remove_punctuation,
    token_f1,
)

# ----------------------------------------------------------------------------- English


@pytest.mark.parametrize(
    "raw, normalized",
    [
        ("The Quick, Brown-Fox!", "quick brownfox"),  # punctuation goes before articles are looked for
        ("an apple a day", "apple day"),
        ("Theater of the Absurd", "theater of absurd"),  # articles only as whole words
        ("the. a, AN!", ""),  # "the." loses its period, then is an article
        ("(a)b", "ab"),  # ...but "(a)b" becomes the word "ab", not an article
        ("  multiple\n\tspaces\u00a0here ", "multiple spaces here"),
        ("Ça, c'est l'été", "ça cest lété"),  # only ASCII punctuation is removed
        ("£5–10 “quoted”", "£5–10 “quoted”"),
    ],
)
def test_normalize_answer(raw, normalized):
    assert normalize_answer(raw) == normalized


def test_english_tokens_are_the_normalized_words():
    assert answer_tokens("The cat's hat, a red one.", "en") == ["cats", "hat", "red", "one"]


def test_f1_is_bag_of_tokens_overlap():
    # pred [cat, sat, on, mat] vs gold [cat, on, mat]: 3 common, p = 3/4, r = 1
    assert f1_score("the cat sat on the mat", ["a cat on a mat"], "en") == (2 * 0.75 * 1.0) / 1.75
    # order does not matter for SQuAD F1
    assert f1_score("mat the on cat", ["the cat on mat"], "en") == 1.0


def test_f1_counts_repeated_tokens_once_per_gold_occurrence():
    # Counter("cat cat cat") & Counter("cat dog") = {cat: 1}: p = 1/3, r = 1/2
    assert f1_score("cat cat cat", ["cat dog"], "en") == pytest.approx(0.4, abs=1e-15)


def test_scores_are_the_max_over_golds():
    golds = ["Denver Broncos", "Broncos of Denver"]
    # vs gold 1: p = 1, r = 1/2 -> 2/3; vs gold 2: p = 1, r = 1/3 -> 1/2
    assert f1_score("Denver", golds, "en") == 2 / 3
    assert exact_match("Denver", golds, "en") == 0.0
    assert exact_match("the BRONCOS of Denver!", golds, "en") == 1.0
    assert f1_score("the BRONCOS of Denver!", golds, "en") == 1.0


def test_no_overlap_scores_zero():
    assert f1_score("Carolina Panthers", ["Denver Broncos"], "en") == 0.0
    assert exact_match("Carolina Panthers", ["Denver Broncos"], "en") == 0.0


def test_unanswerable_question_is_scored_against_the_empty_answer():
    assert exact_match("", [], "en") == 1.0
    assert f1_score("", [], "en") == 1.0
    # a prediction that normalizes to nothing is the empty answer (v2: both token lists empty -> 1)
    assert exact_match("The", [], "en") == 1.0
    assert f1_score("The", [], "en") == 1.0
    assert exact_match("in France", [], "en") == 0.0
    assert f1_score("in France", [], "en") == 0.0


def test_empty_prediction_on_answerable_question_scores_zero():
    assert f1_score("", ["Normans"], "en") == 0.0
    assert f1_score("an", ["Normans"], "en") == 0.0
    assert exact_match("", ["Normans"], "en") == 0.0


def test_golds_that_normalize_to_nothing_are_dropped_like_evaluate_v2():
    assert gold_answers(["the", "cat", "."], "en") == ["cat"]
    assert gold_answers(["the"], "en") == [""]
    assert gold_answers([], "zh") == [""]
    # without the filter, "" vs the gold "the" would score 1
    assert f1_score("", ["the", "cat"], "en") == 0.0
    assert exact_match("", ["the", "cat"], "en") == 0.0


def test_token_f1_on_pretokenized_inputs():
    assert token_f1(["a", "b", "b"], ["b", "b", "c", "d"], "en") == (2 * (2 / 3) * 0.5) / (2 / 3 + 0.5)
    assert token_f1([], [], "en") == 1.0
    assert token_f1(["x"], [], "en") == 0.0


def test_golds_must_be_a_list_and_lang_known():
    with pytest.raises(TypeError, match="list of strings"):
        f1_score("cat", "cat", "en")
    with pytest.raises(ValueError, match="unknown metric language 'fr'"):
        f1_score("cat", ["cat"], "fr")


# ----------------------------------------------------------------------------- Chinese


def test_mixed_segmentation_splits_cjk_chars_and_tokenizes_other_runs():
    assert mixed_segmentation("我爱Python 3.6编程！") == ["我", "爱", "python", "3.6", "编", "程", "！"]
    assert mixed_segmentation("我爱Python 3.6编程！", rm_punc=True) == ["我", "爱", "python", "3.6", "编", "程"]
    # ASCII punctuation outside the CMRC list is kept as its own token
    assert answer_tokens("Hello, World!", "zh") == ["hello", ",", "world", "!"]
    assert answer_tokens("约1,000人", "zh") == ["约", "1,000", "人"]


def test_removed_special_chars_do_not_split_a_latin_run():
    # the official script `continue`s on a removed char without flushing the pending run
    assert mixed_segmentation("well-known球队", rm_punc=True) == ["wellknown", "球", "队"]
    assert mixed_segmentation("well-known球队") == ["well", "-", "known", "球", "队"]


def test_cmrc_ellipsis_quirk():
    # "……" in the official list is two characters: a single "…" never matches it
    assert remove_punctuation("红楼梦…") == "红楼梦…"
    assert answer_tokens("红楼梦…", "zh") == ["红", "楼", "梦", "…"]


def test_chinese_f1_uses_longest_common_substring_not_bag_overlap():
    # bag of characters: 4 of 4 in common (F1 1); contiguous: "北京" or "大学", 2 -> p = r = 1/2
    assert f1_score("北京大学", ["大学北京"], "zh") == 0.5
    assert token_f1(list("北京大学"), list("大学北京"), "en") == 1.0
    assert longest_common_substring(list("北京大学"), list("大学北京")) == 2


def test_chinese_f1_with_mixed_tokens():
    # [第, 3.5, 版] vs [3.5, 版, 本]: common run [3.5, 版] -> p = r = 2/3
    assert f1_score("第3.5版", ["3.5版本"], "zh") == (2 * (2 / 3) * (2 / 3)) / (4 / 3)
    assert f1_score("第3.5版", ["3.5版本", "第3.5版"], "zh") == 1.0


def test_chinese_exact_match_removes_cmrc_punctuation_only():
    assert exact_match("《红楼梦》", ["红楼梦"], "zh") == 1.0
    assert exact_match("Red-Mansion：", ["redmansion"], "zh") == 1.0
    assert exact_match("红楼梦。", ["红楼梦"], "zh") == 1.0
    # whitespace inside is not normalized for EM, but it is not a token for F1
    assert exact_match("红楼 梦", ["红楼梦"], "zh") == 0.0
    assert f1_score("红楼 梦", ["红楼梦"], "zh") == 1.0
    # "," is not in the CMRC list
    assert exact_match("红楼梦,", ["红楼梦"], "zh") == 0.0


def test_chinese_empty_answers():
    assert f1_score("", [""], "zh") == 1.0
    assert f1_score("", ["红楼梦"], "zh") == 0.0
    assert f1_score("。", ["红楼梦"], "zh") == 0.0  # only punctuation: no tokens left
    assert exact_match("", [], "zh") == 1.0


# nltk.word_tokenize's outputs (nltk 3.10, preserve_line=True), which the official CMRC2018 script uses on runs
# of non-CJK text: clitics, abbreviations, quotes, percent signs, the final period
TREEBANK_CASES = {
    'U.S. army, don\'t "go" 3.5% co-op.': [
        "U.S.",
        "army",
        ",",
        "do",
        "n't",
        "``",
        "go",
        "''",
        "3.5",
        "%",
        "co-op",
        ".",
    ],
    "mr. smith's car (red) -- fast...": ["mr.", "smith", "'s", "car", "(", "red", ")", "--", "fast", "..."],
    "cannot gonna wanna go": ["can", "not", "gon", "na", "wan", "na", "go"],
    "a: b, 1,000 c.": ["a", ":", "b", ",", "1,000", "c", "."],
    "x?! y;z @ #": ["x", "?", "!", "y", ";", "z", "@", "#"],
}


@pytest.mark.parametrize("text", TREEBANK_CASES)
def test_word_tokenize_gives_nltks_tokens(text):
    assert word_tokenize(text) == TREEBANK_CASES[text]


def test_cmrc_f1_counts_nltks_tokens():
    # "don't" is two tokens to nltk ("do", "n't"), so the gold has 4 and shares a run of 2 with the prediction's 2
    assert f1_score("iphone 6s", ["iphone 6s don't"], "zh") == pytest.approx(2 * (2 / 2) * (2 / 4) / (1 + 2 / 4))
    assert answer_tokens("约3.5%的人", "zh") == ["约", "3.5", "%", "的", "人"]


@given(st.text(alphabet="ab1 .,:;'\"`()[]-?!%$&…“”‘’«»\u2013", max_size=40))
@settings(max_examples=500, deadline=None)
def test_word_tokenize_equals_nltk_on_any_run(text):
    nltk_tokenize = pytest.importorskip("nltk.tokenize")
    assert word_tokenize(text) == nltk_tokenize.NLTKWordTokenizer().tokenize(text)
