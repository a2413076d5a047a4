"""One loader for every model folder: GlobalPointer (a transformers model, model_type "gp_mrc"), start/end (ours or a
plain transformers QA folder), and the folders gp_mrc wrote before (tests/legacy_folders.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from transformers import AutoConfig, AutoModel, BertForQuestionAnswering

from conftest import qa_batch, tiny_bert_qa, tiny_gp
from gp_mrc.models.baseline import StartEndForQuestionAnswering
from gp_mrc.models.configuration import GlobalPointerConfig
from gp_mrc.models.folders import FolderKind, folder_kind
from gp_mrc.models.loading import load_model
from gp_mrc.models.modeling import GlobalPointerForQuestionAnswering, HeadConfig
from gp_mrc.inference.reader import Reader
from gp_mrc.settings import PIPELINE_DEFAULTS, InferenceSettings
from legacy_folders import old_head_config, save_old_globalpointer, save_old_start_end

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CTX = "the king was born in 1811 . the queen was born in 1861 ."
QUESTION = "when was the king born?"


def logits(model, batch, max_answer_length=30):
    with torch.no_grad():
        return model.eval()(**batch, max_answer_length=max_answer_length).logits


def assert_answers_cut_from_context(answers, context=CTX):
    assert answers
    for a in answers:
        assert context[a["start"] : a["end"]] == a["answer"]


@pytest.fixture(scope="module")
def gp_dir(tiny_tokenizer, tmp_path_factory):
    d = tmp_path_factory.mktemp("gp")
    tiny_gp(tiny_tokenizer, span_bias=True).save_pretrained(str(d), tokenizer=tiny_tokenizer)
    return str(d)


@pytest.fixture(scope="module")
def hf_qa_dir(tiny_tokenizer, tmp_path_factory):
    """A transformers start/end QA model saved with its own save_pretrained: no gp_mrc file in it."""
    d = tmp_path_factory.mktemp("bert_qa")
    tiny_bert_qa(tiny_tokenizer).save_pretrained(str(d))
    tiny_tokenizer.save_pretrained(str(d))
    return str(d)


def test_globalpointer_folder_is_one_transformers_config(gp_dir, tiny_tokenizer):
    assert sorted(f for f in os.listdir(gp_dir) if not f.startswith("tokenizer")) == [
        "config.json",
        "model.safetensors",
    ]
    config = AutoConfig.from_pretrained(gp_dir)
    assert isinstance(config, GlobalPointerConfig) and config.model_type == "gp_mrc"
    assert config.encoder.model_type == "bert" and config.encoder.hidden_size == 32
    assert (config.head_size, config.span_bias, config.use_rope) == (16, True, True)
    loaded = load_model(gp_dir)
    assert loaded.architecture == "globalpointer" and isinstance(loaded.model, GlobalPointerForQuestionAnswering)
    assert torch.equal(
        logits(loaded.model, qa_batch(tiny_tokenizer, QUESTION, CTX)),
        logits(tiny_gp(tiny_tokenizer, span_bias=True), qa_batch(tiny_tokenizer, QUESTION, CTX)),
    )


def test_automodel_loads_a_globalpointer_folder_with_equal_logits(gp_dir, tiny_tokenizer):
    model = AutoModel.from_pretrained(gp_dir)
    assert type(model) is GlobalPointerForQuestionAnswering
    batch = qa_batch(tiny_tokenizer, QUESTION, CTX)
    assert torch.equal(logits(model, batch), logits(tiny_gp(tiny_tokenizer, span_bias=True), batch))
    assert model.head_config == HeadConfig(head_size=16, span_bias=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    "imports",
    ["import gp_mrc\nfrom transformers import AutoModel", "from transformers import AutoModel\nimport gp_mrc"],
)
def test_automodel_after_import_gp_mrc_in_either_order(gp_dir, imports):
    """A fresh interpreter: `import gp_mrc` registers the model type however transformers is imported."""
    code = imports + (f"\nm = AutoModel.from_pretrained({gp_dir!r})\nprint(type(m).__module__, type(m).__name__)")
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["gp_mrc.models.modeling", "GlobalPointerForQuestionAnswering"]


def test_plain_transformers_qa_folder_loads_as_a_start_end_reader(hf_qa_dir, tiny_tokenizer):
    assert not any(f.startswith("gp_mrc") for f in os.listdir(hf_qa_dir))
    loaded = load_model(hf_qa_dir)
    assert loaded.architecture == "start_end" and isinstance(loaded.model, StartEndForQuestionAnswering)
    assert loaded.settings == PIPELINE_DEFAULTS  # the pipeline's max_answer_len 15, windows 384 / 128 / 64
    batch = qa_batch(tiny_tokenizer, QUESTION, CTX)
    with torch.no_grad():
        out = tiny_bert_qa(tiny_tokenizer)(**{k: v for k, v in batch.items() if k != "passage_mask"})
        spans = loaded.model(**batch, max_answer_length=loaded.settings.max_answer_length)
    i, j = torch.nonzero(spans.span_mask[0] & (torch.arange(len(batch["input_ids"][0])) > 0)[:, None])[3]
    assert spans.logits[0, i, j] == out.start_logits[0, i] + out.end_logits[0, j]  # scores start_i + end_j


def test_plain_transformers_qa_folder_answers_through_reader(hf_qa_dir):
    reader = Reader.from_pretrained(hf_qa_dir)
    one = reader(question=QUESTION, context=CTX)
    assert list(one) == ["score", "start", "end", "answer"] and 0 < one["score"] <= 1
    assert_answers_cut_from_context([one])
    top = reader(question=QUESTION, context=CTX, top_k=5)
    assert len(top) == 5 and top[0] == one
    assert_answers_cut_from_context(top)
    assert all(len(reader.tokenizer(a["answer"], add_special_tokens=False)["input_ids"]) <= 15 for a in top)


def test_our_start_end_folder_round_trips_with_its_settings(tiny_tokenizer, tmp_path):
    settings = InferenceSettings(max_seq_length=128, doc_stride=32, max_answer_length=12, decoding="expected_f1")
    model = StartEndForQuestionAnswering.with_settings(tiny_bert_qa(tiny_tokenizer), settings)
    model.save_pretrained(str(tmp_path), tokenizer=tiny_tokenizer)
    with open(tmp_path / "config.json") as f:
        assert json.load(f)["inference_settings"] == settings.to_dict()
    loaded = load_model(str(tmp_path))
    assert loaded.architecture == "start_end" and loaded.settings == settings
    batch = qa_batch(tiny_tokenizer, QUESTION, CTX)
    assert torch.equal(logits(loaded.model, batch), logits(model, batch))
    spans = loaded.model(**batch, max_answer_length=loaded.settings.max_answer_length).span_mask[0].nonzero()
    assert (spans[:, 1] - spans[:, 0]).max() == 12 - 1  # the settings' limit masks: the model holds none


def test_an_encoder_folder_is_not_a_reader(tiny_encoder_dir):
    assert folder_kind(tiny_encoder_dir) == FolderKind(None, "current")
    with pytest.raises(OSError, match="not a question-answering model"):
        Reader.from_pretrained(tiny_encoder_dir)


# ---------------------------------------------------------------- folders written before (tests/legacy_folders.py)


def test_legacy_globalpointer_folder_loads_with_identical_logits(tiny_tokenizer, tmp_path):
    model = tiny_gp(tiny_tokenizer, span_bias=True)
    head = old_head_config(head_size=16, span_bias=True, max_answer_length=20, version_2_with_negative=True)
    save_old_globalpointer(model.encoder.config, model.state_dict(), head, str(tmp_path), tiny_tokenizer)
    assert folder_kind(str(tmp_path)) == FolderKind("globalpointer", "legacy")
    loaded = load_model(str(tmp_path))
    assert isinstance(loaded.model, GlobalPointerForQuestionAnswering) and loaded.architecture == "globalpointer"
    assert loaded.model.head_config == model.head_config
    assert loaded.settings == InferenceSettings(max_answer_length=20, version_2_with_negative=True, metric="squad_v2")
    batch = qa_batch(tiny_tokenizer, QUESTION, CTX)
    reader = Reader.from_pretrained(str(tmp_path), device="cpu", mixed_precision="no")
    for m in (loaded.model, reader.model):
        assert torch.equal(logits(m, batch, 20), logits(model, batch, 20))
    assert reader.version_2
    assert_answers_cut_from_context(reader.answer([{"question": QUESTION, "context": CTX}], top_k=3)[0][:1])


def test_legacy_start_end_folder_loads_with_identical_logits(tiny_tokenizer, tmp_path):
    qa = tiny_bert_qa(tiny_tokenizer)
    save_old_start_end(qa, old_head_config(max_answer_length=25, lang="zh"), str(tmp_path), tiny_tokenizer)
    assert folder_kind(str(tmp_path)) == FolderKind("start_end", "legacy")
    loaded = load_model(str(tmp_path))
    assert isinstance(loaded.model, StartEndForQuestionAnswering) and loaded.architecture == "start_end"
    assert loaded.settings == InferenceSettings(max_answer_length=25, lang="zh", metric="cmrc")
    batch = qa_batch(tiny_tokenizer, QUESTION, CTX)
    expected = logits(StartEndForQuestionAnswering(qa), batch, 25)
    reader = Reader.from_pretrained(str(tmp_path), device="cpu", mixed_precision="no")
    assert torch.equal(logits(loaded.model, batch, 25), expected)
    assert torch.equal(logits(reader.model, batch, 25), expected)
    assert_answers_cut_from_context([reader(question=QUESTION, context=CTX)])


def test_a_legacy_folder_saved_again_has_the_current_layout(tiny_tokenizer, tmp_path):
    model = tiny_gp(tiny_tokenizer)
    save_old_globalpointer(
        model.encoder.config, model.state_dict(), old_head_config(head_size=16, lang="zh"), str(tmp_path / "old")
    )
    loaded = load_model(str(tmp_path / "old"))
    loaded.model.save_pretrained(str(tmp_path / "new"))
    assert not os.path.exists(tmp_path / "new" / "gp_mrc_config.json")
    again = load_model(str(tmp_path / "new"))
    assert (
        folder_kind(str(tmp_path / "new")) == FolderKind("globalpointer", "current")
        and again.settings == loaded.settings
    )
    assert again.settings.lang == "zh"
    batch = qa_batch(tiny_tokenizer, QUESTION, CTX)
    assert torch.equal(logits(again.model, batch), logits(model, batch))


def test_a_broken_legacy_folder_is_one_line(tiny_tokenizer, tmp_path):
    model = tiny_gp(tiny_tokenizer)
    save_old_globalpointer(
        model.encoder.config, model.state_dict(), old_head_config(head_size=16), str(tmp_path), tiny_tokenizer
    )
    (tmp_path / "gp_mrc_config.json").write_text("{oops")
    with pytest.raises(OSError, match="cannot load the model .JSONDecodeError"):
        Reader.from_pretrained(str(tmp_path))
    os.remove(tmp_path / "model.safetensors")
    with pytest.raises(FileNotFoundError, match="missing model.safetensors"):
        load_model(str(tmp_path))


def test_reader_wraps_a_transformers_qa_model_object(hf_qa_dir, tiny_tokenizer):
    """Reader(model, tokenizer) with a loaded transformers QA model answers as Reader.from_pretrained(folder)."""
    qa = BertForQuestionAnswering.from_pretrained(hf_qa_dir)
    reader = Reader(qa, tiny_tokenizer, device="cpu", mixed_precision="no")
    assert isinstance(reader.model, StartEndForQuestionAnswering) and reader.settings == PIPELINE_DEFAULTS
    expected = Reader.from_pretrained(hf_qa_dir, device="cpu", mixed_precision="no")
    assert reader(question=QUESTION, context=CTX, top_k=3) == expected(question=QUESTION, context=CTX, top_k=3)


def config_json(folder):
    with open(os.path.join(folder, "config.json")) as f:
        return json.load(f)


def folder_with_config(tmp_path, source, name, raw):
    """A copy of the folder `source` whose config.json is `raw`."""
    shutil.copytree(source, tmp_path / name)
    with open(tmp_path / name / "config.json", "w") as f:
        json.dump(raw, f)
    return str(tmp_path / name)


def token_lengths(reader, answers):
    return [len(reader.tokenizer(a["answer"], add_special_tokens=False)["input_ids"]) for a in answers]


def test_the_limit_is_an_inference_setting_and_old_folders_keep_theirs(tiny_tokenizer, tmp_path):
    """The answer-length limit lives in the inference settings only: neither the head's config nor the model's
    holds it, and a saved config.json has none at the top level. A GlobalPointer folder written before kept it at
    the top level (with or without inference settings): the loader moves it into the settings, so the folder
    answers within it, and saved again it has the current layout."""
    from gp_mrc.settings import MAX_ANSWER_LENGTH, store_settings

    assert "max_answer_length" not in vars(HeadConfig()) and InferenceSettings().max_answer_length == MAX_ANSWER_LENGTH
    model = tiny_gp(tiny_tokenizer)
    assert not hasattr(model.config, "max_answer_length")
    store_settings(model.config, InferenceSettings(max_answer_length=12))
    model.save_pretrained(str(tmp_path / "new"), tokenizer=tiny_tokenizer)
    raw = config_json(tmp_path / "new")
    assert "max_answer_length" not in raw and raw["inference_settings"]["max_answer_length"] == 12
    assert load_model(str(tmp_path / "new")).settings.max_answer_length == 12
    # written before: the limit at the top level, no inference settings (it answered with the pipeline's windows)
    old = folder_with_config(
        tmp_path,
        tmp_path / "new",
        "old",
        {k: v for k, v in raw.items() if k != "inference_settings"} | {"max_answer_length": 7},
    )
    loaded = load_model(old)
    assert loaded.settings == PIPELINE_DEFAULTS.replace(max_answer_length=7)
    assert not hasattr(loaded.model.config, "max_answer_length")
    reader = Reader.from_pretrained(old, device="cpu", mixed_precision="no")
    record = [{"question": QUESTION, "context": CTX}]
    assert max(token_lengths(reader, reader.answer(record, top_k=100, align_to_words=False)[0])) == 7
    longer = reader.answer(record, top_k=100, align_to_words=False, max_answer_length=12)[0]
    assert max(token_lengths(reader, longer)) > 7  # the limit is what held them to 7
    loaded.model.save_pretrained(str(tmp_path / "again"))
    again = config_json(tmp_path / "again")
    assert "max_answer_length" not in again and again["inference_settings"]["max_answer_length"] == 7
    # written before with both (top level and settings), and settings that lack the limit: the top level's value
    both = folder_with_config(tmp_path, tmp_path / "new", "both", raw | {"max_answer_length": 12})
    assert load_model(both).settings == InferenceSettings(max_answer_length=12)
    lacking = {k: v for k, v in raw["inference_settings"].items() if k != "max_answer_length"}
    partial = folder_with_config(
        tmp_path, tmp_path / "new", "partial", raw | {"max_answer_length": 9, "inference_settings": lacking}
    )
    assert load_model(partial).settings == InferenceSettings(max_answer_length=9)
