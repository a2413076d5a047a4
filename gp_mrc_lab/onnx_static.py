"""Static (calibrated, QDQ) int8 of an exported graph: the product's first int8 (issue #26), kept here to compare
against the dynamic int8 that `gp-mrc export --quantize int8` now writes (gp_mrc/inference/onnx_int8.py says why).
The same MatMuls as the product's; activations: uint8 with MinMax ranges over calibration windows."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Iterator

import numpy as np

from gp_mrc.defaults import SAMPLE_TRAIN_FILE
from gp_mrc.errors import UsageError
from gp_mrc.inference.onnx_int8 import int8_matmuls
from gp_mrc.settings import InferenceSettings


def calibration_batches(
    tokenizer: Any,
    settings: InferenceSettings,
    path: str | None,
    windows: int,
    input_names: list[str],
    batch_size: int = 16,
) -> list[dict[str, np.ndarray]]:
    """The first `windows` windows of the questions in `path` (default: the packaged sample's training questions),
    as the model sees them (the folder's window settings), in feed dicts of `batch_size`."""
    from gp_mrc.data.examples import load_examples
    from gp_mrc.data.features import prepare_features
    from gp_mrc.inference.predict import inference_loader

    path = path or SAMPLE_TRAIN_FILE
    if not os.path.isfile(path):
        raise UsageError(
            f"{path}: no such calibration file; give --calibration FILE (SQuAD-layout JSON or "
            "JSON/JSONL of {question, context})"
        )
    examples = load_examples(path, version_2=True, require_answers=False, max_samples=windows)  # >= 1 window each
    features = prepare_features(
        examples,
        tokenizer,
        max_seq_length=settings.max_seq_length,
        doc_stride=settings.doc_stride,
        max_query_length=settings.max_query_length,
        progress=False,
    )
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


def quantize_static_int8(
    model_path: str, tokenizer: Any, settings: InferenceSettings, calibration: str | None, windows: int
) -> None:
    """Replace the fp32 graph at `model_path` by its static int8 version (calibrated as above)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    names = [i.name for i in onnx.load(model_path, load_external_data=False).graph.input]
    batches = calibration_batches(tokenizer, settings, calibration, windows, names)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "int8.onnx")
        quantize_static(
            model_path,
            out,
            WindowReader(batches),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_quantize=int8_matmuls(model_path),
            op_types_to_quantize=["MatMul"],
            calibrate_method=CalibrationMethod.MinMax,
        )
        # (not CalibMaxIntermediateOutputs: onnxruntime 1.32 drops the collected batches at that count unmeasured)
        shutil.move(out, model_path)


def export_static_int8(model_dir: str, out_dir: str, calibration: str | None, windows: int) -> None:
    """`gp-mrc export --format onnx`, then the static int8 above in place of the fp32 graph (windows cut by the
    settings and tokenizer the export wrote: the torch model is loaded once, by the export)."""
    from gp_mrc.inference.onnx_backend import onnx_config
    from gp_mrc.inference.onnx_export import export_onnx
    from gp_mrc.models.loading import load_tokenizer
    from gp_mrc.settings import SETTINGS_KEY

    path = export_onnx(model_dir, out_dir)
    settings = InferenceSettings.from_dict(onnx_config(out_dir)[SETTINGS_KEY])
    quantize_static_int8(path, load_tokenizer(out_dir), settings, calibration, windows)
