"""One loader for every model folder (or hub name), whatever wrote it:

* a GlobalPointer reader (config.json with model_type "gp_mrc": encoder config nested, head settings);
* a start/end reader: any transformers `AutoModelForQuestionAnswering` folder — ours (trained by
  scripts/train.py --architecture start_end) or a plain one, e.g. a SQuAD-fine-tuned BERT;
* a folder in an older layout: gp_mrc/models/folders.py fixes its config.json up in memory (one warning per
  load saying to run `gp-mrc convert`), and it loads as the current layout does.

`load_model` returns the model with the gp_mrc forward signature and the folder's inference settings
(gp_mrc/settings.py; without them, `settings_of`'s defaults). Problems are one-line
FileNotFoundError (missing folder or files) or OSError (files that cannot be read) naming the folder.
"""

from __future__ import annotations

import logging
import os
from typing import Any, NamedTuple

from safetensors import SafetensorError
from torch import nn
from transformers import CONFIG_MAPPING, AutoModelForQuestionAnswering, AutoTokenizer, PretrainedConfig

from .baseline import StartEndForQuestionAnswering
from .folders import (
    CONFIG_NAME,
    FolderConfig,
    check_folder_files,
    check_name,
    config_architecture,
    folder_config,
    hub_keywords,
    legacy_warning,
    remove_retired_files,
)
from .modeling import GlobalPointerForQuestionAnswering
from .legacy import limit_in_settings
from ..settings import PIPELINE_DEFAULTS, SETTINGS_KEY, InferenceSettings, settings_from_config

TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
)
logger = logging.getLogger("gp_mrc")


class LoadedModel(NamedTuple):
    model: nn.Module  # GlobalPointerForQuestionAnswering or StartEndForQuestionAnswering
    settings: InferenceSettings
    architecture: str  # "globalpointer" | "start_end"


def _require_all_weights(info: dict[str, Any], path: str) -> None:
    """transformers fills weights missing from a checkpoint with random ones; a reader must have them all."""
    missing = sorted(info.get("missing_keys") or []) + sorted(str(k) for k in info.get("mismatched_keys") or [])
    if missing:
        raise RuntimeError(
            f"weights missing from {path} or of another shape: {', '.join(missing[:5])}"
            + (" ..." if len(missing) > 5 else "")
        )


def load_qa_model(name_or_path: str, **kwargs: Any) -> nn.Module:
    """A transformers AutoModelForQuestionAnswering, with every weight from the checkpoint."""
    check_folder_files(name_or_path)
    model, info = AutoModelForQuestionAnswering.from_pretrained(name_or_path, output_loading_info=True, **kwargs)
    _require_all_weights(info, name_or_path)
    return model


def _load_globalpointer(name_or_path: str, **kwargs: Any) -> GlobalPointerForQuestionAnswering:
    model, info = GlobalPointerForQuestionAnswering.from_pretrained(name_or_path, output_loading_info=True, **kwargs)
    _require_all_weights(info, name_or_path)
    return model


def _config_object(config: dict[str, Any]) -> PretrainedConfig:
    """The transformers config of a config.json dict, built as AutoConfig.from_pretrained builds it."""
    return CONFIG_MAPPING[config["model_type"]].from_dict(dict(config))


def move_answer_limit(config: PretrainedConfig) -> None:
    """The same fix-up (legacy.limit_in_settings) on a config transformers' Auto classes loaded from an older folder
    (they keep config.json's unknown keys as attributes): the model answers as before, and a save writes the
    current layout."""
    fixed = limit_in_settings({"model_type": getattr(config, "model_type", None), **vars(config)})
    if fixed is not None:
        del config.max_answer_length
        setattr(config, SETTINGS_KEY, fixed[SETTINGS_KEY])


def settings_of(model: nn.Module) -> InferenceSettings:
    """The inference settings a model carries in its config; without any, gp_mrc's defaults for a GlobalPointer
    (answers up to MAX_ANSWER_LENGTH tokens) and the pipeline's for a transformers QA model (15)."""
    stored = settings_from_config(model.config)
    if stored is not None:
        return stored
    return InferenceSettings() if isinstance(model, GlobalPointerForQuestionAnswering) else PIPELINE_DEFAULTS


