"""`gp-mrc export MODEL OUT --format onnx`: write a model folder as an ONNX Runtime folder (model.onnx, config.json
with the inference settings, tokenizer) that `gp-mrc predict`, `gp-mrc serve` and `Reader.from_pretrained` answer
with, without torch doing the forward pass (see gp_mrc/inference/onnx_export.py).

    gp-mrc export runs/sample_gp exported/ --format onnx
    gp-mrc export runs/sample_gp exported_int8/ --format onnx --quantize int8

--quantize int8: ONNX Runtime's dynamic int8 (per-channel weights, activation ranges per batch), the feed-forward
down-projections and the answer head kept fp32 (gp_mrc/inference/onnx_int8.py).
Needs the `onnx` extra: pip install gp_mrc[onnx]. Problems are one line `error: ...`, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from ..argtypes import Parser
from ..flags import add_flags, setting


@dataclass(frozen=True)
class ExportOptions:
    """export's flags (MODEL and OUT are its operands)."""

    format: str = setting("onnx", choices=("onnx",))
    quantize: str = setting(
        "none", "int8: dynamic int8 of the encoder's MatMuls (none: fp32, the exact scores)", choices=("none", "int8")
    )


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    p = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a model folder or hub name (any that gp-mrc predict takes)")
    p.add_argument("out", help="the folder to write (model.onnx, config.json, tokenizer files)")
    add_flags(p, ExportOptions)
    return p


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)
    from ..errors import UsageError
    from .onnx_export import export_onnx  # torch loads only now: --help answers at once

    try:
        path = export_onnx(args.model, args.out, quantize=args.quantize)
    except (UsageError, FileNotFoundError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"wrote {path} ({args.quantize if args.quantize != 'none' else 'fp32'}); answer with: "
        f"gp-mrc predict --model {args.out} ...",
        file=sys.stderr,
    )
    return 0
