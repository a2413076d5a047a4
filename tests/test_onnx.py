"""The ONNX Runtime backend (issue #26): `gp-mrc export MODEL OUT --format onnx` writes a folder whose graph gives
the torch model's span scores (within 1e-4) and the same answers through Reader, predict and the service, for both
architectures; a missing extra, a broken model.onnx and a folder that is not a model are one `error:` line."""

from __future__ import annotations

import os
import sys

import pytest
import torch
from transformers import BertForQuestionAnswering

from conftest import make_tiny_config
from gp_mrc import cli
from gp_mrc.errors import UsageError
from gp_mrc.inference.onnx_backend import OnnxSpanModel, load_onnx_model, require_onnxruntime
from gp_mrc.inference.reader import Reader
from gp_mrc.models.loading import load_model, save_model
from gp_mrc.models.modeling import GlobalPointerForQuestionAnswering, HeadConfig

pytest.importorskip("onnxruntime")  # scripts/setup.sh installs the `onnx` extra; the missing-extra test fakes it

C = (
    "the king was born in 1811 . the queen was born in 1861 . the river is long . the city was founded in 1620 "
    "by the first king . "
) * 3
QS = ["when was the king born?", "what is long?", "who founded the city?"]
SETTINGS = dict(max_seq_length=48, doc_stride=16)  # several windows per passage, of different lengths


def torch_folders(tokenizer, root) -> dict[str, str]:
    """{architecture: model folder} under `root`: a GlobalPointer with RoPE and start/end terms (seed 0), and a
    start/end reader."""
    torch.manual_seed(0)
    gp = GlobalPointerForQuestionAnswering.from_encoder_config(
        make_tiny_config(len(tokenizer)), HeadConfig(head_size=16, span_bias=True)
    )
    with torch.no_grad():  # k starts at zero with span_bias: give the bilinear RoPE term a part in the scores
        gp.head.dense.weight.normal_(0, 0.5)
    save_model(gp, str(root / "gp"), tokenizer=tokenizer)
    save_model(BertForQuestionAnswering(make_tiny_config(len(tokenizer))), str(root / "se"))
    tokenizer.save_pretrained(str(root / "se"))
    return {"globalpointer": str(root / "gp"), "start_end": str(root / "se")}


@pytest.fixture(scope="module")
def folders(tiny_tokenizer, tmp_path_factory) -> dict[str, tuple[str, str]]:
    """{architecture: (torch folder, exported folder)}: a GlobalPointer with RoPE and start/end terms, and a
    start/end reader."""
    root = tmp_path_factory.mktemp("onnx")
    out = {}
    for arch, folder in torch_folders(tiny_tokenizer, root).items():
        assert cli.main(["export", folder, folder + "_onnx", "--format", "onnx"]) == 0
        out[arch] = (folder, folder + "_onnx")
    return out


def window_batch(tokenizer) -> dict[str, torch.Tensor]:
    """Windows longer than the export's sample and padded, in a batch of another size."""
    enc = tokenizer(
        QS, [C[:300], C[:120], C[:40]], truncation="only_second", max_length=96, padding=True, return_tensors="pt"
    )
    passage = (enc["token_type_ids"] == 1) & enc["attention_mask"].bool()
    return {
        "input_ids": enc["input_ids"],
        "attention_mask": enc["attention_mask"],
        "token_type_ids": enc["token_type_ids"],
        "passage_mask": passage,
    }


@pytest.mark.parametrize("architecture", ["globalpointer", "start_end"])
def test_exported_scores_equal_torch_fp32(folders, tiny_tokenizer, architecture):
    torch_dir, onnx_dir = folders[architecture]
    model = load_model(torch_dir).model
    exported, settings = load_onnx_model(onnx_dir)
    assert settings == load_model(torch_dir).settings  # the folder's inference settings travel with it
    batch = window_batch(tiny_tokenizer)
    assert batch["input_ids"].shape[1] > 40  # not the length the graph was traced at
    with torch.no_grad():
        a = model(**batch, max_answer_length=12)
    b = exported(**batch, max_answer_length=12)
    assert torch.equal(a.span_mask, b.span_mask)  # the band, the passage and the null span
    assert torch.allclose(a.logits, b.logits, atol=1e-4, rtol=0)
    if architecture == "globalpointer":
        assert a.logits[a.span_mask].std() > 0.1  # real scores, not a constant: the comparison means something
    else:
        assert a.raw_scores and b.raw_scores
        assert torch.allclose(a.start_log_probs, b.start_log_probs, atol=1e-4)