def as_span_model(model: nn.Module) -> nn.Module:
    """A model with the gp_mrc forward signature: a plain transformers QA model gets the start/end wrapper; a
    GlobalPointer loaded by transformers' Auto classes from an older folder gets its limit moved (above)."""
    if isinstance(model, GlobalPointerForQuestionAnswering):
        move_answer_limit(model.config)
        return model
    if isinstance(model, StartEndForQuestionAnswering):
        return model
    return StartEndForQuestionAnswering.with_settings(model, settings_of(model))


def _load(name_or_path: str, found: FolderConfig) -> nn.Module:
    # a fixed-up layout loads its weights with the config built here; a current one reads its own
    kwargs = {"config": _config_object(found.config)} if found.fixups else {}
    kwargs.update(hub_keywords(name_or_path))
    architecture = config_architecture(found.config)
    if architecture == "globalpointer":
        return _load_globalpointer(name_or_path, **kwargs)
    if architecture == "start_end":
        return as_span_model(load_qa_model(name_or_path, **kwargs))
    raise ValueError(
        f"not a question-answering model (architectures: {found.config.get('architectures')}); an "
        "encoder has no answer head yet: train a reader on it with scripts/train.py"
    )


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0][:300] if text else ''}"


def load_model(name_or_path: str) -> LoadedModel:
    """The model in a folder (or on the hub) and its inference settings; see the module docstring."""
    name_or_path = str(name_or_path)
    check_name(name_or_path)
    is_dir = os.path.isdir(name_or_path)
    try:
        check_folder_files(name_or_path)
        found = folder_config(name_or_path)
        model = _load(name_or_path, found)
        settings = settings_of(model)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as e:
        if not is_dir:
            raise OSError(
                f"{name_or_path}: no such model folder, and no model of that name could be loaded "
                f"from the hub ({_one_line(e)})"
            ) from None
        raise OSError(
            f"{name_or_path}: cannot load the model ({_one_line(e)}); is it a complete model folder "
            "(scripts/train.py's output, or a transformers question-answering model)?"
        ) from None
    if found.fixups:
        logger.warning(legacy_warning(name_or_path))
    return LoadedModel(model.eval(), settings, config_architecture(found.config))


def _files(directory: str) -> dict[str, tuple[int, int]]:
    """The folder's files: name → (inode, mtime in ns), to tell which ones a save wrote."""
    if not os.path.isdir(directory):
        return {}
    out = {}
    for entry in os.scandir(directory):
        if entry.is_file(follow_symlinks=False):
            st = entry.stat(follow_symlinks=False)
            out[entry.name] = (st.st_ino, st.st_mtime_ns)
    return out


def save_model(model: nn.Module, directory: str, tokenizer: Any = None, state_dict: dict | None = None) -> None:
    """The folder in the current layout (config.json with the inference settings, weights, tokenizer); files of an
    older layout left there by a previous save (gp_mrc_config.json) are removed. Every file the save wrote gets
    config.json's permissions (the user's umask): transformers writes the weights 0600, through a private
    temporary file, and a service running as another user could not read them."""
    before = _files(directory)
    model.save_pretrained(directory, tokenizer=tokenizer, state_dict=state_dict)
    remove_retired_files(directory)
    mode = os.stat(os.path.join(directory, CONFIG_NAME)).st_mode & 0o777
    for name, stamp in _files(directory).items():
        if before.get(name) != stamp:
            os.chmod(os.path.join(directory, name), mode)


def load_tokenizer(name_or_path: str) -> Any:
    """A fast tokenizer from a hub name or a folder. A folder without tokenizer files is an error: transformers
    would otherwise build an empty tokenizer from config.json alone and map every word to [UNK]."""
    if os.path.isdir(name_or_path) and not any(os.path.exists(os.path.join(name_or_path, f)) for f in TOKENIZER_FILES):
        raise FileNotFoundError(
            f"{name_or_path}: no tokenizer files (none of {', '.join(TOKENIZER_FILES)}); the "
            "folder must hold the tokenizer saved with the model (scripts/train.py saves it)"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, use_fast=True, **hub_keywords(name_or_path))
    except (OSError, ValueError) as e:
        raise FileNotFoundError(f"{name_or_path}: no usable tokenizer files ({e})") from None
    if len(tokenizer) <= len(tokenizer.all_special_tokens):
        raise FileNotFoundError(f"{name_or_path}: the tokenizer has no vocabulary (only special tokens)")
    return tokenizer
