"""Which MatMuls to put in int8, measured (issue #26): variants of ONNX Runtime's dynamic int8 on one exported
reader, each scored on the same dev questions against the fp32 export (F1, answers identical to fp32's) and timed
on one batch of windows (forward only, interleaved, median).

    python -m gp_mrc_lab.onnx_variants --model runs/study/.../start_end_ad0-seed42 --questions 500 \\
        --output runs/onnx_variants/se.json

Variants: `shipped` (what `gp-mrc export --quantize int8` writes: the encoder's MatMuls but the feed-forward
down-projections), `all` (the down-projections too), `shipped+downK` (the shipped set and layer K's
down-projection: which layers bear int8), and `fused_*`: the same on ONNX Runtime's fused BERT graph
(onnxruntime.transformers.optimizer: Attention, SkipLayerNorm, BiasGelu; the Attention node's packed QKV product
in int8 as QAttention). A `_8bit` suffix: the same with 8-bit weights (no `reduce_range`), which a CPU with VNNI
(AVX512-VNNI / AVX-VNNI) multiplies without the saturation that makes 7-bit weights the export's choice elsewhere.
`--variants` picks some (the full dev set takes about a minute a variant).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys

from .bench_io import emit, interleaved, quiet_datasets
from .paths import SHARED


def down_projections(model_path: str) -> list[str]:
    """The encoder's feed-forward down-projection MatMuls (weight in_features > out_features), by layer: the
    encoder's weight products that the export's int8 (gp_mrc/inference/onnx_int8.py) leaves in fp32."""
    import onnx

    from gp_mrc.inference.onnx_int8 import ENCODER_SCOPE

    graph = onnx.load(model_path, load_external_data=False).graph
    weights = {w.name: tuple(w.dims) for w in graph.initializer}
    found = []
    for node in graph.node:
        shape = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) > 1 else None
        if shape is not None and len(shape) == 2 and ENCODER_SCOPE in node.name and shape[0] > shape[1]:
            found.append(node.name)
    return found


def fused_graph(model_path: str, out_path: str, num_heads: int, hidden_size: int) -> list[str]:
    """ONNX Runtime's fused BERT graph of model_path written to out_path; its Attention node names."""
    from onnxruntime.transformers.optimizer import optimize_model

    fused = optimize_model(model_path, model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=0)
    fused.save_model_to_file(out_path)
    return [n.name for n in fused.model.graph.node if n.op_type == "Attention"]


def variant_nodes(fp32_path: str, fused_path: str | None, attention: list[str]) -> dict[str, tuple[str, list[str]]]:
    """{variant: (source graph, MatMul / Attention nodes in int8)}; each also as `<variant>_8bit` (see
    weights_8bit)."""
    from gp_mrc.inference.onnx_int8 import int8_matmuls

    shipped, downs = int8_matmuls(fp32_path), down_projections(fp32_path)
    out = {"shipped": (fp32_path, shipped), "all": (fp32_path, shipped + downs)}
    out.update({f"shipped+down{k}": (fp32_path, shipped + [d]) for k, d in enumerate(downs)})
    if fused_path and attention:  # Q, K and V are one packed product inside each Attention node there
        rest = [m for m in shipped if "/attention/self/" not in m]
        out["fused_shipped"] = (fused_path, attention + rest)
        out["fused_all"] = (fused_path, attention + rest + downs)
    return {**out, **{f"{k}_8bit": v for k, v in out.items()}}


def weights_8bit(variant: str) -> bool:
    return variant.endswith("_8bit")


