"""One loader for every model folder (or hub name), whatever wrote it:

* a GlobalPointer reader (config.json with model_type "gp_mrc": encoder config nested, head settings);
* a start/end reader: any transformers `AutoModelForQuestionAnswering` folder — ours (trained by
  scripts/train.py --architecture start_end) or a plain one, e.g. a SQuAD-fine-tuned BERT;
* the gp_mrc folders written before these were transformers models (gp_mrc/models/legacy.py), and GlobalPointer
  folders with the answer-length limit at the top level of config.json (`move_answer_limit`).

`load_model` returns the model with the gp_mrc forward signature and the folder's inference settings
(gp_mrc/settings.py; without them, `settings_of`'s defaults). Problems are one-line
FileNotFoundError (missing folder or files) or OSError (files that cannot be read) naming the folder.
"""

from __future__ import annotations

import json
import os
from typing import Any, NamedTuple

from torch import nn
from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoTokenizer

from . import legacy
from .baseline import StartEndForQuestionAnswering
from .modeling import GlobalPointerForQuestionAnswering
from ..settings import PIPELINE_DEFAULTS, SETTINGS_KEY, InferenceSettings, settings_from_config, store_settings

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model", "spiece.model",
                   "sentencepiece.bpe.model")
from ..defaults import HUB_NAME


class LoadedModel(NamedTuple):
    model: nn.Module  # GlobalPointerForQuestionAnswering or StartEndForQuestionAnswering
    settings: InferenceSettings
    architecture: str  # "globalpointer" | "start_end"


def _config_dict(name_or_path: str) -> dict[str, Any]:
    if os.path.isdir(name_or_path):
        with open(os.path.join(name_or_path, "config.json"), encoding="utf-8") as f:
            return json.load(f)
    return AutoConfig.from_pretrained(name_or_path).to_dict()


def is_qa_config(config: dict[str, Any]) -> bool:
    return any(a.endswith("ForQuestionAnswering") for a in config.get("architectures") or [])


def model_kind(name_or_path: str) -> str:
    """"globalpointer" | "start_end" | "legacy_globalpointer" | "legacy_start_end" | "encoder" (a model
    without a question-answering head, e.g. a pretrained encoder)."""
    if legacy.is_legacy_folder(name_or_path):
        return "legacy_" + legacy.legacy_architecture(name_or_path)
    config = _config_dict(name_or_path)
    if config.get("model_type") == "gp_mrc":
        return "globalpointer"
    return "start_end" if is_qa_config(config) else "encoder"


def check_folder_files(path: str) -> None:
    """A local folder must hold config.json and weights (hub names are checked by the hub)."""
    if not os.path.isdir(path):
        return
    missing = [] if os.path.exists(os.path.join(path, "config.json")) else ["config.json"]
    if not any(os.path.exists(os.path.join(path, w)) for w in WEIGHT_FILES):
        missing.append(WEIGHT_FILES[0])
    if missing:
        raise FileNotFoundError(f"{path} is not a model folder: missing {', '.join(missing)}")


def _require_all_weights(info: dict[str, Any], path: str) -> None:
    """transformers fills weights missing from a checkpoint with random ones; a reader must have them all."""
    missing = sorted(info.get("missing_keys") or []) + sorted(str(k) for k in info.get("mismatched_keys") or [])
    if missing:
        raise RuntimeError(f"weights missing from {path} or of another shape: {', '.join(missing[:5])}"
                           + (" ..." if len(missing) > 5 else ""))


def load_qa_model(name_or_path: str) -> nn.Module:
    """A transformers AutoModelForQuestionAnswering, with every weight from the checkpoint."""
    check_folder_files(name_or_path)
    model, info = AutoModelForQuestionAnswering.from_pretrained(name_or_path, output_loading_info=True)
    _require_all_weights(info, name_or_path)
    return model


def _load_globalpointer(name_or_path: str) -> GlobalPointerForQuestionAnswering:
    model, info = GlobalPointerForQuestionAnswering.from_pretrained(name_or_path, output_loading_info=True)
    _require_all_weights(info, name_or_path)
    move_answer_limit(model.config)
    return model


