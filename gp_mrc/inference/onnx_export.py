"""`gp-mrc export MODEL OUT --format onnx`: a model folder as an ONNX graph that ONNX Runtime serves without torch.

OUT is a folder: model.onnx, config.json (the model's config with its inference settings, and `gp_mrc_onnx`:
architecture, graph outputs, precision) and the tokenizer, so `Reader.from_pretrained(OUT)` answers with it
anywhere (gp_mrc/inference/onnx_backend.py). The graph is the model's forward up to its scores — a GlobalPointer's
dense span scores s(i, j) (encoder, head, RoPE, the start/end terms), a start/end reader's start and end logits —
over a dynamic batch and window length. The span mask (the band i ≤ j < i + max_answer_length over passage tokens,
and the null span) is applied after it, by the same code as the torch model (gp_mrc.models.modeling.span_output),
so an answer-length override at answer time still holds. `quantize="int8"`: see gp_mrc/inference/onnx_int8.py.
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch
from torch import nn

from ..errors import UsageError
from ..models.loading import load_model, load_tokenizer
from ..models.modeling import ONNX_ROPE_POSITIONS, cached_rope_tables, head_scores
from ..settings import SETTINGS_KEY
from .onnx_backend import GRAPH_OUTPUTS, MODEL_FILE, ONNX_KEY, require_onnxruntime
from .onnx_int8 import quantize_dynamic_int8

OPSET = 17
DYNAMIC = {0: "batch", 1: "length"}


class ScoresGraph(nn.Module):
    """The part of a span model that is exported: token inputs → the scores its forward masks and packages."""

    def __init__(self, model: nn.Module, architecture: str, with_token_types: bool):
        super().__init__()
        self.model, self.architecture, self.with_token_types = model, architecture, with_token_types

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> Any:
        kwargs = {"token_type_ids": token_type_ids} if self.with_token_types else {}
        if self.architecture == "globalpointer":
            hidden = self.model.hidden(input_ids, attention_mask, **kwargs)
            return head_scores(self.model.head, hidden)  # dense, unmasked, fp32
        out = self.model.qa_model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        return out.start_logits.float(), out.end_logits.float()


def sample_inputs(tokenizer: Any, with_token_types: bool) -> tuple[torch.Tensor, ...]:
    """Two windows of different lengths (one padded): the traced graph must not fix either dimension."""
    enc = tokenizer(
        ["what is it?", "who was he?"],
        ["it is a river.", "he was the first king of the city, long ago."],
        padding=True,
        return_tensors="pt",
    )
    inputs = (enc["input_ids"], enc["attention_mask"])
    return inputs + (enc["token_type_ids"],) if with_token_types else inputs


def export_graph(model: nn.Module, architecture: str, tokenizer: Any, path: str) -> None:
    with_token_types = "token_type_ids" in tokenizer.model_input_names
    graph = ScoresGraph(model, architecture, with_token_types).eval()
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if with_token_types else [])
    outputs = list(GRAPH_OUTPUTS[architecture])
    axes = {n: DYNAMIC for n in names} | {
        o: ({0: "batch", 1: "length", 2: "length"} if o == "scores" else DYNAMIC) for o in outputs
    }
    if architecture == "globalpointer" and model.head.use_rope:  # constants of the graph, made outside its trace
        cached_rope_tables(
            ONNX_ROPE_POSITIONS, model.head.head_size, model.head.rope_base, torch.device("cpu"), torch.float32
        )
    with torch.no_grad():
        torch.onnx.export(
            graph,
            sample_inputs(tokenizer, with_token_types),
            path,
            input_names=names,
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )


def export_onnx(model_dir: str, out_dir: str, quantize: str = "none") -> str:
    """Export `model_dir` into the folder `out_dir` (created; an earlier export there is replaced); returns the
    path of model.onnx. A folder that is not a model is FileNotFoundError / OSError with a one-line message."""
    require_onnxruntime()
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError(f"{out_dir} is a file: the export goes into a folder")
    loaded = load_model(model_dir)
    tokenizer = load_tokenizer(model_dir)
    model = loaded.model.float().eval()
    # the eager attention: a traced graph keeps no data-dependent shortcut of the fused kernels
    encoder = model.encoder if loaded.architecture == "globalpointer" else model.qa_model
    encoder.config._attn_implementation = "eager"
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, MODEL_FILE)
    export_graph(model, loaded.architecture, tokenizer, path)
    if quantize == "int8":
        quantize_dynamic_int8(path)
    elif quantize != "none":
        raise UsageError(f"quantize must be none or int8, got {quantize!r}")
    write_config(model.config, loaded.settings.to_dict(), loaded.architecture, quantize, out_dir)
    tokenizer.save_pretrained(out_dir)
    return path


def write_config(config: Any, settings: dict, architecture: str, quantize: str, out_dir: str) -> None:
    raw = config.to_dict()
    raw[SETTINGS_KEY] = settings
    raw[ONNX_KEY] = {
        "architecture": architecture,
        "outputs": list(GRAPH_OUTPUTS[architecture]),
        "precision": "int8" if quantize == "int8" else "fp32",
        "opset": OPSET,
    }
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(raw, f, indent=2, ensure_ascii=False)
