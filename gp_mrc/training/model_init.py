"""The model a training run starts from: a trained reader folder (continued as it is) or an encoder (a fresh
span head on it), for --architecture globalpointer or start_end."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from ..models.baseline import StartEndForQuestionAnswering
from .config import ModelConfig, TrainConfig, folder_architecture as architecture_in
from ..models.loading import load_model, load_tokenizer
from ..models.positions import check_max_seq_length
from ..models.modeling import GlobalPointerForQuestionAnswering, HeadConfig
from ..models.token_types import tie_untrained_token_types
from ..errors import UsageError

logger = logging.getLogger("gp_mrc")


def _fresh_model(config: ModelConfig, path: str, folder_architecture: str | None) -> nn.Module:
    if config.architecture == "start_end":
        if folder_architecture == "globalpointer":
            raise UsageError(
                f"{path} holds a GlobalPointer reader; a start/end reader starts from an encoder or a start/end folder"
            )
        return StartEndForQuestionAnswering.from_encoder(path)
    if folder_architecture == "start_end":
        logger.info("%s holds a start/end reader: the GlobalPointer starts from its encoder", path)
    head = HeadConfig(head_size=config.head_size, span_bias=config.span_bias)
    return GlobalPointerForQuestionAnswering.from_encoder(path, head)


ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout")  # BERT family; DistilBERT, ModernBERT
ATTENTION_DROPOUT_MODULES = ("dropout", "attention_dropout", "attn_dropout")  # nn.Dropout children of *Attention


def set_attention_dropout(model: nn.Module, p: float) -> int:
    """Sets the dropout on the encoder's attention probabilities to `p`, in its config (saved with the model)
    and in the built modules (which read it at construction); returns how many modules changed.

    Why: scaled_dot_product_attention with dropout_p > 0 has no fused CPU kernel; its fallback materialises
    the (B, heads, n, n) probabilities and draws a random mask for them, most of a MiniLM step here."""
    if not 0.0 <= p < 1.0:
        raise UsageError(f"--attention_dropout must be in [0, 1), got {p}")
    changed = 0
    for module in model.modules():
        # configs: the model's and the encoder's own (GlobalPointerConfig nests it; saved with the folder)
        config = getattr(module, "config", None)
        for key in ATTENTION_DROPOUT_KEYS:
            if isinstance(getattr(config, key, None), float):
                setattr(config, key, p)
        if "Attention" not in type(module).__name__:
            continue
        for attr, value in vars(module).items():  # float settings (e.g. ModernBERT's attention_dropout)
            if attr in ("dropout_prob", "attention_dropout") and isinstance(value, float):
                setattr(module, attr, p)
                changed += 1
        # BERT: BertSelfAttention.dropout; ALBERT: attention_dropout — by name: ALBERT's output_dropout and
        # DeBERTa's pos_dropout live in the same modules but drop hidden states
        for child_name, child in module.named_children():
            if isinstance(child, nn.Dropout) and child_name in ATTENTION_DROPOUT_MODULES:
                child.p = p
                changed += 1
    if not changed:
        raise UsageError(
            f"--attention_dropout: no attention dropout found in this encoder "
            f"({type(model).__name__}); pass --attention_dropout encoder"
        )
    return changed


def fp32_master_weights(model: nn.Module) -> bool:
    """Casts a model whose weights were stored in bf16/fp16 (transformers 5 loads a checkpoint in its stored
    dtype, head included) to fp32, and says whether it did. Why: an AdamW step of 1e-4 relative to a weight is
    below bf16's resolution (2^-8) and rounds away; mixed precision is autocast's job (--mixed_precision), on
    fp32 master weights."""
    if all(p.dtype == torch.float32 for p in model.parameters() if p.is_floating_point()):
        return False
    model.float()
    return True


def model_for_training(config: TrainConfig) -> tuple[nn.Module, Any]:
    """(model, tokenizer) for the run: a reader folder of the run's architecture (resolved by parse_args)
    continues training as it is (its head settings kept), otherwise a fresh head goes on the folder's encoder."""
    path, architecture = config.data.model_name_or_path, config.model.architecture
    try:
        tokenizer = load_tokenizer(config.data.tokenizer_name or path)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    folder_architecture = architecture_in(path)
    if folder_architecture == architecture:
        try:
            model = load_model(path).model
        except (FileNotFoundError, OSError) as e:
            raise UsageError(str(e)) from None
        logger.info("continuing the %s reader of %s", architecture, path)
    else:
        model = _fresh_model(config.model, path, folder_architecture)
        # only a fresh reader: a trained one answers with the token types it was trained with
        if tied := tie_untrained_token_types(model):
            logger.warning(
                "%s: token type %s of this encoder was never trained (it sits at its random initialisation); "
                "set to type 0's embedding, so question and passage are told apart by [SEP] and positions",
                path,
                ", ".join(map(str, tied)),
            )
    if fp32_master_weights(model):
        logger.info("%s stores half-precision weights: trained as fp32 master weights", path)
    try:  # a window longer than the encoder's positions fails only once a passage is long: say so now
        check_max_seq_length(config.inference.max_seq_length, model, tokenizer, flag="--max_seq_length")
    except ValueError as e:
        raise UsageError(f"{path}: {e}") from None
    if config.model.attention_dropout != "encoder":
        n = set_attention_dropout(model, config.model.attention_dropout)
        logger.info("attention dropout %g (%d modules)", config.model.attention_dropout, n)
    return model, tokenizer
