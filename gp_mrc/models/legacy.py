"""Model folders written by gp_mrc before its models were transformers models, read as the current ones.

Their layout: config.json is the encoder's own config (GlobalPointer) or the transformers QA model's config
(start/end), next to gp_mrc_config.json (the head settings, the metric language, SQuAD v2 or not, and
"architecture": "start_end" for a start/end reader) and model.safetensors. A model loaded from one carries
the same inference settings as a current folder, so saving it again writes the current layout.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..settings import SETTINGS_KEY, InferenceSettings

LEGACY_CONFIG_NAME = "gp_mrc_config.json"
LEGACY_WEIGHTS_NAME = "model.safetensors"
LEGACY_HEAD_KEYS = ("head_size", "use_rope", "rope_base", "span_bias")  # its max_answer_length: legacy_settings
LEGACY_MAX_ANSWER_LENGTH = 30  # the HeadConfig default of the time (fixed: a later default must not change it)


def _read_json(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    if not isinstance(raw, dict):
        raise ValueError(f"{os.path.basename(path)} must hold a JSON object")
    return raw


def is_legacy_folder(path: str) -> bool:
    """A local folder with gp_mrc_config.json whose config.json is not a current gp_mrc one (a stale
    gp_mrc_config.json next to a current config.json is ignored)."""
    if not os.path.isfile(os.path.join(path, LEGACY_CONFIG_NAME)):
        return False
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        return True  # reported as a folder with missing files
    try:
        config = _read_json(config_path)
    except (OSError, ValueError):
        return True  # reported when loading, naming the file
    return config.get("model_type") != "gp_mrc" and SETTINGS_KEY not in config


def legacy_architecture(path: str) -> str:
    return _read_json(os.path.join(path, LEGACY_CONFIG_NAME)).get("architecture", "globalpointer")


def legacy_settings(raw: dict[str, Any]) -> InferenceSettings:
    """The inference settings of a legacy folder: what its gp_mrc_config.json says, the rest as Reader and
    predict.py used them then (windows 384 / 128 / 64, argmax decoding, threshold 0)."""
    from ..metrics import metric_name

    lang, v2 = raw.get("lang", "en"), bool(raw.get("version_2_with_negative", False))
    return InferenceSettings(max_answer_length=raw.get("max_answer_length", LEGACY_MAX_ANSWER_LENGTH), lang=lang,
                             metric=metric_name(lang, v2), version_2_with_negative=v2)


def _check_legacy_files(path: str) -> None:
    missing = [n for n in ("config.json", LEGACY_CONFIG_NAME, LEGACY_WEIGHTS_NAME)
               if not os.path.exists(os.path.join(path, n))]
    if missing:
        raise FileNotFoundError(f"{path} is not a complete gp_mrc model folder: missing {', '.join(missing)}")


def load_legacy_globalpointer(path: str) -> Any:
    """A GlobalPointerForQuestionAnswering from a legacy folder (strict: every weight must be there)."""
    from safetensors.torch import load_file
    from transformers import AutoConfig

    from .configuration import GlobalPointerConfig
    from .modeling import GlobalPointerForQuestionAnswering

    _check_legacy_files(path)
    raw = _read_json(os.path.join(path, LEGACY_CONFIG_NAME))
    head = {k: raw[k] for k in LEGACY_HEAD_KEYS if k in raw}
    config = GlobalPointerConfig(encoder=AutoConfig.from_pretrained(path), **head,
                                 inference_settings=legacy_settings(raw).to_dict())
    model = GlobalPointerForQuestionAnswering(config)
    model.load_state_dict(load_file(os.path.join(path, LEGACY_WEIGHTS_NAME)))
    return model


def legacy_start_end_settings(path: str) -> InferenceSettings:
    """The settings of a legacy start/end folder (a transformers QA folder + gp_mrc_config.json); the loader
    wraps its QA model with them."""
    _check_legacy_files(path)
    return legacy_settings(_read_json(os.path.join(path, LEGACY_CONFIG_NAME)))


def remove_legacy_files(directory: str) -> None:
    """A folder saved in the current layout must not keep a gp_mrc_config.json of an earlier save."""
    stale = os.path.join(directory, LEGACY_CONFIG_NAME)
    if os.path.exists(stale):
        os.remove(stale)
