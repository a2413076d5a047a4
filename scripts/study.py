#!/usr/bin/env python
"""The quality study: which objective and decoding win, under one fixed protocol, across sessions.

Each run is `scripts/train.py` in a subprocess under the study's fixed flags. GlobalPointer variants that share
a warm start branch from one *trunk* run per seed: the trunk saves checkpoints every quarter of training, and a
branch resumes from the trunk's checkpoint with its own objective (the data order, learning-rate schedule and
RNG continue exactly, so a branch equals the run it replaces at a fraction of its cost).

Every finished run leaves a small result file `benchmarks/results/<study>/<variant>-seed<N>.json` (arguments,
final EM/F1 under each decoding, the learning curve, timing, machine; no weights) meant to be committed, so a
study continues in the next session on any machine; `report` rebuilds every table from those files alone.

    python scripts/study.py run --study squad_v1_4k --variants start_end gp_ml gp_ml__f1 --seeds 42 43 44
    python scripts/study.py collect --study squad_v1_4k      # result files from finished run folders
    python scripts/study.py report                            # markdown tables (also: benchmark.py --report)
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from gp_mrc.atomic import write_text_atomic  # noqa: E402  (light: no torch)
SHARED = os.environ.get("GP_MRC_SHARED_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data"))
# overridable so that a frozen copy of the code (a git worktree) can run the study into this checkout
RESULTS = os.environ.get("GP_MRC_STUDY_RESULTS", os.path.join(ROOT, "benchmarks", "results"))
RUNS = os.environ.get("GP_MRC_STUDY_RUNS", os.path.join(ROOT, "runs", "study"))
TEMPERATURES = (0.25, 0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Study:
    train_file: str | tuple[str, ...]  # several: trained on as one set, in order
    validation_file: str
    max_train_samples: int
    steps: int  # optimizer steps of the protocol (1 epoch): checkpoints and branch points are fractions of it
    flags: tuple[str, ...] = ()
    lang: str = "en"
    # the study whose finished run of the same variant (a branch: its trunk) and seed each run starts from
    init_from: str | None = None
    encoder: str | None = None  # an optional packaged encoder (gp_mrc.defaults.OPTIONAL_ENCODERS); None: MiniLM
    # (name, file) pairs answered after training by the saved model (Reader, argmax n-best) and scored like the dev
    # file: out-of-domain checks beside the headline validation file
    extra_evals: tuple[tuple[str, str], ...] = ()


PROTOCOL = ("--num_train_epochs", "1", "--per_device_train_batch_size", "16", "--max_seq_length", "256",
            "--doc_stride", "128", "--learning_rate", "1e-4", "--head_learning_rate", "1e-3",
            "--mixed_precision", "bf16", "--decoding", "argmax",  # curves by argmax; result files score every decoding
            "--attention_dropout", "encoder")  # pinned: the default became 0 after the study's first runs
SQUAD1 = os.path.join(SHARED, "squad_v1.1")
SQUAD2 = os.path.join(SHARED, "squad_v2.0")
STUDIES = {
    "squad_v1_4k": Study(os.path.join(SQUAD1, "train-v1.1.explorer.json"), os.path.join(SQUAD1, "dev-v1.1.shared.json"),
                         4000, 285, PROTOCOL + ("--eval_steps", "57", "--intermediate_eval_samples", "500")),
    "squad_v1_16k": Study(os.path.join(SQUAD1, "train-v1.1.explorer.json"), os.path.join(SQUAD1, "dev-v1.1.shared.json"),
                          16000, 1111, PROTOCOL + ("--eval_steps", "222", "--intermediate_eval_samples", "500")),
    "squad_v2_4k": Study(os.path.join(SQUAD2, "train-from-dev-v2.0.shared.json"),
                         os.path.join(SQUAD2, "dev-v2.0.shared.json"), 4000, 313,
                         PROTOCOL + ("--version_2_with_negative", "--eval_steps", "60",
                                     "--intermediate_eval_samples", "500")),
}
# the same, each reader starting from its squad_v1_4k run (at 4,000 v2 questions from the MiniLM encoder neither
# reader learns to tell unanswerable questions: every best_f1 is "answer nothing")
STUDIES["squad_v2_4k_from_v1"] = dataclasses.replace(STUDIES["squad_v2_4k"], init_from="squad_v1_4k")
# Chinese (issue #17): DRCD's 3,000 training questions (traditional) + CMRC2018 trial's 1,002 (simplified; 2 have
# an empty question), 4,000 questions → 5,344 windows, 1 epoch = 334 steps of 16. Windows of 512 tokens (the
# encoders' maximum): the median passage is 404-451 tokens, so most questions fit in one window (1.34 windows a
# question; 256/128 would need ~3.5 and process more tokens). Answers up to 50 tokens (characters, for CJK): 30
# would cut 5.6% of CMRC dev's first golds, 50 cuts 1.2%. Encoder and learning rate chosen on the start/end
# reader's dev curve (BENCHMARKS.md "Chinese"): m3e-small did not learn to read the question at lr 1e-4 or 3e-4
# (CMRC dev F1 10); albert-tiny-chinese at lr 3e-4 reached 43 F1 on the first 400 dev questions after half an epoch.
ZH_PROTOCOL = ("--num_train_epochs", "1", "--per_device_train_batch_size", "16", "--max_seq_length", "512",
               "--doc_stride", "128", "--max_answer_length", "50", "--head_learning_rate", "1e-3",
               "--mixed_precision", "bf16", "--decoding", "argmax", "--attention_dropout", "encoder",
               "--lang", "zh", "--eval_steps", "83", "--intermediate_eval_samples", "400")
CMRC, DRCD = os.path.join(SHARED, "cmrc2018"), os.path.join(SHARED, "drcd")
ZH_TRAIN = (os.path.join(DRCD, "DRCD_test.as_train.json"), os.path.join(CMRC, "cmrc2018_trial.json"))
ZH_EXTRA = (("drcd_dev", os.path.join(DRCD, "DRCD_test.as_dev.json")),
            ("dureader_demo_dev", os.path.join(SHARED, "dureader_robust", "demo_dev.json")))
STUDIES["cmrc_zh"] = Study(ZH_TRAIN, os.path.join(CMRC, "cmrc2018_dev.shared.json"), 0, 334,
                           ZH_PROTOCOL + ("--learning_rate", "3e-4"), lang="zh", encoder="albert-tiny-chinese",
                           extra_evals=ZH_EXTRA)
for _lr in ("1e-4", "3e-4"):  # the encoder that did not serve (start/end seed 42 only)
    STUDIES[f"cmrc_zh_m3e_lr{_lr}"] = dataclasses.replace(STUDIES["cmrc_zh"], flags=ZH_PROTOCOL + ("--learning_rate", _lr),
                                                          encoder="m3e-small")


@dataclass(frozen=True)
class Variant:
    label: str
    flags: tuple[str, ...]
    parent: str | None = None  # the trunk variant this one branches from
    at: float = 0.5  # branch point, a fraction of the protocol's steps (a multiple of 1/4)
    trunk: bool = False
    versus: str | None = None  # the paired table's reference (default: the parent, else the multilabel GP)


GP = ("--span_bias",)
ML = ("--warm_start_loss", "multilabel")  # pinned: the default became softmax after these runs
SM = ("--warm_start_loss", "softmax")
AD0 = ("--attention_dropout", "0")
ADDED = ("--mixed_weight", "1", "--reward_ramp_steps", "0.25", "--keep_optimizer_state")  # after "--objective mixed"
VARIANTS = {
    "start_end": Variant("start/end reader", ("--architecture", "start_end")),
    "gp_ml": Variant("GP, multilabel CE", GP + ML + ("--objective", "multilabel"), trunk=True),
    "gp_sm": Variant("GP, span-softmax CE", GP + ("--objective", "multilabel") + SM, trunk=True),
    "gp_ml__f1_added": Variant("GP, multilabel + expected F1 ramped in (added)",
                               GP + ML + ("--objective", "mixed") + ADDED, parent="gp_ml"),
    "gp_sm__f1_added": Variant("GP, span-softmax CE + expected F1 ramped in (added)",
                               GP + ("--objective", "mixed") + SM + ADDED, parent="gp_sm"),
    # issue #10: the same run in fp32 (the later --mixed_precision wins over the protocol's bf16)
    "gp_ml_fp32": Variant("GP, multilabel CE, fp32", GP + ML + ("--objective", "multilabel",
                                                             "--mixed_precision", "no")),
    "gp_ml__f1": Variant("GP, multilabel → expected F1 + 0.01·H (the seed's objective)",
                         GP + ML + ("--objective", "f1"), parent="gp_ml"),
    "gp_ml__soft_f1": Variant("GP, multilabel → F1 soft targets τ=0.3",
                              GP + ML + ("--objective", "f1", "--reward", "soft_f1", "--soft_f1_tau", "0.3"),
                              parent="gp_ml"),
    "gp_ml__soft_f1_added": Variant("GP, multilabel + F1 soft targets τ=0.3 (added)",
                                    GP + ML + ("--objective", "mixed", "--mixed_weight", "1", "--reward", "soft_f1",
                                               "--soft_f1_tau", "0.3", "--keep_optimizer_state"), parent="gp_ml"),
    "gp_sm__soft_f1": Variant("GP, span-softmax CE → F1 soft targets τ=0.3",
                              GP + ("--objective", "f1") + SM + ("--reward", "soft_f1", "--soft_f1_tau", "0.3"),
                              parent="gp_sm"),
    "gp_ml__f1_lam0.1": Variant("GP, multilabel → expected F1 + 0.1·H", GP + ML + ("--objective", "f1",
                                "--entropy_lambda", "0.1"), parent="gp_ml"),
    "gp_ml__f1_at75": Variant("GP, multilabel (75%) → expected F1 + 0.01·H", GP + ML + ("--objective", "f1"),
                              parent="gp_ml", at=0.75),
    "gp_ml__soft_f1_t0.1": Variant("GP, multilabel → F1 soft targets τ=0.1",
                                   GP + ML + ("--objective", "f1", "--reward", "soft_f1", "--soft_f1_tau", "0.1"),
                                   parent="gp_ml"),
    "gp_aux": Variant("GP, multilabel + start/end CE (compound)", GP + ML + ("--objective", "multilabel",
                      "--aux_start_end_weight", "1"), trunk=True),
    "gp_aux__soft_f1": Variant("GP, multilabel + start/end CE → F1 soft targets τ=0.3 (+ start/end CE)",
                               GP + ML + ("--objective", "f1", "--aux_start_end_weight", "1", "--reward", "soft_f1",
                                          "--soft_f1_tau", "0.3"), parent="gp_aux"),
    # issue #10: attention dropout 0 (the fused CPU attention kernel; ~2x faster steps) for the default recipe;
    # a "<name>_ad0…" variant is "<name>…" at attention dropout 0 (the report pairs them by that rule)
    "start_end_ad0": Variant("start/end reader, attention dropout 0", ("--architecture", "start_end") + AD0),
    "gp_ml_ad0": Variant("GP, multilabel CE, attention dropout 0", GP + ML + AD0 + ("--objective", "multilabel"),
                         trunk=True),
    "gp_ml_ad0__f1_added": Variant("GP, multilabel + expected F1 ramped in (added), attention dropout 0",
                                   GP + ML + AD0 + ("--objective", "mixed") + ADDED, parent="gp_ml_ad0"),
    "gp_sm_ad0": Variant("GP, span-softmax CE, attention dropout 0", GP + AD0 + ("--objective", "multilabel") + SM,
                         trunk=True),
    "gp_sm_ad0__f1_added": Variant("GP, span-softmax CE + expected F1 ramped in (added), attention dropout 0",
                                   GP + AD0 + ("--objective", "mixed") + SM + ADDED, parent="gp_sm_ad0"),
    # issue #10: the default line in fp32, against gp_sm_ad0 (bf16) on the same seeds ("<name>_fp32" = "<name>")
    "gp_sm_ad0_fp32": Variant("GP, span-softmax CE, attention dropout 0, fp32",
                              GP + AD0 + ("--objective", "multilabel") + SM + ("--mixed_precision", "no")),
    # the reward's share on the default line (attention dropout 0): replacing the gold-span loss, weighted up, earlier
    "gp_sm_ad0__f1": Variant("GP, span-softmax CE → expected F1 + 0.01·H, attention dropout 0",
                             GP + AD0 + ("--objective", "f1") + SM, parent="gp_sm_ad0"),
    "gp_sm_ad0__f1_added_w3": Variant("GP, span-softmax CE + 3 × expected F1 ramped in (added), attention dropout 0",
                                      GP + AD0 + ("--objective", "mixed") + SM
                                      + ("--mixed_weight", "1", "--reward_weight", "3", "--reward_ramp_steps", "0.25",
                                         "--keep_optimizer_state"),
                                      parent="gp_sm_ad0"),
    "gp_sm_ad0__f1_added_at25": Variant("GP, span-softmax CE + expected F1 ramped in from 25% (added), attention "
                                        "dropout 0", GP + AD0 + ("--objective", "mixed") + SM + ADDED,
                                        parent="gp_sm_ad0", at=0.25),
    "gp_sm__f1": Variant("GP, span-softmax CE → expected F1 + 0.01·H", GP + ("--objective", "f1") + SM,
                         parent="gp_sm"),
    # issue #17 (Chinese): the seed's objective and F1 soft targets at attention dropout 0
    "gp_ml_ad0__f1": Variant("GP, multilabel → expected F1 + 0.01·H (the seed's objective), attention dropout 0",
                             GP + ML + AD0 + ("--objective", "f1"), parent="gp_ml_ad0"),
    "gp_sm_ad0__soft_f1": Variant("GP, span-softmax CE → F1 soft targets τ=0.3, attention dropout 0",
                                  GP + AD0 + ("--objective", "f1") + SM + ("--reward", "soft_f1", "--soft_f1_tau",
                                                                          "0.3"), parent="gp_sm_ad0"),
    # the compound objective (Fajcik et al. 2021) on the default line: + start/end CE on the span_bias terms
    "gp_sm_ad0_aux": Variant("GP, span-softmax CE + start/end CE (compound), attention dropout 0",
                             GP + AD0 + ("--objective", "multilabel") + SM + ("--aux_start_end_weight", "1"),
                             trunk=True, versus="gp_sm_ad0"),
    "gp_sm_ad0_aux__f1_added": Variant("GP, span-softmax CE + start/end CE + expected F1 ramped in (added), "
                                       "attention dropout 0", GP + AD0 + ("--objective", "mixed") + SM + ADDED
                                       + ("--aux_start_end_weight", "1"), parent="gp_sm_ad0_aux"),
}


# Issue #20: full SQuAD v1.1 (all 86,144 questions → 95,650 windows of 256, 1 epoch) on one lent GPU, run by
# scripts/gpu_study.sh from the carried gpu_bundle/ (scripts/make_gpu_bundle.py). The encoder is the packaged MiniLM
# stored in bf16 (trained as fp32 master weights); GPU-sized batches (32 windows, learning rates as the CPU
# protocol), eval batches of 256, batches collated in worker processes. "…_smoke": the first 256 questions (274
# windows, 9 steps) and 100 dev questions: a first call on a fresh machine, or `gpu_study.sh --smoke --device cpu`.
GPU_ENCODER = os.path.join("gpu_bundle", "all-MiniLM-L6-v2-bf16")  # scripts/make_gpu_bundle.py ENCODER_DIR


def gpu_protocol(eval_steps: int, *extra: str) -> tuple[str, ...]:
    flags = list(PROTOCOL)
    flags[flags.index("--per_device_train_batch_size") + 1] = "32"
    return (*flags, "--model_name_or_path", GPU_ENCODER, "--per_device_eval_batch_size", "256",
            "--dataloader_num_workers", "3", "--preprocessing_num_workers", "4", "--eval_steps", str(eval_steps),
            "--intermediate_eval_samples", "500", *extra)


_SQUAD1_TRAIN, _SQUAD1_DEV = (os.path.join(SQUAD1, f) for f in ("train-v1.1.explorer.json", "dev-v1.1.shared.json"))
STUDIES["squad_v1_full"] = Study(_SQUAD1_TRAIN, _SQUAD1_DEV, 0, 2990, gpu_protocol(598))
STUDIES["squad_v1_full_smoke"] = Study(_SQUAD1_TRAIN, _SQUAD1_DEV, 256, 9, gpu_protocol(5, "--max_eval_samples", "100"))


# --------------------------------------------------------------------------- commands


def run_dir(study: str, variant: str, seed: int) -> str:
    return os.path.join(RUNS, study, f"{variant}-seed{seed}")


def result_path(study: str, variant: str, seed: int) -> str:
    return os.path.join(RESULTS, study, f"{variant}-seed{seed}.json")


def steps_of(study: Study) -> int:
    if study.steps:
        return study.steps
    raise SystemExit("this study's step count is not fixed yet: run its trunk once and set Study.steps")


def branch_step(study: Study, v: Variant) -> int:
    quarter = steps_of(study) // 4
    return int(round(v.at * 4)) * quarter


def command(study_name: str, variant: str, seed: int) -> list[str]:
    """The scripts/train.py argument list of one run (paths relative to the project root)."""
    study, v = STUDIES[study_name], VARIANTS[variant]
    train_files = (study.train_file,) if isinstance(study.train_file, str) else study.train_file
    cmd = ["scripts/train.py", *encoder_flags(study), *init_flags(study, v, variant, seed),
           "--train_file", *(os.path.relpath(f, ROOT) for f in train_files),
           "--validation_file", os.path.relpath(study.validation_file, ROOT),
           *(["--max_train_samples", str(study.max_train_samples)] if study.max_train_samples else []),
           *study.flags, "--seed", str(seed), *v.flags]
    if v.trunk:
        cmd += ["--checkpointing_steps", str(steps_of(study) // 4), "--save_total_limit", "4"]
    if v.parent:
        step = branch_step(study, v)
        ckpt = os.path.join(run_dir(study_name, v.parent, seed), "checkpoints", f"step_{step}")
        cmd += ["--warm_start_steps", str(step), "--resume_from_checkpoint", os.path.relpath(ckpt, ROOT)]
    return cmd + ["--output_dir", os.path.relpath(run_dir(study_name, variant, seed), ROOT)]


def init_folder(study: Study, v: Variant, variant: str, seed: int) -> str | None:
    """The model folder a run of a study with `init_from` starts from: that study's run of the same variant (a
    branch: of its trunk, whose checkpoint it resumes) and seed."""
    return run_dir(study.init_from, v.parent or variant, seed) if study.init_from else None


def encoder_flags(study: Study) -> list[str]:
    if not study.encoder:
        return []
    sys.path.insert(0, ROOT)
    from gp_mrc.defaults import optional_encoder_path

    try:
        return ["--model_name_or_path", optional_encoder_path(study.encoder)]
    except FileNotFoundError as e:
        raise SystemExit(f"error: {e}") from None


def init_flags(study: Study, v: Variant, variant: str, seed: int) -> list[str]:
    folder = init_folder(study, v, variant, seed)
    return ["--model_name_or_path", os.path.relpath(folder, ROOT)] if folder else []


def run(study_name: str, variant: str, seed: int) -> None:
    """Train one run unless its result file exists (parents first); then write its result file."""
    if os.path.exists(result_path(study_name, variant, seed)):
        print(f"[{variant} seed {seed}] result exists", flush=True)
        return
    v = VARIANTS[variant]
    study = STUDIES[study_name]
    folder = init_folder(study, v, variant, seed)
    if folder and not os.path.exists(os.path.join(folder, "config.json")):
        run(study.init_from, v.parent or variant, seed)
        if not os.path.exists(os.path.join(folder, "config.json")):
            raise SystemExit(f"[{variant} seed {seed}] the model folder {folder} to start from is missing (run on "
                             f"another machine?): delete its result file in {study.init_from} and rerun it here")
    if v.parent:
        parent_ckpt = os.path.join(run_dir(study_name, v.parent, seed), "checkpoints",
                                   f"step_{branch_step(study, v)}")
        if not os.path.isdir(parent_ckpt):
            run(study_name, v.parent, seed)
        if not os.path.isdir(parent_ckpt):
            raise SystemExit(f"[{variant} seed {seed}] the trunk checkpoint {parent_ckpt} is missing (trunk run "
                             "on another machine?): delete the trunk's result file and rerun it here")
    out = run_dir(study_name, variant, seed)
    cmd = command(study_name, variant, seed)
    if not finished(out, STAMP, cmd):
        # a killed trunk resumes from its own checkpoints; a branch restarts from its trunk's
        cmd_run = cmd + (["--resume_from_checkpoint", "latest"] if v.trunk else [])
        train_in_subprocess(cmd_run, out, f"[{variant} seed {seed}]", fresh_logs=bool(v.parent), log_mode="a",
                            stamp=(STAMP, cmd))
    collect_one(study_name, variant, seed)


STAMP = "study_command.json"  # written last: the run finished with exactly this command
LOG_FILES = ("eval_log.jsonl", "train_log.jsonl")


def finished(out: str, stamp: str, argv: list[str]) -> bool:
    """A run folder that holds eval_results.json and a stamp equal to `argv` (the scripts/train.py arguments)."""
    path = os.path.join(out, stamp)
    if not (os.path.exists(os.path.join(out, "eval_results.json")) and os.path.exists(path)):
        return False
    with open(path) as f:
        return json.load(f) == argv


def train_in_subprocess(argv: list[str], out: str, label: str, *, fresh_logs: bool, log_mode: str,
                        stamp: tuple[str, list[str]], cwd: str = ROOT) -> None:
    """`python <argv>` (scripts/train.py and its flags) with its output in <out>/train.log; on success the stamp
    file (name, content) is written. fresh_logs: drop the jsonl logs a previous attempt left."""
    os.makedirs(out, exist_ok=True)
    if fresh_logs:
        for stale in LOG_FILES:
            if os.path.exists(os.path.join(out, stale)):
                os.remove(os.path.join(out, stale))
    print(f"{label} python {' '.join(argv)}", flush=True)
    t = time.time()
    with open(os.path.join(out, "train.log"), log_mode) as log:
        r = subprocess.run([sys.executable, *argv], cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    if r.returncode:
        raise SystemExit(f"{label} failed (exit {r.returncode}); see {out}/train.log")
    write_text_atomic(os.path.join(out, stamp[0]), json.dumps(stamp[1]))
    print(f"{label} trained in {time.time() - t:.0f}s", flush=True)


# --------------------------------------------------------------------------- result files


def load_golds(path: str, version_2: bool) -> dict[str, list[str]]:
    from gp_mrc.data.examples import load_examples

    examples = load_examples(path, version_2=version_2, split="validation", require_answers=False)
    return {e["id"]: list(e["answers"]["text"]) for e in examples}


_GOLDS: dict[str, dict[str, list[str]]] = {}


def decodings(nbest: dict[str, list[dict]], golds: dict[str, list[str]], lang: str,
              null_odds: dict[str, float] | None = None) -> dict[str, dict]:
    """EM/F1 of argmax and expected-F1 decoding at several temperatures, from a run's saved n-best lists (the
    same `choose` the library decodes with), plus diagnostics of the argmax answers. With `null_odds` (SQuAD v2)
    a question is answered "" where its null odds are > 0, and each decoding also gets the official best_f1
    (the dev-tuned threshold) and HasAns / NoAns F1."""
    from gp_mrc.inference.decoding import choose, pairwise_f1
    from gp_mrc.metrics.aggregate import best_f1
    from gp_mrc.metrics.scoring import answer_tokens, exact_match, f1_score

    # per question, once: the non-null candidates and their pairwise F1 (the same at every temperature)
    cands = {q: [x for x in nbest.get(q, []) if x["text"]] for q in golds}
    pairwise = {q: pairwise_f1([x["text"] for x in c], lang) for q, c in cands.items() if len(c) > 1}
    has = {q: bool(g) for q, g in golds.items()}
    odds = {q: null_odds.get(q, float("inf")) for q in golds} if null_odds is not None else None
    out: dict[str, dict] = {}
    for name, decoding, temp in [("argmax", "argmax", 1.0)] + [(f"expected_f1@{t:g}", "expected_f1", t)
                                                                for t in TEMPERATURES]:
        spans, span_f1, pred_f1, em = {}, {}, {}, 0.0
        for qid, gold in golds.items():
            entries = [dict(x) for x in cands[qid]]
            span = entries[choose(entries, decoding, lang, temp, pairwise.get(qid))]["text"] if entries else ""
            spans[qid], span_f1[qid] = span, f1_score(span, gold, lang)
            pred = "" if odds is not None and odds[qid] > 0 else span
            pred_f1[qid] = f1_score(pred, gold, lang)
            em += exact_match(pred, gold, lang)
        scores = {"exact_match": 100 * em / len(golds), "f1": 100 * sum(pred_f1.values()) / len(golds)}
        if odds is not None:
            scores["best_f1"], scores["best_f1_thresh"] = best_f1(spans, golds, null_odds, lang)
            for group, keep in (("HasAns", True), ("NoAns", False)):
                qs = [q for q in golds if has[q] == keep]
                if qs:
                    scores[f"{group}_f1"] = 100 * sum(pred_f1[q] for q in qs) / len(qs)
                    if keep:  # the reader's span where it must answer: what separates readers that never do
                        scores["HasAns_span_f1"] = 100 * sum(span_f1[q] for q in qs) / len(qs)
        out[name] = scores
    tops = [cands[q][0] if cands[q] else None for q in golds]
    f1s = [f1_score(t["text"] if t else "", golds[q], lang) for t, q in zip(tops, golds)]
    partial = [partial_kind(t["text"], golds[q], lang) for t, q, f in zip(tops, golds, f1s) if t and 0 < f < 1]
    out["diagnostics"] = {
        "share_f1_zero": sum(f == 0 for f in f1s) / len(f1s),
        # top-1 answers with partial credit, by how they miss: inside the best-matching gold, around it, or astride
        **{f"share_{kind}": sum(k == kind for k in partial) / len(f1s) for kind in ("too_short", "too_long")},
        "mean_answer_tokens": statistics.mean(len(answer_tokens(t["text"], lang)) if t else 0 for t in tops),
        "mean_gold_tokens": statistics.mean(len(answer_tokens(g[0], lang)) if g else 0 for g in golds.values()),
        "mean_top_probability": statistics.mean(t["probability"] if t else 0.0 for t in tops),
        # raw string lengths (Chinese: characters, punctuation included) — the tokens above are the metric's
        "mean_answer_chars": statistics.mean(len(t["text"]) if t else 0 for t in tops),
        "mean_gold_chars": statistics.mean(len(g[0]) if g else 0 for g in golds.values()),
    }
    if odds is not None:
        out["diagnostics"]["null_auc"] = null_auc(odds, {q: not h for q, h in has.items()})
    return out


def partial_kind(answer: str, golds: list[str], lang: str) -> str:
    """"too_short" if the answer's tokens are a run inside the gold it matches best, "too_long" if that gold's
    tokens are a run inside the answer, else "overlap"."""
    from gp_mrc.metrics.scoring import answer_tokens, gold_answers, token_f1

    a = answer_tokens(answer, lang)
    g = max((answer_tokens(x, lang) for x in gold_answers(golds, lang)), key=lambda g: token_f1(a, g, lang))

    def inside(small: list[str], big: list[str]) -> bool:
        return any(big[i:i + len(small)] == small for i in range(len(big) - len(small) + 1))

    return "too_short" if inside(a, g) else "too_long" if inside(g, a) else "overlap"


def null_auc(odds: dict[str, float], unanswerable: dict[str, bool]) -> float | None:
    """How well the null odds rank questions: the chance that an unanswerable question has higher odds than an
    answerable one (ties count half; 0.5 = no better than chance, independent of any threshold)."""
    pos = [odds[q] for q in odds if unanswerable[q]]
    neg = sorted(odds[q] for q in odds if not unanswerable[q])
    if not pos or not neg:
        return None
    wins = sum((bisect.bisect_left(neg, x) + bisect.bisect_right(neg, x)) / 2 for x in pos)
    return wins / (len(pos) * len(neg))


def evaluated_golds(study: Study) -> dict[str, list[str]]:
    """The golds of the dev questions a study's runs answer: all of them, or the first N with --max_eval_samples N
    (the smoke studies), as training loads them."""
    golds = _GOLDS[study.validation_file]
    if "--max_eval_samples" in study.flags:
        at = max(i for i, flag in enumerate(study.flags) if flag == "--max_eval_samples")  # the last one wins
        golds = dict(list(golds.items())[:int(study.flags[at + 1])])
    return golds


def _read_jsonl(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def collect_one(study_name: str, variant: str, seed: int) -> dict:
    """Write the result file of a finished run folder (and return it)."""
    study, v = STUDIES[study_name], VARIANTS[variant]
    out = run_dir(study_name, variant, seed)
    with open(os.path.join(out, "eval_results.json")) as f:
        final = json.load(f)
    with open(os.path.join(out, "training_args.json")) as f:
        train_args = json.load(f)
    with open(os.path.join(out, "nbest_predictions.json")) as f:
        nbest = json.load(f)
    null_odds = None
    if os.path.exists(os.path.join(out, "null_odds.json")):
        with open(os.path.join(out, "null_odds.json")) as f:
            null_odds = json.load(f)
    if study.validation_file not in _GOLDS:
        _GOLDS[study.validation_file] = load_golds(study.validation_file, "--version_2_with_negative" in study.flags)
    # intermediate points score the first --intermediate_eval_samples questions; the last point (the final
    # evaluation, the record with train_seconds) scores all of them
    curve = [{"step": r["step"], "exact_match": r.get("exact_match"), "f1": r.get("f1")}
             for r in _read_jsonl(os.path.join(out, "eval_log.jsonl"))]
    timing = {k: final.get(k) for k in ("train_seconds", "train_steps", "train_windows_per_second", "peak_rss_mb")}
    timing.update({k: final[k] for k in ("peak_gpu_mb",) if k in final})  # GPU runs only
    if v.parent:
        parent = _load(result_path(study_name, v.parent, seed))
        at = branch_step(study, v)
        if parent:
            curve = [c for c in parent["curve"] if c["step"] <= at] + curve
            share = at / parent["timing"]["train_steps"]
            timing["train_seconds_with_trunk"] = round(parent["timing"]["train_seconds"] * share
                                                       + (timing["train_seconds"] or 0), 1)
    extra = {name: extra_scores(study, out, name, path, train_args) for name, path in study.extra_evals}
    result = {
        "study": study_name, "variant": variant, "label": v.label, "seed": seed, "parent": v.parent,
        "branch_step": branch_step(study, v) if v.parent else None,
        "command": "python " + " ".join(command(study_name, variant, seed)),
        "dtype": train_args.get("mixed_precision") or "fp32",
        "eval": {k: final[k] for k in ("exact_match", "f1") if k in final},
        "decoding": decodings(nbest, evaluated_golds(study), study.lang, null_odds),
        **({"extra": extra} if extra else {}),
        "curve": curve, "timing": timing,
        "machine": machine_of(final),
        "date": datetime.date.today().isoformat(), "git_commit": _git_commit(),
        "train_args": train_args,
    }
    path = result_path(study_name, variant, seed)
    previous = _load(path)
    if previous:  # re-scored from the same run folder: the run keeps the command, date and commit it was trained by
        result.update(command=previous["command"], date=previous["date"], git_commit=previous["git_commit"],
                      rescored=result["date"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_text_atomic(path, json.dumps(result, indent=1))
    print(f"[{variant} seed {seed}] wrote {os.path.relpath(path, ROOT)}: F1 {result['eval'].get('f1', 0):.2f}",
          flush=True)
    return result


def extra_scores(study: Study, out: str, name: str, path: str, train_args: dict) -> dict:
    """Every decoding's scores on an extra evaluation file, from the run's saved model: its argmax n-best (the
    library's Reader, the folder's own inference settings and the run's precision) is kept in the run folder as
    extra_<name>_nbest.json, so re-scoring never answers twice."""
    cache = os.path.join(out, f"extra_{name}_nbest.json")
    if not os.path.exists(cache):
        from gp_mrc.data.examples import load_examples
        from gp_mrc.inference.reader import Reader

        examples = load_examples(path, require_answers=False)
        reader = Reader.from_pretrained(out, mixed_precision=train_args.get("mixed_precision") or "no")
        records = [{"id": e["id"], "question": e["question"], "context": e["context"]} for e in examples]
        n_best = train_args.get("n_best_size", 20)
        answers = reader.answer(records, top_k=n_best, n_best_size=n_best, decoding="argmax")
        # score: the log-probability, as in training's n-best (expected-F1 decoding softmaxes it)
        nbest = {r["id"]: [{"text": a["answer"], "probability": a["score"], "score": math.log(max(a["score"], 1e-300)),
                            "start": a["start"], "end": a["end"]} for a in ans] for r, ans in zip(records, answers)}
        write_text_atomic(cache, json.dumps(nbest, ensure_ascii=False))
    with open(cache) as f:
        nbest = json.load(f)
    if path not in _GOLDS:
        _GOLDS[path] = load_golds(path, False)
    return {"file": os.path.relpath(path, ROOT), "questions": len(_GOLDS[path]),
            "decoding": decodings(nbest, _GOLDS[path], study.lang)}


def machine_of(final: dict) -> str:
    """This machine as the CPU studies record it; a run that trained on a GPU (eval_results' "device") names it."""
    cpu = f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}"
    device = final.get("device")
    return f"{device}; host {cpu}" if device and device != "cpu" else cpu


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return "unknown"


def _load(path: str) -> dict | None:
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


# --------------------------------------------------------------------------- report


def load_results(study: str | None = None) -> list[dict]:
    rows = []
    if not os.path.isdir(RESULTS):
        return rows
    for name in sorted(os.listdir(RESULTS)):
        if study and name != study:
            continue
        folder = os.path.join(RESULTS, name)
        for fn in sorted(os.listdir(folder)):
            if fn.endswith(".json"):
                rows.append(_load(os.path.join(folder, fn)))
    return rows


def mean_sd(xs: list[float]) -> str:
    if len(xs) == 1:
        return f"{xs[0]:.1f}"
    return f"{statistics.mean(xs):.1f} ± {statistics.stdev(xs):.1f}"


def metric(r: dict) -> str:
    """The F1 a study ranks by: SQuAD v2 result files carry best_f1 (the official dev-tuned null threshold)."""
    return "best_f1" if "best_f1" in r["decoding"]["argmax"] else "f1"


def f1_of(r: dict, decoding: str) -> float:
    return r["decoding"][decoding][metric(r)]


def best_decoding(results: list[dict], expected_f1_only: bool = False) -> str:
    """The decoding (argmax or expected_f1@T) with the highest mean dev F1 over a variant's seeds."""
    keys = [k for k in results[0]["decoding"] if k.startswith("expected_f1@") or (k == "argmax" and not expected_f1_only)]
    return max(keys, key=lambda k: statistics.mean(f1_of(r, k) for r in results))


def best_temperature(results: list[dict]) -> str:
    """The expected-F1 temperature with the highest mean dev F1 over a variant's seeds."""
    return best_decoding(results, expected_f1_only=True)


def report(study: str | None = None) -> str:
    lines = []
    by_study: dict[str, dict[str, list[dict]]] = {}
    for r in load_results(study):
        by_study.setdefault(r["study"], {}).setdefault(r["variant"], []).append(r)
    for name, variants in by_study.items():
        v2 = any(metric(r) == "best_f1" for rs in variants.values() for r in rs)
        zh = STUDIES[name].lang == "zh" if name in STUDIES else False
        length = ("mean_answer_chars", "mean_gold_chars") if zh else ("mean_answer_tokens", "mean_gold_tokens")
        lines += [f"### {name}", ""]
        if v2:
            lines += ["SQuAD v2.0: F1 = the official best_f1 (the null threshold tuned on this dev set, as saved with "
                      "the model); the last columns score argmax decoding: F1 at null threshold 0 (all, answerable, "
                      "unanswerable questions), the F1 of the best non-null span on the answerable questions (the "
                      "reader forced to answer) and the null odds' ranking AUC (unanswerable above answerable; 0.5 "
                      "= chance).", ""]
        lines += ["| variant | seeds | EM | F1 | F1, expected-F1 decoding (T) | per-seed F1 (argmax / expected-F1) "
                  f"| top-1 F1 = 0 | top-1 too short / too long | answer / gold {'characters' if zh else 'tokens'} "
                  "| top p | train s (with trunk) |"
                  + (" F1 at threshold 0 | HasAns F1 | NoAns F1 | HasAns span F1 | null AUC (%) |" if v2 else ""),
                  "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|---|---|---|" if v2 else "")]
        order = [k for k in VARIANTS if k in variants] + [k for k in variants if k not in VARIANTS]
        for key in order:
            rs = sorted(variants[key], key=lambda r: r["seed"])
            t = best_temperature(rs)
            em = [r["decoding"]["argmax"]["exact_match"] for r in rs]
            f1 = [f1_of(r, "argmax") for r in rs]
            ef = [f1_of(r, t) for r in rs]
            diag = [r["decoding"]["diagnostics"] for r in rs]
            secs = [r["timing"].get("train_seconds_with_trunk") or r["timing"]["train_seconds"] for r in rs]
            per_seed = ", ".join(f"{r['seed']}: {a:.1f} / {b:.1f}" for r, a, b in zip(rs, f1, ef))
            lines.append(
                f"| {rs[0]['label']} (`{key}`) | {len(rs)} | {mean_sd(em)} | {mean_sd(f1)} | {mean_sd(ef)} "
                f"({t.split('@')[1]}) | {per_seed} | {statistics.mean(d['share_f1_zero'] for d in diag):.1%} | "
                f"{statistics.mean(d['share_too_short'] for d in diag):.1%} / "
                f"{statistics.mean(d['share_too_long'] for d in diag):.1%} | "
                f"{statistics.mean(d[length[0]] for d in diag):.2f} / "
                f"{diag[0][length[1]]:.2f} | {statistics.mean(d['mean_top_probability'] for d in diag):.2f} "
                f"| {statistics.mean(secs):.0f} |" + (" " + " | ".join(
                    mean_sd([r["decoding"]["argmax"].get(k, float("nan")) for r in rs])
                    for k in ("f1", "HasAns_f1", "NoAns_f1", "HasAns_span_f1")) + " | "
                    + mean_sd([100 * (d.get("null_auc") or float("nan")) for d in diag]) + " |" if v2 else ""))
        lines += extra_table(variants)
        lines += ["", "Paired F1 differences (same seed):", "",
                  "| difference | seeds | mean ± sd | per seed |", "|---|---|---|---|"]
        for key, reference, decoding in comparisons(variants):
            lines += paired_difference(variants, key, reference, decoding)
        lines.append("")
    return "\n".join(lines)


