"""CPU int8 (`Reader(..., quantize=...)`): the flag's values and rule, int8 answers near fp32 on a tiny model;
and the start/end reader's score: p_start · p_end in its window, as transformers' pipeline had it."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import BertForQuestionAnswering

from conftest import make_tiny_config, tiny_gp
from gp_mrc.precision import CPU_NO_BF16, cpu_bf16_kind
from gp_mrc.inference.quantization import resolve_quantize
from gp_mrc.inference.reader import Reader

C = "the king was born in 1811 . the queen was born in 1861 . the river is long ."
QS = ["when was the king born?", "when was the queen born?", "what is long?"]


def test_resolve_quantize_values():
    assert resolve_quantize("none", "cpu") == "none" and resolve_quantize("int8", "cpu") == "int8"
    assert resolve_quantize("none", "cuda") == "none"
    # int8 costs 1.6 F1 on the full SQuAD dev set with or without native bf16 (BENCHMARKS.md "CPU int8"): an
    # explicit choice, never picked for the user, so there is no `auto`
    for value in ("int4", "auto"):
        with pytest.raises(ValueError, match=r"quantize must be one of \('none', 'int8'\)"):
            resolve_quantize(value, "cpu")
    with pytest.raises(ValueError, match="runs on the CPU only"):
        resolve_quantize("int8", "cuda")


def test_a_onednn_isa_cap_without_bf16_counts_as_a_cpu_without_it(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_VNNI")
    assert cpu_bf16_kind() == CPU_NO_BF16
    monkeypatch.setenv("GP_MRC_CPU_BF16", "0")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    assert cpu_bf16_kind() == CPU_NO_BF16


def dynamic_int8_linears(model: torch.nn.Module) -> list[str]:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return [name for name, m in model.named_modules() if isinstance(m, DynamicLinear)]


def test_int8_answers_are_near_fp32(tiny_tokenizer):
    fp32 = Reader(tiny_gp(tiny_tokenizer), tiny_tokenizer, device="cpu", mixed_precision="no")
    int8 = Reader(tiny_gp(tiny_tokenizer), tiny_tokenizer, device="cpu", quantize="int8")
    assert int8.quantize == "int8" and int8.mixed_precision == "no" and dynamic_int8_linears(int8.model)
    assert not dynamic_int8_linears(fp32.model)
    assert type(int8.model.head.dense) is torch.nn.Linear  # the answer head stays fp32
    layer = int8.model.encoder.encoder.layer[0]
    assert type(layer.output.dense) is torch.nn.Linear  # the feed-forward down-projection stays fp32 ...
    assert type(layer.intermediate.dense) is not torch.nn.Linear  # ... the up-projection and attention do not
    assert type(layer.attention.self.query) is not torch.nn.Linear
    recs = [{"question": q, "context": C} for q in QS]
    a, b = fp32.answer(recs, top_k=10), int8.answer(recs, top_k=10)
    for x, y in zip(a, b):
        fx = {(e["start"], e["end"]): e["score"] for e in x}
        fy = {(e["start"], e["end"]): e["score"] for e in y}
        common = set(fx) & set(fy)
        assert len(common) >= 7  # mostly the same top 10 spans ...
        for span in common:  # ... with nearly the same probabilities
            assert abs(math.log(fx[span]) - math.log(fy[span])) < 0.05


def test_int8_layers_are_all_linears_but_the_down_projections():
    """BERT's `layer.N.output.dense` (4h → h) stays fp32; query/key/value, attention output and the up-projection
    go int8 — found by shape, so an ALBERT's `ffn_output` is left out the same way."""
    from transformers import BertModel

    from gp_mrc.inference.quantization import int8_layer_names

    enc = BertModel(make_tiny_config(50))
    names = set(int8_layer_names(enc))
    for i in range(enc.config.num_hidden_layers):
        p = f"encoder.layer.{i}."
        assert {
            p + "attention.self.query",
            p + "attention.self.key",
            p + "attention.self.value",
            p + "attention.output.dense",
            p + "intermediate.dense",
        } <= names
        assert p + "output.dense" not in names


def test_int8_with_bf16_is_refused(tiny_tokenizer):
    with pytest.raises(ValueError, match="mixed_precision 'bf16' cannot go with it"):
        Reader(tiny_gp(tiny_tokenizer), tiny_tokenizer, device="cpu", quantize="int8", mixed_precision="bf16")
    with pytest.raises(ValueError, match="quantize must be one of"):
        Reader(tiny_gp(tiny_tokenizer), tiny_tokenizer, device="cpu", quantize="yes")


def test_start_end_score_is_softmaxed_start_times_end_in_the_window(tiny_tokenizer):
    torch.manual_seed(1)
    qa = BertForQuestionAnswering(make_tiny_config(len(tiny_tokenizer))).eval()
    reader = Reader(qa, tiny_tokenizer, device="cpu", mixed_precision="no")
    q = QS[0]
    answers = reader.answer(
        [{"question": q, "context": C}], top_k=5, handle_impossible_answer=True, align_to_words=False
    )[0]  # token spans as scored: no widening to words
    enc = tiny_tokenizer(q, C, return_offsets_mapping=True, return_tensors="pt")
    with torch.no_grad():
        out = qa(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], token_type_ids=enc["token_type_ids"])
    seq = enc.sequence_ids(0)
    allowed = torch.tensor([s == 1 or i == 0 for i, s in enumerate(seq)])  # passage tokens and [CLS]
    ps = out.start_logits[0].masked_fill(~allowed, -math.inf).softmax(-1)
    pe = out.end_logits[0].masked_fill(~allowed, -math.inf).softmax(-1)
    offsets = enc["offset_mapping"][0].tolist()
    token_at_start = {o[0]: i for i, o in enumerate(offsets) if seq[i] == 1}
    token_at_end = {o[1]: i for i, o in enumerate(offsets) if seq[i] == 1}
    for x in answers:
        if x["answer"] == "":
            expected = float(ps[0] * pe[0])  # the null: [CLS] as start and end
        else:
            expected = float(ps[token_at_start[x["start"]]] * pe[token_at_end[x["end"]]])
        assert x["score"] == pytest.approx(expected, rel=1e-5)
