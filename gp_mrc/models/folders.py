"""What a model folder holds, worked out in one place from its JSON files alone (nothing heavy is imported for a
local folder; a hub name asks transformers): which reader (`architecture`: "globalpointer" | "start_end", or None
for an encoder without a question-answering head) in which `layout` ("current", or "legacy": an older layout,
converted in memory by the loader and once for good by `gp-mrc convert OLD NEW`).

Old layouts are fixed up, not branched on: `folder_config` applies gp_mrc/models/legacy.py's FIXUPS to
config.json in order; everything after sees the current layout. train.py's argument parsing (the default
architecture), the loader (gp_mrc/models/loading.py) and `gp-mrc convert` all ask here.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from typing import Any, NamedTuple

from ..errors import first_line
from .hub import look_up, may_be_hub_name, parent_is_folder
from .legacy import FIXUPS, RETIRED_FILES, read_json

CONFIG_NAME = "config.json"
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
CURRENT, LEGACY = "current", "legacy"


class FolderConfig(NamedTuple):
    config: dict[str, Any]  # config.json in the current layout
    fixups: tuple[str, ...]  # the names of the fix-ups it took (none: the folder is in the current layout)


class FolderKind(NamedTuple):
    architecture: str | None  # "globalpointer" | "start_end" | None (an encoder: no question-answering head)
    layout: str  # CURRENT | LEGACY


def check_name(name_or_path: str) -> None:
    """A folder, or a hub name the hub (or its cache) has (gp_mrc/models/hub.py: asked once, in seconds); else
    FileNotFoundError: no such model folder."""
    if os.path.isdir(name_or_path):
        return
    if os.path.exists(name_or_path) or not may_be_hub_name(name_or_path, parent_is_folder(name_or_path)):
        raise FileNotFoundError(f"{name_or_path}: no such model folder")
    found = look_up(name_or_path)
    if not found.found:
        raise FileNotFoundError(
            f"{name_or_path}: no such model folder, nor a model of that name on the hub ({found.reason})"
        )


def hub_keywords(name_or_path: str) -> dict[str, bool]:
    """transformers' from_pretrained keywords for `name_or_path`: {"local_files_only": True} for a hub name the
    hub could not serve but its cache holds (transformers would otherwise retry the hub for half a minute)."""
    if os.path.isdir(name_or_path) or not may_be_hub_name(name_or_path, parent_is_folder(name_or_path)):
        return {}
    return {"local_files_only": True} if look_up(name_or_path).local_only else {}


def check_folder_files(path: str) -> None:
    """A local folder must hold config.json and weights (hub names are checked by the hub)."""
    if not os.path.isdir(path):
        return
    missing = [] if os.path.exists(os.path.join(path, CONFIG_NAME)) else [CONFIG_NAME]
    if not any(os.path.exists(os.path.join(path, w)) for w in WEIGHT_FILES):
        missing.append(WEIGHT_FILES[0])
    if missing:
        raise FileNotFoundError(f"{path} is not a model folder: missing {', '.join(missing)}")


def folder_config(name_or_path: str) -> FolderConfig:
    """config.json in the current layout, and the fix-ups that took it there. Unreadable files raise OSError or
    ValueError (bad JSON)."""
    if not os.path.isdir(name_or_path):
        from transformers import AutoConfig  # a hub name: transformers fetches (and caches) its config

        return FolderConfig(AutoConfig.from_pretrained(name_or_path, **hub_keywords(name_or_path)).to_dict(), ())
    config, applied = read_json(os.path.join(name_or_path, CONFIG_NAME)), []
    for fixup in FIXUPS:
        fixed = fixup(name_or_path, config)
        if fixed is not None:
            config = fixed
            applied.append(fixup.__name__)
    return FolderConfig(config, tuple(applied))


def config_architecture(config: dict[str, Any]) -> str | None:
    """The reader a current-layout config.json describes (None: an encoder)."""
    if config.get("model_type") == "gp_mrc":
        return "globalpointer"
    if any(a.endswith("ForQuestionAnswering") for a in config.get("architectures") or []):
        return "start_end"
    return None


def folder_kind(name_or_path: str) -> FolderKind:
    """What the folder (or hub name) holds; FileNotFoundError for no such folder, OSError / ValueError for a
    config.json (or an old layout's file) that cannot be read."""
    check_name(name_or_path)
    found = folder_config(name_or_path)
    return FolderKind(config_architecture(found.config), LEGACY if found.fixups else CURRENT)


def legacy_warning(path: str) -> str:
    return (
        f"{path} is a model folder of an older gp_mrc layout, converted in memory at every load; convert it "
        f"once with: gp-mrc convert {path} NEW_FOLDER"
    )


def remove_retired_files(directory: str) -> None:
    """A folder saved in the current layout must not keep an older layout's files from an earlier save."""
    for name in RETIRED_FILES:
        if os.path.exists(os.path.join(directory, name)):
            os.remove(os.path.join(directory, name))


def _same_or_inside(old: str, new: str) -> bool:
    real_old, real_new = os.path.realpath(old), os.path.realpath(new)
    return (
        real_new == real_old
        or real_new.startswith(real_old.rstrip(os.sep) + os.sep)
        or (os.path.exists(new) and os.path.samefile(old, new))
    )


def check_conversion(old: str, new: str) -> FolderKind:
    """What `gp-mrc convert OLD NEW` may do, checked before anything is written: OLD a reader's folder, NEW
    another folder that is absent or empty (nothing a user has is overwritten). Raises FileNotFoundError /
    FileExistsError / ValueError with one line naming the path."""
    if not os.path.isdir(old):
        raise FileNotFoundError(f"{old}: no such model folder" if not os.path.exists(old) else f"{old}: not a folder")
    if _same_or_inside(old, new):
        raise ValueError(f"{new}: the converted folder must lie outside {old} (nothing is overwritten)")
    if os.path.exists(new) and (not os.path.isdir(new) or os.listdir(new)):
        raise FileExistsError(f"{new}: already exists and is not an empty folder (nothing is overwritten)")
    check_folder_files(old)
    try:
        kind = folder_kind(old)
    except (OSError, ValueError) as e:
        raise ValueError(f"{old}: cannot read its config ({first_line(e)})") from None
    if kind.architecture is None:
        raise ValueError(f"{old} holds no reader (an encoder without a question-answering head): nothing to convert")
    return kind


def convert_folder(old: str, new: str) -> FolderKind:
    """Writes OLD's model in the current layout to NEW: every file copied but the fixed config.json and the old
    layouts' retired files. Written into a temporary folder beside NEW, renamed at the end (no half folder)."""
    kind = check_conversion(old, new)
    config = folder_config(old).config
    parent = os.path.dirname(os.path.abspath(new))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(os.path.abspath(new))}.{secrets.token_hex(4)}.tmp")
    os.mkdir(tmp)  # a plain folder's mode (the umask applies), unlike mkdtemp's private one
    try:
        top = set(RETIRED_FILES) | {CONFIG_NAME}
        shutil.copytree(  # copyfile: the copies get the umask's permissions, as every file save_model writes
            old,
            tmp,
            dirs_exist_ok=True,
            ignore=lambda d, names: top & set(names) if d == old else (),
            copy_function=shutil.copyfile,
        )
        with open(os.path.join(tmp, CONFIG_NAME), "w", encoding="utf-8") as f:  # as save_pretrained writes it
            f.write(json.dumps(config, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, new)  # an empty NEW folder is replaced; a non-empty one was refused above
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return kind
