"""The FastAPI app: POST / (the Inference API's question-answering schema, and "contexts" for many passages),
GET|HEAD / (the page), GET|HEAD /health, GET /metrics (Prometheus text), GET /docs (OpenAPI).

Every refused request gets a JSON body {"error": "<one line>"} with a 4xx status: 400 (bytes that are not JSON
text: not UTF-8, bad syntax, nested too deep, a lone surrogate), 401 with WWW-Authenticate: Bearer (no or a wrong
API key, access.py), 404/405 (no such route or method), 408 (the body did not arrive within --body_timeout_s;
the connection closes), 413 (body too large, more encoder windows than the cost cap, or more passages than the
queue ever holds), 415 (a POST that is not application/json), 422 (a field missing, of the wrong type or out of
range), 503 with Retry-After (the queue is full now: waiting helps). An unexpected failure answers 500
{"error": ...} without a traceback (the traceback goes to the server's log).

A client that goes away is noticed at once (the request's ASGI `receive` gives http.disconnect): its request is
cancelled, so its passages leave the queue and a model call holding only its windows stops (batcher.py,
cancel.py); /metrics counts the request and the windows skipped. One that drops mid-upload is one INFO line.
The middleware is pure ASGI: Starlette's BaseHTTPMiddleware (`@app.middleware("http")`) hid the disconnect.
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
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect

from ..data.examples import DataError
from ..models.positions import max_positions
from ..models.modeling import GlobalPointerForQuestionAnswering
from .access import Access, RequireKey
from .batcher import NeverFits, QueueFull
from .body import check_content_type, parse_body, read_body
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
    exported = getattr(reader.model, "architecture", None)  # the ONNX Runtime backend names its own
    if isinstance(exported, str):
        return exported
    return "globalpointer" if isinstance(reader.model, GlobalPointerForQuestionAnswering) else "start_end"


class ClientGone(Exception):
    """The client closed its connection before its answer (499, nginx's code: a status nobody receives)."""


def error(status: int, message: str) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    if status == 408:  # the rest of the body is not read: the connection cannot carry another request
        headers = {"Connection": "close"}
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
    access: Access | None = None,
) -> FastAPI:
    """The service for `reader` (a gp_mrc.Reader, or anything with its `answer`, `model`, `tokenizer`,
    `settings`). `model_name` is shown on /health and the page: a folder's name or a hub name, never a path.
    `access`: the API key, CORS origins and body timeout (access.py; default: none, none, 30 s)."""
    limits, access = limits or Limits(), access or Access()
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
    add_handlers(app, Metrics(), access)

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
        return await answer_request(request, service, limits, access.body_timeout_s)

    return app


def add_status_routes(app: FastAPI, service: Service, report: Callable[[], dict]) -> None:
    """GET /metrics (Prometheus text), GET|HEAD / (the page), GET|HEAD /health (`report()`)."""

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> PlainTextResponse:
        sizes = merged_sizes(lane.stats.sizes for lane in service.lanes.values())
        return PlainTextResponse(
            app.state.metrics.render(sizes, service.queued, service.windows_accepted, service.windows_skipped),
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


class CountRequests:
    """Pure ASGI middleware: every HTTP request counted by route and status for /metrics, POST / timed (a request
    that fails before its response counts as 500, as the server answers it)."""

    def __init__(self, app: Any, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t, status = time.perf_counter(), 500

        async def send_counted(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            path = scope["path"] if scope["path"] in ("/", "/health", "/metrics") else "other"
            timed = scope["method"] == "POST" and path == "/"
            self.metrics.observe(path, status, time.perf_counter() - t if timed else None)


def add_handlers(app: FastAPI, metrics: Metrics, access: Access) -> None:
    """The middleware (outermost first: counting, CORS, the API key) and every error as {"error": one line}."""
    app.state.metrics = metrics
    if access.api_key:
        app.add_middleware(RequireKey, key=access.api_key)
    if access.allowed_origins:  # outside the key: a browser's preflight carries no Authorization
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(access.allowed_origins),
            allow_methods=["GET", "HEAD", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(CountRequests, metrics=metrics)

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


async def _disconnect(receive: Any) -> None:
    """Returns once the client has gone away (the body is read: the next message is http.disconnect, given by the
    server when the connection closes or the response is complete)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(request: Request, work: Any) -> Any:
    """`work`'s result; cancelled the moment the client goes away (ClientGone), so its records leave the queue
    and the model does not answer a request nobody waits for."""
    task, gone = asyncio.ensure_future(work), asyncio.ensure_future(_disconnect(request.receive))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        raise ClientGone()
    finally:
        task.cancel()
        gone.cancel()


def _client(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "a client"


async def answer_request(request: Request, service: Service, limits: Limits, body_timeout_s: float) -> JSONResponse:
    """POST /: parse, cost, queue for a lane, shape the answers; every refusal a 4xx with one line."""
    try:
        check_content_type(request.headers.get("content-type"))
        body = await read_body(
            request.stream(), request.headers.get("content-length"), limits.max_body_bytes, body_timeout_s
        )
        return JSONResponse(await unless_disconnected(request, service.answer(parse_body(body, limits))))
    except ClientDisconnect:
        log.info("%s closed the connection during its upload", _client(request))
        return error(499, "the client closed the connection during the upload")
    except ClientGone:
        request.app.state.metrics.cancel()
        log.info("%s went away before its answer: request cancelled", _client(request))
        return error(499, "the client closed the connection")
    except RequestError as e:
        return error(e.status, str(e))
    except NeverFits as e:  # waiting cannot help: not a 503
        return error(
            413,
            f"the request has {e.records} passages (question-passage pairs); the queue holds at most {e.limit} "
            "(--max_queued): send fewer",
        )
    except QueueFull as e:
        return error(
            503,
            f"server busy: {e.waiting} passages (question-passage pairs) are waiting and the queue holds {e.limit}; "
            f"retry in {RETRY_AFTER_S} s",
        )
    except ValueError as e:  # settings that do not fit together (DataError: no usable text), from the reader
        if isinstance(e, DataError):
            return error(
                422,
                "no input has any token left after the tokenizer's normalization (only whitespace"
                " or control characters?): nothing to answer from",
            )
        return error(422, str(e))
