"""--attention_dropout: the encoder's attention-probability dropout set in the modules and the saved config."""

import pytest
import torch

from gp_mrc.errors import UsageError
from gp_mrc.models.baseline import StartEndForQuestionAnswering
from gp_mrc.models.modeling import GlobalPointerForQuestionAnswering, HeadConfig
from gp_mrc.training.model_init import set_attention_dropout

from conftest import TINY_SIZES, make_tiny_config, research_parse_args


def _attention_ps(model: torch.nn.Module) -> list[float]:
    return [m.p for n, m in model.named_modules() if n.endswith("attention.self.dropout")]


def _train_mode_outputs(model: torch.nn.Module, seed: int) -> torch.Tensor:
    ids = torch.randint(5, 30, (2, 12), generator=torch.Generator().manual_seed(0))
    torch.manual_seed(seed)  # the dropout draws
    mask = torch.ones_like(ids)
    return model(input_ids=ids, attention_mask=mask, passage_mask=mask.bool(), max_answer_length=30).logits


def test_attention_dropout_zero_makes_the_attention_deterministic(tiny_tokenizer, tmp_path):
    config = make_tiny_config(len(tiny_tokenizer))
    config.hidden_dropout_prob = 0.0  # only the attention dropout is left random
    torch.manual_seed(0)
    model = GlobalPointerForQuestionAnswering.from_encoder_config(config, HeadConfig(head_size=16)).train()
    with torch.no_grad():
        # with dropout 0.1 two train-mode forwards under different RNG states differ
        assert not torch.allclose(_train_mode_outputs(model, 1), _train_mode_outputs(model, 2))
        assert set_attention_dropout(model, 0.0) == 2  # one per layer
        assert _attention_ps(model) == [0.0, 0.0]
        assert torch.equal(_train_mode_outputs(model, 1), _train_mode_outputs(model, 2))
    model.save_pretrained(str(tmp_path))
    again = GlobalPointerForQuestionAnswering.from_pretrained(str(tmp_path))
    assert again.config.encoder.attention_probs_dropout_prob == 0.0
    assert _attention_ps(again) == [0.0, 0.0]


def test_attention_dropout_on_the_start_end_reader(tiny_encoder_dir):
    model = StartEndForQuestionAnswering.from_encoder(tiny_encoder_dir)
    assert _attention_ps(model) == [0.1, 0.1]
    set_attention_dropout(model, 0.25)
    assert _attention_ps(model) == [0.25, 0.25]
    # the hidden dropouts are not touched
    assert {m.p for n, m in model.named_modules() if n.endswith("output.dropout")} == {0.1}


@pytest.mark.parametrize("p", [-0.1, 1.0])
def test_attention_dropout_out_of_range_is_rejected(tiny_model, p):
    with pytest.raises(UsageError, match="--attention_dropout must be in"):
        set_attention_dropout(tiny_model, p)


def test_attention_dropout_without_attention_is_rejected():
    with pytest.raises(UsageError, match="no attention dropout found"):
        set_attention_dropout(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1)), 0.0)


def test_attention_dropout_argument():
    parse_args = research_parse_args  # a research flag: not on train.py's command line

    assert parse_args([]).model.attention_dropout == 0.0  # the default: the fused attention kernel on CPU
    assert parse_args(["--attention_dropout", "encoder"]).model.attention_dropout == "encoder"
    assert parse_args(["--attention_dropout", "0.1"]).model.attention_dropout == 0.1
    for bad in ("1", "-0.2", "some"):
        with pytest.raises(SystemExit):
            parse_args(["--attention_dropout", bad])


@pytest.mark.parametrize("family", ["albert", "deberta-v2"])
def test_attention_dropout_leaves_hidden_dropouts_inside_attention_modules(family):
    """ALBERT's attention module also holds output_dropout, DeBERTa's pos_dropout: both are hidden-state dropouts
    (hidden_dropout_prob) and must keep their rate."""
    from transformers import AlbertConfig, AlbertModel, DebertaV2Config, DebertaV2Model

    sizes = dict(TINY_SIZES, vocab_size=50, num_hidden_layers=1)
    model = (
        AlbertModel(AlbertConfig(embedding_size=16, **sizes))
        if family == "albert"
        else DebertaV2Model(DebertaV2Config(relative_attention=True, pos_att_type=["p2c", "c2p"], **sizes))
    )
    set_attention_dropout(model, 0.0)
    rates = {n: m.p for n, m in model.named_modules() if isinstance(m, torch.nn.Dropout)}
    attention, hidden = {
        "albert": ("attention_dropout", "output_dropout"),
        "deberta-v2": ("attention.self.dropout", "pos_dropout"),
    }[family]
    assert [p for n, p in rates.items() if n.endswith(attention)] == [0.0], rates
    assert [p for n, p in rates.items() if n.endswith(hidden)] == [0.1], rates
