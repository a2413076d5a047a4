"""The FastAPI app: POST / (the Inference API's question-answering schema, and "contexts" for many passages),
GET|HEAD / (the page), GET|HEAD /health, GET /metrics (Prometheus text), GET /docs (OpenAPI).

Every refused request gets a JSON body {"error": "<one line>"} with a 4xx status: 400 (bytes that are not JSON
text: not UTF-8, bad syntax, nested too deep, a lone surrogate), 404/405 (no such route or method), 413 (body too
large, or more encoder windows than the cost cap), 422 (a field missing, of the wrong type or out of range),
503 with Retry-After (too many questions waiting). An unexpected failure answers 500 {"error": ...} without a
traceback (the traceback goes to the server's log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict, replace
from importlib import resources
from typing import Any, AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..data.examples import DataError
from ..models.positions import max_positions
from .batcher import QueueFull
from .body import parse_body, read_body
from .metrics import Metrics, merged_sizes
from .schema import PARAMETERS, Batching, Limits, RequestError
from .service import Service

log = logging.getLogger("gp_mrc.serving")
RETRY_AFTER_S = 1
REQUEST_SCHEMA = {  # for /docs: the body is read by hand (schema.py), so FastAPI cannot infer it
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "inputs": {"description": "{question, context} or {question, contexts: [...]}, or a list"},
        "parameters": {"type": "object", "description": ", ".join(PARAMETERS)},
    },
    "example": {"inputs": {"question": "Who founded the city?", "context": "The city was founded by Ana."}},
}


def architecture_of(reader: Any) -> str:
    from ..models.modeling import GlobalPointerForQuestionAnswering

    exported = getattr(reader.model, "architecture", None)  # the ONNX Runtime backend names its own
    if isinstance(exported, str):
        return exported
    return "globalpointer" if isinstance(reader.model, GlobalPointerForQuestionAnswering) else "start_end"


def error(status: int, message: str) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(
    reader: Any,
    *,
    limits: Limits | None = None,
    max_batch_size: int = Batching.max_batch_size,
    max_wait_ms: float = Batching.max_wait_ms,
    max_queued: int = Batching.max_queued,
    model_name: str = "",
    max_batch_windows: int = Batching.max_batch_windows,
    lane_windows: int = Batching.lane_windows,
) -> FastAPI:
    """The service for `reader` (a gp_mrc.Reader, or anything with its `answer`, `model`, `tokenizer`,
    `settings`). `model_name` is shown on /health and the page: a folder's name or a hub name, never a path."""
    limits = limits or Limits()
    positions = max_positions(reader.model, reader.tokenizer)
    if positions is not None and positions < limits.max_seq_len:
        limits = replace(limits, max_seq_len=positions)
    architecture = architecture_of(reader)
    service = Service(
        reader,
        limits,
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        max_queued=max_queued,
        max_batch_windows=max_batch_windows,
        lane_windows=lane_windows,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.stop()

    app = FastAPI(
        title="gp_mrc reader", lifespan=lifespan, docs_url="/docs", redoc_url=None, openapi_url="/openapi.json"
    )
    app.state.service, app.state.limits = service, limits
    add_handlers(app, Metrics())

    batching = {
        "max_batch_size": max_batch_size,
        "max_wait_ms": max_wait_ms,
        "max_batch_windows": max_batch_windows,
        "lane_windows": lane_windows,
    }
    add_status_routes(app, service, lambda: health_report(reader, service, limits, model_name, architecture, batching))

    @app.post(
        "/",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": REQUEST_SCHEMA}}}},
    )
    async def answer(request: Request) -> JSONResponse:
        return await answer_request(request, service, limits)

    return app


def add_status_routes(app: FastAPI, service: Service, report: Callable[[], dict]) -> None:
    """GET /metrics (Prometheus text), GET|HEAD / (the page), GET|HEAD /health (`report()`)."""

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> PlainTextResponse:
        sizes = merged_sizes(lane.stats.sizes for lane in service.lanes.values())
        return PlainTextResponse(
            app.state.metrics.render(sizes, service.queued, service.windows_accepted),
            media_type="text/plain; version=0.0.4",
        )

    @app.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8"))

    @app.get("/health")
    async def health() -> dict:
        return report()

    app.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)  # load balancers' probes


def health_report(
    reader: Any, service: Service, limits: Limits, model_name: str, architecture: str, batching: dict[str, Any]
) -> dict:
    """GET /health: the model, its settings, the limits, and the batching with each lane's counts."""
    lanes = {name: lane.stats.as_dict() for name, lane in service.lanes.items()}
    return {
        "status": "ok",
        "model": model_name,
        "architecture": architecture,
        "heat_map": architecture == "globalpointer",
        "settings": reader.settings.to_dict(),
        "limits": asdict(limits),
        "batching": {**batching, **total_stats(lanes), "lanes": lanes},
    }


def add_handlers(app: FastAPI, metrics: Metrics) -> None:
    """Counting middleware for /metrics, and every error as {"error": one line}."""
    app.state.metrics = metrics

    @app.middleware("http")
    async def count(request: Request, call_next: Any) -> Response:
        t = time.perf_counter()
        response = await call_next(request)
        path = request.url.path if request.url.path in ("/", "/health", "/metrics") else "other"
        timed = request.method == "POST" and path == "/"
        metrics.observe(path, response.status_code, time.perf_counter() - t if timed else None)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return error(500, f"internal error ({type(exc).__name__}); the server log has the details")


def total_stats(lanes: dict[str, dict]) -> dict[str, Any]:
    calls = sum(s["model_calls"] for s in lanes.values())
    questions = sum(s["questions"] for s in lanes.values())
    return {
        "model_calls": calls,
        "questions": questions,
        "largest_batch": max((s["largest_batch"] for s in lanes.values()), default=0),
        "mean_batch": round(questions / calls, 2) if calls else 0.0,
        "busy_s": round(sum(s["busy_s"] for s in lanes.values()), 3),
    }


async def unless_disconnected(request: Request, work: Any, poll_s: float = 0.5) -> Any:
    """`work`'s result; cancelled if the client goes away first, so its records leave the queue (the model does
    not answer a request nobody waits for)."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=poll_s)
            if done:
                return task.result()
            if await request.is_disconnected():
                task.cancel()
                raise RequestError(499, "the client closed the connection")
    finally:
        task.cancel()


async def answer_request(request: Request, service: Service, limits: Limits) -> JSONResponse:
    """POST /: parse, cost, queue for a lane, shape the answers; every refusal a 4xx with one line."""
    try:
        body = await read_body(request.stream(), request.headers.get("content-length"), limits.max_body_bytes)
        return JSONResponse(await unless_disconnected(request, service.answer(parse_body(body, limits))))
    except RequestError as e:
        return error(e.status, str(e))
    except QueueFull as e:
        return error(503, f"server busy: {e}; retry in {RETRY_AFTER_S} s")
    except ValueError as e:  # settings that do not fit together (DataError: no usable text), from the reader
        if isinstance(e, DataError):
            return error(
                422,
                "no input has any token left after the tokenizer's normalization (only whitespace"
                " or control characters?): nothing to answer from",
            )
        return error(422, str(e))
