"""`gp-mrc serve` / scripts/serve.py: load a reader and serve it over HTTP (see gp_mrc/serving/app.py).

    gp-mrc serve --model runs/sample_gp --port 8000
    curl -s localhost:8000 -H 'Content-Type: application/json' \\
         -d '{"inputs": {"question": "Who ...?", "context": "..."}, "parameters": {"top_k": 3}}'

The page at http://HOST:PORT/ answers a pasted passage; /health reports the model, the limits and batching.
"""

from __future__ import annotations

import argparse
import sys

from .schema import Limits

DEFAULTS = Limits()


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a model folder (any folder scripts/predict.py takes)")
    p.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to listen on every interface")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", default=None)
    p.add_argument("--mixed_precision", default="auto", choices=["auto", "no", "bf16", "fp16"],
                   help="auto: bf16 where the hardware runs it natively, else fp32")
    p.add_argument("--backend", default=None, choices=["torch", "onnxruntime"],
                   help="what runs the model (default: onnxruntime for a folder written by gp-mrc export, else torch)")
    p.add_argument("--batch_size", type=int, default=32, help="windows per forward pass")
    b = p.add_argument_group("batching: requests that arrive together are answered by one model call")
    b.add_argument("--max_batch_size", type=int, default=32, help="questions per model call")
    b.add_argument("--max_wait_ms", type=float, default=10.0,
                   help="how long the first waiting request waits for others to join its batch")
    b.add_argument("--max_queued", type=int, default=1024, help="questions waiting; beyond this, 503")
    lim = p.add_argument_group("limits per request (beyond them: 4xx with a message)")
    lim.add_argument("--max_body_bytes", type=int, default=DEFAULTS.max_body_bytes)
    lim.add_argument("--max_context_chars", type=int, default=DEFAULTS.max_context_chars)
    lim.add_argument("--max_question_chars", type=int, default=DEFAULTS.max_question_chars)
    lim.add_argument("--max_inputs", type=int, default=DEFAULTS.max_inputs, help="questions in one request")
    lim.add_argument("--max_top_k", type=int, default=DEFAULTS.max_top_k)
    p.add_argument("--log_level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--access_log", action="store_true", help="log every request")
    return p


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    p = build_parser(prog)
    args = p.parse_args(argv)
    try:
        limits = Limits(max_body_bytes=args.max_body_bytes, max_context_chars=args.max_context_chars,
                        max_question_chars=args.max_question_chars, max_inputs=args.max_inputs,
                        max_top_k=args.max_top_k)
    except ValueError as e:
        p.error(str(e))
    if args.max_batch_size < 1 or args.max_wait_ms < 0 or args.max_queued < 1:
        p.error("--max_batch_size and --max_queued must be >= 1, --max_wait_ms >= 0")
    try:
        import uvicorn

        from .app import create_app
    except ImportError as e:
        return fail(f"the service needs FastAPI and uvicorn ({e.name} is missing): pip install -e \".[serve]\"")
    from ..inference.reader import Reader  # torch and transformers load only now: --help and flag errors come back at once

    try:
        reader = Reader.from_pretrained(args.model, backend=args.backend, batch_size=args.batch_size,
                                        device=args.device, mixed_precision=args.mixed_precision)
    except (FileNotFoundError, OSError, ValueError) as e:
        return fail(str(e))
    app = create_app(reader, limits=limits, max_batch_size=args.max_batch_size, max_wait_ms=args.max_wait_ms,
                     max_queued=args.max_queued, model_name=args.model)
    print(f"serving {args.model} on http://{args.host}:{args.port}/ (page at /, API: POST /, /health)",
          file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log)
    return 0
