"""How long a window the encoder can take: a longer one ends in a traceback from the position embeddings
("The size of tensor a (4096) must match ... (512)") only once some passage is long, so check it up front."""

from __future__ import annotations

from typing import Any

# Tokenizers without a limit report a huge sentinel (int(1e30)); anything above this is no limit.
_NO_LIMIT = 1_000_000


def max_positions(model: Any, tokenizer: Any = None) -> int | None:
    """The encoder's `max_position_embeddings` (the smallest over its sub-modules' configs), or the tokenizer's
    `model_max_length` when that is smaller (RoBERTa: 514 positions, 512 usable); None when neither says."""
    modules = model.modules() if hasattr(model, "modules") else [model]
    found = [getattr(getattr(m, "config", None), "max_position_embeddings", None) for m in modules]
    found = [n for n in found if isinstance(n, int) and not isinstance(n, bool) and n > 0]
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < _NO_LIMIT:
        found.append(tok_max)
    return min(found) if found else None


def check_max_seq_length(max_seq_length: int, model: Any, tokenizer: Any = None, flag: str = "max_seq_length") -> None:
    """ValueError (one line) when windows of `max_seq_length` tokens do not fit the encoder's positions."""
    limit = max_positions(model, tokenizer)
    if limit is not None and max_seq_length > limit:
        raise ValueError(
            f"{flag}={max_seq_length} is longer than the encoder takes ({limit} positions, "
            f"max_position_embeddings in its config); use {flag} {limit} or less"
        )
