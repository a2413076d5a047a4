"""int8 for an exported graph (`gp-mrc export ... --quantize int8`): ONNX Runtime's dynamic quantization, for
CPUs without native bf16 where fp32 is all torch has.

Which MatMuls go int8 follows the torch int8 path (gp_mrc/inference/quantization.py): the encoder's weight MatMuls
except the feed-forward down-projections (weight in_features > out_features: their input is the activation's
output, whose few large values one scale cannot hold), never the answer head (span scores are differences of large
dot products), nor the attention's activation × activation products. Weights: one scale per output channel, 7-bit
(`reduce_range`: no saturation on x86 CPUs without VNNI, ONNX Runtime's advice; the same file then runs on every
CPU); activations: uint8, their range measured on each batch as it runs (dynamic).

Why dynamic, not static (calibrated) int8: on the trained sample start/end reader and the full SQuAD v1.1 dev set
(BENCHMARKS.md "ONNX Runtime", 2-core AVX2 CPU) both stay within 0.3 F1 of fp32 (dynamic -0.21, static -0.16), but
the dynamic graph answers more questions exactly as fp32 does (82.3% against 74.9%: per-batch ranges fit each
batch's activations, where one calibrated range must cover them all) and ran faster here (16.3 against 11.0
questions/s on 200 questions, scripts/benchmark_onnx.py on a busy machine). It also needs no calibration data. The
static variant stays in the lab (gp_mrc_lab/onnx_static.py) for comparison. Neither keeps 0.3 F1 on SQuAD-trained
readers (dynamic: -0.73 start/end, -0.80 GlobalPointer; BENCHMARKS.md "ONNX Runtime"), so it is an explicit choice.
"""

from __future__ import annotations

import os
import shutil
import tempfile

# the encoder's nodes (GlobalPointer: /encoder/encoder/layer.N/..., start/end: /qa_model/<base>/encoder/...); the
# answer heads' (/dense, /bias_dense, /qa_model/qa_outputs) lie outside it
ENCODER_SCOPE = "/encoder/"


def int8_matmuls(model_path: str) -> list[str]:
    """The MatMul nodes to quantize, in graph order: the encoder's products by a weight (an initializer) with
    in_features <= out_features (a down-projection stays fp32)."""
    import onnx

    graph = onnx.load(model_path, load_external_data=False).graph
    weights = {w.name: tuple(w.dims) for w in graph.initializer}
    found = []
    for node in graph.node:
        shape = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) > 1 else None
        if shape is not None and len(shape) == 2 and ENCODER_SCOPE in node.name and shape[0] <= shape[1]:
            found.append(node.name)
    return found


def quantize_dynamic_int8(model_path: str) -> None:
    """Replace the fp32 graph at `model_path` by its dynamic int8 version: the MatMuls above, 7-bit weights."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "int8.onnx")
        quantize_dynamic(
            model_path,
            out,
            per_channel=True,
            reduce_range=True,
            weight_type=QuantType.QInt8,
            nodes_to_quantize=int8_matmuls(model_path),
            op_types_to_quantize=["MatMul"],
        )
        shutil.move(out, model_path)
