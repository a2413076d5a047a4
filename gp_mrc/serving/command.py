"""`gp-mrc serve` / scripts/serve.py: load a reader and serve it over HTTP (see gp_mrc/serving/app.py).

    gp-mrc serve --model runs/sample_gp --port 8000
    curl -s localhost:8000 -H 'Content-Type: application/json' \\
         -d '{"inputs": {"question": "Who ...?", "context": "..."}, "parameters": {"top_k": 3}}'

The page at http://HOST:PORT/ answers a pasted passage; /health reports the model, the limits and batching;
/metrics gives Prometheus text; /docs the OpenAPI page. The port is bound before the model loads.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import socket
import sys
from dataclasses import dataclass

from ..argtypes import Parser, positive_int
from ..flags import add_flags, part_from, setting
from ..settings import Runtime
from .access import Access, access_from, exposure_warning
from .server import log_config, uvicorn_options
from .schema import Batching, Limits

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")  # uvicorn's


@dataclass(frozen=True)
class Server:
    """serve.py's own flags: the model, where to listen, the CPU threads, the log."""

    model: str | None = setting(None, "a model folder (any folder scripts/predict.py takes)", required=True)
    host: str = setting("127.0.0.1", "0.0.0.0 to listen on every interface")
    port: int = setting(8000, type=int)  # its range is checked where it is bound: one line, before the model loads
    cpu_threads: int | None = setting(
        None,
        "threads of torch (or of the ONNX Runtime session) on a CPU",
        type=positive_int,
        depends="half the cores, at least 1: the service's two lanes run side by side, and more threads than "
        "cores make every forward pass several times slower",
    )
    log_level: str = setting("info", choices=LOG_LEVELS)
    access_log: bool = setting(False, "log every request")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """serve.py's parser, one group per part (a further part of the service's drops in as one more add_flags)."""
    p = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flags(p, Server)
    add_flags(p.add_argument_group("running the model"), Runtime)
    add_flags(p.add_argument_group("batching: requests that arrive together are answered by one model call"), Batching)
    add_flags(p.add_argument_group("limits per request (beyond them: 4xx with a message)"), Limits)
    add_flags(p.add_argument_group("access: who may call the service, how long a client may take to send"), Access)
    return p


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


def parse(argv: list[str] | None, prog: str | None) -> tuple[argparse.Namespace, Limits, Batching]:
    """The flags, and the service's parts built from them; a bad flag is one `error:` line, exit 2."""
    p = build_parser(prog)
    args = p.parse_args(argv)
    try:
        return args, part_from(Limits, args), part_from(Batching, args)
    except ValueError as e:
        p.error(str(e))


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args, limits, batching = parse(argv, prog)
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
                cpu_threads=threads,  # ONNX Runtime's session: as torch's, so that the two lanes share the cores
                **dataclasses.asdict(part_from(Runtime, args)),
            )
        except (FileNotFoundError, OSError, ValueError) as e:
            return fail(str(e))
        if reader.device.type == "cpu":
            import torch

            torch.set_num_threads(threads)
        if reader.compile != "no":  # "auto" here: where it pays, compiled before the service reports ready
            print("compiling the model (once; the lanes then warm every window length)...", file=sys.stderr)
            reader.compile_now()
        app = create_app(
            reader, limits=limits, model_name=display_name(args.model), access=access, **dataclasses.asdict(batching)
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
