import torch

from gp_mrc.method import (
    MASK_VALUE,
    GlobalPointerHead,
    apply_rope,
    multilabel_categorical_crossentropy,
    rope_tables,
    span_scores,
    valid_span_mask,
)
from gp_mrc.models.modeling import GlobalPointerForQuestionAnswering, cached_rope_tables
from gp_mrc.inference.window_topk import topk_spans

from conftest import make_tiny_config, qa_batch, tiny_gp


def test_rope_scores_depend_on_relative_position_only():
    torch.manual_seed(0)
    n, d = 12, 16
    q = torch.randn(d).expand(1, n, d).clone()  # the same vector at every position
    k = torch.randn(d).expand(1, n, d).clone()
    s = span_scores(q, k, rope_tables(n, d, 10000.0))[0]
    for offset in range(-n + 1, n):
        diag = torch.diagonal(s, offset=offset)
        assert torch.allclose(diag, diag[0].expand_as(diag), atol=1e-5), offset
    # and the dependence is real: different offsets give different scores
    assert not torch.allclose(torch.diagonal(s, 1)[0], torch.diagonal(s, 5)[0])
    # without RoPE every entry is the same
    s0 = span_scores(q, k, None)[0]
    assert torch.allclose(s0, s0[0, 0].expand_as(s0))


def test_rope_is_a_rotation():
    x = torch.randn(2, 9, 8)
    cos, sin = rope_tables(9, 8, 10000.0, x.device, x.dtype)
    assert torch.allclose(apply_rope(x, cos, sin).norm(dim=-1), x.norm(dim=-1), atol=1e-5)


def test_valid_span_mask():
    passage = torch.tensor([[False, False, True, True, True, False]])
    m = valid_span_mask(passage, max_answer_length=2)[0]
    allowed = {(0, 0), (2, 2), (2, 3), (3, 3), (3, 4), (4, 4)}
    assert {tuple(x) for x in m.nonzero().tolist()} == allowed


def test_masking_no_invalid_span_can_be_decoded(tiny_model, tiny_tokenizer):
    tiny_model.eval()
    batch = qa_batch(tiny_tokenizer, "who was born in 1875?", "he was born in 1875 in the city.")
    with torch.no_grad():
        out = tiny_model(**batch, max_answer_length=30)
        # push every invalid span far above the valid ones: decoding must still ignore them
        hacked = torch.where(out.span_mask, out.logits, torch.full_like(out.logits, 1e4))
        top = topk_spans(hacked, out.span_mask, k=50)
    for s, e, lp in zip(top.starts[0].tolist(), top.ends[0].tolist(), top.log_probs[0].tolist()):
        if lp > float("-inf"):
            assert out.span_mask[0, s, e] and (s, e) != (0, 0) and s <= e
            assert batch["passage_mask"][0, s] and batch["passage_mask"][0, e]
    assert (out.logits[~out.span_mask] == MASK_VALUE).all()


def test_a_forward_without_a_limit_is_an_error(tiny_model, tiny_tokenizer):
    """The model holds no answer-length limit: its caller gives one (training's config, the inference settings)."""
    import pytest

    batch = qa_batch(tiny_tokenizer, "who was born?", "he was born in 1875.")
    with pytest.raises(TypeError, match="max_answer_length"):
        tiny_model(**batch)
    assert not hasattr(tiny_model.config, "max_answer_length")


def test_half_precision_masking_is_finite(tiny_model, tiny_tokenizer):
    batch = qa_batch(tiny_tokenizer, "who was born?", "he was born in 1875.")
    targets = torch.zeros(1, batch["input_ids"].shape[1], batch["input_ids"].shape[1], dtype=torch.bool)
    targets[0, 0, 0] = True
    for dtype in (torch.bfloat16, torch.float16):
        assert torch.tensor(MASK_VALUE, dtype=dtype).isfinite()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = tiny_model(**batch, max_answer_length=30)
            loss = multilabel_categorical_crossentropy(out.logits, targets, out.span_mask).mean()
        loss.backward()
        assert torch.isfinite(loss)
        assert all(torch.isfinite(p.grad).all() for p in tiny_model.parameters() if p.grad is not None)
        tiny_model.zero_grad()


