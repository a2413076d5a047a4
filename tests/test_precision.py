"""bf16 where the hardware has it: the `auto` choice, and what bf16 changes in a model's answers (little)."""

import subprocess
import sys

import pytest
import torch

from gp_mrc.precision import (
    CPU_AMD_AVX512_BF16,
    CPU_AMX_BF16,
    CPU_AVX512_BF16,
    CPU_NO_BF16,
    cpu_bf16_is_faster,
    cpu_bf16_kind,
    parse_cpuinfo,
    resolve_mixed_precision,
)


def test_auto_is_bf16_only_where_faster():
    assert resolve_mixed_precision("auto", "cpu", cpu_bf16=True) == "bf16"
    assert resolve_mixed_precision("auto", "cpu", cpu_bf16=False) == "no"
    assert resolve_mixed_precision("auto", "cuda", cuda_bf16=False) == "no"
    assert resolve_mixed_precision("auto", "cuda", cuda_bf16=True) == "bf16"
    assert resolve_mixed_precision("auto", "mps") == "no"
    assert resolve_mixed_precision("no", "cpu", cpu_bf16=True) == "no"
    assert resolve_mixed_precision("bf16", "cpu", cpu_bf16=False) == "bf16"  # asked for explicitly: obeyed
    with pytest.raises(ValueError, match="mixed precision"):
        resolve_mixed_precision("fp8", "cpu")


def test_the_kinds_of_cpu_for_bf16(tmp_path, monkeypatch):
    """bf16 counts as faster with AMX and on AMD's AVX512-BF16; Intel's AVX512-BF16 alone ran slower than fp32."""

    def cpu(flags: str, vendor: str = "GenuineIntel") -> str:
        path = tmp_path / f"{vendor}_{flags.replace(' ', '_')}"
        path.write_text(f"processor\t: 0\nvendor_id\t: {vendor}\nflags\t\t: fpu sse2 avx2 {flags}\n")
        return str(path)

    amx, avx512, old = cpu("avx512f avx512_bf16 amx_tile amx_bf16"), cpu("avx512f avx512_bf16"), cpu("avx512f")
    zen4, zen3 = cpu("avx512f avx512_bf16 avx512_vnni", "AuthenticAMD"), cpu("", "AuthenticAMD")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("GP_MRC_CPU_BF16", raising=False)
    kinds = [cpu_bf16_kind(p) for p in (amx, zen4, avx512, old, zen3)]
    assert kinds == [CPU_AMX_BF16, CPU_AMD_AVX512_BF16, CPU_AVX512_BF16, CPU_NO_BF16, CPU_NO_BF16]
    assert [cpu_bf16_is_faster(p) for p in (amx, zen4, avx512, old, zen3)] == [True, True, False, False, False]
    assert cpu_bf16_kind(cpu("avx512_bf16", "HygonGenuine")) == CPU_AVX512_BF16  # unmeasured vendor: cautious fp32
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")  # oneDNN capped below AMX
    assert cpu_bf16_kind(amx) == CPU_AVX512_BF16 and not cpu_bf16_is_faster(amx)
    assert cpu_bf16_kind(zen4) == CPU_AMD_AVX512_BF16
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx512_core_amx")
    assert cpu_bf16_kind(amx) == CPU_AMX_BF16
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_VNNI")  # below bf16: emulated
    assert [cpu_bf16_kind(p) for p in (amx, avx512, zen4)] == [CPU_NO_BF16] * 3
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setenv("GP_MRC_CPU_BF16", "0")
    assert cpu_bf16_kind(amx) == CPU_NO_BF16 and cpu_bf16_kind(zen4) == CPU_NO_BF16


def test_parse_cpuinfo_reads_the_first_processor():
    text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2\n\nprocessor\t: 1\nvendor_id\t: X\nflags\t: sse\n"
    assert parse_cpuinfo(text) == ("AuthenticAMD", {"fpu", "avx2"})
    assert parse_cpuinfo("") == ("", set())
    assert parse_cpuinfo("vendor_id : GenuineIntel\n") == ("GenuineIntel", set())  # no flags line (not Linux x86)


