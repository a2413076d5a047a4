"""What the lab's benchmark commands share: quiet dataset progress bars (restored after, as tests call them
in-process), interleaved timing of several systems, and the result JSON printed and written."""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any, Callable, Iterator


@contextlib.contextmanager
def quiet_datasets() -> Iterator[None]:
    """datasets' progress bars off inside, back on after if they were on: no global state left changed."""
    import datasets

    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if bars:
            datasets.enable_progress_bars()


def interleaved(systems: dict[str, Callable[[], Any]], repeats: int) -> tuple[dict, dict[str, list[float]]]:
    """Each system's output (a warm-up pass) and its wall seconds over `repeats` interleaved passes after it."""
    outputs = {k: run() for k, run in systems.items()}
    times: dict[str, list[float]] = {k: [] for k in systems}
    for _ in range(repeats):
        for k, run in systems.items():  # interleaved: machine noise hits every system alike
            t = time.perf_counter()
            run()
            times[k].append(time.perf_counter() - t)
    return outputs, times


def emit(result: dict, output: str | None) -> None:
    """Print the result as JSON, and write it atomically to `output` when given."""
    text = json.dumps(result, indent=1)
    print(text)
    if output:
        from gp_mrc.atomic import write_text_atomic

        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        write_text_atomic(output, text + "\n")
