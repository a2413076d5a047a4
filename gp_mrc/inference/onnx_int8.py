"""Static int8 for an exported graph (`gp-mrc export ... --quantize int8`): ONNX Runtime's QDQ quantization,
calibrated on real windows, for CPUs without native bf16 where fp32 is all torch has.

Which MatMuls go int8 follows the torch int8 path (gp_mrc/inference/quantization.py): the encoder's weight MatMuls
except the feed-forward down-projections (weight in_features > out_features: their input is the activation's
output, whose few large values one scale cannot hold), never the answer head (span scores are differences of large
dot products), nor the attention's activation × activation products. Weights: one scale per output channel, 7-bit
(`reduce_range`: no saturation on x86 CPUs without VNNI, ONNX Runtime's advice; the same file then runs on every
CPU); activations: uint8 with MinMax ranges over the calibration windows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Iterator

import numpy as np

from ..defaults import SAMPLE_TRAIN_FILE
from ..errors import UsageError
from ..settings import InferenceSettings

# the encoder's nodes (GlobalPointer: /encoder/encoder/layer.N/..., start/end: /qa_model/<base>/encoder/...); the
# answer heads' (/dense, /bias_dense, /qa_model/qa_outputs) lie outside it
ENCODER_SCOPE = "/encoder/"


def int8_matmuls(model_path: str) -> list[str]:
    """The MatMul nodes to quantize: the encoder's weight (initializer) products with in_features <=
    out_features."""
    import onnx

    graph = onnx.load(model_path, load_external_data=False).graph
    weights = {w.name: tuple(w.dims) for w in graph.initializer}
    chosen = []
    for node in graph.node:
        shape = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) > 1 else None
        if shape is None or len(shape) != 2 or ENCODER_SCOPE not in node.name:
            continue
        if shape[0] <= shape[1]:  # (in_features, out_features): a down-projection stays fp32
            chosen.append(node.name)
    return chosen


def calibration_batches(tokenizer: Any, settings: InferenceSettings, path: str | None, windows: int,
                        input_names: list[str], batch_size: int = 16) -> list[dict[str, np.ndarray]]:
    """The first `windows` windows of the questions in `path` (default: the packaged sample's training questions),
    as the model sees them (the folder's window settings), in feed dicts of `batch_size`."""
    from ..data.examples import load_examples
    from ..data.features import prepare_features
    from .predict import inference_loader

    path = path or SAMPLE_TRAIN_FILE
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such calibration file; give --calibration FILE (SQuAD-layout JSON or "
                         "JSON/JSONL of {question, context})")
    examples = load_examples(path, version_2=True, require_answers=False, max_samples=windows)  # >= 1 window each
    features = prepare_features(examples, tokenizer, max_seq_length=settings.max_seq_length,
                                doc_stride=settings.doc_stride, max_query_length=settings.max_query_length,
                                progress=False)
    features = features.select(range(min(windows, len(features))))
    batches = []
    for batch in inference_loader(features, tokenizer.pad_token_id or 0, batch_size):
        batch.setdefault("token_type_ids", batch["input_ids"] * 0)
        batches.append({n: batch[n].numpy().astype(np.int64) for n in input_names})
    return batches


class WindowReader:
    """onnxruntime's CalibrationDataReader protocol over prepared feed dicts."""

    def __init__(self, batches: list[dict[str, np.ndarray]]):
        self._it: Iterator[dict[str, np.ndarray]] = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:  # onnxruntime calls it on some versions; one pass is all MinMax needs
        pass


def quantize_static_int8(model_path: str, model: Any, tokenizer: Any, settings: InferenceSettings,
                         calibration: str | None, windows: int) -> None:
    """Replace the fp32 graph at `model_path` by its static int8 version (calibrated as above)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    names = [i.name for i in onnx.load(model_path, load_external_data=False).graph.input]
    batches = calibration_batches(tokenizer, settings, calibration, windows, names)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "int8.onnx")
        quantize_static(model_path, out, WindowReader(batches), quant_format=QuantFormat.QDQ,
                        per_channel=True, reduce_range=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, nodes_to_quantize=int8_matmuls(model_path),
                        op_types_to_quantize=["MatMul"], calibrate_method=CalibrationMethod.MinMax)
        # (not CalibMaxIntermediateOutputs: onnxruntime 1.32 drops the collected batches at that count unmeasured)
        shutil.move(out, model_path)
