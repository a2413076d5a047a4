"""An encoder trained on single segments, made fit for question + passage pairs (issue #27 point 3).

m3e-small (a sentence-embedding model) never saw token type 1: its type-1 embedding is still at its random
initialisation, so every passage token of a reader's input is shifted by a vector the encoder never learnt.
This writes a copy of the encoder folder whose type-1 embedding equals type 0's — the same as sending all-zero
token_type_ids, with no change to the reader's code. The reader then tells question from passage by [SEP] and the
positions alone, as RoBERTa-style readers (one token type) do.

Training now does this itself for a fresh reader on such an encoder (gp_mrc/models/token_types.py, with a
warning); this tool stays for the study `cmrc_zh_m3e_type0`, whose runs were made on its folder.

    python -m gp_mrc_lab.one_segment m3e-small runs/encoders/m3e-small-type0
"""

from __future__ import annotations

import argparse
import os

import torch


def type_embedding_norms(model: torch.nn.Module) -> list[float]:
    """The norm of each token-type embedding (an untrained one sits near its initialisation's ~0.02·√d)."""
    return model.embeddings.token_type_embeddings.weight.norm(dim=1).tolist()


def copy_type0_into_type1(model: torch.nn.Module) -> None:
    with torch.no_grad():
        weight = model.embeddings.token_type_embeddings.weight
        weight[1:] = weight[0]


def main(argv: list[str] | None = None) -> int:
    from transformers import AutoModel, AutoTokenizer

    from .encoders import OPTIONAL_ENCODERS, optional_encoder_path

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("encoder", help=f"a folder, or one of {', '.join(OPTIONAL_ENCODERS)}")
    p.add_argument("output_dir")
    args = p.parse_args(argv)
    src = optional_encoder_path(args.encoder) if args.encoder in OPTIONAL_ENCODERS else args.encoder
    if os.path.exists(args.output_dir) and os.listdir(args.output_dir):
        p.error(f"{args.output_dir} exists and is not empty")
    model = AutoModel.from_pretrained(src)
    before = type_embedding_norms(model)
    copy_type0_into_type1(model)
    model.save_pretrained(args.output_dir)
    AutoTokenizer.from_pretrained(src).save_pretrained(args.output_dir)
    print(
        f"token-type embedding norms {[round(x, 3) for x in before]} -> "
        f"{[round(x, 3) for x in type_embedding_norms(model)]}; written to {args.output_dir}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
