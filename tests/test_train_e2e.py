"""Train a tiny model for a few steps through the training entry point, predict, and evaluate."""

import json
import os
import subprocess
import sys

import pytest

from gp_mrc.inference.reader import Reader
from gp_mrc.training.arguments import parse_args
from gp_mrc.training.loop import train

from conftest import tiny_train_args, write_toy_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the module's run (and test_cuda.py's): batches of 8, 8 steps at 1e-3, seed 0
TRAINED_FLAGS = "--per_device_train_batch_size 8 --max_train_steps 8 --learning_rate 1e-3 --seed 0"


@pytest.fixture(scope="module")
def trained(tiny_encoder_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("e2e")
    data = write_toy_data(d / "toy.jsonl")
    out = str(d / "run")
    results = train(parse_args(tiny_train_args(tiny_encoder_dir, data, out, TRAINED_FLAGS, validate=True)))
    return out, data, results


def test_training_writes_model_predictions_and_metrics(trained):
    out, data, results = trained
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "predictions.json",
        "nbest_predictions.json",
        "eval_results.json",
        "train_log.jsonl",
    ):
        assert os.path.exists(os.path.join(out, name)), name
    with open(os.path.join(out, "config.json")) as f:  # one transformers config describes the whole model
        config = json.load(f)
    assert config["model_type"] == "gp_mrc" and config["encoder"]["model_type"] == "bert"
    assert not os.path.exists(os.path.join(out, "gp_mrc_config.json"))
    with open(os.path.join(out, "predictions.json")) as f:
        preds = json.load(f)
    assert sorted(preds) == sorted(f"x{i}" for i in range(40))
    with open(os.path.join(out, "eval_results.json")) as f:
        saved = json.load(f)
    assert 0.0 <= saved["exact_match"] <= saved["f1"] <= 100.0
    assert saved["exact_match"] == results["exact_match"]
    with open(os.path.join(out, "train_log.jsonl")) as f:
        steps = [json.loads(line)["step"] for line in f]
    assert steps == list(range(1, 9))


def test_reader_answers_with_exact_characters(trained):
    out, _, _ = trained
    reader = Reader.from_pretrained(out)
    ctx = "the king was born in 1811 . the queen was born in 1861 ."
    ans = reader("when was the king born?", ctx)
    # the pipeline's keys, and the expected F1 the folder's decoding ranked by (the one ordering contract)
    ranked_by = {"expected_f1"} if reader.settings.decoding == "expected_f1" else set()
    assert set(ans) == {"answer", "score", "start", "end"} | ranked_by
    assert ctx[ans["start"] : ans["end"]] == ans["answer"] and ans["answer"]
    assert 0 < ans["score"] <= 1
    top3 = reader("when was the king born?", ctx, top_k=3)
    assert len(top3) == 3 and top3[0] == ans
    # a GlobalPointer folder decodes by expected F1: the chosen answer first, then the others by probability
    assert reader.settings.decoding == "expected_f1" and top3[1]["score"] >= top3[2]["score"]
    by_prob = reader.answer([{"question": "when was the king born?", "context": ctx}], top_k=3, decoding="argmax")[0]
    assert by_prob[0]["score"] >= by_prob[1]["score"] >= by_prob[2]["score"]


