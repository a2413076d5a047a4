"""Segment (token-type) embeddings an encoder never trained, found and tied to type 0 before fine-tuning.

A reader feeds (question, passage) as two segments: the passage's tokens get token type 1. Encoders pretrained on
single segments (sentence-embedding models such as m3e-small) never saw type 1: its embedding is still at its
random initialisation, so every passage token is shifted by a vector the encoder never learnt, and the reader fails
to learn to read the question (BENCHMARKS.md, "Why m3e-small never learnt to read the question": flat at 8-10 F1;
with type 1 tied to type 0, 42.7 F1 at the same step). Tying it to type 0 is the same as sending all-zero
token_type_ids: question and passage are then told apart by [SEP] and positions, as one-segment (RoBERTa-style)
readers do. Only a fresh reader is tied (training/model_init.py); the change is in the weights, so the saved reader
answers with what it trained with.
"""

from __future__ import annotations

import torch
from torch import nn

# An untrained row sits near its initialisation's norm, init_std·√d (N(0, init_std) in d dimensions), and is near
# orthogonal to any other vector; a trained type 0 is well away from that norm. All three must hold: m3e-small's
# type 1 has 0.98× that norm and cosine -0.04 with type 0 (type 0: 3.9×); all-MiniLM-L6-v2's two types have cosine
# 0.94, albert-tiny-chinese's 0.58; a randomly initialised encoder's type 0 is itself at 1.0× (nothing to tie).
INIT_NORM_TOLERANCE = 0.25  # |norm / (init_std·√d) - 1| below this: at its initialisation
TRAINED_NORM_RATIO = 2.0  # type 0's norm at least this many times init_std·√d: trained
ORTHOGONAL_COSINE = 0.2  # |cosine| with type 0 below this: unrelated to it


def untrained_token_types(weight: torch.Tensor, init_std: float) -> list[int]:
    """The token types ≥ 1 of a (types, d) embedding matrix that look untrained next to a trained type 0."""
    if weight.dim() != 2 or weight.shape[0] < 2 or init_std <= 0:
        return []
    w = weight.detach().float()
    init_norm = init_std * w.shape[1] ** 0.5
    norms = w.norm(dim=1)
    if norms[0] < TRAINED_NORM_RATIO * init_norm:
        return []
    cosines = nn.functional.cosine_similarity(w[1:], w[0:1].expand_as(w[1:]), dim=1)
    return [
        t
        for t in range(1, w.shape[0])
        if abs(norms[t].item() / init_norm - 1) < INIT_NORM_TOLERANCE and abs(cosines[t - 1].item()) < ORTHOGONAL_COSINE
    ]


def token_type_embedding(model: nn.Module) -> tuple[nn.Embedding, float] | None:
    """The encoder's token-type embedding and its config's initializer_range, or None where it has none."""
    for module in model.modules():  # the encoder (BertModel, AlbertModel, ...) owns both
        embedding = getattr(getattr(module, "embeddings", None), "token_type_embeddings", None)
        init_std = getattr(getattr(module, "config", None), "initializer_range", None)
        if isinstance(embedding, nn.Embedding) and isinstance(init_std, float):
            return embedding, init_std
    return None


def tie_untrained_token_types(model: nn.Module) -> list[int]:
    """Copies type 0's embedding into every token type that looks untrained; returns those types."""
    found = token_type_embedding(model)
    if found is None:
        return []
    embedding, init_std = found
    types = untrained_token_types(embedding.weight, init_std)
    with torch.no_grad():
        for t in types:
            embedding.weight[t] = embedding.weight[0]
    return types
