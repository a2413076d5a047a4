"""The compiled forward pass (gp_mrc/inference/compiled.py): the same answers as the eager model, one graph for
every window length and batch size, the eager model with one warning where compiling fails, and `auto` deciding
by the machine and the call's size."""

from __future__ import annotations

import threading

import pytest
import torch
from torch._dynamo.utils import counters

from gp_mrc.inference import compiled
from gp_mrc.inference.compiled import BREAK_EVEN_WINDOWS, break_even_windows, is_compiled, resolve_compile
from gp_mrc.inference.reader import Reader
from gp_mrc.precision import CPU_AMD_AVX512_BF16, CPU_AMX_BF16, CPU_AVX512_BF16, CPU_NO_BF16
from gp_mrc.settings import Runtime

from conftest import gp_mrc_warnings, tiny_bert_qa, tiny_gp

QUESTIONS = [
    {"question": "who founded the city", "context": "the city was founded by ana in the year one thousand . " * 9},
    {"question": "what is red", "context": "the apple is red and the sky is blue ."},
    {"question": "where is the river", "context": "a river runs through the old town near the hills ."},
]


def answers_of(reader: Reader) -> list[list[dict]]:
    return reader.answer(QUESTIONS, top_k=3, max_seq_length=64, doc_stride=24)


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["globalpointer", "start_end"])
@pytest.mark.parametrize("precision", ["no", "bf16"])
def test_compiled_answers_equal_eager_and_never_recompile(tiny_tokenizer, architecture, precision) -> None:
    make = (
        (lambda: tiny_gp(tiny_tokenizer)) if architecture == "globalpointer" else (lambda: tiny_bert_qa(tiny_tokenizer))
    )
    eager = Reader(make(), tiny_tokenizer, device="cpu", mixed_precision=precision, compile="no")
    torch._dynamo.reset()
    counters.clear()
    fast = Reader(make(), tiny_tokenizer, device="cpu", mixed_precision=precision, compile="yes")
    assert fast.compiled and is_compiled(fast.model)
    graphs = counters["stats"]["unique_graphs"]
    assert graphs <= 2  # windows of two or more, and of one (the compile's warm-up made both)
    got, want = answers_of(fast), answers_of(eager)
    assert [[a["answer"] for a in x] for x in got] == [[a["answer"] for a in x] for x in want]
    tolerance = 1e-4 if precision == "no" else 2e-2  # fp32: the same sums in another order; bf16: its rounding
    for x, y in zip(got, want):
        assert [a["score"] for a in x] == pytest.approx([a["score"] for a in y], abs=tolerance)
    fast.warm_up(batch_sizes=(1, 3, 32), lengths=(32, 64, 96, 384))  # other batch sizes and lengths: no new graph
    assert counters["stats"]["unique_graphs"] == graphs


@pytest.mark.slow
def test_two_compiled_models_in_one_process_answer_each_with_its_own_weights(tiny_tokenizer) -> None:
    """Frozen weights are constants of a compiled graph: a second model must not run on the first one's."""
    readers = {
        how: [Reader(tiny_bert_qa(tiny_tokenizer, seed), tiny_tokenizer, device="cpu", compile=how) for seed in (1, 2)]
        for how in ("no", "yes")
    }
    assert all(r.compiled for r in readers["yes"])
    eager, fast = ([answers_of(r) for r in readers[how]] for how in ("no", "yes"))
    assert eager[0] != eager[1]  # two different models
    for x, y in zip(fast, eager):
        assert [[a["answer"] for a in q] for q in x] == [[a["answer"] for a in q] for q in y]


def test_no_cpp_compiler_answers_eagerly_after_one_warning(tiny_tokenizer, monkeypatch, caplog) -> None:
    monkeypatch.setattr(torch._inductor.config.cpp, "cxx", ("/nonexistent/g++",))
    reader = Reader(tiny_gp(tiny_tokenizer), tiny_tokenizer, device="cpu", mixed_precision="no", compile="yes")
    assert not reader.compiled and reader.compile == "no"
    assert not is_compiled(reader.model)
    eager = Reader(tiny_gp(tiny_tokenizer), tiny_tokenizer, device="cpu", mixed_precision="no", compile="no")
    assert answers_of(reader) == answers_of(eager)
    assert reader.compile_now() is False  # no second try, no second warning
    warned = gp_mrc_warnings(caplog)
    assert len(warned) == 1 and warned[0].startswith("could not compile the model (") and "eager" in warned[0]


