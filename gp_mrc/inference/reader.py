"""`Reader.from_pretrained(folder)(question=..., context=...)`: answers as transformers' question-answering
pipeline did, with any model folder (GlobalPointer or start/end, ours or a plain transformers QA model)."""

from __future__ import annotations

import math
from typing import Any, Iterable

import torch

from ..data.examples import build_examples, labelled_records
from ..data.features import prepare_features
from .answers import ALIGN_TO_WORDS, ranked_answers
from .compiled import break_even_windows, compile_model, resolve_compile, warm_forward
from .predict import LENGTH_BUCKET, answer_features, bucket_lengths
from ..models.loading import as_span_model, load_model, load_tokenizer, settings_of
from ..models.positions import check_max_seq_length
from .pipeline_compat import answer_keywords, check_pipeline_limits, pipeline_output, pipeline_records, resolve_top_k
from ..precision import resolve_mixed_precision
from .onnx_backend import OnnxSpanModel, load_onnx_model, resolve_backend
from .quantization import quantize_encoder, resolve_quantize
from ..settings import N_BEST_SIZE, PIPELINE_DEFAULTS, InferenceSettings, Runtime
from .passages import answer_passages

PROGRESS_MIN_RECORDS = 64  # fewer questions than this answer without progress bars


def check_counts(**counts: int | None) -> None:
    """top_k, n_best_size, batch_size: positive integers (None: the default), else one clear ValueError."""
    for name, value in counts.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def resolve_device(device: str | None) -> torch.device:
    """The device to answer on: the one named, else CUDA where torch sees a GPU, else the CPU. A name torch does not
    know, or a CUDA device it cannot see, is a ValueError naming it (not a traceback from inside `model.to`)."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device {device!r} is not a torch device ({e})") from None
    if resolved.type == "cuda" and (
        not torch.cuda.is_available() or (resolved.index or 0) >= torch.cuda.device_count()
    ):
        raise ValueError(
            f"device {device!r}: torch sees {torch.cuda.device_count()} CUDA device(s) here "
            "(a CPU-only torch, or no GPU); use device='cpu'"
        )
    return resolved


class Reader:
    """A model, its tokenizer and its inference settings (the folder's unless overridden), ready to answer."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        settings: InferenceSettings | None = None,
        *,
        batch_size: int = Runtime.batch_size,
        device: str | None = Runtime.device,
        mixed_precision: str = Runtime.mixed_precision,
        quantize: str = "none",
        compile: str = Runtime.compile,
        **overrides: Any,
    ):
        """`overrides`: any InferenceSettings field (max_seq_length=256, decoding="expected_f1", ...); None keeps
        the model's value. A plain transformers QA model is wrapped as a start/end reader.
        `quantize`: "int8" (CPU: dynamic int8 encoder linears, computed in fp32 around them) or "none".
        `compile`: "yes" compiles the encoder now, "auto" where it pays (gp_mrc/inference/compiled.py), "no" never."""
        check_counts(batch_size=batch_size)
        self.compiled = False  # whether the model runs compiled (`compile_now`)
        if isinstance(model, OnnxSpanModel):  # ONNX Runtime: the CPU, the precision the export was written in
            self.compile = resolve_compile(compile, "cpu", "no", backend="onnxruntime")
            self._init_onnx(model, tokenizer, settings, batch_size, device, mixed_precision, quantize, overrides)
            return
        self.backend = "torch"
        self.device = resolve_device(device)
        self.quantize = resolve_quantize(quantize, self.device.type)
        if self.quantize == "int8" and mixed_precision not in ("auto", "no"):
            raise ValueError(
                f"quantize='int8' computes in fp32 around the int8 layers; mixed_precision "
                f"{mixed_precision!r} cannot go with it (use 'auto' or 'no')"
            )
        # bf16 where measured faster than fp32 (gp_mrc/precision.py's BF16_FASTER_ON), else fp32
        self.mixed_precision = (
            "no" if self.quantize == "int8" else resolve_mixed_precision(mixed_precision, self.device.type)
        )
        model = as_span_model(model)
        self.settings = (settings or settings_of(model)).replace(**overrides)
        check_max_seq_length(self.settings.max_seq_length, model, tokenizer)  # before any work, one line
        self.model = model.to(self.device).eval()
        if self.quantize == "int8":
            self.model = quantize_encoder(self.model)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.compile = resolve_compile(compile, self.device.type, self.mixed_precision, quantize=self.quantize)
        self.compile_now(windows=0)  # "yes": now

    def compile_now(self, windows: int | None = None) -> bool:
        """Compiles the model (once) unless compile is "no", or "auto" and a call of `windows` windows is below
        break_even_windows (None: compile now); whether the model runs compiled."""
        auto = self.compile == "auto" and (windows is None or windows >= break_even_windows(self.model))
        if (auto or self.compile == "yes") and not self.compiled:
            longest = (bucket_lengths(self.settings.max_seq_length)[-1],)  # one graph from 32 tokens to the longest
            self.compiled = compile_model(self.model, lambda: self.warm_up((2, 1), (LENGTH_BUCKET,) + longest))
            self.compile = "yes" if self.compiled else "no"
        return self.compiled

    def warm_up(self, batch_sizes: tuple[int, ...] | None = None, lengths: tuple[int, ...] | None = None) -> None:
        """A forward pass at each padded window length (or `lengths`) and batch size (None: the reader's, the
        one row count `answer`'s passes have)."""
        sizes = batch_sizes or (self.batch_size,)
        warm_forward(self.model, self.tokenizer, self.settings, self.mixed_precision, sizes, lengths)

    def _init_onnx(
        self,
        model: OnnxSpanModel,
        tokenizer: Any,
        settings: InferenceSettings | None,
        batch_size: int,
        device: str | None,
        mixed_precision: str,
        quantize: str,
        overrides: dict,
    ) -> None:
        if device not in (None, "cpu") or mixed_precision not in ("auto", "no") or quantize != "none":
            raise ValueError(
                "the onnxruntime backend runs the exported graph on the CPU as exported (fp32, or "
                "int8 with gp-mrc export --quantize int8): device, mixed_precision and quantize "
                "cannot change it"
            )
        self.backend, self.device, self.quantize, self.mixed_precision = (
            "onnxruntime",
            torch.device("cpu"),
            "none",
            "no",
        )
        self.settings = (settings or PIPELINE_DEFAULTS).replace(**overrides)
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size

    @classmethod
    def from_pretrained(
        cls, name_or_path: str, backend: str | None = None, cpu_threads: int | None = None, **kwargs: Any
    ) -> "Reader":
        """Any model folder or hub name (see gp_mrc.models.loading), or a folder written by `gp-mrc export`
        (`backend`: "torch" | "onnxruntime"; None: onnxruntime for an exported folder). `cpu_threads`: the ONNX
        Runtime session's threads (None: one per core; torch's threads are the process's, torch.set_num_threads).
        Raises FileNotFoundError (missing folder or files) or OSError (files that cannot be read), each with a
        one-line message naming the folder."""
        check_counts(cpu_threads=cpu_threads)
        if resolve_backend(name_or_path, backend) == "onnxruntime":
            model, settings = load_onnx_model(name_or_path, cpu_threads)
            return cls(model, load_tokenizer(name_or_path), settings, **kwargs)
        loaded = load_model(name_or_path)
        return cls(loaded.model, load_tokenizer(name_or_path), loaded.settings, **kwargs)

    @property
    def version_2(self) -> bool:
        return self.settings.version_2_with_negative

    def answer(
        self,
        records: Iterable[dict],
        *,
        top_k: int = 1,
        align_to_words: bool = ALIGN_TO_WORDS,
        n_best_size: int = N_BEST_SIZE,
        max_answer_length: int | None = None,
        handle_impossible_answer: bool | None = None,
        null_score_diff_threshold: float | None = None,
        progress: bool = False,
        decoding: str | None = None,
        temperature: float | None = None,
        max_seq_length: int | None = None,
        doc_stride: int | None = None,
        max_query_length: int | None = None,
        batch_size: int | None = None,
        return_null_odds: bool = False,
    ) -> list[list[dict]] | tuple[list[list[dict]], list[float | None]]:
        """records: dicts with id (optional), question, context. Returns, per record and in their order, the
        top_k answers as {answer, score (probability), start, end[, expected_f1]} (character offsets, end
        exclusive; the null answer "" of a SQuAD v2 model at -1, -1), sorted by the decoding's key: score, or
        under `decoding="expected_f1"` the expected F1 under the model's span distribution (temperature on p,
        the model's metric language); `align_to_words` widens spans to whole words (gp_mrc/inference/answers.py).
        Every None setting is the reader's (see `self.settings`, and `self.batch_size`). An answer does not
        depend on the other records of the call (length-bucketed batches: gp_mrc/inference/predict.py).
        Progress bars show only with `progress` and more than PROGRESS_MIN_RECORDS records.

        A record with an empty question or passage gets no answers ([]), with a warning naming it; if no record
        is usable, raises `DataError`. `return_null_odds` (as numpy's `return_counts`): also each record's null
        odds, min over windows of log p(null) − best span log p (SQuAD v2's na_prob; None without a window)."""
        check_counts(top_k=top_k, n_best_size=n_best_size, batch_size=batch_size)
        check_flag("align_to_words", align_to_words)
        s = self.settings.replace(
            max_answer_length=max_answer_length,
            version_2_with_negative=handle_impossible_answer,
            null_score_diff_threshold=null_score_diff_threshold,
            decoding=decoding,
            decoding_temperature=temperature,
            max_seq_length=max_seq_length,
            doc_stride=doc_stride,
            max_query_length=max_query_length,
        )
        check_max_seq_length(s.max_seq_length, self.model, self.tokenizer)
        recs = labelled_records(records)
        show = progress and len(recs) > PROGRESS_MIN_RECORDS
        examples = build_examples(recs, source="input", version_2=True, require_answers=False)
        preds, nbest, null_diff = self._decode(
            examples, s, max(n_best_size, top_k), batch_size or self.batch_size, show
        )
        answers = [
            ranked_answers(nbest.get(rec["id"], []), preds.get(rec["id"]), rec["context"], top_k, align_to_words)
            for _, rec in recs
        ]
        if not return_null_odds:
            return answers
        odds = [null_diff.get(rec["id"]) for _, rec in recs]
        return answers, [x if x is not None and math.isfinite(x) else None for x in odds]

    def windows(self, examples: Any, s: InferenceSettings | None = None, show: bool = False) -> Any:
        """The examples' windows as `answer` builds them (prepare_features under settings `s`, else the reader's)."""
        s = s or self.settings
        return prepare_features(
            examples,
            self.tokenizer,
            max_seq_length=s.max_seq_length,
            doc_stride=s.doc_stride,
            max_query_length=s.max_query_length,
            desc="Building windows",
            progress=show,
        )

    def _decode(
        self, examples: Any, s: InferenceSettings, n_best_size: int, batch_size: int, show: bool
    ) -> tuple[dict[str, str], dict[str, list[dict]], dict[str, float]]:
        """The examples' windows through the model under settings `s`: (predictions, n-best lists, null odds) by id."""
        features = self.windows(examples, s, show)
        self.compile_now(len(features))  # under "auto": a call large enough pays for compiling
        return answer_features(
            self.model,
            examples,
            features,
            s,
            pad_token_id=self.tokenizer.pad_token_id or 0,
            batch_size=batch_size,
            n_best_size=n_best_size,
            disable_progress=not show,
            mixed_precision=self.mixed_precision,
        )

    def answer_passages(
        self,
        question: str,
        contexts: list[str],
        *,
        top_k: int = 5,
        min_score: float = 0.0,
        align_to_words: bool = ALIGN_TO_WORDS,
        **kwargs: Any,
    ) -> list[dict]:
        """One question over several passages: the top_k answers across them, ranked by span probability, each
        {answer, score, start, end, passage} (character offsets into contexts[passage]); near-duplicates merged
        and answers under `min_score` dropped ([] = no answer). See gp_mrc/inference/passages.py; keyword arguments go to
        `answer`."""
        return answer_passages(
            self, question, contexts, top_k=top_k, min_score=min_score, align_to_words=align_to_words, **kwargs
        )

    def __call__(
        self,
        question: Any = None,
        context: Any = None,
        top_k: int | None = None,
        *,
        topk: int | None = None,
        **kwargs: Any,
    ) -> dict | list:
        """transformers' pipeline("question-answering") call: `reader(question=..., context=..., top_k=1, ...)`
        with the pipeline's keyword parameters (align_to_words, handle_impossible_answer, doc_stride and the
        three it names differently: pipeline_compat.PIPELINE_NAMES; `topk`: the old alias of top_k) and a question
        and a context, a list of questions and one context, two lists, or {question, context} records (a list or a
        generator); returns {"score", "start", "end", "answer"} (a list when top_k > 1 finds several answers, and
        a list of those for several questions or any generator of records), as the pipeline did. Settings left
        None are the folder's (for a plain transformers folder, the pipeline's defaults). Other keyword arguments
        go to `answer`."""
        top_k = resolve_top_k(top_k, topk)
        check_pipeline_limits(top_k, kwargs)
        records, one_per_record = pipeline_records(question, context)
        answers = self.answer(records, top_k=top_k, **answer_keywords(kwargs))
        return pipeline_output(answers, one_per_record)
