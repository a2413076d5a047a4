"""Frozen copies of how gp_mrc saved model folders before its models became transformers models (commit
02146d3, gp_mrc/modeling.py and gp_mrc/baseline.py `save_pretrained`), so tests can write such folders and check
they still load. Do not update these with the library: they are the old format."""

from __future__ import annotations

import json
import os
from typing import Any

from safetensors.torch import save_file

HEAD_CONFIG_NAME = "gp_mrc_config.json"
WEIGHTS_NAME = "model.safetensors"


def old_head_config(
    head_size: int = 64,
    use_rope: bool = True,
    rope_base: float = 10000.0,
    max_answer_length: int = 30,
    version_2_with_negative: bool = False,
    lang: str = "en",
    span_bias: bool = False,
) -> dict:
    """`asdict(HeadConfig(...))` of the time, in its field order."""
    return {
        "head_size": head_size,
        "use_rope": use_rope,
        "rope_base": rope_base,
        "max_answer_length": max_answer_length,
        "version_2_with_negative": version_2_with_negative,
        "lang": lang,
        "span_bias": span_bias,
    }


def save_old_globalpointer(
    encoder_config: Any, state_dict: dict, head_config: dict, save_directory: str, tokenizer: Any = None
) -> None:
    """GlobalPointerForQuestionAnswering.save_pretrained of the time: encoder config.json + gp_mrc_config.json +
    model.safetensors (keys encoder.*, head.*) (+ tokenizer)."""
    os.makedirs(save_directory, exist_ok=True)
    encoder_config.save_pretrained(save_directory)
    with open(os.path.join(save_directory, HEAD_CONFIG_NAME), "w") as f:
        json.dump(head_config, f, indent=2)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}
    tmp = os.path.join(save_directory, WEIGHTS_NAME + ".tmp")
    save_file(state, tmp, metadata={"format": "pt"})
    os.replace(tmp, os.path.join(save_directory, WEIGHTS_NAME))
    if tokenizer is not None:
        tokenizer.save_pretrained(save_directory)


def save_old_start_end(qa_model: Any, head_config: dict, save_directory: str, tokenizer: Any = None) -> None:
    """StartEndForQuestionAnswering.save_pretrained of the time: the transformers QA model's files +
    gp_mrc_config.json with "architecture": "start_end" (+ tokenizer)."""
    qa_model.save_pretrained(save_directory)
    with open(os.path.join(save_directory, HEAD_CONFIG_NAME), "w") as f:
        json.dump({**head_config, "architecture": "start_end"}, f, indent=2)
    if tokenizer is not None:
        tokenizer.save_pretrained(save_directory)