@pytest.mark.parametrize("architecture", ["globalpointer", "start_end"])
def test_an_exported_folder_answers_as_the_torch_one(folders, architecture):
    torch_dir, onnx_dir = folders[architecture]
    fp32 = Reader.from_pretrained(torch_dir, device="cpu", mixed_precision="no", **SETTINGS)
    ort = Reader.from_pretrained(onnx_dir, **SETTINGS)  # an exported folder picks ONNX Runtime by itself
    assert ort.backend == "onnxruntime" and isinstance(ort.model, OnnxSpanModel) and fp32.backend == "torch"
    recs = [{"question": q, "context": C} for q in QS]
    a, b = fp32.answer(recs, top_k=5), ort.answer(recs, top_k=5)
    assert [[(x["answer"], x["start"], x["end"]) for x in r] for r in a] == [
        [(x["answer"], x["start"], x["end"]) for x in r] for r in b
    ]
    assert all(abs(x["score"] - y["score"]) < 1e-4 for r, s in zip(a, b) for x, y in zip(r, s))
    # many passages: the same code path above the backend
    pa, pb = (r.answer_passages(QS[0], [C[:80], C[80:]], top_k=3) for r in (fp32, ort))
    assert [(x["answer"], x["passage"], x["start"]) for x in pa] == [
        (x["answer"], x["passage"], x["start"]) for x in pb
    ]
    assert len(pa) == 3 and all(abs(x["score"] - y["score"]) < 1e-4 for x, y in zip(pa, pb))


def test_predict_answers_with_the_exported_folder(folders, capsys):
    _, onnx_dir = folders["globalpointer"]
    argv = ["predict", "--question", QS[0], "--context", C, "--max_seq_length", "48", "--doc_stride", "16"]
    assert cli.main(argv + ["--model", onnx_dir, "--backend", "onnxruntime"]) == 0
    exported = capsys.readouterr().out
    assert cli.main(argv + ["--model", folders["globalpointer"][0], "--mixed_precision", "no"]) == 0
    assert exported.split('"score"')[0] == capsys.readouterr().out.split('"score"')[0]  # the same answer


