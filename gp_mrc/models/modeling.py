"""Encoder + GlobalPointer span head (one type) → span logits s(i, j), masked to valid spans.

    q_i, k_i = W_q h_i, W_k h_i;   s(i, j) = (R_i q_i)ᵀ (R_j k_j) / √d   [+ u_sᵀh_i + u_eᵀh_j]

R_i is the rotary position matrix (RoPE), so (R_i q)ᵀ(R_j k) = qᵀ R_{j−i} k: the score carries the
relative position j − i. The bracketed start/end terms (`span_bias`, as in the author's "Efficient
GlobalPointer") are optional: they are linear in the head's weights, so they learn from the first step,
while the bilinear term starts on a saddle (both q and k random) and needs many steps to grow. Valid spans are i ≤ j over passage tokens (no longer than
`max_answer_length` tokens), plus the null span (0, 0) on [CLS] meaning "no answer in this window".
Everything else is filled with MASK_VALUE; the losses also take the boolean mask, so masked spans get
exactly zero probability and zero gradient.

Two layouts of the same spans: dense (B, n, n), [b, i, j] = span (i, j), what decoding reads; and the band
(B, n, w) with w = max_answer_length < n, [b, i, l] = span (i, i + l), what training reads (`banded=True`):
the losses never look past the band, so building the dense matrix for them was ~90% wasted elementwise work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForQuestionAnswering, PretrainedConfig, PreTrainedModel

from .configuration import MODEL_TYPE, GlobalPointerConfig, HeadConfig
from ..band import band_of, band_windows, is_banded


# Finite, representable in fp16 and bf16 (fp16 max is 65504), and exp() of it underflows to 0.
MASK_VALUE = -30000.0


# RoPE tables baked into an ONNX export (gp_mrc/inference/onnx_export.py): windows up to this many tokens
ONNX_ROPE_POSITIONS = 4096
_ROPE_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def rope_tables(
    n: int, dim: int, base: float, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables (n, dim) for interleaved-pair RoPE (pairs (0,1), (2,3), ... rotate together).

    Cached per (n, dim, base, device, dtype): they are constants, and sin/cos are not free on CPU."""
    # inference-mode tensors may not enter autograd later (eval during training): cache them apart
    key = (n, dim, float(base), str(device), dtype, torch.is_inference_mode_enabled())
    if key not in _ROPE_CACHE:
        if len(_ROPE_CACHE) > 64:
            _ROPE_CACHE.clear()
        _ROPE_CACHE[key] = _rope_tables(n, dim, base, device, dtype)
    return _ROPE_CACHE[key]