def test_save_load_identical_logits(tiny_model, tiny_tokenizer, tmp_path):
    tiny_model.eval()
    batch = qa_batch(tiny_tokenizer, "what year?", "it was 1875 and 1876.")
    tiny_model.save_pretrained(str(tmp_path), tokenizer=tiny_tokenizer)
    loaded = GlobalPointerForQuestionAnswering.from_pretrained(str(tmp_path)).eval()
    with torch.no_grad():
        assert torch.equal(
            tiny_model(**batch, max_answer_length=30).logits, loaded(**batch, max_answer_length=30).logits
        )
    assert loaded.head_config == tiny_model.head_config


def test_load_missing_files_is_clear(tmp_path):
    import pytest

    from gp_mrc.models.loading import load_model

    with pytest.raises(FileNotFoundError, match="missing config.json, model.safetensors"):
        load_model(str(tmp_path))


def test_rope_tables_made_under_inference_mode_do_not_break_training():
    """Evaluation (inference_mode) can meet a sequence length first; training at that length must still work."""
    q = torch.randn(1, 13, 8)
    with torch.inference_mode():
        span_scores(q, q, cached_rope_tables(13, 8, 10000.0, q.device, q.dtype))
    qt = torch.randn(1, 13, 8, requires_grad=True)
    span_scores(qt, qt, cached_rope_tables(13, 8, 10000.0, qt.device, qt.dtype)).sum().backward()
    assert qt.grad is not None and torch.isfinite(qt.grad).all()


def test_span_bias_adds_start_and_end_terms():
    torch.manual_seed(0)
    head = GlobalPointerHead(8, head_size=4, use_rope=True, rope_base=10000.0, span_bias=True)
    h = torch.randn(2, 5, 8)
    with torch.no_grad():  # freshly initialised, the head is exactly a start/end reader: k = 0
        u = head.bias_dense(h)
        assert torch.equal(head(h), u[:, :, None, 0] + u[:, None, :, 1])
        torch.nn.init.normal_(head.dense.weight)  # now give the bilinear term a value
        q, k = head.dense(h).split(4, dim=-1)
        bilinear = span_scores(q, k, rope_tables(5, 4, 10000.0))
        u = head.bias_dense(h)
        s = head(h)
    for i in range(5):
        for j in range(5):
            assert torch.allclose(s[:, i, j], bilinear[:, i, j] + u[:, i, 0] + u[:, j, 1], atol=1e-6)
    # at the start the linear path gets gradient even when the bilinear path has none (q = k = 0)
    with torch.no_grad():
        head.dense.weight.zero_()
        head.dense.bias.zero_()
    head(h)[:, 1, 3].sum().backward()
    assert head.dense.weight.grad.abs().max() == 0
    assert head.bias_dense.weight.grad.abs().max() > 0


def test_span_bias_round_trip_and_old_folders_load(tiny_tokenizer, tmp_path):
    from gp_mrc.models.modeling import HeadConfig

    model = tiny_gp(tiny_tokenizer, span_bias=True)
    batch = qa_batch(tiny_tokenizer, "who was born in 1875?", "he was born in 1875 in the city.")
    model.save_pretrained(str(tmp_path / "bias"))
    loaded = GlobalPointerForQuestionAnswering.from_pretrained(str(tmp_path / "bias")).eval()
    assert loaded.head_config.span_bias
    with torch.no_grad():
        assert torch.equal(model(**batch, max_answer_length=30).logits, loaded(**batch, max_answer_length=30).logits)
    # a folder written before the option existed has no span_bias key: it loads as the plain head
    from legacy_folders import old_head_config, save_old_globalpointer

    plain = GlobalPointerForQuestionAnswering.from_encoder_config(
        make_tiny_config(len(tiny_tokenizer)), HeadConfig(head_size=16)
    )
    head = old_head_config(head_size=16)
    head.pop("span_bias")
    save_old_globalpointer(plain.encoder.config, plain.state_dict(), head, str(tmp_path / "old"))
    from gp_mrc.models.loading import load_model

    assert load_model(str(tmp_path / "old")).model.head.bias_dense is None
