"""`gp-mrc convert OLD NEW` and the loader's in-memory conversion of older layouts (gp_mrc/models/folders.py): a
converted folder is the current layout, loads without a warning and answers exactly as the old one; the old one
still loads, with one warning per load; bad input is one `error:` line and exit 2, with nothing written."""

from __future__ import annotations

import filecmp
import json
import logging
import os
import subprocess
import sys

import pytest
import torch
from transformers import BertForQuestionAnswering

from conftest import gp_mrc_warnings, make_tiny_config
from gp_mrc import cli
from gp_mrc.inference.reader import Reader
from gp_mrc.models import folders
from gp_mrc.models.folders import FolderKind, folder_config, folder_kind
from gp_mrc.models.loading import load_model
from gp_mrc.models.modeling import GlobalPointerForQuestionAnswering, HeadConfig
from gp_mrc.settings import InferenceSettings
from legacy_folders import old_head_config, save_old_globalpointer, save_old_start_end

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CTX = "the king was born in 1811 . the queen was born in 1861 in paris ."
RECORDS = [
    {"id": "a", "question": "when was the king born?", "context": CTX},
    {"id": "b", "question": "where was the queen born?", "context": CTX},
]


@pytest.fixture(scope="module")
def old_folders(tiny_tokenizer, tmp_path_factory):
    """One folder of each layout written before 0.1.0 (tests/legacy_folders.py)."""
    torch.manual_seed(0)
    gp = GlobalPointerForQuestionAnswering.from_encoder_config(
        make_tiny_config(len(tiny_tokenizer)), HeadConfig(head_size=16, span_bias=True)
    )
    gp_dir = str(tmp_path_factory.mktemp("old_gp"))
    save_old_globalpointer(
        gp.encoder.config,
        gp.state_dict(),
        old_head_config(head_size=16, span_bias=True, max_answer_length=20, version_2_with_negative=True),
        gp_dir,
        tiny_tokenizer,
    )
    torch.manual_seed(1)
    se_dir = str(tmp_path_factory.mktemp("old_se"))
    save_old_start_end(
        BertForQuestionAnswering(make_tiny_config(len(tiny_tokenizer))),
        old_head_config(max_answer_length=25, lang="zh"),
        se_dir,
        tiny_tokenizer,
    )
    return {"globalpointer": gp_dir, "start_end": se_dir}


def answers(path: str) -> list:
    reader = Reader.from_pretrained(path, device="cpu", mixed_precision="no")
    return reader.answer(RECORDS, top_k=3)


@pytest.mark.parametrize("architecture", ["globalpointer", "start_end"])
def test_a_converted_folder_loads_without_warning_and_answers_as_the_old_one(
    old_folders, architecture, tmp_path, caplog, capsys
):
    old, new = old_folders[architecture], str(tmp_path / "new")
    assert folder_kind(old) == FolderKind(architecture, "legacy")
    assert cli.main(["convert", old, new]) == 0
    assert capsys.readouterr().err.strip() == f"{old} → {new}: {architecture} reader converted to the current layout"
    assert folder_kind(new) == FolderKind(architecture, "current") and folder_config(new).fixups == ()
    assert sorted(os.listdir(new)) == sorted(set(os.listdir(old)) - {"gp_mrc_config.json"})
    assert filecmp.cmp(os.path.join(old, "model.safetensors"), os.path.join(new, "model.safetensors"), shallow=False)
    assert os.path.exists(os.path.join(old, "gp_mrc_config.json"))  # OLD is left as it was

    caplog.set_level(logging.WARNING)
    converted = answers(new)
    assert gp_mrc_warnings(caplog) == []
    old_answers = answers(old)
    assert old_answers == converted  # exact strings, offsets and scores
    assert [a["answer"] for a in converted[0]] and all(isinstance(a["score"], float) for a in converted[0])
    (warning,) = gp_mrc_warnings(caplog)  # one warning for the one load of the old folder
    assert f"gp-mrc convert {old} NEW_FOLDER" in warning
    assert load_model(new).settings == load_model(old).settings


def test_the_old_layouts_settings_survive_conversion(old_folders, tmp_path):
    for architecture, expected in (
        ("globalpointer", InferenceSettings(max_answer_length=20, version_2_with_negative=True, metric="squad_v2")),
        ("start_end", InferenceSettings(max_answer_length=25, lang="zh", metric="cmrc")),
    ):
        new = str(tmp_path / architecture)
        folders.convert_folder(old_folders[architecture], new)
        with open(os.path.join(new, "config.json"), encoding="utf-8") as f:
            assert json.load(f)["inference_settings"] == expected.to_dict()
        loaded = load_model(new)
        assert loaded.settings == expected and loaded.architecture == architecture
    assert load_model(str(tmp_path / "globalpointer")).model.head_config.span_bias


def test_loading_an_old_folder_warns_once_per_load(old_folders, caplog):
    caplog.set_level(logging.WARNING)
    load_model(old_folders["globalpointer"])
    assert len(gp_mrc_warnings(caplog)) == 1
    load_model(old_folders["globalpointer"])
    assert len(gp_mrc_warnings(caplog)) == 2