def _rope_tables(
    n: int, dim: int, base: float, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    inv_freq = base ** (-torch.arange(0, dim, 2, device=device, dtype=torch.float32) / dim)
    angles = torch.arange(n, device=device, dtype=torch.float32)[:, None] * inv_freq[None, :]  # (n, dim/2)
    cos = angles.cos().repeat_interleave(2, dim=-1).to(dtype)
    sin = angles.sin().repeat_interleave(2, dim=-1).to(dtype)
    return cos, sin


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each (2m, 2m+1) pair of x (..., n, dim) by angle position·θ_m."""
    rotated = torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).reshape(x.shape)
    return x * cos + rotated * sin


def span_scores(
    q: torch.Tensor, k: torch.Tensor, use_rope: bool = HeadConfig.use_rope, rope_base: float = HeadConfig.rope_base
) -> torch.Tensor:
    """s(i, j) = (R_i q_i)ᵀ (R_j k_j) / √d for q, k of shape (B, n, d) → (B, n, n)."""
    d = q.shape[-1]
    if use_rope:
        n = q.shape[-2]
        if torch.onnx.is_in_onnx_export():  # every window length: slices of the longest tables (same values),
            # made before the trace (rope_tables_for_export): torch 2.13's tracer, building them, broke the graph
            cos, sin = (t[:n] for t in rope_tables(ONNX_ROPE_POSITIONS, int(d), rope_base, q.device, q.dtype))
        else:
            cos, sin = rope_tables(n, d, rope_base, q.device, q.dtype)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    return torch.einsum("bmd,bnd->bmn", q, k) / d**0.5


def start_plus_end(start: torch.Tensor, end: torch.Tensor, max_answer_length: int | None = None) -> torch.Tensor:
    """start_i + end_j for every span, from (B, n) terms: (B, n, n), or the band (B, n, max_answer_length) if
    given."""
    if max_answer_length is None:
        return start[:, :, None] + end[:, None, :]
    return start[:, :, None] + band_windows(end, max_answer_length)


def valid_span_mask(
    passage_mask: torch.Tensor, max_answer_length: int | None = None, allow_null: bool = True, banded: bool = False
) -> torch.Tensor:
    """(B, n, n) bool: i ≤ j, both passage tokens, j − i < max_answer_length; plus (0, 0) if allow_null.
    banded (needs is_banded(n, max_answer_length)): the same spans in the band layout (B, n, max_answer_length)."""
    n = passage_mask.shape[-1]
    if banded:
        if not is_banded(n, max_answer_length):
            raise ValueError(f"no band layout for windows of {n} tokens and max_answer_length {max_answer_length}")
        mask = passage_mask[:, :, None] & band_windows(passage_mask, max_answer_length)
        if allow_null:
            mask[:, 0, 0] = True
        return mask
    idx = torch.arange(n, device=passage_mask.device)
    band = idx[None, :] >= idx[:, None]
    if max_answer_length is not None:
        band = band & (idx[None, :] - idx[:, None] < max_answer_length)
    mask = passage_mask[:, :, None] & passage_mask[:, None, :] & band
    if allow_null:
        mask[:, 0, 0] = True
    return mask


class GlobalPointerHead(nn.Module):
    """One-type GlobalPointer: a single linear map to (q, k), RoPE, scaled dot product; optionally plus
    linear start/end terms (`span_bias`)."""

    def __init__(
        self,
        hidden_size: int,
        head_size: int = HeadConfig.head_size,
        use_rope: bool = HeadConfig.use_rope,
        rope_base: float = HeadConfig.rope_base,
        span_bias: bool = HeadConfig.span_bias,
    ):
        super().__init__()
        if use_rope and head_size % 2:
            raise ValueError(f"head_size must be even for RoPE, got {head_size}")
        self.dense = nn.Linear(hidden_size, 2 * head_size)
        self.bias_dense = nn.Linear(hidden_size, 2) if span_bias else None
        self.head_size, self.use_rope, self.rope_base = head_size, use_rope, rope_base
        self.zero_k()

    def zero_k(self) -> None:
        """With `span_bias`, k starts at zero (as LoRA's B): the head starts as exactly a start/end reader, with
        no random bilinear noise in the scores or the encoder's gradients, and q·k grows from there (k's gradient
        is nonzero because q is random)."""
        if self.bias_dense is not None:
            with torch.no_grad():
                self.dense.weight[self.head_size :].zero_()
                self.dense.bias[self.head_size :].zero_()

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.scores_and_terms(hidden)[0]

    def scores_and_terms(
        self, hidden: torch.Tensor, max_answer_length: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(span scores, start terms (B, n), end terms (B, n)) in fp32; the terms are None without span_bias.
        Scores are (B, n, n), or the band (B, n, max_answer_length) if given: the same values either way (the
        sum is taken in the autocast dtype in both, before the cast to fp32). Unmasked: the limit masks later."""
        q, k = self.dense(hidden).split(self.head_size, dim=-1)
        scores = span_scores(q, k, self.use_rope, self.rope_base)
        if max_answer_length is not None:
            scores = band_of(scores, max_answer_length)
        if self.bias_dense is None:
            return scores.float(), None, None
        start, end = self.bias_dense(hidden).unbind(-1)
        return (scores + start_plus_end(start, end, max_answer_length)).float(), start.float(), end.float()


@dataclass
class SpanOutput:
    logits: torch.Tensor  # (B, n, n) float32, masked spans = MASK_VALUE; or the band (B, n, w) (`banded=True`)
    span_mask: torch.Tensor  # (B, n, n) bool; or (B, n, w)
    loss: torch.Tensor | None = None  # a model's own loss (the start/end baseline)
    raw_scores: bool = False  # rank spans by raw score across windows (start/end) instead of log p
    start_logits: torch.Tensor | None = None  # (B, n) the linear start/end terms of a `span_bias` head
    end_logits: torch.Tensor | None = None
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
        layout (B, n, max_answer_length) when it is narrower than the window (training: the losses read only the
        band); otherwise dense (B, n, n) (decoding)."""
        band = banded and is_banded(input_ids.shape[-1], max_answer_length)
        # fp32 scores: losses and softmax in fp32 whatever the autocast dtype
        logits, start, end = self.head.scores_and_terms(
            self.hidden(input_ids, attention_mask, token_type_ids), max_answer_length if band else None
        )
        return span_output(logits, start, end, attention_mask, passage_mask, max_answer_length, band)

    def hidden(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state


def span_output(
    logits: torch.Tensor,
    start: torch.Tensor | None,
    end: torch.Tensor | None,
    attention_mask: torch.Tensor,
    passage_mask: torch.Tensor,
    max_answer_length: int,
    band: bool,
) -> SpanOutput:
    """A GlobalPointer's SpanOutput from its head's unmasked scores (dense, or the band): the torch model and the
    ONNX Runtime backend (gp_mrc/inference/onnx_backend.py) mask and package them here, the one way."""
    mask = valid_span_mask(passage_mask.bool() & attention_mask.bool(), max_answer_length, allow_null=True, banded=band)
    return SpanOutput(logits=logits.masked_fill(~mask, MASK_VALUE), span_mask=mask, start_logits=start, end_logits=end)


# `AutoConfig.from_pretrained` / `AutoModel.from_pretrained` on a gp_mrc folder (gp_mrc/__init__.py makes sure this
# module is imported once transformers is).
AutoConfig.register(MODEL_TYPE, GlobalPointerConfig, exist_ok=True)
AutoModel.register(GlobalPointerConfig, GlobalPointerForQuestionAnswering, exist_ok=True)
# it is a question-answering model: the task's Auto class resolves a gp_mrc folder too (issue #24)
AutoModelForQuestionAnswering.register(GlobalPointerConfig, GlobalPointerForQuestionAnswering, exist_ok=True)
