"""gp_mrc/method.py is the method; the speed-ups wrap it. Each fast path (the band layout, the RoPE table cache, the
ONNX export's tables) is held equal to the plain functions on random inputs, in both span layouts, fp32 and bf16."""

import pytest
import torch

from gp_mrc.band import band_of, band_span_mask, band_start_plus_end
from gp_mrc.method import (
    MASK_VALUE,
    GlobalPointerHead,
    expected_f1_loss,
    objective_loss,
    rope_tables,
    span_cross_entropy,
    start_plus_end,
    valid_span_mask,
)
from gp_mrc.models import modeling
from gp_mrc.models.modeling import ONNX_ROPE_POSITIONS, cached_rope_tables, head_scores, span_output

from conftest import qa_batch, tiny_gp

DTYPES = [torch.float32, torch.bfloat16]


def _head(span_bias: bool, dtype: torch.dtype, seed: int = 0) -> GlobalPointerHead:
    torch.manual_seed(seed)
    head = GlobalPointerHead(16, head_size=8, use_rope=True, rope_base=10000.0, span_bias=span_bias)
    with torch.no_grad():  # k starts at zero with span_bias: give every term a value
        head.dense.weight.normal_(0, 0.5)
    return head.to(dtype)


def _passage(b: int, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    passage = torch.rand(b, n, generator=g) > 0.25
    passage[:, 0] = False  # [CLS]
    return passage


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("span_bias", [False, True])
def test_cached_rope_dense_scores_equal_the_plain_head(dtype, span_bias):
    head = _head(span_bias, dtype)
    hidden = torch.randn(3, 11, 16).to(dtype)
    with torch.no_grad():
        plain = head(hidden)
        fast = head_scores(head, hidden)
        again = head_scores(head, hidden)  # from the cache now
    assert plain.dtype == fast.dtype == torch.float32
    assert torch.equal(plain, fast) and torch.equal(fast, again)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("span_bias", [False, True])
def test_band_scores_and_mask_equal_the_dense_ones_cut_to_the_band(dtype, span_bias):
    head, w = _head(span_bias, dtype, seed=1), 4
    hidden = torch.randn(2, 13, 16).to(dtype)
    passage = _passage(2, 13)
    with torch.no_grad():
        dense = head(hidden)
        band = head_scores(head, hidden, band_width=w)
    mask = band_span_mask(passage, w)
    assert torch.equal(mask, band_of(valid_span_mask(passage, w), w))  # the same spans
    assert band.shape == (2, 13, w)
    assert torch.equal(band[mask], band_of(dense, w)[mask])  # the same scores, bit for bit


def test_band_start_plus_end_equals_the_dense_sum():
    start, end = torch.randn(2, 9), torch.randn(2, 9)
    passage = torch.ones(2, 9, dtype=torch.bool)
    mask = band_span_mask(passage, 3, allow_null=False)
    assert torch.equal(band_start_plus_end(start, end, 3)[mask], band_of(start_plus_end(start, end), 3)[mask])


@pytest.mark.parametrize("dtype", DTYPES)
def test_onnx_export_tables_are_slices_of_the_same_values(dtype, monkeypatch):
    cos, sin = cached_rope_tables(ONNX_ROPE_POSITIONS, 8, 10000.0, torch.device("cpu"), dtype)
    fresh = rope_tables(37, 8, 10000.0, None, dtype)
    assert torch.equal(cos[:37], fresh[0]) and torch.equal(sin[:37], fresh[1])
    head = _head(True, dtype, seed=2)
    hidden = torch.randn(2, 37, 16).to(dtype)
    with torch.no_grad():
        plain = head(hidden)
        monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)  # the branch the exporter takes
        exported = head_scores(head, hidden)
    assert torch.equal(plain, exported)


def test_rope_cache_is_bounded():
    modeling._ROPE_CACHE.clear()
    for n in range(80):
        cached_rope_tables(n + 1, 4, 10000.0, torch.device("cpu"), torch.float32)
    assert 0 < len(modeling._ROPE_CACHE) <= 65


def test_the_model_masks_the_plain_head_scores(tiny_tokenizer):
    """The transformers model's logits are the method's: head(hidden), masked to the valid spans and null."""
    model = tiny_gp(tiny_tokenizer).eval()
    batch = qa_batch(tiny_tokenizer, "who was born in 1875?", "he was born in 1875 in the city.")
    with torch.no_grad():
        out = model(**batch, max_answer_length=5)
        scores = model.head(model.hidden(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids")))
    mask = valid_span_mask(batch["passage_mask"].bool() & batch["attention_mask"].bool(), 5)
    assert torch.equal(out.span_mask, mask)
    assert torch.equal(out.logits, scores.masked_fill(~mask, MASK_VALUE))
    packaged = span_output(scores, batch["attention_mask"], batch["passage_mask"], 5, band=False)
    assert torch.equal(packaged.logits, out.logits)


@pytest.mark.parametrize("dtype", DTYPES)
def test_objective_loss_on_the_band_equals_the_dense_one(dtype):
    """The default's loss (span-softmax CE + expected F1) reads the band as it reads the dense matrix."""
    g = torch.Generator().manual_seed(3)
    n, w = 12, 4
    passage = _passage(2, n, seed=3)
    passage[:, 5:8] = True
    logits = torch.randn(2, n, n, generator=g).to(dtype)
    targets = torch.zeros(2, n, n, dtype=torch.bool)
    targets[:, 5, 7] = True
    f1 = torch.zeros(2, n, n)
    f1[:, 5, 7], f1[:, 5, 6], f1[:, 6, 7] = 1.0, 0.8, 0.5
    dense_mask = valid_span_mask(passage, w)
    band_mask = band_span_mask(passage, w)
    dense = objective_loss(logits, dense_mask, targets, f1, (1.0, 0.5), "softmax", 0.01)
    band = objective_loss(
        band_of(logits, w), band_mask, band_of(targets, w), band_of(f1, w), (1.0, 0.5), "softmax", 0.01
    )
    assert band[0].item() == pytest.approx(dense[0].item(), rel=1e-6)
    assert band[1] == pytest.approx(dense[1], rel=1e-6)
    ce = span_cross_entropy(logits, targets, dense_mask).mean()
    ef = expected_f1_loss(logits, f1, dense_mask, 0.01).loss.mean()
    assert dense[0].item() == pytest.approx((ce + 0.5 * ef).item(), rel=1e-6)  # the default's sum, by hand