def test_a_current_folder_is_copied_as_it_is(old_folders, tmp_path, capsys):
    converted, again = str(tmp_path / "converted"), str(tmp_path / "again")
    folders.convert_folder(old_folders["start_end"], converted)
    os.makedirs(again)  # an empty folder is fine
    assert cli.main(["convert", converted, again]) == 0
    assert "copied (already in the current layout)" in capsys.readouterr().err
    assert not filecmp.dircmp(converted, again).diff_files and sorted(os.listdir(converted)) == sorted(
        os.listdir(again)
    )


def one_error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_bad_input_is_one_error_line_and_exit_2(old_folders, tmp_path, capsys):
    old = old_folders["globalpointer"]
    before = sorted(os.listdir(old))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep me")
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "encoder").mkdir()
    (tmp_path / "encoder" / "config.json").write_text(
        json.dumps({"model_type": "bert", "architectures": ["BertModel"]})
    )
    (tmp_path / "encoder" / "model.safetensors").write_text("")
    cases = [
        ([str(tmp_path / "missing"), str(tmp_path / "n1")], f"{tmp_path / 'missing'}: no such model folder"),
        ([str(tmp_path / "a_file"), str(tmp_path / "n2")], f"{tmp_path / 'a_file'}: not a folder"),
        (
            [str(tmp_path / "empty"), str(tmp_path / "n3")],
            "is not a model folder: missing config.json, model.safetensors",
        ),
        ([str(tmp_path / "encoder"), str(tmp_path / "n4")], "holds no reader"),
        ([old, str(tmp_path / "full")], f"{tmp_path / 'full'}: already exists and is not an empty folder"),
        ([old, str(tmp_path / "a_file")], f"{tmp_path / 'a_file'}: already exists and is not an empty folder"),
        ([old, old], "must lie outside"),
        ([old, old + "/"], "must lie outside"),
        ([old, os.path.join(old, "inside")], "must lie outside"),
    ]
    for argv, fragment in cases:
        assert cli.main(["convert", *argv]) == 2, argv
        assert fragment in one_error(capsys), argv
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep me" and (tmp_path / "a_file").read_text() == "x"
    assert sorted(os.listdir(old)) == before
    assert not [n for n in os.listdir(tmp_path) if n.startswith((".n", "n"))]  # no half-written folder left
    with pytest.raises(SystemExit) as e:
        cli.main(["convert", old])  # NEW missing: argparse's one line
    assert e.value.code == 2 and "the following arguments are required: new" in capsys.readouterr().err


def test_convert_is_the_console_command_and_loads_no_torch(old_folders, tmp_path):
    code = (
        "import sys; from gp_mrc.cli import main\nrc = main(sys.argv[1:])\n"
        "print(rc, sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run(
        [sys.executable, "-c", code, "convert", old_folders["start_end"], str(tmp_path / "new")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert r.stdout.strip() == "0 []", r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "gp_mrc.cli", "convert", str(tmp_path / "nope"), str(tmp_path / "x")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert r.returncode == 2 and r.stderr.strip() == f"error: {tmp_path / 'nope'}: no such model folder"


def test_fixups_run_in_order_each_on_the_last_ones_output(old_folders, monkeypatch):
    """How a later layout change plugs in: one more function in legacy.FIXUPS, seeing the earlier ones' output."""
    seen = []

    def later(folder, config):
        seen.append(config["model_type"])
        return {**config, "later": True} if "later" not in config else None

    monkeypatch.setattr(folders, "FIXUPS", (*folders.FIXUPS, later))
    found = folder_config(old_folders["globalpointer"])
    assert seen == ["gp_mrc"] and found.config["later"] is True
    assert found.fixups == ("head_config_file", "later")


def test_training_from_an_old_folder_takes_its_architecture_and_warns_once(old_folders, tmp_path, caplog):
    """train.py's parser asks folders.folder_kind for the default architecture (no warning: nothing is loaded);
    the run then loads the folder once, converted in memory."""
    from gp_mrc.training.arguments import parse_args
    from gp_mrc.training.model_init import model_for_training

    for architecture, old in old_folders.items():
        assert (
            parse_args(["--model_name_or_path", old, "--output_dir", str(tmp_path / architecture)]).model.architecture
            == architecture
        )
    config = parse_args(["--model_name_or_path", old_folders["globalpointer"], "--output_dir", str(tmp_path / "run")])
    caplog.set_level(logging.WARNING)
    model, _ = model_for_training(config)
    assert len(gp_mrc_warnings(caplog)) == 1
    expected = load_model(old_folders["globalpointer"]).model.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items())


def test_saving_over_an_old_folder_leaves_the_current_layout(old_folders, tmp_path):
    import shutil

    from gp_mrc.models.loading import save_model

    folder = str(tmp_path / "copy")
    shutil.copytree(old_folders["globalpointer"], folder)
    loaded = load_model(folder)
    save_model(loaded.model, folder)
    assert not os.path.exists(os.path.join(folder, "gp_mrc_config.json"))
    assert (
        folder_kind(folder) == FolderKind("globalpointer", "current") and load_model(folder).settings == loaded.settings
    )
