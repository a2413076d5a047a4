"""A fresh reader on an encoder that never trained token type 1 (m3e-small) gets type 1 tied to type 0, says so,
and only then: trained types, random encoders and trained reader folders are left as they are (issue #27 point 3)."""

from __future__ import annotations

import logging

import pytest
import torch
from transformers import BertModel

from conftest import gp_mrc_warnings, make_tiny_config
from gp_mrc.models.loading import save_model
from gp_mrc.models.modeling import GlobalPointerForQuestionAnswering
from gp_mrc.models.token_types import token_type_embedding, untrained_token_types
from gp_mrc.training.arguments import parse_args
from gp_mrc.training.model_init import model_for_training

D, INIT = 512, 0.02  # m3e-small's sizes


def at_init(generator: torch.Generator) -> torch.Tensor:
    return torch.randn(D, generator=generator) * INIT


def trained(generator: torch.Generator) -> torch.Tensor:
    row = torch.randn(D, generator=generator)
    return row / row.norm() * 1.77  # m3e-small's type 0


def test_only_a_type_at_its_initialisation_beside_a_trained_type_0_is_found():
    g = torch.Generator().manual_seed(0)
    type0 = trained(g)
    assert untrained_token_types(torch.stack([type0, at_init(g)]), INIT) == [1]  # m3e-small
    similar = 0.9 * type0 / 3.8 + at_init(g) * 0.1  # trained together: norm near init's, but cosine ~0.9
    assert untrained_token_types(torch.stack([type0, similar]), INIT) == []  # all-MiniLM-L6-v2
    assert untrained_token_types(torch.stack([type0, trained(g)]), INIT) == []  # two trained types
    assert untrained_token_types(torch.stack([at_init(g), at_init(g)]), INIT) == []  # a random encoder
    assert untrained_token_types(torch.stack([type0, similar, at_init(g)]), INIT) == [2]
    assert untrained_token_types(type0[None], INIT) == []  # one type: nothing to tie


@pytest.fixture(scope="module")
def one_segment_encoder(tiny_tokenizer, tmp_path_factory) -> str:
    """A tiny BERT whose type 0 looks trained (4x its initialisation's norm) and type 1 sits at its initialisation."""
    torch.manual_seed(0)
    model = BertModel(make_tiny_config(len(tiny_tokenizer)), add_pooling_layer=False)
    weight = model.embeddings.token_type_embeddings.weight
    init_norm = model.config.initializer_range * weight.shape[1] ** 0.5
    with torch.no_grad():
        weight[0] *= 4 * init_norm / weight[0].norm()
        weight[1] -= (weight[1] @ weight[0]) / (weight[0] @ weight[0]) * weight[0]  # orthogonal to type 0
        weight[1] *= init_norm / weight[1].norm()
    folder = tmp_path_factory.mktemp("one_segment_encoder")
    model.save_pretrained(str(folder))
    tiny_tokenizer.save_pretrained(str(folder))
    return str(folder)


def type_rows(model: torch.nn.Module) -> torch.Tensor:
    return token_type_embedding(model)[0].weight.detach().clone()


@pytest.mark.parametrize("architecture", ["globalpointer", "start_end"])
def test_a_fresh_reader_on_such_an_encoder_trains_with_type_1_tied_and_says_so(
    architecture, one_segment_encoder, tmp_path, caplog
):
    encoder_rows = BertModel.from_pretrained(one_segment_encoder).embeddings.token_type_embeddings.weight.detach()
    caplog.set_level(logging.WARNING)
    args = ["--model_name_or_path", one_segment_encoder, "--architecture", architecture, "--output_dir", str(tmp_path)]
    model, _ = model_for_training(parse_args(args))
    rows = type_rows(model)
    assert torch.equal(rows[0], encoder_rows[0]) and torch.equal(rows[1], encoder_rows[0])
    (message,) = gp_mrc_warnings(caplog)
    assert one_segment_encoder in message and "token type 1 of this encoder was never trained" in message


def test_an_encoder_with_trained_or_random_types_is_left_as_it_is(tiny_encoder_dir, tmp_path, caplog):
    encoder_rows = BertModel.from_pretrained(tiny_encoder_dir).embeddings.token_type_embeddings.weight.detach()
    caplog.set_level(logging.WARNING)
    model, _ = model_for_training(parse_args(["--model_name_or_path", tiny_encoder_dir, "--output_dir", str(tmp_path)]))
    assert torch.equal(type_rows(model), encoder_rows)
    assert gp_mrc_warnings(caplog) == []


def test_a_trained_reader_folder_keeps_the_types_it_was_trained_with(one_segment_encoder, tiny_tokenizer, tmp_path):
    """Tying is for a fresh head only: a reader trained with an untied type 1 must answer as it was trained."""
    reader = GlobalPointerForQuestionAnswering.from_encoder(one_segment_encoder)
    untied = type_rows(reader)
    save_model(reader, str(tmp_path / "reader"), tokenizer=tiny_tokenizer)
    args = ["--model_name_or_path", str(tmp_path / "reader"), "--output_dir", str(tmp_path / "run")]
    model, _ = model_for_training(parse_args(args))
    assert not torch.equal(untied[0], untied[1]) and torch.equal(type_rows(model), untied)


@pytest.mark.parametrize("name, expected", [("default", [])])
def test_the_real_encoders(name, expected):
    """The packaged default keeps its trained types (where installed; the optional Chinese encoders: the lab's
    gp_mrc_lab/tests/test_optional_encoders.py)."""
    from transformers import AutoModel

    from gp_mrc.defaults import default_encoder_path

    try:
        path = default_encoder_path()
    except FileNotFoundError as e:
        pytest.skip(f"encoder not installed ({e})")
    embedding, init_std = token_type_embedding(AutoModel.from_pretrained(path))
    assert untrained_token_types(embedding.weight, init_std) == expected