def test_backend_onnxruntime_needs_an_exported_folder(folders, capsys):
    with pytest.raises(UsageError, match="gp-mrc export"):
        Reader.from_pretrained(folders["globalpointer"][0], backend="onnxruntime")
    with pytest.raises(ValueError, match="on the CPU as exported"):
        Reader.from_pretrained(folders["globalpointer"][1], quantize="int8")
    assert (
        cli.main(
            [
                "predict",
                "--model",
                folders["start_end"][0],
                "--backend",
                "onnxruntime",
                "--question",
                "q",
                "--context",
                "c",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "gp-mrc export" in err[0]


def test_a_broken_model_onnx_is_one_error_line(folders, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(folders["globalpointer"][1], broken)
    (broken / "model.onnx").write_bytes(b"not an onnx graph")
    with pytest.raises(OSError, match="not a usable ONNX model"):
        Reader.from_pretrained(str(broken))
    assert cli.main(["predict", "--model", str(broken), "--question", "q", "--context", "c"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "model.onnx" in err[0]


def test_exporting_a_folder_that_is_not_a_model_is_one_error_line(tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hello")
    assert cli.main(["export", str(tmp_path / "notes"), str(tmp_path / "out"), "--format", "onnx"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "not a model folder" in err[0]
    assert not os.path.exists(tmp_path / "out" / "model.onnx")


def test_a_missing_extra_names_the_install(monkeypatch, tiny_encoder_dir, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(UsageError, match=r"pip install gp_mrc\[onnx\]"):
        require_onnxruntime()
    assert cli.main(["export", tiny_encoder_dir, str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install gp_mrc[onnx]" in err[0]


def test_int8_export_quantizes_the_encoder_but_not_the_down_projections_or_head(folders, tmp_path, capsys):
    import onnx

    torch_dir, _ = folders["globalpointer"]
    out = tmp_path / "int8"
    assert cli.main(["export", torch_dir, str(out), "--quantize", "int8"]) == 0
    graph = onnx.load(str(out / "model.onnx")).graph
    fp32_matmuls = {n.name for n in graph.node if n.op_type == "MatMul"}
    integer = [n.name for n in graph.node if n.op_type in ("MatMulInteger", "DynamicQuantizeMatMul")]

    def int8_input(name: str) -> bool:  # dynamic int8 replaces the MatMul by an integer one named after it
        return name not in fp32_matmuls and any(i.startswith(name) for i in integer)

    assert int8_input("/encoder/encoder/layer.0/attention/self/query/MatMul")
    assert int8_input("/encoder/encoder/layer.1/intermediate/dense/MatMul")
    assert not int8_input("/encoder/encoder/layer.0/output/dense/MatMul")  # the down-projection stays fp32
    assert not int8_input("/dense/MatMul")  # the GlobalPointer head stays fp32
    fp32 = Reader.from_pretrained(torch_dir, device="cpu", mixed_precision="no", **SETTINGS)
    int8 = Reader.from_pretrained(str(out), **SETTINGS)
    recs = [{"question": q, "context": C} for q in QS]
    a, b = fp32.answer(recs, top_k=3), int8.answer(recs, top_k=3)
    assert [r[0]["answer"] for r in a] == [r[0]["answer"] for r in b]
    # a random tiny model: near-flat scores, 7-bit weights; the SQuAD figures are in BENCHMARKS.md
    assert all(abs(x[0]["score"] - y[0]["score"]) < 0.25 * x[0]["score"] for x, y in zip(a, b))
    assert cli.main(["export", str(tmp_path / "none"), str(tmp_path / "x"), "--quantize", "int8"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: ")


def test_int8_weights_are_7_bit(folders, tmp_path):
    """reduce_range (the export's choice: no saturation on CPUs without VNNI) keeps the int8 weights in [-64, 63]
    (the lab's 8-bit variant: gp_mrc_lab/tests/test_onnx_lab.py)."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    from gp_mrc.inference.onnx_export import export_onnx

    torch_dir, _ = folders["start_end"]
    graph = onnx.load(export_onnx(torch_dir, str(tmp_path / "int8"), quantize="int8")).graph
    weights = [numpy_helper.to_array(w) for w in graph.initializer if w.data_type == onnx.TensorProto.INT8]
    assert weights  # the encoder's MatMuls went int8
    assert max(int(np.abs(w.astype(np.int16)).max()) for w in weights) <= 64


def test_the_service_answers_with_an_exported_folder(folders):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from gp_mrc.serving.app import create_app

    torch_dir, onnx_dir = folders["globalpointer"]
    fp32 = Reader.from_pretrained(torch_dir, device="cpu", mixed_precision="no", **SETTINGS)
    body = {"inputs": {"question": QS[0], "context": C}, "parameters": {"top_k": 2}}
    with TestClient(create_app(Reader.from_pretrained(onnx_dir, **SETTINGS), model_name="x")) as c:
        assert c.get("/health").json()["architecture"] == "globalpointer"
        got = c.post("/", json=body).json()
    assert [a["answer"] for a in got] == [a["answer"] for a in fp32.answer([body["inputs"]], top_k=2)[0]]


def test_cpu_threads_sets_the_session_threads_and_the_service_passes_its_own(folders, monkeypatch):
    _, onnx_dir = folders["start_end"]
    one = Reader.from_pretrained(onnx_dir, cpu_threads=1, **SETTINGS)
    assert one.model.session.get_session_options().intra_op_num_threads == 1
    records = [{"question": q, "context": C} for q in QS]
    assert one.answer(records) == Reader.from_pretrained(onnx_dir, **SETTINGS).answer(records)
    with pytest.raises(ValueError, match="cpu_threads must be a positive integer"):
        Reader.from_pretrained(onnx_dir, cpu_threads=0)

    pytest.importorskip("fastapi")
    from conftest import free_port

    from gp_mrc.serving import command

    port = free_port()
    seen = {}

    def stop(path, **kw):  # the service's load, stopped before it serves
        seen.update(kw)
        raise OSError("stopped here")

    monkeypatch.setattr(Reader, "from_pretrained", staticmethod(stop))
    assert command.main(["--model", onnx_dir, "--port", str(port), "--cpu_threads", "3"]) == 2
    assert seen["cpu_threads"] == 3