def test_training_auto_resolves_per_machine(monkeypatch):
    from gp_mrc.training.arguments import parse_args
    from gp_mrc.training.loop import resolve_training_precision

    run = parse_args(["--cpu"]).run
    assert run.mixed_precision == "auto"
    monkeypatch.setenv("GP_MRC_CPU_BF16", "0")  # simulate a CPU without native bf16
    assert resolve_training_precision(run) == "no"
    assert run.mixed_precision == "auto"  # the configuration is not changed
    monkeypatch.delenv("GP_MRC_CPU_BF16")
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "fp16")  # `accelerate launch --mixed_precision` wins
    assert resolve_training_precision(parse_args(["--cpu"]).run) == "fp16"


def test_bf16_logits_finite_and_answers_equal_to_fp32(tiny_tokenizer, tiny_model):
    """The same model answers the same questions under fp32 and bf16 autocast: logits finite, every top-1 span
    equal, top-1 log-probabilities within 0.05 (bf16 keeps 8 bits of mantissa; the logits are computed in fp32
    from bf16 encoder states)."""
    from gp_mrc.data.examples import build_examples
    from gp_mrc.data.features import prepare_features
    from gp_mrc.inference.predict import answer_features, inference_loader
    from gp_mrc.precision import autocast
    from gp_mrc.settings import InferenceSettings

    ctx = "the river vell runs through cordale . cordale was founded in 1587 by wool traders from the north ."
    recs = [
        (
            f"r{i}",
            {
                "id": f"q{i}",
                "title": "",
                "context": ctx,
                "question": q,
                "answers": {"text": [], "answer_start": []},
                "is_impossible": None,
            },
        )
        for i, q in enumerate(["when was cordale founded?", "who founded cordale?", "what river?"])
    ]
    examples = build_examples(recs, source="t", version_2=True, require_answers=False)
    features = prepare_features(examples, tiny_tokenizer, max_seq_length=32, doc_stride=8, max_query_length=16)
    torch.manual_seed(0)
    model = tiny_model.eval()
    with torch.no_grad(), autocast("cpu", "bf16"):
        batch = next(iter(inference_loader(features, 0, 8)))
        out = model(**batch, max_answer_length=30)
    assert torch.isfinite(out.logits).all() and out.logits.dtype == torch.float32
    kw = dict(pad_token_id=0, batch_size=8, n_best_size=5)
    settings = InferenceSettings(max_answer_length=30, version_2_with_negative=False)
    p32, n32, _ = answer_features(model, examples, features, settings, mixed_precision="no", **kw)
    p16, n16, _ = answer_features(model, examples, features, settings, mixed_precision="bf16", **kw)
    assert p16 == p32
    for q in p32:
        assert n16[q][0]["score"] == pytest.approx(n32[q][0]["score"], abs=0.05)


def test_help_does_not_import_torch():
    code = (
        "import sys, runpy; sys.argv = ['train.py', '--help']\n"
        "try:\n    runpy.run_path('scripts/train.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'transformers', 'datasets', 'evaluate') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=_root())
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_argument_choices_agree_with_the_library():
    from gp_mrc import choices, precision
    from gp_mrc.inference import command as predict_command, decoding
    from gp_mrc.serving import command as serve_command
    from gp_mrc.training import arguments, objective

    def flag_choices(parser):
        return {a.dest: tuple(a.choices) for a in parser._actions if a.choices}

    train, predict, serve = (flag_choices(m.build_parser()) for m in (arguments, predict_command, serve_command))
    assert train["objective"] == choices.OBJECTIVES == objective.OBJECTIVES
    assert train["decoding"] == predict["decoding"] == choices.DECODINGS == decoding.DECODINGS
    assert (
        train["mixed_precision"]
        == predict["mixed_precision"]
        == serve["mixed_precision"]
        == precision.MIXED_PRECISION_CHOICES
    )


def _root():
    import os

    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
