"""Property: for random passages (Latin words, accents as combining marks, CJK, full-width punctuation, emoji)
and a random answer span, windows map the gold to tokens whose offsets cut exactly the answer characters,
and decoding a window that scores the gold highest returns exactly those characters."""

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gp_mrc.inference.decoding import best_answers
from gp_mrc.inference.window_topk import collect_results, topk_spans
from gp_mrc.data.features import prepare_features
from gp_mrc.method import MASK_VALUE, valid_span_mask
from test_features import make_examples

# Windows overlap by DOC_STRIDE tokens, so an answer of at most DOC_STRIDE tokens lies wholly inside some window.
MAX_SEQ_LENGTH, DOC_STRIDE = 80, 32
LATIN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=7)
ACCENTED = st.tuples(
    LATIN, st.sampled_from(["\u0301", "\u0308", "\u0303", "\u0327"]), st.text(alphabet="aeiou", max_size=2)
).map(lambda t: t[0] + t[1] + t[2])
CJK = st.sampled_from(list("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可张三临江县年"))
PUNCT = st.sampled_from(list("，。！？：；“”（）「」、.,!?;:"))
EMOJI = st.sampled_from(["🎉", "🍰", "👍🏽", "🚀", "❤️"])
# (text, needs spaces around it): Latin words and emoji merge with neighbours unless separated;
# CJK characters and punctuation are tokens of their own.
PIECE = st.one_of(
    LATIN.map(lambda t: (t, True)),
    ACCENTED.map(lambda t: (t, True)),
    EMOJI.map(lambda t: (t, True)),
    CJK.map(lambda t: (t, False)),
    PUNCT.map(lambda t: (t, False)),
)


@st.composite
def passage_and_answer(draw):
    pieces = draw(st.lists(PIECE, min_size=2, max_size=40))
    a = draw(st.integers(0, len(pieces) - 1))
    # at most 3 pieces: ≤ 27 tokens with the tiny character-level vocabulary (a piece is ≤ 9 characters once
    # accents are stripped), within DOC_STRIDE, so some window always holds the whole answer
    b = draw(st.integers(a, min(len(pieces) - 1, a + 2)))
    context, spans = "", []
    for n, (text, spaced) in enumerate(pieces):
        if context and (spaced or pieces[n - 1][1] or draw(st.booleans())):
            context += " "
        spans.append((len(context), len(context) + len(text)))
        context += text
    start, end = spans[a][0], spans[b][1]
    return context, start, end


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=passage_and_answer())
def test_random_passages_round_trip_the_exact_answer(tiny_tokenizer, case):
    context, start, end = case
    answer = context[start:end]
    ex = make_examples([(context, "what is it?", [(answer, start)])])
    feats = prepare_features(
        ex, tiny_tokenizer, max_seq_length=MAX_SEQ_LENGTH, doc_stride=DOC_STRIDE, max_query_length=8
    )
    batches, hits = [], 0
    for k, f in enumerate(feats):
        offs, n = f["offset_mapping"], len(f["input_ids"])
        passage = [o[0] >= 0 for o in offs]
        # every passage token covers real characters of the passage, in order
        cuts = [o for o in offs if o[0] >= 0]
        assert all(0 <= s < e <= len(context) for s, e in cuts)
        assert all(a[1] <= b[0] for a, b in zip(cuts, cuts[1:]))
        mask = valid_span_mask(torch.tensor([passage]), 30)
        s = torch.full((1, n, n), -5.0)
        for gs, ge in zip(f["gold_starts"], f["gold_ends"]):
            assert context[offs[gs][0] : offs[ge][1]] == answer
            s[0, gs, ge] = 10.0
            hits += 1
        batches.append((torch.tensor([k]), topk_spans(s.masked_fill(~mask, MASK_VALUE), mask, 3)))
    assert hits >= 1  # some window holds the whole answer
    preds, nbest, _ = best_answers(ex, feats, collect_results(batches), n_best_size=3)
    assert preds["q0"] == answer
    assert context[nbest["q0"][0]["start"] : nbest["q0"][0]["end"]] == answer
