"""The ONNX Runtime backend: an exported folder (gp_mrc/inference/onnx_export.py) answering through `Reader`.

`OnnxSpanModel` stands where the torch model stands: called with a batch of windows it returns the SpanOutput
the torch model returns, built from the graph's scores by the same functions (gp_mrc.models.modeling.span_output,
gp_mrc.models.baseline.start_end_output). Windows, batching, decoding and passages are the one code path above it
(gp_mrc/inference/predict.py); only the encoder and head run in ONNX Runtime (CPU). Importing this module does not
import onnxruntime: a folder is only checked for it once it is loaded.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import torch
from torch import nn

from ..choices import BACKENDS
from ..errors import UsageError
from ..models.baseline import start_end_output
from ..models.modeling import span_output
from ..settings import PIPELINE_DEFAULTS, SETTINGS_KEY, InferenceSettings

MODEL_FILE = "model.onnx"
ONNX_KEY = "gp_mrc_onnx"  # config.json: what the export holds
GRAPH_OUTPUTS = {"globalpointer": ("scores",), "start_end": ("start_logits", "end_logits")}
INSTALL_HINT = "pip install gp_mrc[onnx]"


def require_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise UsageError(
            f"the ONNX backend needs onnxruntime and onnx, which are not installed: {INSTALL_HINT}"
        ) from None
    return onnxruntime


def is_onnx_folder(path: str) -> bool:
    return os.path.isdir(path) and os.path.exists(os.path.join(path, MODEL_FILE))


def resolve_backend(name_or_path: str, backend: str | None) -> str:
    """The backend for a folder: the one named, else onnxruntime for an exported folder and torch otherwise."""
    if backend is None:
        return "onnxruntime" if is_onnx_folder(str(name_or_path)) else "torch"
    if backend not in BACKENDS:
        raise UsageError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "onnxruntime" and not is_onnx_folder(str(name_or_path)):
        raise UsageError(
            f"{name_or_path}: no {MODEL_FILE}; export the model first: gp-mrc export {name_or_path} OUT --format onnx"
        )
    return backend


def onnx_config(path: str) -> dict[str, Any]:
    try:
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise OSError(f"{path}: no readable config.json next to {MODEL_FILE} ({e})") from None
    info = config.get(ONNX_KEY)
    if not isinstance(info, dict) or info.get("architecture") not in GRAPH_OUTPUTS:
        raise OSError(
            f"{path}: config.json does not describe an ONNX export (no {ONNX_KEY!r}); "
            "write the folder with gp-mrc export"
        )
    return config


class OnnxSpanModel(nn.Module):
    """An exported graph behind the gp_mrc forward signature (no parameters: it runs on the CPU, outside torch)."""

    def __init__(self, session: Any, architecture: str):
        super().__init__()
        self.session, self.architecture = session, architecture
        self.input_names = [i.name for i in session.get_inputs()]

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        passage_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        *,
        max_answer_length: int,
        **_: Any,
    ) -> Any:
        """The graph's unmasked scores, masked to spans of at most max_answer_length tokens here (the graph holds
        no limit: the inference settings, and an override at answer time, choose it)."""
        given = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids if token_type_ids is not None else torch.zeros_like(input_ids),
        }
        feed = {name: given[name].cpu().numpy().astype(np.int64) for name in self.input_names}
        outs = [torch.from_numpy(o) for o in self.session.run(list(GRAPH_OUTPUTS[self.architecture]), feed)]
        if self.architecture == "globalpointer":
            return span_output(outs[0], attention_mask, passage_mask, max_answer_length, band=False)
        return start_end_output(outs[0], outs[1], attention_mask, passage_mask, max_answer_length, band=False)


def open_session(model_path: str, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session; a file that is not a valid ONNX model is one OSError naming it."""
    ort = require_onnxruntime()
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001  (onnxruntime raises its own pybind error types)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise OSError(f"{model_path}: not a usable ONNX model ({first})") from None


def load_onnx_model(path: str, threads: int | None = None) -> tuple[OnnxSpanModel, InferenceSettings]:
    """The exported folder's model and its inference settings."""
    config = onnx_config(path)
    architecture = config[ONNX_KEY]["architecture"]
    raw = config.get(SETTINGS_KEY)
    settings = PIPELINE_DEFAULTS if raw is None else InferenceSettings.from_dict(raw)
    session = open_session(os.path.join(path, MODEL_FILE), threads)
    missing = set(GRAPH_OUTPUTS[architecture]) - {o.name for o in session.get_outputs()}
    if missing or not {"input_ids", "attention_mask"} <= {i.name for i in session.get_inputs()}:
        raise OSError(
            f"{path}/{MODEL_FILE}: not a gp_mrc export (it lacks the outputs {sorted(missing)} "
            "or the inputs input_ids, attention_mask)"
        )
    return OnnxSpanModel(session, architecture), settings