def extra_table(variants: dict[str, list[dict]]) -> list[str]:
    """The extra evaluation files (out of domain), one column pair per file: F1 by argmax and by expected-F1
    decoding at the temperature the variant's headline dev set picked (so nothing is tuned on these files)."""
    names = sorted({n for rs in variants.values() for r in rs for n in r.get("extra", {})})
    if not names:
        return []
    first = next(r["extra"][n] for n in names for rs in variants.values() for r in rs if n in r.get("extra", {}))
    lines = ["", "Extra evaluation files (F1 argmax / expected-F1 at the headline dev set's temperature; EM argmax): "
             + "; ".join(f"{n}: `{next(r['extra'][n]['file'] for rs in variants.values() for r in rs if n in r.get('extra', {}))}`"
                         for n in names) + f" ({first['questions']} questions in the first)", "",
             "| variant | seeds | " + " | ".join(f"{n} EM | {n} F1 (argmax / expected F1)" for n in names) + " |",
             "|---|---|" + "---|---|" * len(names)]
    for key in [k for k in VARIANTS if k in variants] + [k for k in variants if k not in VARIANTS]:
        rs = [r for r in sorted(variants[key], key=lambda r: r["seed"]) if all(n in r.get("extra", {}) for n in names)]
        if not rs:
            continue
        t = best_temperature(variants[key])
        cells = []
        for n in names:
            dec = [r["extra"][n]["decoding"] for r in rs]
            cells += [mean_sd([d["argmax"]["exact_match"] for d in dec]),
                      f"{mean_sd([d['argmax']['f1'] for d in dec])} / {mean_sd([d[t]['f1'] for d in dec])}"]
        lines.append(f"| `{key}` | {len(rs)} | " + " | ".join(cells) + " |")
    return lines


