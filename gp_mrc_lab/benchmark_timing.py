"""scripts/benchmark.py's speed measurements, interleaved so machine noise hits every system alike: inference
throughput of the trained models and of transformers' pipeline("question-answering"), and the training-step time of
the GlobalPointer head + loss against the start/end head (gp_mrc_lab/step.py)."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from typing import Callable

from gp_mrc.settings import MAX_ANSWER_LENGTH


def load_for_speed(model_dir: str):
    """(model, its folder's answer-length limit)."""
    from gp_mrc.models.loading import load_model

    loaded = load_model(model_dir)
    return loaded.model.eval(), loaded.settings.max_answer_length


def model_runners(args: argparse.Namespace, model_dirs: dict[str, str], examples, tokenizer) -> dict[str, Callable]:
    """{config: a call that answers the examples with its trained model (windows → decoding → answer text)}."""
    from gp_mrc.data.features import prepare_features
    from gp_mrc.inference.predict import answer_features
    from gp_mrc.settings import InferenceSettings

    models = {c: load_for_speed(d) for c, d in model_dirs.items()}
    runners = {}
    for c, (model, max_answer_length) in models.items():

        def run(model=model, max_answer_length=max_answer_length):
            feats = prepare_features(
                examples, tokenizer, max_seq_length=args.max_seq_length, doc_stride=args.doc_stride, desc="speed"
            )
            settings = InferenceSettings(
                max_answer_length=max_answer_length, version_2_with_negative=args.version_2_with_negative
            )
            answer_features(
                model,
                examples,
                feats,
                settings,
                pad_token_id=tokenizer.pad_token_id or 0,
                batch_size=32,
                n_best_size=20,
                disable_progress=True,
            )

        runners[c] = run
    return runners


def pipeline_runner(args: argparse.Namespace, model_dir: str, examples, tokenizer) -> Callable | None:
    """transformers' pipeline("question-answering") on (a)'s model over the examples: in --pipeline_python when
    given (timed there), else in this process; None where this transformers has no such pipeline."""
    from transformers import AutoModelForQuestionAnswering, pipeline

    questions, contexts = list(examples["question"]), list(examples["context"])
    pipe_kwargs = dict(
        batch_size=32,
        max_seq_len=args.max_seq_length,
        doc_stride=args.doc_stride,
        handle_impossible_answer=args.version_2_with_negative,
    )
    if args.pipeline_python:
        # the pipeline in another interpreter (transformers 4.x), timed there the same way
        def run_pipeline():
            code = (
                "import sys, json, time; from transformers import pipeline; a = json.loads(sys.stdin.read()); "
                "qa = pipeline('question-answering', model=a['model'], device=-1); t = time.perf_counter(); "
                "qa(question=a['q'], context=a['c'], **a['kw']); print(time.perf_counter() - t)"
            )
            payload = json.dumps({"model": model_dir, "q": questions, "c": contexts, "kw": pipe_kwargs})
            r = subprocess.run(
                [args.pipeline_python, "-c", code], input=payload, capture_output=True, text=True, check=True
            )  # stdin: 300 passages exceed the argv limit
            return float(r.stdout.strip().splitlines()[-1])

        return run_pipeline
    try:
        qa = pipeline(
            "question-answering",
            model=AutoModelForQuestionAnswering.from_pretrained(model_dir),
            tokenizer=tokenizer,
            device=-1,
        )
    except KeyError as e:  # transformers 5 removed the task
        print(f"pipeline('question-answering') unavailable here: {e}", flush=True)
        return None
    return lambda: qa(question=questions, context=contexts, **pipe_kwargs)


def measure_inference(args: argparse.Namespace, model_dirs: dict[str, str]) -> dict[str, float]:
    """Questions/s of each trained model (windows → decoding → answer text) and of the transformers pipeline."""
    import torch
    from transformers import AutoTokenizer

    from gp_mrc.data.examples import load_examples

    examples = load_examples(
        args.validation_file,
        version_2=args.version_2_with_negative,
        require_answers=False,
        max_samples=args.speed_samples,
    )
    tokenizer = AutoTokenizer.from_pretrained(next(iter(model_dirs.values())))
    runners = model_runners(args, model_dirs, examples, tokenizer)
    if "a" in model_dirs:
        run_pipeline = pipeline_runner(args, model_dirs["a"], examples, tokenizer)
        if run_pipeline is not None:
            runners["pipeline(a)"] = run_pipeline
    import datasets

    datasets.disable_progress_bars()
    times: dict[str, list[float]] = {k: [] for k in runners}
    with torch.inference_mode():
        for _ in range(args.speed_repeats):
            for k, run in runners.items():  # interleaved: noise hits every system alike
                t = time.perf_counter()
                inner = run()  # a subprocess reports its own timing (interpreter start-up excluded)
                times[k].append(inner if isinstance(inner, float) else time.perf_counter() - t)
    return {k: len(examples) / statistics.median(v) for k, v in times.items()}


def multilabel_and_expected_f1():
    """The heavier of our objectives, both losses at weight 1 (the mixed schedule after its warm start), as the
    training's own ObjectiveConfig computes them."""
    from gp_mrc.training.objective import ObjectiveConfig

    objective = ObjectiveConfig(
        "mixed",
        warm_start_steps=0,
        warm_start_loss="multilabel",
        mixed_weight=1.0,
        reward_weight=1.0,
        entropy_lambda=0.01,
        reward_ramp_steps=0,
    )
    assert objective.weights(0) == (1.0, 1.0)
    return objective


def measure_step_overhead(args: argparse.Namespace) -> dict[str, float]:
    """Median training-step time (collate + fwd + loss + bwd + AdamW, gp_mrc_lab/step.py) of GlobalPointer head +
    losses vs the start/end head, same encoder weights, same real batch, interleaved."""
    import torch

    from gp_mrc.defaults import default_encoder_path
    from gp_mrc.models.baseline import StartEndForQuestionAnswering
    from gp_mrc.models.modeling import GlobalPointerForQuestionAnswering, HeadConfig

    from .step import Timed, median_step_seconds, step_rows

    path = args.model_name_or_path or default_encoder_path()
    rows, collate = step_rows(
        path,
        args.train_file,
        max_seq_length=args.max_seq_length,
        doc_stride=args.doc_stride,
        batch_size=args.per_device_train_batch_size,
        max_answer_length=MAX_ANSWER_LENGTH,
        max_samples=200,
        version_2=args.version_2_with_negative,
        pad_to_multiple_of=args.max_seq_length,
    )
    torch.manual_seed(0)
    gp = GlobalPointerForQuestionAnswering.from_encoder(path, HeadConfig(span_bias=True))
    se = StartEndForQuestionAnswering.from_encoder(path)
    med = median_step_seconds(
        {"a": Timed(se, collate["start_end"]), "gp": Timed(gp, collate["globalpointer"])},
        rows,
        multilabel_and_expected_f1(),
        0,
        args.step_repeats,
    )
    n = collate["start_end"](rows)["input_ids"].shape[1]
    return {
        "start_end_step_s": med["a/fp32"],
        "globalpointer_step_s": med["gp/fp32"],
        "overhead_pct": 100.0 * (med["gp/fp32"] / med["a/fp32"] - 1.0),
        "batch": len(rows),
        "seq_len": n,
    }
