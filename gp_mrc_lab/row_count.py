"""Does a row's result depend on how many rows its matrix product has? MiniLM's three product shapes (384 → 384,
384 → 1536, 1536 → 384) on random inputs: the first 16 rows computed within M rows, for M from 16 to 8,192,
compared bit for bit with the same rows within 8,192 rows, fp32 and bf16 autocast. Where they differ, an answer
would depend on its batch unless every forward pass has a fixed row count (gp_mrc/inference/predict.py).

    python -m gp_mrc_lab.row_count
"""

from __future__ import annotations

import json
import sys

import torch

ROWS = (16, 32, 64, 128, 160, 192, 224, 256, 320, 384, 512, 768, 1024, 2048, 4096, 8192)
SHAPES = ((384, 384), (384, 1536), (1536, 384))


def rows_that_differ(k: int, n: int, bf16: bool, rows: tuple[int, ...] = ROWS) -> list[int]:
    """The row counts M at which the first 16 rows of x @ W differ (any bit) from the same rows within max(rows)."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(k, n)
    x = torch.randn(max(rows), k)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        ref = lin(x)[:16].float()
        return [m for m in rows if not torch.equal(lin(x[:m])[:16].float(), ref)]


def main() -> int:
    out = {
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "rows_that_differ": {
            f"{k}->{n} {'bf16' if bf16 else 'fp32'}": rows_that_differ(k, n, bf16)
            for k, n in SHAPES
            for bf16 in (False, True)
        },
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
