"""The answering speed benchmarks of scripts/benchmark_speed.py: questions/s of `Reader` against transformers' fp32
loop (`predict`), and where predict.py's time goes on a Chinese dev set (`zh_decoding`)."""

from __future__ import annotations

import argparse
import statistics
import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import numpy as np


def transformers_loop(
    model,
    tokenizer,
    questions,
    contexts,
    *,
    max_seq_length=384,
    doc_stride=128,
    batch_size=32,
    n_best_size=20,
    max_answer_length=30,
) -> list[str]:
    """What pipeline("question-answering") did, in fp32: windows with stride, start/end logits, then per window
    the top-n starts × top-n ends (the QA examples' postprocess_qa_predictions), best over windows."""
    import numpy as np
    import torch

    enc = tokenizer(
        questions,
        contexts,
        truncation="only_second",
        max_length=max_seq_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="longest",
    )
    sample = enc.pop("overflow_to_sample_mapping")
    offsets = enc.pop("offset_mapping")
    best: dict[int, tuple[float, str]] = {}
    for lo in range(0, len(sample), batch_size):
        inputs = {k: torch.tensor(v[lo : lo + batch_size]) for k, v in enc.items()}
        with torch.inference_mode():
            out = model(**inputs)
        starts, ends = out.start_logits.numpy(), out.end_logits.numpy()
        for b in range(starts.shape[0]):
            f = lo + b
            seq = enc.sequence_ids(f)
            offs, ex = offsets[f], sample[f]
            for s in np.argsort(starts[b])[-1 : -n_best_size - 1 : -1]:
                for e in np.argsort(ends[b])[-1 : -n_best_size - 1 : -1]:
                    if seq[s] != 1 or seq[e] != 1 or e < s or e - s + 1 > max_answer_length:
                        continue
                    score = float(starts[b][s] + ends[b][e])
                    if ex not in best or score > best[ex][0]:
                        best[ex] = (score, contexts[ex][offs[s][0] : offs[e][1]])
    return [best.get(i, (0.0, ""))[1] for i in range(len(questions))]


def bench_predict(args: argparse.Namespace) -> dict:
    import datasets
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from gp_mrc.data.examples import load_examples
    from gp_mrc.inference.reader import Reader

    datasets.disable_progress_bars()
    examples = load_examples(args.validation_file, max_samples=args.questions)
    records = [{"id": e["id"], "question": e["question"], "context": e["context"]} for e in examples]
    qs, cs = [r["question"] for r in records], [r["context"] for r in records]
    kw = dict(max_seq_length=args.max_seq_length, doc_stride=128)
    readers = {
        "predict.py start/end (auto)": Reader.from_pretrained(args.start_end_model, **kw),
        "predict.py GlobalPointer (auto)": Reader.from_pretrained(args.globalpointer_model, **kw),
        "predict.py GlobalPointer (fp32)": Reader.from_pretrained(args.globalpointer_model, mixed_precision="no", **kw),
    }
    hf_model = AutoModelForQuestionAnswering.from_pretrained(args.start_end_model).eval()
    tok = AutoTokenizer.from_pretrained(args.start_end_model)
    runners = {k: (lambda r=r: r.answer(records)) for k, r in readers.items()}
    gp = readers["predict.py GlobalPointer (auto)"]
    runners["predict.py GlobalPointer (auto, expected-F1 decoding)"] = lambda: gp.answer(
        records, decoding="expected_f1"
    )
    runners["transformers fp32 loop, start/end"] = lambda: transformers_loop(hf_model, tok, qs, cs, **kw)
    times: dict[str, list[float]] = {k: [] for k in runners}
    torch.set_grad_enabled(False)
    for _ in range(args.repeats):
        for k, run in runners.items():  # interleaved: machine noise hits every system alike
            t = time.perf_counter()
            run()
            times[k].append(time.perf_counter() - t)
    qps = {k: len(records) / statistics.median(v) for k, v in times.items()}
    base = qps["transformers fp32 loop, start/end"]
    return {
        "questions": len(records),
        "repeats": args.repeats,
        "questions_per_s": qps,
        "ratio_to_transformers_fp32": {k: v / base for k, v in qps.items()},
        "globalpointer_over_start_end": qps["predict.py GlobalPointer (auto)"] / qps["predict.py start/end (auto)"],
        "expected_f1_over_argmax": qps["predict.py GlobalPointer (auto, expected-F1 decoding)"]
        / qps["predict.py GlobalPointer (auto)"],
    }


