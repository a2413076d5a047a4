"""Result files: benchmarks/results/<study>/<variant>-seed<N>.json, written from a finished run folder and read
back for the report."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import subprocess
import sysconfig

from gp_mrc.atomic import write_text_atomic
from gp_mrc.inference.nbest_file import read_nbest

from .commands import branch_step, command, result_path, run_dir
from .paths import RESULTS, ROOT
from .rescoring import GOLDS, decodings, evaluated_golds, load_golds
from .studies import STUDIES, Study
from .variants import VARIANTS, Variant


def _read_jsonl(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_run(out: str) -> tuple[dict, dict, dict, dict | None]:
    """(the final evaluation, the training arguments, the n-best lists, the null odds or None) of a run folder."""
    with open(os.path.join(out, "eval_results.json")) as f:
        final = json.load(f)
    with open(os.path.join(out, "training_args.json")) as f:
        train_args = json.load(f)
    nbest = read_nbest(os.path.join(out, "nbest_predictions.json"))  # this format or an older run's
    null_odds = None
    if os.path.exists(os.path.join(out, "null_odds.json")):
        with open(os.path.join(out, "null_odds.json")) as f:
            null_odds = json.load(f)
    return final, train_args, nbest, null_odds


def curve_and_timing(study_name: str, v: Variant, seed: int, out: str, final: dict) -> tuple[list[dict], dict]:
    """A run's dev F1 curve and its training time; a branch's curve starts with its trunk's up to the branch point
    and its time adds the trunk's share (train_seconds_with_trunk)."""
    study = STUDIES[study_name]
    # intermediate points score the first --intermediate_eval_samples questions; the last point (the final
    # evaluation, the record with train_seconds) scores all of them
    curve = [
        {"step": r["step"], "exact_match": r.get("exact_match"), "f1": r.get("f1")}
        for r in _read_jsonl(os.path.join(out, "eval_log.jsonl"))
    ]
    timing = {k: final.get(k) for k in ("train_seconds", "train_steps", "train_windows_per_second", "peak_rss_mb")}
    timing.update({k: final[k] for k in ("peak_gpu_mb",) if k in final})  # GPU runs only
    if v.parent:
        parent = _load(result_path(study_name, v.parent, seed))
        at = branch_step(study, v)
        if parent:
            curve = [c for c in parent["curve"] if c["step"] <= at] + curve
            share = at / parent["timing"]["train_steps"]
            timing["train_seconds_with_trunk"] = round(
                parent["timing"]["train_seconds"] * share + (timing["train_seconds"] or 0), 1
            )
    return curve, timing


def collect_one(study_name: str, variant: str, seed: int) -> dict:
    """Write the result file of a finished run folder (and return it)."""
    study, v = STUDIES[study_name], VARIANTS[variant]
    out = run_dir(study_name, variant, seed)
    final, train_args, nbest, null_odds = read_run(out)
    if study.validation_file not in GOLDS:
        GOLDS[study.validation_file] = load_golds(study.validation_file, "--version_2_with_negative" in study.flags)
    curve, timing = curve_and_timing(study_name, v, seed, out, final)
    extra = {name: extra_scores(study, out, name, path, train_args) for name, path in study.extra_evals}
    result = {
        "study": study_name,
        "variant": variant,
        "label": v.label,
        "seed": seed,
        "parent": v.parent,
        "branch_step": branch_step(study, v) if v.parent else None,
        "command": "python " + " ".join(command(study_name, variant, seed)),
        "dtype": train_args.get("mixed_precision") or "fp32",
        "eval": {k: final[k] for k in ("exact_match", "f1") if k in final},
        "decoding": decodings(nbest, evaluated_golds(study), study.lang, null_odds),
        **({"extra": extra} if extra else {}),
        "curve": curve,
        "timing": timing,
        "machine": machine_of(final),
        "date": datetime.date.today().isoformat(),
        "git_commit": _git_commit(),
        "train_args": train_args,
    }
    path = result_path(study_name, variant, seed)
    previous = _load(path)
    if previous:  # re-scored from the same run folder: the run keeps the command, date and commit it was trained by
        result.update(
            command=previous["command"],
            date=previous["date"],
            git_commit=previous["git_commit"],
            rescored=result["date"],
        )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_text_atomic(path, portable(json.dumps(result, indent=1)))
    print(
        f"[{variant} seed {seed}] wrote {os.path.relpath(path, ROOT)}: F1 {result['eval'].get('f1', 0):.2f}", flush=True
    )
    return result


def portable(text: str) -> str:
    """Committed result files name no machine path: the installed packages' folder becomes <site-packages> (the
    optional encoders live there) and the project's parent folder becomes "..", as the commands are run from ROOT."""
    site = sysconfig.get_paths()["purelib"]
    return text.replace(site + os.sep, "<site-packages>/").replace(os.path.dirname(ROOT) + os.sep, "../")


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
        # nbest_predictions.json's format; log_prob as in training's n-best (expected-F1 decoding softmaxes it)
        nbest = {
            r["id"]: [dict(a, log_prob=math.log(max(a["score"], 1e-300))) for a in ans]
            for r, ans in zip(records, answers)
        }
        write_text_atomic(cache, json.dumps(nbest, ensure_ascii=False))
    nbest = read_nbest(cache)  # older caches hold the old format
    if path not in GOLDS:
        GOLDS[path] = load_golds(path, False)
    return {
        "file": os.path.relpath(path, ROOT),
        "questions": len(GOLDS[path]),
        "decoding": decodings(nbest, GOLDS[path], study.lang),
    }


def machine_of(final: dict) -> str:
    """This machine as the CPU studies record it; a run that trained on a GPU (eval_results' "device") names it."""
    cpu = f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}"
    device = final.get("device")
    return f"{device}; host {cpu}" if device and device != "cpu" else cpu


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
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
