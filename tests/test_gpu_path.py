"""What the CUDA path needs that a CPU can check (issue #20): half-precision checkpoints train as fp32 master
weights, the loader options (workers, pinned memory) and the GPU bundle's encoder (the GPU study's definitions:
gp_mrc_lab/tests/test_gpu_study.py)."""

import importlib.util
import json
import os
import sys

import pytest
import torch

from gp_mrc.training.arguments import parse_args
from gp_mrc.training.model_init import fp32_master_weights, model_for_training
from gp_mrc.precision import describe_device
from gp_mrc.training.training_data import loader_options
from conftest import research_parse_args

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _script(name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tools", "gpu", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bf16_encoder_dir(tiny_encoder_dir, tmp_path_factory):
    """The tiny encoder saved in bf16, as the GPU bundle stores MiniLM (and as many hub checkpoints are)."""
    from transformers import AutoModel, AutoTokenizer

    d = str(tmp_path_factory.mktemp("bf16_encoder"))
    AutoModel.from_pretrained(tiny_encoder_dir).to(torch.bfloat16).save_pretrained(d)
    AutoTokenizer.from_pretrained(tiny_encoder_dir).save_pretrained(d)
    return d


@pytest.mark.parametrize("architecture", ["globalpointer", "start_end"])
def test_half_precision_checkpoint_trains_as_fp32_master_weights(bf16_encoder_dir, architecture, tmp_path):
    """transformers 5 loads a bf16 checkpoint in bf16, head included: AdamW steps of lr 1e-4 would round away."""
    from safetensors.torch import load_file

    args = parse_args(
        ["--model_name_or_path", bf16_encoder_dir, "--architecture", architecture, "--output_dir", str(tmp_path)]
    )
    model, _ = model_for_training(args)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    stored = load_file(os.path.join(bf16_encoder_dir, "model.safetensors"))
    name = "embeddings.word_embeddings.weight"
    mine = next(v for k, v in model.state_dict().items() if k.endswith(name))
    assert stored[name].dtype == torch.bfloat16
    assert torch.equal(mine, stored[name].float())  # the stored values, exactly, in fp32
    assert not fp32_master_weights(model)  # already fp32: left alone


def test_loader_options(tiny_encoder_dir):
    # a model folder named: the packaged encoder may be absent (the GPU machine has none)
    data = parse_args(["--model_name_or_path", tiny_encoder_dir]).data
    assert (data.dataloader_num_workers, data.dataloader_pin_memory) == (0, "auto")
    assert loader_options(0, "auto", "cpu") == {"num_workers": 0, "pin_memory": False}
    assert loader_options(0, "auto", "cuda") == {"num_workers": 0, "pin_memory": True}
    data = research_parse_args(
        ["--model_name_or_path", tiny_encoder_dir, "--dataloader_num_workers", "2", "--dataloader_pin_memory", "no"]
    ).data
    assert loader_options(data.dataloader_num_workers, data.dataloader_pin_memory, "cuda") == {
        "num_workers": 2,
        "pin_memory": False,
    }
    with pytest.raises(SystemExit):  # a parser error: one line, exit 2
        parse_args(["--model_name_or_path", tiny_encoder_dir, "--dataloader_num_workers", "-1"])
    assert describe_device(torch.device("cpu")) == "cpu"


def test_worker_processes_give_the_same_batches(tiny_tokenizer, tiny_encoder_dir):
    """Collation in worker processes changes nothing a run sees: the same batches in the same order."""
    from gp_mrc.data.examples import build_examples
    from gp_mrc.training.training_data import TrainingData, train_loader

    ctx = "the king was born in 1811 . the queen was born in 1861 ."
    recs = [
        (
            f"r{i}",
            {
                "id": f"q{i}",
                "title": "",
                "context": ctx,
                "question": "when was the king born?",
                "answers": {"text": ["1811"], "answer_start": [21]},
                "is_impossible": None,
            },
        )
        for i in range(20)
    ]
    from gp_mrc.data.features import prepare_features

    examples = build_examples(recs, source="t", version_2=False, require_answers=True)
    data = TrainingData(
        examples,
        None,
        "en",
        "squad",
        prepare_features(examples, tiny_tokenizer, max_seq_length=32, doc_stride=8, progress=False),
    )
    runs = []
    for workers in (0, 2):
        config = research_parse_args(
            [
                "--model_name_or_path",
                tiny_encoder_dir,
                "--per_device_train_batch_size",
                "4",
                "--dataloader_num_workers",
                str(workers),
                "--dataloader_pin_memory",
                "no",
            ]
        )
        loader, _ = train_loader(
            data,
            config.inference.max_answer_length,
            config.optim,
            0,
            config.data.dataloader_num_workers,
            config.data.dataloader_pin_memory,
        )
        assert loader.num_workers == workers and not loader.pin_memory
        runs.append(list(loader))
    assert len(runs[0]) == len(runs[1]) > 1
    for a, b in zip(*runs):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_bundle_encoder_is_minilm_rounded_to_bf16(tmp_path):
    """The bundle's encoder holds the packaged MiniLM's weights rounded to bf16, and trains from them in fp32."""
    from safetensors.torch import load_file

    from gp_mrc.defaults import default_encoder_path

    try:
        src = default_encoder_path()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    bundle = _script("make_gpu_bundle")
    out = str(tmp_path / "enc")
    bundle.encoder_bf16(out)
    assert os.path.getsize(os.path.join(out, "model.safetensors")) < 0.51 * os.path.getsize(
        os.path.join(src, "model.safetensors")
    )
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["dtype"] == "bfloat16"
    original, rounded = (
        load_file(os.path.join(src, "model.safetensors")),
        load_file(os.path.join(out, "model.safetensors")),
    )
    assert original.keys() == rounded.keys()
    for k, v in original.items():
        assert torch.equal(rounded[k], v.to(torch.bfloat16) if v.is_floating_point() else v), k
    model, _ = model_for_training(parse_args(["--model_name_or_path", out, "--output_dir", str(tmp_path)]))
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_reader_rejects_a_device_it_cannot_use(tiny_model, tiny_tokenizer):
    """A clear ValueError (predict.py prints it as one line), not a traceback from inside `model.to`."""
    from gp_mrc.inference.reader import Reader, resolve_device

    with pytest.raises(ValueError, match="'gpu' is not a torch device"):
        Reader(tiny_model, tiny_tokenizer, device="gpu")
    with pytest.raises(ValueError, match="'cuda:99': torch sees .* CUDA device"):
        resolve_device("cuda:99")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="use device='cpu'"):
            Reader(tiny_model, tiny_tokenizer, device="cuda")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
