"""The standard start/end reader (transformers' AutoModelForQuestionAnswering), for side-by-side benchmarks.

Trained with its own start/end cross-entropy (the model's `loss` given start/end positions: the first
gold inside the window, else [CLS], as the transformers examples do). For decoding its scores are
laid out as a span matrix s(i, j) = start_i + end_j over the same valid spans as GlobalPointer, and
ranked by those raw scores across windows, with the examples' null rule
(min_window s(0, 0) − best s(i, j) > threshold → ""). Top-k of that matrix is the exact n-best; the
transformers examples approximate it with top-20 starts × top-20 ends.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import AutoModelForQuestionAnswering

from ..band import band_start_plus_end, is_banded
from ..method import MASK_VALUE, start_plus_end
from .modeling import SpanOutput, span_mask
from ..settings import InferenceSettings, store_settings


class StartEndForQuestionAnswering(nn.Module):
    """AutoModelForQuestionAnswering behind the gp_mrc forward signature (returns a SpanOutput).

    Its folder is the transformers QA model's own (config.json + weights), the inference settings inside
    config.json: any transformers QA folder loads as one (gp_mrc.models.loading.load_model). It has no head
    settings of its own: the answer-length limit comes with each forward call, as for a GlobalPointer."""

    def __init__(self, qa_model: nn.Module):
        super().__init__()
        self.qa_model = qa_model

    @property
    def config(self) -> Any:
        return self.qa_model.config

    @classmethod
    def from_encoder(cls, name_or_path: str) -> "StartEndForQuestionAnswering":
        return cls(AutoModelForQuestionAnswering.from_pretrained(name_or_path))

    @classmethod
    def with_settings(cls, qa_model: nn.Module, settings: InferenceSettings) -> "StartEndForQuestionAnswering":
        """A loaded QA model with its inference settings (kept in its config, so a save writes them)."""
        store_settings(qa_model.config, settings)
        return cls(qa_model)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        passage_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        *,
        max_answer_length: int,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        banded: bool = False,
        **_: Any,
    ) -> SpanOutput:
        """Span scores start_i + end_j over spans of at most max_answer_length tokens, dense or (banded, as
        GlobalPointerForQuestionAnswering) the band."""
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        out = self.qa_model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            start_positions=start_positions,
            end_positions=end_positions,
            **kwargs,
        )
        band = banded and is_banded(input_ids.shape[-1], max_answer_length)
        return start_end_output(
            out.start_logits, out.end_logits, attention_mask, passage_mask, max_answer_length, band, loss=out.loss
        )

    def save_pretrained(
        self, save_directory: str, tokenizer: Any = None, state_dict: dict | None = None, **kwargs: Any
    ) -> None:
        """The transformers QA model's save_pretrained (its settings ride in config.json), plus the tokenizer."""
        if state_dict is not None:
            state_dict = {k.removeprefix("qa_model."): v for k, v in state_dict.items()}
        self.qa_model.save_pretrained(save_directory, state_dict=state_dict, **kwargs)
        if tokenizer is not None:
            tokenizer.save_pretrained(save_directory)


def start_end_output(
    start: torch.Tensor,
    end: torch.Tensor,
    attention_mask: torch.Tensor,
    passage_mask: torch.Tensor,
    max_answer_length: int,
    band: bool,
    loss: torch.Tensor | None = None,
) -> SpanOutput:
    """A start/end reader's SpanOutput from its (B, n) start and end logits: the torch model and the ONNX Runtime
    backend (gp_mrc/inference/onnx_backend.py) build the span scores and probabilities here, the one way."""
    start, end = start.float(), end.float()
    mask = span_mask(passage_mask.bool() & attention_mask.bool(), max_answer_length, band)
    logits = band_start_plus_end(start, end, max_answer_length) if band else start_plus_end(start, end)
    logits = logits.masked_fill(~mask, MASK_VALUE)
    allowed = passage_mask.bool() & attention_mask.bool()
    allowed[:, 0] = True  # [CLS], the null answer: it takes the window's mass where the answer is not in it
    start_lp = start.masked_fill(~allowed, float("-inf")).log_softmax(-1)
    end_lp = end.masked_fill(~allowed, float("-inf")).log_softmax(-1)
    return SpanOutput(
        logits=logits, span_mask=mask, loss=loss, raw_scores=True, start_log_probs=start_lp, end_log_probs=end_lp
    )