def same_recipe(key: str, marker: str) -> str | None:
    """The variant "<key> without <marker>" ("gp_sm_ad0__f1_added", "_ad0" → "gp_sm__f1_added"), if defined."""
    other = key.replace(marker, "", 1)
    return other if marker in key and other in VARIANTS else None


def comparisons(variants: dict[str, list[dict]]) -> list[tuple[str, str, str | None]]:
    """(variant, reference, decoding) rows of the paired table: every GlobalPointer variant against the start/end
    reader (each at its best decoding); a branch against its trunk (the reward against none; same decoding), any
    other GlobalPointer against its `versus`, else the multilabel one (same decoding); each attention-dropout-0
    variant against its recipe at the encoder's dropout, each fp32 one against bf16 (best decoding)."""
    rows: list[tuple[str, str, str | None]] = []
    for key in variants:
        if key.startswith("start_end"):
            continue
        ad0 = "_ad0" in key
        rows.append((key, "start_end_ad0" if ad0 else "start_end", None))
        v = VARIANTS.get(key)
        reference = (v and (v.versus or v.parent)) or ("gp_ml_ad0" if ad0 else "gp_ml")
        if key != reference:
            rows += [(key, reference, "expected_f1@1"), (key, reference, "argmax")]
    for marker in ("_ad0", "_fp32"):  # attention dropout 0 against the encoder's; fp32 against bf16 (issue #10)
        rows += [(k, same_recipe(k, marker), None) for k in VARIANTS if k in variants and same_recipe(k, marker)]
    return rows


