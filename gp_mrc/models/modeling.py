"""The GlobalPointer reader as a transformers model: any `AutoModel` encoder + the span head of gp_mrc/method.py.

The maths is gp_mrc/method.py's; this module adds what makes it fast and a model: the RoPE tables cached per
shape (sin/cos are not free on CPU; a compiled forward computes them in its graph), the ONNX export's tables (slices
of constants baked before the trace), and the band layout (B, n, max_answer_length) of gp_mrc/band.py, which
training and decoding read (`banded=True`): the losses and the top spans never look past the band, so building the
dense (B, n, n) matrix for them was ~90% wasted elementwise work. tests/test_method.py holds every fast path equal
to the plain functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForQuestionAnswering, PretrainedConfig, PreTrainedModel

from ..band import band_of, band_span_mask, band_start_plus_end, is_banded
from ..method import MASK_VALUE, GlobalPointerHead, rope_tables, span_scores, start_plus_end, valid_span_mask
from .configuration import MODEL_TYPE, GlobalPointerConfig, HeadConfig

# RoPE tables baked into an ONNX export (gp_mrc/inference/onnx_export.py): windows up to this many tokens
ONNX_ROPE_POSITIONS = 4096
_ROPE_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def cached_rope_tables(
    n: int, dim: int, base: float, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """method.rope_tables, cached per (n, dim, base, device, dtype): they are constants."""
    # inference-mode tensors may not enter autograd later (eval during training): cache them apart
    key = (n, dim, float(base), str(device), dtype, torch.is_inference_mode_enabled())
    if key not in _ROPE_CACHE:
        if len(_ROPE_CACHE) > 64:
            _ROPE_CACHE.clear()
        _ROPE_CACHE[key] = rope_tables(n, dim, base, device, dtype)
    return _ROPE_CACHE[key]


def head_rope(head: GlobalPointerHead, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The head's RoPE tables for q's windows: cached; under ONNX export, slices of the longest tables (same
    values), made before the trace (torch 2.13's tracer, building them, broke the graph)."""
    if not head.use_rope:
        return None
    n = q.shape[-2]
    if torch.compiler.is_compiling():  # computed in the graph, fused with their use (n is a symbol there)
        return rope_tables(n, head.head_size, head.rope_base, q.device, q.dtype)
    if torch.onnx.is_in_onnx_export():
        return tuple(
            t[:n] for t in cached_rope_tables(ONNX_ROPE_POSITIONS, head.head_size, head.rope_base, q.device, q.dtype)
        )
    return cached_rope_tables(n, head.head_size, head.rope_base, q.device, q.dtype)


def head_scores(head: GlobalPointerHead, hidden: torch.Tensor, band_width: int | None = None) -> torch.Tensor:
    """head(hidden) (method.GlobalPointerHead.forward: s(i, j), unmasked, fp32) with cached RoPE tables; with
    band_width, in the band layout (B, n, band_width). The sums run in the autocast dtype in both layouts."""
    q, k, start, end = head.project(hidden)
    scores = span_scores(q, k, head_rope(head, q))
    if band_width is None:
        return (scores if start is None else scores + start_plus_end(start, end)).float()
    scores = band_of(scores, band_width)
    return (scores if start is None else scores + band_start_plus_end(start, end, band_width)).float()


@dataclass
class SpanOutput:
    logits: torch.Tensor  # (B, n, n) float32, masked spans = MASK_VALUE; or the band (B, n, w) (`banded=True`)
    span_mask: torch.Tensor  # (B, n, n) bool; or (B, n, w)
    loss: torch.Tensor | None = None  # a model's own loss (the start/end baseline)
    raw_scores: bool = False  # rank spans by raw score across windows (start/end) instead of log p
    # start/end reader: log-softmax of the start and end logits over each window's passage tokens and [CLS],
    # (B, n): the probability a span is reported with is p_start(i)·p_end(j), as transformers' pipeline had it
    start_log_probs: torch.Tensor | None = None
    end_log_probs: torch.Tensor | None = None


def _encoder_from_config(config: PretrainedConfig) -> nn.Module:
    try:  # the pooler is unused here, and unused parameters break DDP
        return AutoModel.from_config(config, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config)


def _encoder_from_pretrained(path: str, **kwargs: Any) -> nn.Module:
    try:
        return AutoModel.from_pretrained(path, add_pooling_layer=False, **kwargs)
    except TypeError:
        return AutoModel.from_pretrained(path, **kwargs)