def pair_by_pair(toks: list) -> np.ndarray:
    """The common-run-length matrix as the implementation before computed it: find_lcs on every pair."""
    import numpy as np

    from gp_mrc.metrics.scoring import longest_common_substring

    k = len(toks)
    out = np.zeros((k, k))
    for a in range(k):
        out[a, a] = len(toks[a])
        for b in range(a + 1, k):
            out[a, b] = out[b, a] = longest_common_substring(toks[a], toks[b])
    return out


def timed_decoding(decode_once: Callable[[], dict], repeats: int, runs: Callable | None = None) -> tuple[float, dict]:
    """(median CPU seconds of decode_once over repeats, its answers), decoding's common-run lengths computed by
    runs while it runs (None: decoding's own match-only programme)."""
    import gp_mrc.inference.decoding as decoding

    match_only = decoding.common_run_lengths
    decoding.common_run_lengths = runs or match_only
    try:
        times, preds = [], None
        for _ in range(repeats):
            t = time.process_time()
            preds = decode_once()
            times.append(time.process_time() - t)
        return statistics.median(times), preds
    finally:
        decoding.common_run_lengths = match_only


def windows_and_scores(args: argparse.Namespace, reader) -> tuple:
    """(examples, their windows, the model's window results and raw scores, CPU seconds of windowing, of the
    model) for --validation_file's first --questions questions."""
    import torch

    from gp_mrc.data.examples import load_examples
    from gp_mrc.data.features import prepare_features
    from gp_mrc.inference.predict import inference_loader, predict_windows
    from gp_mrc.precision import autocast

    s = reader.settings
    examples = load_examples(args.validation_file, max_samples=args.questions, require_answers=False)
    clock = time.process_time
    t = clock()
    features = prepare_features(
        examples,
        reader.tokenizer,
        max_seq_length=s.max_seq_length,
        doc_stride=s.doc_stride,
        max_query_length=s.max_query_length,
    )
    windows_s = clock() - t
    loader = inference_loader(features, reader.tokenizer.pad_token_id or 0, args.batch_size)
    t = clock()
    with torch.no_grad(), autocast(reader.device.type, reader.mixed_precision):
        results, raw = predict_windows(reader.model, loader, 20, None, s.max_answer_length, True)
    model_s = clock() - t
    return examples, features, results, raw, windows_s, model_s


def bench_zh_decoding(args: argparse.Namespace) -> dict:
    import datasets

    import gp_mrc.inference.decoding as decoding
    from gp_mrc.inference.reader import Reader

    datasets.disable_progress_bars()
    reader = Reader.from_pretrained(args.globalpointer_model)
    s = reader.settings
    examples, features, results, raw, windows_s, model_s = windows_and_scores(args, reader)

    def decode(kind: str, runs: Callable | None = None) -> tuple[float, dict]:
        def once() -> dict:
            return decoding.best_answers(
                examples,
                features,
                results,
                n_best_size=20,
                raw_scores=raw,
                decoding=kind,
                temperature=1.0,
                lang=s.lang,
            )[0]

        return timed_decoding(once, args.repeats, runs)

    argmax_s, _ = decode("argmax")
    old_s, old = decode("expected_f1", pair_by_pair)
    new_s, new = decode("expected_f1")
    total_new = windows_s + model_s + new_s
    return {
        "questions": len(examples),
        "windows": len(features),
        "lang": s.lang,
        "repeats (decoding)": args.repeats,
        "cpu_seconds": {
            "windows": windows_s,
            "model": model_s,
            "decode argmax": argmax_s,
            "decode expected_f1, pair by pair": old_s,
            "decode expected_f1, match-only": new_s,
        },
        "expected_f1_lcs_share_of_predict": {
            "pair by pair": (old_s - argmax_s) / (windows_s + model_s + old_s),
            "match-only": (new_s - argmax_s) / total_new,
        },
        "same_answers": old == new,
    }