def test_a_compiler_failure_leaves_the_model_eager(tiny_tokenizer, monkeypatch, caplog) -> None:
    def broken(model, tokenizer, settings, mixed_precision, batch_sizes, lengths=None):
        raise RuntimeError("inductor: something it cannot trace\nmore detail")

    monkeypatch.setattr(compiled, "cpp_compiler_problem", lambda: None)
    monkeypatch.setattr("gp_mrc.inference.reader.warm_forward", broken)
    reader = Reader(tiny_gp(tiny_tokenizer), tiny_tokenizer, device="cpu", mixed_precision="no", compile="yes")
    assert not reader.compiled and not is_compiled(reader.model)
    assert gp_mrc_warnings(caplog) == [
        "could not compile the model (RuntimeError: inductor: something it cannot trace); answering with the eager "
        "model"
    ]


@pytest.mark.parametrize(
    "kind, precision, device, want",
    [
        (CPU_AMX_BF16, "bf16", "cpu", "auto"),
        (CPU_AMX_BF16, "no", "cpu", "auto"),
        (CPU_NO_BF16, "no", "cpu", "auto"),
        (CPU_AMD_AVX512_BF16, "bf16", "cpu", "no"),  # not measured: eager
        (CPU_AVX512_BF16, "no", "cpu", "no"),
        (CPU_AMX_BF16, "bf16", "cuda", "no"),
    ],
)
def test_auto_compiles_only_where_measured_faster(monkeypatch, kind, precision, device, want) -> None:
    monkeypatch.setattr(compiled, "cpu_bf16_kind", lambda: kind)
    assert resolve_compile("auto", device, precision) == want
    assert resolve_compile("yes", device, precision) == "yes" and resolve_compile("no", device, precision) == "no"


def test_compile_choices_and_what_rules_it_out() -> None:
    assert Runtime.compile == "auto"
    with pytest.raises(ValueError, match=r"compile must be one of \('auto', 'yes', 'no'\), got True"):
        resolve_compile(True, "cpu", "no")
    with pytest.raises(ValueError, match=r"compile='yes' compiles the torch model; it cannot go with int8 layers"):
        resolve_compile("yes", "cpu", "no", quantize="int8")
    with pytest.raises(ValueError, match="it cannot go with the onnxruntime backend"):
        resolve_compile("yes", "cpu", "no", backend="onnxruntime")
    assert resolve_compile("auto", "cpu", "no", backend="onnxruntime") == "no"
    assert resolve_compile("auto", "cpu", "no", quantize="int8") == "no"


def test_auto_compiles_a_call_of_the_break_even_size_only(tiny_tokenizer, monkeypatch) -> None:
    monkeypatch.setattr(compiled, "cpu_bf16_kind", lambda: CPU_AMX_BF16)
    calls = []
    monkeypatch.setattr("gp_mrc.inference.reader.compile_model", lambda model, warm: calls.append(model) or True)
    reader = Reader(tiny_gp(tiny_tokenizer), tiny_tokenizer, device="cpu", mixed_precision="no")
    assert reader.compile == "auto" and not reader.compiled
    answers_of(reader)  # a few windows: eager
    n = break_even_windows(reader.model)
    assert n == BREAK_EVEN_WINDOWS["globalpointer"] < break_even_windows(tiny_bert_qa(tiny_tokenizer))
    assert calls == [] and reader.compile_now(n - 1) is False
    assert reader.compile_now(n) is True and calls == [reader.model]
    assert reader.compile == "yes" and reader.compile_now() is True and len(calls) == 1  # once


def test_the_service_warms_every_window_length_in_both_lanes_before_it_is_ready(tiny_tokenizer) -> None:
    from fastapi.testclient import TestClient

    from gp_mrc.serving.app import create_app

    reader = Reader(tiny_gp(tiny_tokenizer), tiny_tokenizer, device="cpu", mixed_precision="no", batch_size=8)
    seen = []
    reader.model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append((threading.current_thread(), tuple(kwargs["input_ids"].shape))),
        with_kwargs=True,
    )
    app = create_app(reader, max_batch_windows=4, model_name="tiny")
    assert seen == []  # not before the service starts
    with TestClient(app) as client:  # the lifespan has run: the service is ready
        lanes = {thread for thread, _ in seen}
        assert len(lanes) == 2 and all(t.name.startswith("gp_mrc-model") for t in lanes)
        lengths = range(32, 385, 32)  # every bucket up to the reader's max_seq_length (384)
        for lane in lanes:
            assert sorted(shape for name, shape in seen if name == lane) == [(8, n) for n in lengths]
            # the reader's batch_size, whatever max_batch_windows: every forward pass is filled to it
        assert client.get("/health").json()["batching"]["model_calls"] == 0  # warming is no request
