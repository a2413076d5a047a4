"""Numerics at the edges, for both losses (multilabel cross-entropy and expected F1): exact ±1e4 logits in the
worst direction, windows with every span masked, windows where no span can be the answer, bf16 inputs,
and real training steps under bf16 autocast on CPU. tests/test_losses.py already covers random ×1e4
logits and a no-positive batch; these add the cases below."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch

from gp_mrc.data.collate import SpanCollator
from band_reference import to_band
from gp_mrc.method import span_log_probs
from gp_mrc.method import expected_f1_loss, multilabel_categorical_crossentropy
from gp_mrc.method import GlobalPointerHead, valid_span_mask

from conftest import tiny_train_args, window_row, write_toy_data


def both_losses(logits, targets, f1, mask, lam=0.1):
    ml = multilabel_categorical_crossentropy(logits, targets, mask)
    ef = expected_f1_loss(logits, f1, mask, lam)
    return ml, ef


def case(n=12, max_len=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    passage = torch.zeros(3, n, dtype=torch.bool)
    passage[:, 3:] = True
    mask = valid_span_mask(passage, max_len)
    targets = torch.zeros(3, n, n, dtype=torch.bool)
    targets[0, 4, 6] = targets[1, 0, 0] = targets[2, 5, 5] = targets[2, 7, 8] = True
    f1 = torch.rand(3, n, n, generator=g) * mask
    return mask, targets, f1


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("band", [False, True])
def test_exact_extreme_logits_in_the_worst_direction(dtype, band):
    """Positives at −1e4, negatives at +1e4: each multilabel term is 1e4 + log(count), computed exactly
    (not inf); the softmax saturates but p·log p and the gradients stay finite."""
    mask, targets, f1 = case()
    logits = torch.where(targets, -1e4, 1e4).to(dtype).requires_grad_(True)
    m, lg, tg, f = to_band(5, mask, logits, targets, f1) if band else (mask, logits, targets, f1)
    ml, ef = both_losses(lg, tg, f, m)
    n_pos = (targets & mask).flatten(1).sum(1).double()
    n_neg = (~targets & mask).flatten(1).sum(1).double()
    big = torch.tensor(1e4, dtype=dtype).double()  # bf16 holds 1e4 as 9984
    expected = 2 * big + torch.log(n_pos) + torch.log(n_neg)
    torch.testing.assert_close(ml.double(), expected, rtol=1e-6, atol=0.01)
    assert torch.isfinite(ef.loss).all() and torch.isfinite(ef.entropy).all()
    (ml.sum() + ef.loss.sum()).backward()
    assert torch.isfinite(logits.grad.float()).all()
    assert logits.grad.float()[~mask].abs().max() == 0  # masked spans: exactly no gradient
    # and the other extreme: everything at −1e4 → uniform p over the valid spans
    low = torch.full_like(logits, -1e4)
    p = span_log_probs(low, mask).exp()
    torch.testing.assert_close(p.flatten(1).sum(1), torch.ones(3))
    torch.testing.assert_close(p[0][mask[0]], torch.full((int(mask[0].sum()),), 1 / mask[0].sum().item()))


def test_all_masked_window_is_finite_and_does_not_touch_the_others():
    mask, targets, f1 = case()
    logits = torch.randn(3, 12, 12, generator=torch.Generator().manual_seed(1)) * 30
    masked = mask.clone()
    masked[1] = False  # no valid span at all, not even the null span
    x = logits.clone().requires_grad_(True)
    ml, ef = both_losses(x, targets, f1, masked)
    (ml.sum() + ef.loss.sum()).backward()
    assert torch.isfinite(ml).all() and torch.isfinite(ef.loss).all() and torch.isfinite(x.grad).all()
    assert ml[1] == 0 and ef.loss[1] == 0 and ef.expected_f1[1] == 0
    assert x.grad[1].abs().max() == 0
    # the other windows' losses are what they are without the all-masked one in the batch
    keep = [0, 2]
    ml_alone, ef_alone = both_losses(logits[keep], targets[keep], f1[keep], mask[keep])
    torch.testing.assert_close(ml[keep], ml_alone)
    torch.testing.assert_close(ef.loss[keep], ef_alone.loss)


def test_window_without_a_reachable_answer():
    """The collator's target for a window without the answer is the null span alone, and its F1 rewards are
    all zero: multilabel pushes towards null, expected F1 reduces to −λ·entropy; both finite, and a few
    gradient steps raise p(null)."""
    rows = [
        {
            "input_ids": [2, 5, 6, 3, 7, 8, 9, 3],
            "attention_mask": [1] * 8,
            "feature_index": 0,
            "offset_mapping": [[-1, -1]] * 4 + [[0, 1], [2, 3], [4, 5], [-1, -1]],
            "gold_starts": [],
            "gold_ends": [],
        }
    ]
    batch = SpanCollator(0)(rows)
    assert batch["targets"][0, 0, 0] and batch["targets"].sum() == 1
    mask = valid_span_mask(batch["passage_mask"], 30)
    f1 = torch.zeros(1, 8, 8)
    x = torch.randn(1, 8, 8, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    p_null_before = span_log_probs(x, mask)[0, 0, 0].exp().item()
    for _ in range(5):
        ml, ef = both_losses(x, batch["targets"], f1, mask, lam=0.1)
        assert torch.isfinite(ml).all() and torch.isfinite(ef.loss).all()
        assert ef.expected_f1.item() == 0
        torch.testing.assert_close(ef.loss, -0.1 * ef.entropy)
        x.grad = None
        ml.sum().backward()
        assert torch.isfinite(x.grad).all()
        with torch.no_grad():
            x -= 0.5 * x.grad
    assert span_log_probs(x, mask)[0, 0, 0].exp().item() > p_null_before


def test_model_under_bf16_autocast_with_edge_windows(tiny_model, tiny_tokenizer):
    """One forward/backward of the tiny model under bf16 autocast on a batch holding a normal window, a window
    whose passage has no token, and a window without the answer; both losses on the band."""
    windows = [
        ("when was he born?", "he was born in 1875 .", (9, 9)),
        ("when?", "", None),
        ("who?", "the river was cold .", None),
    ]
    rows = [window_row(tiny_tokenizer, q, ctx, k, gold) for k, (q, ctx, gold) in enumerate(windows)]
    assert not any(o[0] >= 0 for o in rows[1]["offset_mapping"])
    batch = SpanCollator(tiny_tokenizer.pad_token_id)(rows)
    f1 = torch.zeros_like(batch["targets"], dtype=torch.float32)
    f1[0, 9, 9] = 1.0
    tiny_model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = tiny_model(**batch, max_answer_length=30)
        mask, logits, targets, f1b = to_band(30, out.span_mask, out.logits, batch["targets"], f1)
        ml, ef = both_losses(logits, targets, f1b, mask)
    assert out.span_mask[1].sum() == 1  # the null span only
    loss = ml.mean() + ef.loss.mean()
    loss.backward()
    assert torch.isfinite(ml).all() and torch.isfinite(ef.loss).all()
    grads = [p.grad for p in tiny_model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.fixture
def fresh_accelerate_state():
    """Accelerate keeps one process-wide state; a run with another mixed precision needs it reset."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)
    yield
    AcceleratorState._reset_state(True)


