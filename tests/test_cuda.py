"""The CUDA path (issue #20): bf16 autocast training, `Reader` on a GPU, folders moved between GPU and CPU, and a
whole `train()` run there. Collected everywhere, run only where CUDA exists (on a lent GPU machine:
`bash tools/gpu/gpu_study.sh --smoke` runs this file first); skipped with that reason elsewhere."""

import json
import os

import pytest
import torch

# imported here, not inside the tests, so that a CPU run (where every test is skipped) still fails on a moved name
from gp_mrc.data.collate import SpanCollator
from gp_mrc.inference.reader import Reader
from gp_mrc.models.loading import load_model
from gp_mrc.precision import autocast
from gp_mrc.training.arguments import parse_args
from gp_mrc.training.loop import train
from gp_mrc.training.losses import batch_loss
from gp_mrc.training.objective import ObjectiveConfig

from conftest import tiny_train_args, window_row, write_toy_data
from test_train_e2e import TRAINED_FLAGS

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device (on a lent GPU: bash tools/gpu/gpu_study.sh --smoke)"
)

CTX = "the river vell runs through cordale . cordale was founded in 1587 by wool traders from the north ."
QUESTIONS = ["when was cordale founded?", "who founded cordale?", "what river runs through cordale?"]


def _batch(tokenizer, band: int = 8) -> dict[str, torch.Tensor]:
    """Three windows with their gold span ("1587", "wool traders", "vell") as targets and F1 rewards in the band."""
    rows = []
    for k, (q, gold) in enumerate(zip(QUESTIONS, ["1587", "wool traders", "vell"])):
        row = window_row(tokenizer, q, CTX, k)
        a, b = CTX.index(gold), CTX.index(gold) + len(gold)
        start = next(i for i, o in enumerate(row["offset_mapping"]) if o[0] == a)
        end = next(i for i, o in enumerate(row["offset_mapping"]) if o[1] == b)
        rows.append({**row, "gold_starts": [start], "gold_ends": [end]})
    batch = SpanCollator(tokenizer.pad_token_id, max_answer_length=band)(rows)
    batch["f1"] = batch["targets"].float()
    return batch


def _step(model, batch, precision: str) -> tuple[float, torch.Tensor]:
    """The default recipe's loss (span-softmax CE + expected F1) of one batch and the flattened gradient."""

    objective = ObjectiveConfig(
        "mixed", warm_start_steps=0, warm_start_loss="softmax", mixed_weight=1.0, reward_weight=1.0, reward_ramp_steps=0
    )
    model.zero_grad()
    with autocast("cuda", precision):
        loss, _ = batch_loss(objective, model(**batch, max_answer_length=8, banded=True), batch, step=3)
    loss.backward()
    return loss.item(), torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def test_bf16_autocast_step_is_finite_and_matches_fp32(tiny_model, tiny_tokenizer):
    model = tiny_model.cuda().eval()  # eval: no dropout, so both passes see the same network
    batch = {k: v.cuda() for k, v in _batch(tiny_tokenizer).items()}
    loss32, grad32 = _step(model, batch, "no")
    loss16, grad16 = _step(model, batch, "bf16")
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast leaves fp32 master weights
    assert torch.isfinite(grad16).all() and grad32.abs().max() > 1e-4
    assert loss16 == pytest.approx(loss32, rel=0.02, abs=1e-3)
    assert torch.nn.functional.cosine_similarity(grad16, grad32, dim=0) > 0.99
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    opt.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_reader_on_cuda_answers_as_on_cpu(tiny_model, tiny_tokenizer):

    records = [{"id": f"q{i}", "question": q, "context": CTX} for i, q in enumerate(QUESTIONS)]
    cpu = Reader(tiny_model, tiny_tokenizer, device="cpu", mixed_precision="no").answer(records, top_k=3)
    gpu_reader = Reader(tiny_model, tiny_tokenizer, device="cuda", mixed_precision="no")
    assert next(gpu_reader.model.parameters()).device.type == "cuda"
    gpu = gpu_reader.answer(records, top_k=3)
    for a, b in zip(cpu, gpu):
        assert [x["answer"] for x in a] == [x["answer"] for x in b]
        assert [(x["start"], x["end"]) for x in a] == [(x["start"], x["end"]) for x in b]
        assert [x["score"] for x in a] == pytest.approx([x["score"] for x in b], abs=1e-4)
    auto = Reader(tiny_model, tiny_tokenizer, device="cuda")  # auto: bf16 where the GPU has it
    assert auto.mixed_precision == ("bf16" if torch.cuda.is_bf16_supported() else "no")
    assert len(auto.answer(records)) == len(records)


def test_folder_saved_on_gpu_loads_on_cpu(tiny_model, tiny_tokenizer, tmp_path):

    model = tiny_model.cuda()
    model.save_pretrained(str(tmp_path), tokenizer=tiny_tokenizer)
    loaded = load_model(str(tmp_path)).model
    on_gpu = {k: v.cpu() for k, v in model.state_dict().items()}
    for k, v in loaded.state_dict().items():
        assert v.device.type == "cpu"
        torch.testing.assert_close(v, on_gpu[k], rtol=0, atol=0)
    answers = Reader.from_pretrained(str(tmp_path), device="cpu", mixed_precision="no")(
        question=QUESTIONS[0], context=CTX
    )
    assert CTX[answers["start"] : answers["end"]] == answers["answer"]


def test_train_on_cuda_end_to_end(tiny_encoder_dir, tmp_path):
    """`train()` on the GPU as the study runs it: --mixed_precision auto (bf16), batches collated in worker
    processes and pinned, the default recipe's reward phase; the device is recorded with the timing."""

    data = write_toy_data(tmp_path / "toy.jsonl")
    out = str(tmp_path / "run")
    flags = TRAINED_FLAGS + " --dataloader_num_workers 2"
    results = train(parse_args(tiny_train_args(tiny_encoder_dir, data, out, flags, validate=True)))
    with open(os.path.join(out, "training_args.json")) as f:
        args = json.load(f)
    assert args["mixed_precision"] == ("bf16" if torch.cuda.is_bf16_supported() else "no")
    assert results["device"].startswith(torch.cuda.get_device_name(0)) and results["peak_gpu_mb"] > 0
    with open(os.path.join(out, "train_log.jsonl")) as f:
        log = [json.loads(line) for line in f]
    assert [r["step"] for r in log] == list(range(1, 9)) and {r["objective"] for r in log} >= {"mixed"}
    assert all(r["loss"] == r["loss"] for r in log)  # finite (NaN != NaN)
    assert 0.0 <= results["exact_match"] <= results["f1"] <= 100.0
