import pytest

from gp_mrc.data.examples import build_examples
from gp_mrc.data.features import char_to_token_span, prepare_features


def make_examples(rows, version_2=False):
    recs = []
    for n, (ctx, q, answers) in enumerate(rows):
        recs.append(
            (
                f"r{n}",
                {
                    "id": f"q{n}",
                    "title": "",
                    "context": ctx,
                    "question": q,
                    "answers": {"text": [a for a, _ in answers], "answer_start": [s for _, s in answers]},
                    "is_impossible": None,
                },
            )
        )
    return build_examples(recs, version_2=version_2, require_answers=False)


LONG_EN = (
    "the river was long and cold . " * 6
    + "he was born in 1875 in the city of bay . "
    + "the king had a first queen . " * 6
)
LONG_ZH = "他们在这里工作。" * 8 + "张三于1875年出生在临江县。" + "这是一个大国家。" * 8


@pytest.mark.parametrize(
    "context, answer", [(LONG_EN, "1875 in the city of bay"), (LONG_ZH, "临江县"), (LONG_ZH, "1875年")]
)
def test_windows_round_trip_exact_gold_text(tiny_tokenizer, context, answer):
    start = context.index(answer)
    ex = make_examples([(context, "when was he born?", [(answer, start)])])
    feats = prepare_features(ex, tiny_tokenizer, max_seq_length=48, doc_stride=16, max_query_length=16)
    assert len(feats) > 2  # the passage really is split into windows
    found = 0
    for f in feats:
        offs = f["offset_mapping"]
        passage = [t for t, o in enumerate(offs) if o[0] >= 0]
        assert len(f["input_ids"]) <= 48
        for s, e in zip(f["gold_starts"], f["gold_ends"]):
            assert s in passage and e in passage
            assert context[offs[s][0] : offs[e][1]] == answer
            found += 1
        # a window whose passage covers the whole answer must list it; one that doesn't must not
        covers = offs[passage[0]][0] <= start and offs[passage[-1]][1] >= start + len(answer)
        assert bool(f["gold_starts"]) == covers
    assert found >= 1


def test_windows_cover_the_whole_passage(tiny_tokenizer):
    ex = make_examples([(LONG_EN, "who?", [("bay", LONG_EN.index("bay"))])])
    feats = prepare_features(ex, tiny_tokenizer, max_seq_length=40, doc_stride=10, max_query_length=8)
    covered = set()
    for f in feats:
        for s, e in f["offset_mapping"]:
            if s >= 0:
                covered.update(range(s, e))
    non_space = {i for i, c in enumerate(LONG_EN) if not c.isspace()}
    assert non_space <= covered


def test_all_golds_are_positives(tiny_tokenizer):
    ctx = "he was born in 1875 in the city of bay ."
    ex = make_examples([(ctx, "when?", [("1875", 15), ("in 1875", 12), ("1875", 15)])])
    f = prepare_features(ex, tiny_tokenizer, max_seq_length=64, doc_stride=16)[0]
    texts = {
        ctx[f["offset_mapping"][s][0] : f["offset_mapping"][e][1]] for s, e in zip(f["gold_starts"], f["gold_ends"])
    }
    assert texts == {"1875", "in 1875"}
    assert len(f["gold_starts"]) == 2  # the duplicate gold is kept once


def test_unanswerable_has_no_gold(tiny_tokenizer):
    ex = make_examples([("he was born in 1875 .", "who is the king?", [])], version_2=True)
    f = prepare_features(ex, tiny_tokenizer, max_seq_length=64, doc_stride=16)[0]
    assert f["is_impossible"] and f["gold_starts"] == []


def test_long_question_is_truncated_with_warning(tiny_tokenizer, caplog):
    q = "who was the first king of the city " * 20
    ex = make_examples([("the king was bay .", q, [("bay", 13)])])
    feats = prepare_features(ex, tiny_tokenizer, max_seq_length=48, doc_stride=8, max_query_length=16)
    assert "truncated" in caplog.text
    f = feats[0]
    assert sum(1 for o in f["offset_mapping"] if o[0] >= 0) > 0
    assert (
        "bay"
        == "the king was bay ."[f["offset_mapping"][f["gold_starts"][0]][0] : f["offset_mapping"][f["gold_ends"][0]][1]]
    )


def test_char_to_token_span():
    offs = [(-1, -1), (0, 2), (3, 7), (7, 9), (-1, -1)]
    assert char_to_token_span(offs, 3, 9) == (2, 3)
    assert char_to_token_span(offs, 4, 8) == (2, 3)  # partial tokens are included
    assert char_to_token_span(offs, 0, 12) is None  # runs past the window


def test_doc_stride_too_large_is_rejected(tiny_tokenizer):
    ex = make_examples([("a b c", "q?", [("b", 2)])])
    with pytest.raises(ValueError, match="doc_stride"):
        prepare_features(ex, tiny_tokenizer, max_seq_length=32, doc_stride=29)