def test_training_steps_under_bf16_autocast_stay_finite(
    tiny_encoder_dir, tmp_path, monkeypatch, fresh_accelerate_state
):
    """scripts/train.py's loop with --mixed_precision bf16 on CPU: 3 steps, multilabel then mixed (both
    losses); every logged value finite, the saved weights finite and moved, autocast really on."""
    from safetensors.torch import load_file

    from gp_mrc.training.arguments import parse_args
    from gp_mrc.training.loop import train

    seen = []
    project = GlobalPointerHead.project  # what the model calls (q, k and the start/end terms at once)

    def recording_project(self, hidden):
        seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"), self.dense(hidden).dtype))
        return project(self, hidden)

    monkeypatch.setattr(GlobalPointerHead, "project", recording_project)
    data = write_toy_data(tmp_path / "toy.jsonl", n=12)
    out = tmp_path / "bf16"
    flags = (
        "--per_device_train_batch_size 4 --max_train_steps 3 --learning_rate 1e-2 --objective mixed"
        " --warm_start_steps 1 --mixed_precision bf16 --seed 0"
    )
    train(parse_args(tiny_train_args(tiny_encoder_dir, data, out, flags, "--cache_dir", str(tmp_path / "cache"))))
    assert seen and all(s == (True, torch.bfloat16, torch.bfloat16) for s in seen)
    with open(out / "train_log.jsonl") as f:
        log = [json.loads(line) for line in f]
    assert [r["objective"] for r in log] == ["softmax", "mixed", "mixed"]  # the default gold-span loss first
    for r in log:
        assert all(math.isfinite(v) for k, v in r.items() if isinstance(v, float)), r
    assert 0 <= log[-1]["expected_f1"] <= 1
    weights = load_file(os.path.join(out, "model.safetensors"))
    assert all(torch.isfinite(w).all() for w in weights.values())
    initial = load_file(os.path.join(tiny_encoder_dir, "model.safetensors"))
    name = next(k for k in initial if "word_embeddings" in k)
    assert not torch.equal(weights["encoder." + name], initial[name])


def test_banded_collator_equals_the_dense_matrix_cut_to_the_band():
    """Training's collator builds targets and rewards directly in the band layout (B, n, width): exactly what
    to_band makes of the dense (B, n, n) tensors, including golds longer than the band (dropped) and windows
    without the answer (the null span)."""
    from gp_mrc.rewards import F1Table

    rows, table_rows = [], []
    for k, (golds, f1) in enumerate(
        [
            (([9], [11]), ([9, 9, 8, 10], [11, 12, 11, 10], [1.0, 0.8, 0.7, 0.5])),
            (([], []), ([0], [0], [1.0])),
            (([4, 5], [4, 30]), ([4, 5, 3], [4, 30, 9], [1.0, 0.9, 0.4])),
        ]
    ):
        rows.append(
            {
                "input_ids": list(range(2, 40)),
                "attention_mask": [1] * 38,
                "feature_index": k,
                "offset_mapping": [[-1, -1]] * 3 + [[i, i + 1] for i in range(34)] + [[-1, -1]],
                "gold_starts": golds[0],
                "gold_ends": golds[1],
            }
        )
        table_rows.append(f1)
    table = F1Table.from_rows(table_rows)
    dense = SpanCollator(0, table)(rows)
    band = SpanCollator(0, table, max_answer_length=6)(rows)
    n = dense["input_ids"].shape[1]
    mask = valid_span_mask(dense["passage_mask"], 6)
    _, targets, f1 = to_band(6, mask, dense["targets"], dense["f1"])
    assert band["targets"].shape == (3, n, 6)
    assert torch.equal(band["targets"], targets) and torch.equal(band["f1"], f1)
    assert band["targets"][2].sum() == 1  # the gold (5, 30) is longer than the band
    assert torch.equal(
        SpanCollator(0, table, max_answer_length=n)(rows)["targets"], dense["targets"]
    )  # band ≥ n: dense