def quantize(source: str, nodes: list[str], out_path: str, reduce_range: bool = True) -> None:
    """`source` with `nodes` in int8 at out_path: ONNX Runtime's dynamic int8 with the export's settings
    (gp_mrc/inference/onnx_int8.py: per-channel int8 weights, 7-bit unless reduce_range=False), these nodes."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        source,
        out_path,
        per_channel=True,
        reduce_range=reduce_range,
        weight_type=QuantType.QInt8,
        nodes_to_quantize=nodes,
        op_types_to_quantize=["MatMul", "Attention"],
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # the fused graph's contrib ops
    )


def forward_seconds(paths: dict[str, str], batch: int, length: int, repeats: int, vocab: int) -> dict[str, float]:
    """Median seconds of one forward pass of `batch` windows of `length` tokens, per graph, interleaved."""
    import numpy as np
    import onnxruntime as ort

    sessions = {k: ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for k, p in paths.items()}
    ids = np.random.default_rng(0).integers(vocab // 10, vocab, (batch, length)).astype(np.int64)  # no special ids
    given = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    feeds = {k: {i.name: given[i.name] for i in s.get_inputs()} for k, s in sessions.items()}
    _, times = interleaved({k: (lambda s=s, k=k: s.run(None, feeds[k])) for k, s in sessions.items()}, repeats)
    return {k: statistics.median(v) for k, v in times.items()}


def answers_of(folder: str, records: list[dict], args: argparse.Namespace) -> list[str]:
    from gp_mrc.inference.reader import Reader

    reader = Reader.from_pretrained(folder, max_seq_length=args.max_seq_length, doc_stride=args.doc_stride)
    return [a[0]["answer"] if a else "" for a in reader.answer(records)]


def run(args: argparse.Namespace) -> dict:
    with quiet_datasets():
        return scored_variants(args)


def scored_variants(args: argparse.Namespace) -> dict:
    from transformers import AutoConfig

    from gp_mrc.data.examples import load_examples
    from gp_mrc.inference.onnx_export import export_onnx
    from gp_mrc.inference.predict import score_predictions

    fp32_dir = os.path.join(args.work_dir, "fp32")
    export_onnx(args.model, fp32_dir)
    fp32 = os.path.join(fp32_dir, "model.onnx")
    config = AutoConfig.from_pretrained(args.model)
    encoder = getattr(config, "encoder", None) or config  # a GlobalPointer folder nests the encoder's config
    fused = os.path.join(args.work_dir, "fused.onnx")
    attention = fused_graph(fp32, fused, encoder.num_attention_heads, encoder.hidden_size) if args.fused else []
    examples = load_examples(args.dev_file, max_samples=args.questions)
    records = [{"id": e["id"], "question": e["question"], "context": e["context"]} for e in examples]

    def f1(answers: list[str]) -> float:
        return score_predictions({r["id"]: a for r, a in zip(records, answers)}, examples, "squad")["f1"]

    ref = answers_of(fp32_dir, records, args)
    result = {"fp32": {"f1": f1(ref), "agreement": 1.0}}
    graphs = {"fp32": fp32}
    variants = variant_nodes(fp32, fused if args.fused else None, attention)
    unknown = sorted(set(args.variants or ()) - set(variants))
    if unknown:
        raise SystemExit(f"error: unknown --variants {', '.join(unknown)}; known: {', '.join(variants)}")
    for name, (source, nodes) in variants.items():
        if args.variants and name not in args.variants:
            continue
        folder = os.path.join(args.work_dir, name)
        shutil.copytree(fp32_dir, folder, dirs_exist_ok=True)
        quantize(source, nodes, os.path.join(folder, "model.onnx"), reduce_range=not weights_8bit(name))
        got = answers_of(folder, records, args)
        result[name] = {"f1": f1(got), "agreement": sum(a == b for a, b in zip(got, ref)) / len(ref)}
        graphs[name] = os.path.join(folder, "model.onnx")
        print(name, result[name], file=sys.stderr, flush=True)
    seconds = forward_seconds(graphs, args.batch_size, args.max_seq_length, args.repeats, encoder.vocab_size)
    for name, s in seconds.items():
        result[name].update(forward_s=s, speed_over_fp32=seconds["fp32"] / s)
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a reader folder (either architecture)")
    p.add_argument("--dev_file", default=os.path.join(SHARED, "squad_v1.1", "dev-v1.1.shared.json"))
    p.add_argument("--questions", type=int, default=500)
    p.add_argument("--max_seq_length", type=int, default=256)
    p.add_argument("--doc_stride", type=int, default=128)
    p.add_argument("--batch_size", type=int, default=16, help="windows of the timed forward pass")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--no_fused", dest="fused", action="store_false", help="leave out the fused-graph variants")
    p.add_argument("--variants", nargs="+", default=None, help="only these (default: every variant)")
    p.add_argument("--work_dir", default=os.path.join("runs", "onnx_variants", "work"))
    p.add_argument("--output", default=None)
    args = p.parse_args(argv)
    from .speed import machine

    result = {"command": "python -m gp_mrc_lab.onnx_variants " + " ".join(sys.argv[1:]), "machine": machine()}
    result["variants"] = run(args)
    emit(result, args.output)


if __name__ == "__main__":
    main()
