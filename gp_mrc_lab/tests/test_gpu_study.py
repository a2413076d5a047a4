"""The GPU study's definitions: the studies and commands tools/gpu/gpu_study.sh runs, with the bundle
tools/gpu/make_gpu_bundle.py builds (the CPU-side checks of the CUDA path: tests/test_gpu_path.py)."""

import os

from test_gpu_path import _script


def test_gpu_study_definitions():
    from gp_mrc_lab import commands, rescoring, results, studies

    bundle = _script("make_gpu_bundle")
    assert studies.GPU_ENCODER == os.path.join("gpu_bundle", bundle.ENCODER_DIR)
    full, smoke = studies.STUDIES["squad_v1_full"], studies.STUDIES["squad_v1_full_smoke"]
    assert full.max_train_samples == 0 and full.steps == -(-95650 // 32)  # all 86,144 questions → 95,650 windows
    cmd = commands.command("squad_v1_full", "gp_sm_ad0__f1_added", 42)
    assert "--max_train_samples" not in cmd
    # the last value of a repeated flag wins: GPU batches, the bf16 MiniLM, attention dropout 0, the branch at 50%
    last = {flag: cmd[i + 1] for i, flag in enumerate(cmd[:-1]) if flag.startswith("--")}
    assert last["--per_device_train_batch_size"] == "32" and last["--mixed_precision"] == "bf16"
    assert last["--model_name_or_path"] == studies.GPU_ENCODER and last["--attention_dropout"] == "0"
    assert last["--warm_start_steps"] == str(2 * (2990 // 4)) and last["--objective"] == "mixed"
    assert cmd.count("--per_device_train_batch_size") == 1  # replaced, not overridden
    assert smoke.max_train_samples == 256 and smoke.steps == 9 and smoke.flags[-2:] == ("--max_eval_samples", "100")
    # a smoke study answers its first 100 dev questions: its result files score those, not all 2,288
    rescoring.GOLDS[smoke.validation_file] = {f"q{i}": ["x"] for i in range(2288)}
    try:
        assert list(rescoring.evaluated_golds(smoke)) == [f"q{i}" for i in range(100)]
        assert len(rescoring.evaluated_golds(full)) == 2288
    finally:
        del rescoring.GOLDS[smoke.validation_file]
    # a run's result file names the GPU it trained on; CPU runs keep the line they always had
    cpu_line = results.machine_of({})
    assert results.machine_of({"device": "cpu"}) == cpu_line
    assert (
        results.machine_of({"device": "NVIDIA H100 80GB HBM3 (CUDA 13.0, torch 2.11.0)"})
        == f"NVIDIA H100 80GB HBM3 (CUDA 13.0, torch 2.11.0); host {cpu_line}"
    )
