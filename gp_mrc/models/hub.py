"""A `--model` that is not a folder: may it be a hub name, and does the hub have it?

A name that starts with "." or "/", or whose parent folder exists (`runs/gp_mrcc` beside `runs/`), is a mistyped
folder and never looked up; so is anything `HUB_NAME` refuses. Any other name ("bert-base-uncased",
"deepset/roberta-base-squad2", `org/nope`) is asked of the hub once: one HEAD on its config.json with a short
timeout and no retries (huggingface_hub retries an unreachable hub 5 times with back-off, about 27 s, before
transformers gives up). Unreachable, the hub's cache still serves a model it holds (loaded with
`local_files_only`); else the name is `no such model folder` within seconds. Under HF_HUB_OFFLINE only the cache
is looked at. Imports nothing heavy (huggingface_hub only when a name is looked up).
"""

from __future__ import annotations

import functools
import os
from typing import NamedTuple

from ..defaults import HUB_NAME

HUB_TIMEOUT_S = 3.0  # the one request's connect and read timeout
CONFIG_NAME = "config.json"


def may_be_hub_name(name: str, parent_is_folder: bool) -> bool:
    """Whether `name`, not a folder, may name a model on the hub: never a path that starts with "." or "/", nor one
    whose parent folder exists (`parent_is_folder`: a mistyped folder), nor what HUB_NAME refuses."""
    return not name.startswith((".", "/")) and not parent_is_folder and HUB_NAME.fullmatch(name) is not None


def parent_is_folder(name: str) -> bool:
    """Whether the folder `name` would sit in exists (a bare name has none: "bert-base-uncased")."""
    parent = os.path.dirname(name)
    return bool(parent) and os.path.isdir(parent)


class HubLookup(NamedTuple):
    found: bool  # the hub (or, unreachable, its cache) has the model
    local_only: bool  # load it from the cache alone (the hub could not be reached, or HF_HUB_OFFLINE)
    reason: str  # why not found, for the error line ("" when found)


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _cached(name: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(name, CONFIG_NAME), str)


def _head_status(name: str, timeout_s: float) -> int:
    """The HTTP status of one HEAD on the model's config.json (no retry, no redirect followed); raises on a
    network failure."""
    from huggingface_hub import get_session, hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    url = hf_hub_url(name, CONFIG_NAME)
    return get_session().head(url, headers=build_hf_headers(), timeout=timeout_s).status_code


@functools.lru_cache(maxsize=64)
def look_up(name: str, timeout_s: float = HUB_TIMEOUT_S) -> HubLookup:
    """The hub's answer for `name`, asked once per process (the model and its tokenizer share it)."""
    if _offline():
        if _cached(name):
            return HubLookup(True, True, "")
        return HubLookup(False, True, "HF_HUB_OFFLINE is set and the hub's cache does not hold it")
    try:
        status = _head_status(name, timeout_s)
    except Exception as e:  # noqa: BLE001  (any network failure: no DNS, refused, timed out, a proxy's error)
        if _cached(name):
            return HubLookup(True, True, "")
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return HubLookup(False, False, f"the hub could not be reached: {type(e).__name__}: {text}"[:300])
    if status < 400:
        return HubLookup(True, False, "")
    if status in (401, 403, 404):  # the hub answers 401 for a name it does not have (or that is private)
        return HubLookup(False, False, f"the hub has no model of that name this user can read (HTTP {status})")
    if _cached(name):  # 429, 5xx: the hub is there but not serving
        return HubLookup(True, True, "")
    return HubLookup(False, False, f"the hub answered HTTP {status}")
