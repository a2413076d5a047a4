"""Layouts of model folders written before, each one a fix-up of config.json into the current layout.

A fix-up takes (folder, config.json as a dict) and returns the current config.json, or None when the folder is not
in its layout. `FIXUPS` runs them in order (gp_mrc/models/folders.py), so a later one sees an earlier one's output;
`gp-mrc convert` writes the result once, the loader applies it in memory. Only JSON is read: nothing heavy.

The layout before 0.1.0, when gp_mrc's models were not transformers models: config.json is the encoder's own config
(GlobalPointer) or the transformers QA model's (start/end), next to gp_mrc_config.json (the head settings, the
metric language, SQuAD v2 or not, and "architecture": "start_end" for a start/end reader) and model.safetensors
(the same weight names as now).
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

from ..metrics import metric_name
from ..settings import PIPELINE_DEFAULTS, SETTINGS_KEY, InferenceSettings

LEGACY_CONFIG_NAME = "gp_mrc_config.json"
LEGACY_HEAD_KEYS = ("head_size", "use_rope", "rope_base", "span_bias")  # the limit goes to the inference settings
LEGACY_MAX_ANSWER_LENGTH = 30  # the HeadConfig default of the time (fixed: a later default must not change it)
RETIRED_FILES = (LEGACY_CONFIG_NAME,)  # files of old layouts a current folder does not keep

Fixup = Callable[[str, dict[str, Any]], "dict[str, Any] | None"]


def read_json(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    if not isinstance(raw, dict):
        raise ValueError(f"{os.path.basename(path)} must hold a JSON object")
    return raw


def legacy_settings(raw: dict[str, Any]) -> InferenceSettings:
    """The inference settings of a folder before 0.1.0: what its gp_mrc_config.json says, the rest as Reader and
    predict.py used them then (windows 384 / 128 / 64, argmax decoding, threshold 0)."""
    lang, v2 = raw.get("lang", "en"), bool(raw.get("version_2_with_negative", False))
    return InferenceSettings(
        max_answer_length=raw.get("max_answer_length", LEGACY_MAX_ANSWER_LENGTH),
        lang=lang,
        metric=metric_name(lang, v2),
        version_2_with_negative=v2,
    )


def head_config_file(folder: str, config: dict[str, Any]) -> dict[str, Any] | None:
    """The layout before 0.1.0 (a gp_mrc_config.json beside a config.json that is not a current gp_mrc one; a stale
    gp_mrc_config.json next to a current config.json is ignored). A start/end reader keeps its QA config with the
    settings added; a GlobalPointer's config nests the encoder's, as GlobalPointerConfig writes it."""
    path = os.path.join(folder, LEGACY_CONFIG_NAME)
    if config.get("model_type") == "gp_mrc" or SETTINGS_KEY in config or not os.path.isfile(path):
        return None
    raw = read_json(path)
    settings = legacy_settings(raw).to_dict()
    if raw.get("architecture", "globalpointer") == "start_end":
        return {**config, SETTINGS_KEY: settings}
    encoder = {k: v for k, v in config.items() if k != "transformers_version"}
    # the loader of the time built the model in float32 whatever the weights' dtype
    return {
        "architectures": ["GlobalPointerForQuestionAnswering"],
        "model_type": "gp_mrc",
        "dtype": "float32",
        "encoder": encoder,
        **{k: raw[k] for k in LEGACY_HEAD_KEYS if k in raw},
        SETTINGS_KEY: settings,
    }


def limit_in_settings(config: dict[str, Any]) -> dict[str, Any] | None:
    """A GlobalPointer config.json written while the answer-length limit was also a model setting has it at the top
    level (with or without `inference_settings`): it moves into the inference settings where those lack it (no
    settings at all: the pipeline's, with that limit, as such a folder answered then) and leaves the model config."""
    if config.get("model_type") != "gp_mrc" or "max_answer_length" not in config:
        return None
    fixed = dict(config)
    limit = fixed.pop("max_answer_length")
    stored = fixed.get(SETTINGS_KEY)
    if stored is None:
        fixed[SETTINGS_KEY] = PIPELINE_DEFAULTS.replace(max_answer_length=limit).to_dict()
    elif isinstance(stored, dict) and "max_answer_length" not in stored:
        fixed[SETTINGS_KEY] = {**stored, "max_answer_length": limit}
    return fixed


def top_level_answer_limit(folder: str, config: dict[str, Any]) -> dict[str, Any] | None:
    return limit_in_settings(config)


FIXUPS: tuple[Fixup, ...] = (head_config_file, top_level_answer_limit)
