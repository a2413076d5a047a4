"""The request and response shapes of the Hugging Face Inference API's question-answering task, checked by hand so
every bad request gets one clear line (`RequestError`, an HTTP 4xx) instead of a validation dump or a 500.

Request: {"inputs": {"question": str, "context": str} | [those...], "parameters": {...}}: the question-answering
pipeline's parameters (PARAMETERS below: gp_mrc/inference/pipeline_compat.py names and translates them) and
min_score (parameters optional, each optional). An input may give "contexts": [str, ...] instead of "context": one
question over many passages (Reader.answer_passages), answered as {"answers": [{..., "passage": index}], "no_answer": probability}.
Response per single-passage input: {"answer", "score", "start", "end"} (and "expected_f1" under expected-F1 decoding,
which ranks by it), a list of them when top_k > 1; a list of
inputs gives a list of those. Offsets count Unicode code points, as Python's str does. Importing this module does
not import torch, transformers or FastAPI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..argtypes import non_negative_float, positive_int
from ..flags import setting
from ..inference.pipeline_compat import BOOL_PARAMETERS, INT_PARAMETERS, answer_keywords


class RequestError(ValueError):
    """A request the service refuses: `status` is the HTTP status, the message says what is wrong."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Batching:
    """How the service batches (its command-line flags; create_app's defaults)."""

    max_batch_size: int = setting(32, "questions per model call", type=positive_int)
    max_wait_ms: float = setting(
        10.0, "how long the first waiting request waits for others to join its batch", type=non_negative_float
    )
    max_queued: int = setting(
        1024,
        "passages (question-passage pairs) waiting; beyond, 503 (a request of more than this: 413)",
        type=positive_int,
    )
    max_batch_windows: int = setting(
        32, "windows per model call: a long request is cut into chunks of this many, served in turn", type=positive_int
    )
    lane_windows: int = setting(
        16, "requests of at most this many windows run in their own lane, beside the long ones", type=positive_int
    )


@dataclass(frozen=True)
class Limits:
    """What one request may ask for (the service's command-line flags)."""

    max_body_bytes: int = setting(1_000_000, type=positive_int)
    max_context_chars: int = setting(20_000, type=positive_int)
    max_question_chars: int = setting(1_000, type=positive_int)
    max_inputs: int = setting(32, "questions in one request", type=positive_int)
    max_passages: int = setting(
        64, 'question-passage pairs in one request (each of "contexts" counts)', type=positive_int
    )
    max_request_windows: int = setting(
        2048, "the cost cap: encoder windows one request may take; beyond, 413", type=positive_int
    )
    max_top_k: int = setting(20, type=positive_int)  # also the n-best size the page's heat map sums over
    max_seq_len: int = 512  # the encoder's positions (create_app lowers it to the model's)

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"limit {name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class Parameters:
    """A request's parameters: top_k, min_score, and the settings it gives (absent: the model folder's)."""

    top_k: int = 1
    min_score: float = 0.0  # "contexts" inputs only: answers under it are dropped
    settings: tuple[tuple[str, Any], ...] = ()  # (Reader.answer keyword, value), sorted; pipeline names translated

    def reader_settings(self) -> tuple[tuple[str, Any], ...]:
        """`Reader.answer` keyword arguments other than top_k: requests with equal settings share one batch.
        align_to_words is there only when the request set it (the app passes it only to a Reader taking it)."""
        return self.settings


@dataclass(frozen=True)
class Item:
    """One input: a question and its passages (`many`: given as "contexts", answered across them)."""

    question: str
    contexts: list[str]
    many: bool


@dataclass(frozen=True)
class QARequest:
    items: list[Item]  # in the request's order
    parameters: Parameters
    is_list: bool  # inputs came as a list: the response is a list too

    @property
    def records(self) -> list[dict]:
        """[{question, context}] for every passage of every input, in order: what the reader answers."""
        return [{"question": it.question, "context": c} for it in self.items for c in it.contexts]


PARAMETERS = INT_PARAMETERS + BOOL_PARAMETERS + ("min_score",)  # the pipeline's (no topk alias) and min_score
_SURROGATE = re.compile("[\ud800-\udfff]")


def _type_name(value: Any) -> str:
    return (
        "null"
        if value is None
        else {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
            type(value), type(value).__name__
        )
    )


def parse_request(data: Any, limits: Limits) -> QARequest:
    if not isinstance(data, dict):
        raise RequestError(422, f'request must be a JSON object with "inputs", got {_type_name(data)}')
    unknown = sorted(set(data) - {"inputs", "parameters", "options"})  # options: the Inference API's, ignored
    if unknown:
        raise RequestError(422, f'unknown request field {unknown[0]!r}; expected "inputs" and "parameters"')
    if "inputs" not in data:
        raise RequestError(422, 'missing field "inputs": give {"question": ..., "context": ...} or a list')
    inputs = data["inputs"]
    is_list = isinstance(inputs, list)
    raw = inputs if is_list else [inputs]
    if is_list and not raw:
        raise RequestError(422, '"inputs" is an empty list')
    if len(raw) > limits.max_inputs:
        raise RequestError(422, f'"inputs" has {len(raw)} questions; the limit is {limits.max_inputs} a request')
    items = [_parse_input(x, f"inputs[{n}]" if is_list else "inputs", limits) for n, x in enumerate(raw)]
    passages = sum(len(it.contexts) for it in items)
    if passages > limits.max_passages:
        raise RequestError(422, f"the request has {passages} passages; the limit is {limits.max_passages}")
    parameters = parse_parameters(data.get("parameters"), limits)
    if parameters.min_score and not any(it.many for it in items):
        raise RequestError(422, 'parameter min_score applies to inputs with "contexts" (many passages)')
    return QARequest(items, parameters, is_list)