class GlobalPointerForQuestionAnswering(PreTrainedModel):
    """Any `AutoModel` encoder with a GlobalPointer span head: a transformers model (config class
    `GlobalPointerConfig`, model_type "gp_mrc"), saved and loaded with save_pretrained / from_pretrained."""

    config_class = GlobalPointerConfig
    base_model_prefix = "gp_mrc"
    main_input_name = "input_ids"

    def __init__(self, config: GlobalPointerConfig, encoder: nn.Module | None = None):
        super().__init__(config)
        if encoder is not None:  # a pretrained encoder: the model's config must be the one it runs with
            config.encoder = encoder.config
        self.encoder = encoder if encoder is not None else _encoder_from_config(config.encoder)
        self.head = GlobalPointerHead(
            config.encoder.hidden_size, config.head_size, config.use_rope, config.rope_base, config.span_bias
        )
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # Only the head is ours (the encoder initialises itself); weights loaded from a checkpoint are flagged.
        if (module is self.head.dense or module is self.head.bias_dense) and not getattr(
            module.weight, "_is_hf_initialized", False
        ):
            module.reset_parameters()
            if module is self.head.dense:
                self.head.zero_k()

    @property
    def head_config(self) -> HeadConfig:
        return self.config.head_config

    @classmethod
    def from_encoder(
        cls, name_or_path: str, head_config: HeadConfig | None = None, **kwargs: Any
    ) -> "GlobalPointerForQuestionAnswering":
        """A pretrained encoder (hub name or folder) with a freshly initialised head."""
        encoder = _encoder_from_pretrained(name_or_path, **kwargs)
        # a copy of the encoder config: building the config resets settings (attention) on its sub-config
        return cls(GlobalPointerConfig.from_head_config(encoder.config.to_dict(), head_config), encoder)

    @classmethod
    def from_encoder_config(
        cls, config: PretrainedConfig, head_config: HeadConfig | None = None
    ) -> "GlobalPointerForQuestionAnswering":
        """A randomly initialised encoder (tests, training from scratch)."""
        return cls(GlobalPointerConfig.from_head_config(config, head_config))

    def save_pretrained(self, save_directory: str, *args: Any, tokenizer: Any = None, **kwargs: Any) -> None:
        """transformers' save_pretrained (config.json + model.safetensors), plus the tokenizer if given. (Folders
        of earlier layouts are read by gp_mrc.models.loading.load_model, not here: the model does not know its loader.)"""
        super().save_pretrained(save_directory, *args, **kwargs)
        if tokenizer is not None:
            tokenizer.save_pretrained(save_directory)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        passage_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        *,
        max_answer_length: int,
        banded: bool = False,
        **_: Any,
    ) -> SpanOutput:
        """max_answer_length: spans of more tokens are masked; the caller's setting (training's config, the
        inference settings), never the model's: the model holds no limit. banded: logits and mask in the band
        layout (B, n, max_answer_length) when it is narrower than the window (training's losses and decoding's top
        spans read only the band); otherwise dense (B, n, n)."""
        band = banded and is_banded(input_ids.shape[-1], max_answer_length)
        hidden = self.hidden(input_ids, attention_mask, token_type_ids)
        logits = head_scores(self.head, hidden, max_answer_length if band else None)
        return span_output(logits, attention_mask, passage_mask, max_answer_length, band)

    def hidden(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state


def span_output(
    logits: torch.Tensor,
    attention_mask: torch.Tensor,
    passage_mask: torch.Tensor,
    max_answer_length: int,
    band: bool,
) -> SpanOutput:
    """A GlobalPointer's SpanOutput from its head's unmasked scores (dense, or the band): the torch model and the
    ONNX Runtime backend (gp_mrc/inference/onnx_backend.py) mask and package them here, the one way."""
    mask = span_mask(passage_mask.bool() & attention_mask.bool(), max_answer_length, band)
    return SpanOutput(logits=logits.masked_fill(~mask, MASK_VALUE), span_mask=mask)


def span_mask(passage_mask: torch.Tensor, max_answer_length: int, band: bool) -> torch.Tensor:
    """method.valid_span_mask (null span allowed), or the same spans in the band layout."""
    if band:
        return band_span_mask(passage_mask, max_answer_length)
    return valid_span_mask(passage_mask, max_answer_length, allow_null=True)


# `AutoConfig.from_pretrained` / `AutoModel.from_pretrained` on a gp_mrc folder (gp_mrc/__init__.py makes sure this
# module is imported once transformers is).
AutoConfig.register(MODEL_TYPE, GlobalPointerConfig, exist_ok=True)
AutoModel.register(GlobalPointerConfig, GlobalPointerForQuestionAnswering, exist_ok=True)
# it is a question-answering model: the task's Auto class resolves a gp_mrc folder too (issue #24)
AutoModelForQuestionAnswering.register(GlobalPointerConfig, GlobalPointerForQuestionAnswering, exist_ok=True)
