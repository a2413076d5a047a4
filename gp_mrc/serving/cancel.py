"""Stopping a model call nobody waits for any more. The batcher cuts requests into chunks of windows between
model calls, but one record can be a call of its own (a passage of 200 windows), and the reader runs a call's
windows in forward passes of `batch_size`. So the worker thread runs each call inside a `CallGuard`, and a forward
pre-hook on the model (installed once by `watch`; it does nothing outside a guard) asks the guard before every
forward pass whether any request in the call is still wanted: if none is, it raises `CallCancelled` and the rest
of the call's windows are never computed. The guard counts the windows that were.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable

_local = threading.local()  # the worker thread's current guard (each lane has its own thread)
_watched: "weakref.WeakSet[Any]" = weakref.WeakSet()


class CallCancelled(Exception):
    """Every request in the model call went away: the call stopped before its next forward pass; `skipped`: the
    call's windows never computed (the batcher fills it in)."""

    def __init__(self, skipped: int = 0):
        super().__init__(f"the model call stopped: nobody waits for it ({skipped} windows skipped)")
        self.skipped = skipped


class CallGuard:
    """Around one model call in the worker thread: `wanted()` is asked before each forward pass."""

    def __init__(self, wanted: Callable[[], bool]):
        self.wanted = wanted
        self.windows = 0  # windows the call's forward passes took

    def __enter__(self) -> "CallGuard":
        _local.guard = self
        return self

    def __exit__(self, *exc: Any) -> None:
        _local.guard = None


def windows_of(args: tuple, kwargs: dict) -> int:
    """The windows of one forward pass: its distinct feature indices (a pass is filled to the reader's batch size
    with copies of its last window: inference/predict.py), else its input_ids' first dimension."""
    index = kwargs.get("feature_index")
    if index is not None:
        return len(set(index.tolist()))
    ids = kwargs.get("input_ids", args[0] if args else None)
    shape = getattr(ids, "shape", None)
    return int(shape[0]) if shape else 0


def _before_forward(module: Any, args: tuple, kwargs: dict) -> None:
    guard = getattr(_local, "guard", None)
    if guard is None:
        return None
    if not guard.wanted():
        raise CallCancelled()
    guard.windows += windows_of(args, kwargs)
    return None


def watch(model: Any) -> None:
    """Install the check on `model` once (a torch module; anything else is left alone and its calls run to the
    end)."""
    register = getattr(model, "register_forward_pre_hook", None)
    if register is None or model in _watched:
        return
    register(_before_forward, with_kwargs=True)
    _watched.add(model)
