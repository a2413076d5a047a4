"""The FastAPI app: POST / (the Inference API's question-answering schema), GET / (the page), GET /health.

Every refused request gets a JSON body {"error": "<one line>"} with a 4xx status: 400 (not JSON), 404/405
(no such route or method), 413 (body too large), 422 (a field missing, of the wrong type or out of range),
503 (too many questions waiting). An unexpected failure answers 500 {"error": ...} without a traceback (the
traceback goes to the server's log).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict, replace
from importlib import resources
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..data.examples import DataError
from .batcher import MicroBatcher, QueueFull
from .schema import Limits, RequestError, parse_body, shape_answers

log = logging.getLogger("gp_mrc.serving")


def model_max_positions(reader: Any) -> int | None:
    """The longest window the encoder takes (its position embeddings, or the tokenizer's limit), if known."""
    found = [getattr(getattr(m, "config", None), "max_position_embeddings", None) for m in reader.model.modules()]
    found = [n for n in found if isinstance(n, int) and n > 0]
    tok_max = getattr(reader.tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
        found.append(tok_max)
    return min(found) if found else None


def architecture_of(reader: Any) -> str:
    from ..models.modeling import GlobalPointerForQuestionAnswering

    exported = getattr(reader.model, "architecture", None)  # the ONNX Runtime backend names its own
    if isinstance(exported, str):
        return exported
    return "globalpointer" if isinstance(reader.model, GlobalPointerForQuestionAnswering) else "start_end"


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` bytes (whatever Content-Length claims)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"request body is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"request body is over {limit} bytes, the limit")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(reader: Any, *, limits: Limits | None = None, max_batch_size: int = 32, max_wait_ms: float = 10.0,
               max_queued: int = 1024, model_name: str = "") -> FastAPI:
    """The service for `reader` (a gp_mrc.Reader, or anything with its `answer`, `model`, `tokenizer`)."""
    limits = limits or Limits()
    positions = model_max_positions(reader)
    if positions is not None and positions < limits.max_seq_len:
        limits = replace(limits, max_seq_len=positions)
    architecture = architecture_of(reader)

    def answer_fn(records: list[dict], top_k: int, settings: dict) -> list[list[dict]]:
        return reader.answer(records, top_k=top_k, n_best_size=limits.max_top_k, **settings)

    batcher = MicroBatcher(answer_fn, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms, max_queued=max_queued)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="gp_mrc reader", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.batcher, app.state.limits = batcher, limits

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return error(500, f"internal error ({type(exc).__name__}); the server log has the details")

    @app.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8"))

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": model_name, "architecture": architecture,
                "heat_map": architecture == "globalpointer", "settings": reader.settings.to_dict(),
                "limits": asdict(limits),
                "batching": {"max_batch_size": max_batch_size, "max_wait_ms": max_wait_ms, **batcher.stats.as_dict()}}

    @app.post("/")
    async def answer(request: Request) -> JSONResponse:
        return await answer_request(request, batcher, limits)

    return app


async def answer_request(request: Request, batcher: MicroBatcher, limits: Limits) -> JSONResponse:
    """POST /: parse, queue for the batcher, shape the answers; every refusal a 4xx with one line."""
    try:
        req = parse_body(await read_body(request, limits.max_body_bytes), limits)
        results = await batcher.submit(req.records, req.parameters.top_k, req.parameters.reader_settings())
    except RequestError as e:
        return error(e.status, str(e))
    except QueueFull as e:
        return error(503, f"server busy: {e}; retry later")
    except ValueError as e:  # settings that do not fit together (DataError: no usable text), from the reader
        if isinstance(e, DataError):
            return error(422, "no input has any token left after the tokenizer's normalization (only whitespace"
                              " or control characters?): nothing to answer from")
        return error(422, str(e))
    for n, answers in enumerate(results):
        if not answers:
            where = f"inputs[{n}]" if req.is_list else "inputs"
            return error(422, f"{where}.context has no token left after the tokenizer's normalization (only "
                              "whitespace or control characters?): nothing to answer from")
    shaped = [shape_answers(a, req.parameters.top_k) for a in results]
    return JSONResponse(shaped if req.is_list else shaped[0])
