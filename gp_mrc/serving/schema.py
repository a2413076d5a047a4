"""The request and response shapes of the Hugging Face Inference API's question-answering task, checked by hand so
every bad request gets one clear line (`RequestError`, an HTTP 4xx) instead of a validation dump or a 500.

Request: {"inputs": {"question": str, "context": str} | [those...], "parameters": {top_k, doc_stride,
max_answer_len, max_seq_len, max_question_len, handle_impossible_answer}} (parameters optional, each optional).
Response per input: {"answer", "score", "start", "end"}, a list of them when top_k > 1; a list of inputs gives a
list of those. Importing this module does not import torch, transformers or FastAPI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class RequestError(ValueError):
    """A request the service refuses: `status` is the HTTP status, the message says what is wrong."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """What one request may ask for (the service's command-line flags)."""

    max_body_bytes: int = 1_000_000
    max_context_chars: int = 20_000
    max_question_chars: int = 1_000
    max_inputs: int = 32  # questions in one request
    max_top_k: int = 20  # also the n-best size the page's heat map sums over
    max_seq_len: int = 512  # the encoder's positions (create_app lowers it to the model's)

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"limit {name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class Parameters:
    """A request's parameters (None: the model folder's inference setting)."""

    top_k: int = 1
    doc_stride: int | None = None
    max_answer_len: int | None = None
    max_seq_len: int | None = None
    max_question_len: int | None = None
    handle_impossible_answer: bool | None = None

    def reader_settings(self) -> tuple[tuple[str, Any], ...]:
        """`Reader.answer` keyword arguments other than top_k: requests with equal settings share one batch."""
        return (("doc_stride", self.doc_stride), ("max_answer_length", self.max_answer_len),
                ("max_seq_length", self.max_seq_len), ("max_query_length", self.max_question_len),
                ("handle_impossible_answer", self.handle_impossible_answer))


@dataclass(frozen=True)
class QARequest:
    records: list[dict]  # [{question, context}], in the request's order
    parameters: Parameters
    is_list: bool  # inputs came as a list: the response is a list too


INT_PARAMETERS = ("top_k", "doc_stride", "max_answer_len", "max_seq_len", "max_question_len")
PARAMETERS = INT_PARAMETERS + ("handle_impossible_answer",)


def _type_name(value: Any) -> str:
    return "null" if value is None else {dict: "object", list: "array", str: "string", bool: "boolean",
                                         int: "integer", float: "number"}.get(type(value), type(value).__name__)


def parse_body(body: bytes, limits: Limits) -> QARequest:
    """The request body → a QARequest, or RequestError (400 not JSON, 413 too big, 422 a field wrong)."""
    if len(body) > limits.max_body_bytes:
        raise RequestError(413, f"request body is {len(body)} bytes; the limit is {limits.max_body_bytes}")
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestError(400, "request body is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise RequestError(400, f"request body is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") \
            from None
    return parse_request(data, limits)


def parse_request(data: Any, limits: Limits) -> QARequest:
    if not isinstance(data, dict):
        raise RequestError(422, f"request must be a JSON object with \"inputs\", got {_type_name(data)}")
    unknown = sorted(set(data) - {"inputs", "parameters", "options"})  # options: the Inference API's, ignored
    if unknown:
        raise RequestError(422, f"unknown request field {unknown[0]!r}; expected \"inputs\" and \"parameters\"")
    if "inputs" not in data:
        raise RequestError(422, "missing field \"inputs\": give {\"question\": ..., \"context\": ...} or a list")
    inputs = data["inputs"]
    is_list = isinstance(inputs, list)
    items = inputs if is_list else [inputs]
    if is_list and not items:
        raise RequestError(422, "\"inputs\" is an empty list")
    if len(items) > limits.max_inputs:
        raise RequestError(422, f"\"inputs\" has {len(items)} questions; the limit is {limits.max_inputs} a request")
    records = [_parse_input(x, f"inputs[{n}]" if is_list else "inputs", limits) for n, x in enumerate(items)]
    return QARequest(records, parse_parameters(data.get("parameters"), limits), is_list)


def _parse_input(item: Any, where: str, limits: Limits) -> dict:
    if not isinstance(item, dict):
        raise RequestError(422, f"{where} must be an object {{\"question\", \"context\"}}, got {_type_name(item)}")
    for key in ("question", "context"):
        if key not in item:
            raise RequestError(422, f"{where} is missing \"{key}\"")
        if not isinstance(item[key], str):
            raise RequestError(422, f"{where}.{key} must be a string, got {_type_name(item[key])}")
        if not item[key].strip():
            raise RequestError(422, f"{where}.{key} is empty")
    extra = sorted(set(item) - {"question", "context"})
    if extra:
        raise RequestError(422, f"{where} has an unknown field {extra[0]!r}; expected \"question\" and \"context\"")
    for key, limit in (("question", limits.max_question_chars), ("context", limits.max_context_chars)):
        if len(item[key]) > limit:
            raise RequestError(422, f"{where}.{key} has {len(item[key])} characters; the limit is {limit}")
    return {"question": item["question"], "context": item["context"]}


def parse_parameters(raw: Any, limits: Limits) -> Parameters:
    if raw is None:
        return Parameters()
    if not isinstance(raw, dict):
        raise RequestError(422, f"\"parameters\" must be an object, got {_type_name(raw)}")
    unknown = sorted(set(raw) - set(PARAMETERS))
    if unknown:
        raise RequestError(422, f"unknown parameter {unknown[0]!r}; known: {', '.join(PARAMETERS)}")
    values = {k: v for k, v in raw.items() if v is not None}
    for name in INT_PARAMETERS:
        if name in values and (isinstance(values[name], bool) or not isinstance(values[name], int)):
            raise RequestError(422, f"parameter {name} must be an integer, got {_type_name(values[name])}")
        if name in values and values[name] < 1:
            raise RequestError(422, f"parameter {name} must be >= 1, got {values[name]}")
    if "handle_impossible_answer" in values and not isinstance(values["handle_impossible_answer"], bool):
        raise RequestError(422, "parameter handle_impossible_answer must be true or false, got "
                                + _type_name(values["handle_impossible_answer"]))
    if values.get("top_k", 1) > limits.max_top_k:
        raise RequestError(422, f"parameter top_k must be <= {limits.max_top_k}, got {values['top_k']}")
    if values.get("max_seq_len", 0) > limits.max_seq_len:
        raise RequestError(422, f"parameter max_seq_len must be <= {limits.max_seq_len} (the model's positions), "
                                f"got {values['max_seq_len']}")
    return Parameters(**values)


def shape_answers(answers: list[dict], top_k: int) -> dict | list:
    """One input's answers in the Inference API's shape: the answer object, or a list of them when top_k > 1.
    The null answer ("" of a model that may abstain) sits at start = end = 0, as the pipeline had it."""
    shaped = []
    for a in answers:
        start, end = (0, 0) if a["start"] < 0 else (a["start"], a["end"])
        shaped.append({"answer": a["answer"], "score": float(a["score"]), "start": start, "end": end})
    return shaped if top_k > 1 else shaped[0]
