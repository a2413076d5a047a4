"""The lab's ONNX Runtime benchmarks (gp_mrc_lab/onnx_speed.py, onnx_variants.py) on tiny readers of either
architecture: every system and variant scored against torch fp32; the `shipped` int8 variant is the export's own."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import make_tiny_config
from test_onnx import torch_folders

pytest.importorskip("onnxruntime")  # scripts/setup.sh installs the `onnx` extra


@pytest.fixture(scope="module")
def folders(tiny_tokenizer, tmp_path_factory) -> dict[str, str]:
    """{architecture: model folder}: a GlobalPointer with RoPE and start/end terms, and a start/end reader (those of
    tests/test_onnx.py, before their export)."""
    return torch_folders(tiny_tokenizer, tmp_path_factory.mktemp("onnx_lab"))


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path):
    """torch bf16 joins the benchmark's systems on a CPU whose flags name native bf16: AVX-512 without its BF16
    extension is not (a simulated /proc/cpuinfo)."""
    from gp_mrc_lab.onnx_speed import cpu_has_native_bf16

    old = tmp_path / "old"
    old.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n")
    new = tmp_path / "new"
    new.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n")
    assert not cpu_has_native_bf16(str(old))
    assert cpu_has_native_bf16(str(new))
    assert not cpu_has_native_bf16(str(tmp_path / "missing"))


def test_the_shipped_variant_is_the_exports_int8_and_8_bit_weights_use_the_whole_range(folders, tmp_path):
    """The variants study quantizes as the export does: its `shipped` graph has the export's int8 weights, 7-bit
    (reduce_range: no saturation without VNNI, in [-64, 63]); its `_8bit` variants use the whole [-127, 127]."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    from gp_mrc.inference.onnx_export import export_onnx
    from gp_mrc.inference.onnx_int8 import int8_matmuls
    from gp_mrc_lab.onnx_variants import quantize

    def int8_weights(path: str) -> dict[str, np.ndarray]:
        graph = onnx.load(path).graph
        return {w.name: numpy_helper.to_array(w) for w in graph.initializer if w.data_type == onnx.TensorProto.INT8}

    fp32 = export_onnx(folders["start_end"], str(tmp_path / "fp32"))
    shipped = int8_weights(export_onnx(folders["start_end"], str(tmp_path / "int8"), quantize="int8"))
    widest = {}
    for reduce_range in (True, False):
        path = str(tmp_path / f"variant_{reduce_range}.onnx")
        quantize(fp32, int8_matmuls(fp32), path, reduce_range=reduce_range)
        weights = int8_weights(path)
        assert weights.keys() == shipped.keys()  # the encoder's MatMuls went int8 both ways, the same ones
        widest[reduce_range] = max(int(np.abs(w.astype(np.int16)).max()) for w in weights.values())
        if reduce_range:
            assert all(np.array_equal(weights[k], shipped[k]) for k in shipped)
    assert widest[True] <= 64 and widest[False] > 64


@pytest.mark.parametrize("architecture", ["globalpointer", "start_end"])
def test_the_onnx_benchmark_scores_every_system_of_either_architecture(folders, tmp_path, architecture, monkeypatch):
    from conftest import write_toy_data

    from gp_mrc_lab import onnx_speed

    # the same systems on every CI machine: torch bf16 joins only on a CPU with native bf16
    monkeypatch.setattr(onnx_speed, "cpu_has_native_bf16", lambda: False)

    torch_dir = folders[architecture]
    dev = write_toy_data(tmp_path / "dev.jsonl", n=4)
    out = tmp_path / "bench.json"
    onnx_speed.main(
        [
            "--model",
            torch_dir,
            "--dev_file",
            dev,
            "--questions",
            "4",
            "--max_seq_length",
            "48",
            "--doc_stride",
            "16",
            "--repeats",
            "1",
        ]
        + ["--no_static", "--work_dir", str(tmp_path / "w"), "--output", str(out)]
    )
    result = json.loads(out.read_text())
    systems = {"predict.py torch fp32", "predict.py onnxruntime fp32", "predict.py onnxruntime int8 (dynamic)"}
    if architecture == "start_end":
        systems.add("transformers fp32 loop")
    assert set(result["f1"]) == systems and set(result["questions_per_s"]) == systems
    assert result["agreement_with_torch_fp32"]["predict.py onnxruntime fp32"] == 1.0  # exact scores: same answers
    import datasets

    assert torch.is_grad_enabled() and datasets.is_progress_bar_enabled()  # nothing left switched off for others


@pytest.mark.parametrize("architecture", ["globalpointer", "start_end"])
def test_the_int8_variants_study_scores_each_variant_against_fp32(folders, tmp_path, architecture):
    from conftest import write_toy_data

    from gp_mrc_lab.onnx_variants import main

    torch_dir = folders[architecture]
    dev = write_toy_data(tmp_path / "dev.jsonl", n=4)
    out = tmp_path / "variants.json"
    argv = ["--model", torch_dir, "--dev_file", dev, "--questions", "4", "--max_seq_length", "48", "--doc_stride", "16"]
    main(argv + ["--repeats", "1", "--work_dir", str(tmp_path / "w"), "--output", str(out)])
    got = json.loads(out.read_text())["variants"]
    layers = make_tiny_config(10).num_hidden_layers
    want = {"fp32", "shipped", "all"} | {f"shipped+down{k}" for k in range(layers)}
    assert want <= set(got) and got["fp32"]["agreement"] == 1.0 and got["fp32"]["speed_over_fp32"] == 1.0
    assert all(0.0 <= v["agreement"] <= 1.0 and v["forward_s"] > 0 for v in got.values())
    assert {f"{k}_8bit" for k in want - {"fp32"}} <= set(got)
    picked = tmp_path / "picked.json"
    main(
        argv + ["--repeats", "1", "--work_dir", str(tmp_path / "w2"), "--variants", "all_8bit", "--output", str(picked)]
    )
    assert set(json.loads(picked.read_text())["variants"]) == {"fp32", "all_8bit"}
    with pytest.raises(SystemExit, match="unknown --variants nope"):
        main(argv + ["--work_dir", str(tmp_path / "w3"), "--variants", "nope"])