def paired_difference(variants: dict[str, list[dict]], key: str, reference: str,
                      same_decoding: str | None) -> list[str]:
    """The row "variant − reference" (none if they share no seed): F1 differences on the seeds both have, mean ±
    sd of the per-seed differences. same_decoding: both decoded that way (e.g. "expected_f1@1"); None: each with
    its own best decoding (the temperature with the best mean dev F1 over its seeds, argmax included)."""
    ref = {r["seed"]: r for r in variants.get(reference, [])}
    rs = variants.get(key, [])
    common = sorted(r["seed"] for r in rs if r["seed"] in ref)
    if not common:
        return []
    mine = {r["seed"]: r for r in rs}
    if same_decoding:
        ka = kb = same_decoding
    else:
        ka, kb = best_decoding([mine[s] for s in common]), best_decoding([ref[s] for s in common])
    diffs = [f1_of(mine[s], ka) - f1_of(ref[s], kb) for s in common]
    return [f"| `{key}` ({ka}) − `{reference}` ({kb}) | {len(common)} | {mean_sd(diffs)} | "
            + ", ".join(f"{s}: {d:+.1f}" for s, d in zip(common, diffs)) + " |"]


def compact(study: str) -> str:
    """The README's table: one row per variant, mean ± sd over seeds."""
    variants: dict[str, list[dict]] = {}
    for r in load_results(study):
        variants.setdefault(r["variant"], []).append(r)
    lines = ["| variant | seeds | EM | F1 | F1, expected-F1 decoding (T) |", "|---|---|---|---|---|"]
    for key in [k for k in VARIANTS if k in variants]:
        rs = variants[key]
        t = best_temperature(rs)
        lines.append(f"| {rs[0]['label']} | {len(rs)} | {mean_sd([r['decoding']['argmax']['exact_match'] for r in rs])}"
                     f" | {mean_sd([f1_of(r, 'argmax') for r in rs])} | "
                     f"{mean_sd([f1_of(r, t) for r in rs])} ({t.split('@')[1]}) |")
    return "\n".join(lines)


