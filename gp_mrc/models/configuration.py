"""`GlobalPointerConfig`: the transformers config of a GlobalPointer reader (model_type "gp_mrc").

It nests the encoder's own config (any `AutoModel` encoder) and adds the span head's settings and the
folder's inference settings, so one config.json describes the whole model:

    {"model_type": "gp_mrc", "encoder": {"model_type": "bert", ...}, "head_size": 64, "use_rope": true,
     "rope_base": 10000.0, "span_bias": false, "inference_settings": {"max_answer_length": 30, ...}, ...}

The answer-length limit is an inference setting, not the model's: the head scores every span and the forward
masks with the limit its caller gives (a folder written before kept a copy at the top level: the loader moves
it, gp_mrc/models/loading.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transformers import AutoConfig, PretrainedConfig

try:  # transformers 5.x declares nested configs with a spec; 4.x with a plain mapping
    from transformers.configuration_utils import SubConfigSpec
except ImportError:
    SubConfigSpec = None

from ..settings import HEAD_SIZE

MODEL_TYPE = "gp_mrc"


@dataclass
class HeadConfig:
    """The span head's settings (the constructor argument of `from_encoder` / `from_encoder_config`)."""

    head_size: int = HEAD_SIZE
    use_rope: bool = True
    rope_base: float = 10000.0
    # add linear start/end terms u_sᵀh_i + u_eᵀh_j to the bilinear score. False: what a head (or a folder) that
    # does not say has; a fresh head in training takes training's own default (training.config.ModelConfig, True)
    span_bias: bool = False


def _as_encoder_config(encoder: Any) -> PretrainedConfig:
    if isinstance(encoder, PretrainedConfig):
        return encoder
    if encoder is None:
        return AutoConfig.for_model("bert")
    if isinstance(encoder, dict) and "model_type" in encoder:
        raw = dict(encoder)
        return AutoConfig.for_model(raw.pop("model_type"), **raw)
    raise ValueError(f"`encoder` must be an encoder config or a dict with its model_type, got {type(encoder).__name__}")


class GlobalPointerConfig(PretrainedConfig):
    model_type = MODEL_TYPE
    # `encoder` is a nested config: the attention implementation and dtype chosen at load time reach it
    if SubConfigSpec is not None:
        sub_configs_defaults = {"encoder": SubConfigSpec(AutoConfig, model_type="bert")}
    else:
        sub_configs = {"encoder": AutoConfig}

    def __init__(
        self,
        encoder: Any = None,
        head_size: int = HeadConfig.head_size,
        use_rope: bool = HeadConfig.use_rope,
        rope_base: float = HeadConfig.rope_base,
        span_bias: bool = HeadConfig.span_bias,
        inference_settings: dict | None = None,
        **kwargs: Any,
    ):
        self.encoder = _as_encoder_config(encoder)
        self.head_size, self.use_rope, self.rope_base, self.span_bias = head_size, use_rope, rope_base, span_bias
        self.inference_settings = inference_settings  # see gp_mrc/settings.py
        super().__init__(**kwargs)

    @classmethod
    def from_head_config(
        cls, encoder: PretrainedConfig | dict, head: HeadConfig | None = None, **kwargs: Any
    ) -> "GlobalPointerConfig":
        h = head or HeadConfig()
        return cls(
            encoder=encoder,
            head_size=h.head_size,
            use_rope=h.use_rope,
            rope_base=h.rope_base,
            span_bias=h.span_bias,
            **kwargs,
        )

    @property
    def head_config(self) -> HeadConfig:
        return HeadConfig(
            head_size=self.head_size, use_rope=self.use_rope, rope_base=self.rope_base, span_bias=self.span_bias
        )