@pytest.mark.slow
def test_predict_cli(trained, tmp_path):
    out, data, _ = trained
    cmd = [sys.executable, os.path.join(ROOT, "scripts", "predict.py"), "--model", out]
    r = subprocess.run(
        cmd
        + [
            "--question",
            "when was the king born?",
            "--context",
            "the king was born in 1811 . the queen was born in 1861 .",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    ans = json.loads(r.stdout.strip().splitlines()[0])
    assert "the king was born in 1811 . the queen was born in 1861 ."[ans["start"] : ans["end"]] == ans["answer"]
    assert "max_seq_length=64 doc_stride=16" in r.stderr  # the windows it was trained with
    r = subprocess.run(cmd + ["--input", data, "--output_dir", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "predictions.json") as f:
        assert len(json.load(f)) == 40


@pytest.mark.slow
def test_two_process_gloo_run_predicts_each_example_once(tiny_encoder_dir, tmp_path):
    data = write_toy_data(tmp_path / "toy.jsonl", n=37)  # odd size: the sampler pads the last batch
    out = tmp_path / "ddp"
    env = dict(os.environ, ACCELERATE_USE_CPU="true", OMP_NUM_THREADS="1")
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517"]
    flags = "--per_device_train_batch_size 4 --per_device_eval_batch_size 3 --max_train_steps 4"
    cmd = [*launch, os.path.join(ROOT, "scripts", "train.py"), "--cpu"]
    cmd += tiny_train_args(tiny_encoder_dir, data, out, flags, validate=True)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "MULTI_CPU" in r.stderr and "Num processes: 2" in r.stderr
    with open(out / "predictions.json") as f:
        preds = json.load(f)
    assert sorted(preds) == sorted(f"x{i}" for i in range(37))


def test_param_groups_put_the_head_at_its_own_learning_rate(tiny_model):
    from gp_mrc.training.optimization import param_groups

    groups = param_groups(tiny_model, 1e-4, 2e-3, 0.01)
    ids = {id(p): g for g in groups for p in g["params"]}
    assert len(ids) == sum(1 for _ in tiny_model.parameters())  # every parameter exactly once
    for name, p in tiny_model.named_parameters():
        g = ids[id(p)]
        assert g["lr"] == (2e-3 if name.startswith("head.") else 1e-4), name
        assert g["weight_decay"] == (0.0 if name.endswith("bias") or "LayerNorm" in name else 0.01), name
    assert {g["lr"] for g in param_groups(tiny_model, 1e-4, None, 0.01)} == {1e-4}


def test_layer_lr_decay_scales_each_encoder_block_by_its_depth(tiny_model):
    from gp_mrc.training.optimization import decay_exponents, param_groups

    names = [n for n, _ in tiny_model.named_parameters() if not n.startswith("head.")]
    blocks = 1 + max(int(n.split("layer.")[1].split(".")[0]) for n in names if ".layer." in n)
    groups = param_groups(tiny_model, 1e-4, 2e-3, 0.01, layer_decay=0.5)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert len(lr_of) == sum(1 for _ in tiny_model.parameters())
    for name, p in tiny_model.named_parameters():
        if name.startswith("head."):
            want = 2e-3  # the head keeps its own rate
        elif "embeddings" in name:
            want = 1e-4 * 0.5 ** (blocks + 1)
        elif ".layer." in name:
            k = int(name.split("layer.")[1].split(".")[0])
            want = 1e-4 * 0.5 ** (blocks - 1 - k)
        else:
            want = 1e-4
        assert abs(lr_of[id(p)] - want) < 1e-15, (name, lr_of[id(p)], want)
    assert decay_exponents(["a.embeddings.w", "encoder.layer.0.w", "encoder.layer.10.w", "pooler.w"]) == {
        "a.embeddings.w": 12,
        "encoder.layer.0.w": 10,
        "encoder.layer.10.w": 0,
        "pooler.w": 0,
    }
    assert param_groups(tiny_model, 1e-4, 2e-3, 0.01, layer_decay=1.0) == param_groups(tiny_model, 1e-4, 2e-3, 0.01)


def test_objective_switch_is_detected_once():
    from gp_mrc.training.objective import ObjectiveConfig

    def objective(name, warm, ramp=0):
        return ObjectiveConfig(name, warm, reward_ramp_steps=ramp)

    assert [s for s in range(20) if objective("f1", 6).switched(s)] == [6]
    assert [s for s in range(20) if objective("mixed", 6, 4).switched(s)] == [6]  # a ramp: one switch
    assert not any(objective("multilabel", 6).switched(s) for s in range(20))
    assert [objective("mixed", 2).phase(s) for s in range(4)] == ["softmax", "softmax", "mixed", "mixed"]


def test_reset_adam_moments_restores_full_size_steps():
    import torch

    from gp_mrc.training.optimization import reset_adam_moments

    def last_update(reset: bool) -> float:
        w = torch.nn.Parameter(torch.zeros(3))
        opt = torch.optim.AdamW([w], lr=0.01, weight_decay=0.0)
        for _ in range(20):  # large gradients: the multilabel phase
            w.grad = torch.full((3,), 10.0)
            opt.step()
        if reset:
            reset_adam_moments(opt)
        for _ in range(30):  # 100x smaller gradients: the expected-F1 phase
            before = w.detach().clone()
            w.grad = torch.full((3,), 0.1)
            opt.step()
        return (before - w.detach()).abs().max().item()

    # fresh moments: a constant gradient moves each weight by lr per step (m̂/√v̂ = 1); the old second moment
    # (β2 = 0.999) instead divides the small gradient by the big ones' scale long after the momentum has faded
    assert last_update(True) == pytest.approx(0.01, rel=1e-3)
    assert last_update(False) < 0.002


def _long_dev_file(path) -> str:
    """Questions over passages of several 64-token windows each (the toy facts repeated around the answer)."""
    with open(path, "w") as f:
        for i in range(12):
            y = 1800 + i
            filler = " ".join(f"the queen was born in {y + 50 + k} ." for k in range(4))
            ctx = f"{filler} the king was born in {y} . {filler}"
            answers = {"text": [str(y)], "answer_start": [ctx.index(f"king was born in {y}") + 17]}
            record = {"id": f"d{i}", "title": "t", "context": ctx, "question": "when was the king born?"}
            f.write(json.dumps({**record, "answers": answers}) + "\n")
    return str(path)


@pytest.mark.parametrize("architecture", ["globalpointer", "start_end"])
def test_predict_answers_what_the_evaluation_scored(architecture, tiny_encoder_dir, tmp_path):
    """One answer per folder, whatever the route: the answers training's evaluation scored (predictions.json) are
    Reader's / predict.py's first answers on the same file, question by question (several windows each)."""
    data, dev = write_toy_data(tmp_path / "toy.jsonl"), _long_dev_file(tmp_path / "dev.jsonl")
    out = str(tmp_path / architecture)
    flags = f"{TRAINED_FLAGS} --architecture {architecture}"
    results = train(parse_args(tiny_train_args(tiny_encoder_dir, data, out, flags, "--validation_file", dev)))
    with open(os.path.join(out, "predictions.json")) as f:
        scored = json.load(f)
    records = [json.loads(line) for line in open(dev)]
    reader = Reader.from_pretrained(out)
    answers = reader.answer([{k: r[k] for k in ("id", "question", "context")} for r in records])
    assert {r["id"]: (a[0]["answer"] if a else "") for r, a in zip(records, answers)} == scored
    assert 0 <= results["exact_match"] <= results["f1"] <= 100