def plot(study: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    by_variant: dict[str, list[dict]] = {}
    for r in load_results(study):
        by_variant.setdefault(r["variant"], []).append(r)
    for key, rs in by_variant.items():
        if len(rs) < 2:  # the headline rows only: one-seed variants are in the tables
            continue
        steps = sorted({c["step"] for r in rs for c in r["curve"]})
        ys = [statistics.mean(c["f1"] for r in rs for c in r["curve"] if c["step"] == s) for s in steps]
        ax.plot(steps, ys, marker="o", label=f"{key} ({len(rs)} seeds)")
    ax.set_xlabel("optimizer step")
    flags = STUDIES[study].flags
    n = flags[flags.index("--intermediate_eval_samples") + 1] if "--intermediate_eval_samples" in flags else "all"
    ax.set_ylabel(f"dev F1 (first {n} questions; final point: all)")
    ax.set_title(f"{study}: learning curves (mean over seeds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["run", "collect", "report", "compact", "commands", "plot"])
    p.add_argument("--study", default="squad_v1_4k", choices=list(STUDIES))
    p.add_argument("--variants", nargs="+", default=None, choices=list(VARIANTS))
    p.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    p.add_argument("--plot_path", default=None)
    args = p.parse_args()
    variants = args.variants or list(VARIANTS)
    if args.action == "report":
        print(report(None if args.variants is None and "--study" not in sys.argv else args.study))
    elif args.action == "compact":
        print(compact(args.study))
    elif args.action == "plot":
        plot(args.study, args.plot_path or os.path.join(ROOT, "docs", f"study_{args.study}_curves.png"))
    elif args.action == "commands":
        for seed in args.seeds:
            for v in variants:
                print("python " + " ".join(command(args.study, v, seed)))
    elif args.action == "collect":
        for seed in args.seeds:
            for v in variants:
                if os.path.exists(os.path.join(run_dir(args.study, v, seed), "eval_results.json")):
                    collect_one(args.study, v, seed)
    else:
        for seed in args.seeds:
            for v in variants:
                run(args.study, v, seed)


if __name__ == "__main__":
    from gp_mrc.errors import run_script

    run_script(main)