def check_text(value: str, where: str, limit: int) -> None:
    if not value.strip():
        raise RequestError(422, f"{where} is empty")
    if len(value) > limit:
        raise RequestError(422, f"{where} has {len(value)} characters; the limit is {limit}")
    bad = _SURROGATE.search(value)  # a lone surrogate ("\\ud800") is not Unicode text: no tokenizer takes it
    if bad:
        raise RequestError(
            400,
            f"{where} holds a lone surrogate (U+{ord(bad.group()):04X}) at character "
            f"{bad.start()}: not valid Unicode text",
        )


def _parse_input(item: Any, where: str, limits: Limits) -> Item:
    if not isinstance(item, dict):
        raise RequestError(422, f'{where} must be an object {{"question", "context"}}, got {_type_name(item)}')
    many = "contexts" in item
    key = "contexts" if many else "context"
    for name in ("question", key):
        if name not in item:
            raise RequestError(422, f'{where} is missing "{name}"')
    extra = sorted(set(item) - {"question", key})
    if extra:
        raise RequestError(422, f'{where} has an unknown field {extra[0]!r}; expected "question" and "{key}"')
    contexts = item[key] if many else [item[key]]
    if many and (not isinstance(contexts, list) or not contexts):
        raise RequestError(422, f"{where}.contexts must be a non-empty array of strings, got {_type_name(contexts)}")
    for name, value, limit in [("question", item["question"], limits.max_question_chars)] + [
        (f"contexts[{n}]" if many else "context", c, limits.max_context_chars) for n, c in enumerate(contexts)
    ]:
        if not isinstance(value, str):
            raise RequestError(422, f"{where}.{name} must be a string, got {_type_name(value)}")
        check_text(value, f"{where}.{name}", limit)
    return Item(item["question"], list(contexts), many)


def parse_parameters(raw: Any, limits: Limits) -> Parameters:
    if raw is None:
        return Parameters()
    if not isinstance(raw, dict):
        raise RequestError(422, f'"parameters" must be an object, got {_type_name(raw)}')
    unknown = sorted(set(raw) - set(PARAMETERS))
    if unknown:
        raise RequestError(422, f"unknown parameter {unknown[0]!r}; known: {', '.join(PARAMETERS)}")
    values = {k: v for k, v in raw.items() if v is not None}
    for name in INT_PARAMETERS:
        if name in values and (isinstance(values[name], bool) or not isinstance(values[name], int)):
            raise RequestError(422, f"parameter {name} must be an integer, got {_type_name(values[name])}")
        if name in values and values[name] < 1:
            raise RequestError(422, f"parameter {name} must be >= 1, got {values[name]}")
    for name in BOOL_PARAMETERS:
        if name in values and not isinstance(values[name], bool):
            raise RequestError(422, f"parameter {name} must be true or false, got {_type_name(values[name])}")
    score = values.get("min_score", 0.0)
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0.0 <= score <= 1.0:
        raise RequestError(422, f"parameter min_score must be a probability in [0, 1], got {score!r}")
    if values.get("top_k", 1) > limits.max_top_k:
        raise RequestError(422, f"parameter top_k must be <= {limits.max_top_k}, got {values['top_k']}")
    if values.get("max_seq_len", 0) > limits.max_seq_len:
        raise RequestError(
            422,
            f"parameter max_seq_len must be <= {limits.max_seq_len} (the model's positions), "
            f"got {values['max_seq_len']}",
        )
    settings = answer_keywords({k: v for k, v in values.items() if k not in ("top_k", "min_score")})
    return Parameters(top_k=values.get("top_k", 1), min_score=score, settings=tuple(sorted(settings.items())))


def shape_answers(answers: list[dict], top_k: int) -> dict | list:
    """One input's answers in the Inference API's shape: the answer object, or a list of them when top_k > 1.
    The null answer ("" of a model that may abstain) sits at start = end = 0, as the pipeline had it."""
    shaped = []
    for a in answers:
        start, end = (0, 0) if a["start"] < 0 else (a["start"], a["end"])
        shaped.append({"answer": a["answer"], "score": float(a["score"]), "start": start, "end": end, **ranked_by(a)})
    return shaped if top_k > 1 else shaped[0]


def ranked_by(answer: dict) -> dict:
    """{"expected_f1": ...} where the decoding ranked the answers by it (their order is not the scores'), else {}."""
    return {"expected_f1": float(answer["expected_f1"])} if "expected_f1" in answer else {}


def shape_passage_answers(answers: list[dict], no_answer: float) -> dict:
    """A "contexts" input's answers: every one with its passage index, and the probability that none answers."""
    return {
        "answers": [
            {
                "answer": a["answer"],
                "score": float(a["score"]),
                "start": a["start"],
                "end": a["end"],
                "passage": a["passage"],
                **ranked_by(a),
            }
            for a in answers
        ],
        "no_answer": float(no_answer),
    }
