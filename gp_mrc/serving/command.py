"""`gp-mrc serve` / scripts/serve.py: load a reader and serve it over HTTP (see gp_mrc/serving/app.py).

    gp-mrc serve --model runs/sample_gp --port 8000
    curl -s localhost:8000 -H 'Content-Type: application/json' \\
         -d '{"inputs": {"question": "Who ...?", "context": "..."}, "parameters": {"top_k": 3}}'

The page at http://HOST:PORT/ answers a pasted passage; /health reports the model, the limits and batching;
/metrics gives Prometheus text; /docs the OpenAPI page. The port is bound before the model loads.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys

from ..flags import add_flags
from ..precision import AUTO, AUTO_HELP, MIXED_PRECISION_CHOICES
from ..settings import READER_BATCH_SIZE
from .access import Access, access_from, exposure_warning
from .server import log_config, uvicorn_options
from .schema import Batching, Limits

DEFAULTS, BATCHING = Limits(), Batching()


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a model folder (any folder scripts/predict.py takes)")
    p.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to listen on every interface")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", default=None)
    p.add_argument(
        "--mixed_precision",
        default=AUTO,
        choices=MIXED_PRECISION_CHOICES,
        help=AUTO_HELP,
    )
    p.add_argument(
        "--backend",
        default=None,
        choices=["torch", "onnxruntime"],
        help="what runs the model (default: onnxruntime for a folder written by gp-mrc export, else torch)",
    )
    p.add_argument("--batch_size", type=int, default=READER_BATCH_SIZE, help="windows per forward pass")
    p.add_argument(
        "--cpu_threads",
        type=int,
        default=None,
        help="threads of torch (or of the ONNX Runtime session) on a CPU (default: half the cores, at least 1: "
        "the service's two lanes run side by side, and more threads than cores make every forward pass several "
        "times slower)",
    )
    b = p.add_argument_group("batching: requests that arrive together are answered by one model call")
    b.add_argument("--max_batch_size", type=int, default=BATCHING.max_batch_size, help="questions per model call")
    b.add_argument(
        "--max_wait_ms",
        type=float,
        default=BATCHING.max_wait_ms,
        help="how long the first waiting request waits for others to join its batch",
    )
    b.add_argument(
        "--max_queued",
        type=int,
        default=BATCHING.max_queued,
        help="passages (question-passage pairs) waiting; beyond, 503 (a request of more: 413)",
    )
    lim = p.add_argument_group("limits per request (beyond them: 4xx with a message)")
    _add_limit_flags(lim)
    b.add_argument(
        "--max_batch_windows",
        type=int,
        default=BATCHING.max_batch_windows,
        help="windows per model call: a long request is cut into chunks of this many, served in turn",
    )
    b.add_argument(
        "--lane_windows",
        type=int,
        default=BATCHING.lane_windows,
        help="requests of at most this many windows run in their own lane, beside the long ones",
    )
    add_flags(p.add_argument_group("access: who may call the service, how long a client may take to send"), Access)
    p.add_argument("--log_level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--access_log", action="store_true", help="log every request")
    return p


def _add_limit_flags(lim: argparse._ArgumentGroup) -> None:
    """The limits per request: body size, text lengths, questions, passages and encoder windows."""
    lim.add_argument("--max_body_bytes", type=int, default=DEFAULTS.max_body_bytes)
    lim.add_argument("--max_context_chars", type=int, default=DEFAULTS.max_context_chars)
    lim.add_argument("--max_question_chars", type=int, default=DEFAULTS.max_question_chars)
    lim.add_argument("--max_inputs", type=int, default=DEFAULTS.max_inputs, help="questions in one request")
    lim.add_argument("--max_top_k", type=int, default=DEFAULTS.max_top_k)
    lim.add_argument(
        "--max_passages",
        type=int,
        default=DEFAULTS.max_passages,
        help='question-passage pairs in one request (each of "contexts" counts)',
    )
    lim.add_argument(
        "--max_request_windows",
        type=int,
        default=DEFAULTS.max_request_windows,
        help="the cost cap: encoder windows one request may take; beyond, 413",
    )


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def display_name(model: str) -> str:
    """What /health and the page call the model: a folder's own name, or the hub name as given (never a path)."""
    if os.path.exists(model):
        return os.path.basename(os.path.normpath(os.path.abspath(model)))
    return model


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the model loads, so a bad or busy port fails at once (OSError)."""
    if not 1 <= port <= 65535:
        raise OSError(f"--port must be in 1..65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise OSError(f"--host {host}: cannot resolve it ({e.strerror})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a restart reuses a TIME_WAIT port
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        busy = " (the port is in use: another server? pick another --port)" if e.errno == errno.EADDRINUSE else ""
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror or e}{busy}") from None
    return sock


def parse(argv: list[str] | None, prog: str | None) -> tuple[argparse.Namespace, Limits]:
    p = build_parser(prog)
    args = p.parse_args(argv)
    try:
        limits = Limits(
            max_body_bytes=args.max_body_bytes,
            max_context_chars=args.max_context_chars,
            max_question_chars=args.max_question_chars,
            max_inputs=args.max_inputs,
            max_top_k=args.max_top_k,
            max_passages=args.max_passages,
            max_request_windows=args.max_request_windows,
        )
    except ValueError as e:
        p.error(str(e))
    if (
        min(args.max_batch_size, args.max_queued, args.max_batch_windows, args.lane_windows, args.cpu_threads or 1) < 1
        or args.max_wait_ms < 0
    ):
        p.error(
            "--max_batch_size, --max_queued, --max_batch_windows, --lane_windows and --cpu_threads must be >= 1, "
            "--max_wait_ms >= 0"
        )
    return args, limits


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args, limits = parse(argv, prog)
    try:
        import uvicorn

        from .app import create_app
    except ImportError as e:
        return fail(f'the service needs FastAPI and uvicorn ({e.name} is missing): pip install -e ".[serve]"')
    access = access_from(vars(args))
    try:
        sock = bind(args.host, args.port)
    except OSError as e:
        return fail(str(e))
    if exposure_warning(args.host, access):
        print(f"warning: {exposure_warning(args.host, access)}", file=sys.stderr)
    # torch and transformers load only now: --help, flag and port errors come back at once
    from ..inference.reader import Reader

    with sock:
        try:
            threads = args.cpu_threads or max(1, (os.cpu_count() or 2) // 2)
            reader = Reader.from_pretrained(
                args.model,
                backend=args.backend,
                cpu_threads=threads,  # ONNX Runtime's session: as torch's, so that the two lanes share the cores
                batch_size=args.batch_size,
                device=args.device,
                mixed_precision=args.mixed_precision,
            )
        except (FileNotFoundError, OSError, ValueError) as e:
            return fail(str(e))
        if reader.device.type == "cpu":
            import torch

            torch.set_num_threads(threads)
        app = create_app(
            reader,
            limits=limits,
            max_batch_size=args.max_batch_size,
            max_wait_ms=args.max_wait_ms,
            max_queued=args.max_queued,
            model_name=display_name(args.model),
            max_batch_windows=args.max_batch_windows,
            lane_windows=args.lane_windows,
            access=access,
        )
        print(
            f"serving {args.model} on http://{args.host}:{args.port}/ (page at /, API: POST /, /health, "
            "/metrics, /docs)",
            file=sys.stderr,
        )
        config = uvicorn.Config(
            app,
            log_level=args.log_level,
            access_log=args.access_log,
            log_config=log_config(args.log_level),
            **uvicorn_options(access.header_timeout_s),
        )
        uvicorn.Server(config).run(sockets=[sock])
    return 0