def move_answer_limit(config: Any) -> None:
    """A GlobalPointer config.json written before the answer-length limit was only an inference setting has it at
    the top level (with or without `inference_settings`): the value moves into the inference settings where
    those lack it (a folder without settings: the pipeline's, with that limit, as it answered then) and leaves
    the model's config, so the model answers as before and a save writes the current layout."""
    limit = vars(config).pop("max_answer_length", None)  # transformers keeps unknown config.json keys as attributes
    if limit is None:
        return
    stored = getattr(config, SETTINGS_KEY, None)
    if stored is None:
        store_settings(config, PIPELINE_DEFAULTS.replace(max_answer_length=limit))
    elif isinstance(stored, dict) and "max_answer_length" not in stored:
        setattr(config, SETTINGS_KEY, {**stored, "max_answer_length": limit})


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


def _load(name_or_path: str, kind: str) -> nn.Module:
    if kind == "legacy_globalpointer":
        return legacy.load_legacy_globalpointer(name_or_path)
    if kind == "legacy_start_end":
        settings = legacy.legacy_start_end_settings(name_or_path)
        return StartEndForQuestionAnswering.with_settings(load_qa_model(name_or_path), settings)
    if kind == "globalpointer":
        return _load_globalpointer(name_or_path)
    if kind == "start_end":
        return as_span_model(load_qa_model(name_or_path))
    config = _config_dict(name_or_path)
    raise ValueError(f"not a question-answering model (architectures: {config.get('architectures')}); an encoder "
                     "has no answer head yet: train a reader on it with scripts/train.py")


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0][:300] if text else ''}"


def load_model(name_or_path: str) -> LoadedModel:
    """The model in a folder (or on the hub) and its inference settings; see the module docstring."""
    from safetensors import SafetensorError

    name_or_path = str(name_or_path)
    is_dir = os.path.isdir(name_or_path)
    if not is_dir and (os.path.exists(name_or_path) or not HUB_NAME.fullmatch(name_or_path)):
        raise FileNotFoundError(f"{name_or_path}: no such model folder")
    try:
        check_folder_files(name_or_path)
        model = _load(name_or_path, model_kind(name_or_path))
        settings = settings_of(model)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as e:
        if not is_dir:
            raise OSError(f"{name_or_path}: no such model folder, and no model of that name could be loaded "
                          f"from the hub ({_one_line(e)})") from None
        raise OSError(f"{name_or_path}: cannot load the model ({_one_line(e)}); is it a complete model folder "
                      "(scripts/train.py's output, or a transformers question-answering model)?") from None
    architecture = "globalpointer" if isinstance(model, GlobalPointerForQuestionAnswering) else "start_end"
    return LoadedModel(model.eval(), settings, architecture)


def save_model(model: nn.Module, directory: str, tokenizer: Any = None, state_dict: dict | None = None) -> None:
    """The folder in the current layout (config.json with the inference settings, weights, tokenizer); a
    gp_mrc_config.json of an earlier layout left there by a previous save is removed."""
    model.save_pretrained(directory, tokenizer=tokenizer, state_dict=state_dict)
    legacy.remove_legacy_files(directory)


def load_tokenizer(name_or_path: str) -> Any:
    """A fast tokenizer from a hub name or a folder. A folder without tokenizer files is an error: transformers
    would otherwise build an empty tokenizer from config.json alone and map every word to [UNK]."""
    if os.path.isdir(name_or_path) and not any(os.path.exists(os.path.join(name_or_path, f)) for f in TOKENIZER_FILES):
        raise FileNotFoundError(f"{name_or_path}: no tokenizer files (none of {', '.join(TOKENIZER_FILES)}); the "
                                "folder must hold the tokenizer saved with the model (scripts/train.py saves it)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, use_fast=True)
    except (OSError, ValueError) as e:
        raise FileNotFoundError(f"{name_or_path}: no usable tokenizer files ({e})") from None
    if len(tokenizer) <= len(tokenizer.all_special_tokens):
        raise FileNotFoundError(f"{name_or_path}: the tokenizer has no vocabulary (only special tokens)")
    return tokenizer
