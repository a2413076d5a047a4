"""Issue #35 points 5 and 7: a `--model` that is a mistyped folder is never looked up on the hub, any other name
is asked of the hub once (no retries), so a missing model is one `error:` line in seconds without network; saved
model files get the folder's permissions (the user's umask), not transformers' private 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pytest

from conftest import tiny_gp
from gp_mrc.models import hub
from gp_mrc.models.folders import check_name, convert_folder, hub_keywords
from gp_mrc.models.hub import HubLookup, look_up, may_be_hub_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREDICT = os.path.join(ROOT, "scripts", "predict.py")


@pytest.mark.parametrize(
    "name,parent_is_folder,hub_name",
    [
        ("bert-base-uncased", False, True),
        ("deepset/roberta-base-squad2", False, True),
        ("org/nope", False, True),
        ("runs/gp_mrcc", True, False),  # runs/ exists: a mistyped folder
        ("runs/gp_mrcc", False, True),  # no runs/ here: it may be an owner/name
        ("./runs/gp_mrcc", False, False),
        ("../model", False, False),
        (".hidden", False, False),
        ("/abs/path", False, False),
        ("a/b/c", False, False),  # three parts: a path, not owner/name
        ("~/model", False, False),
        ("", False, False),
    ],
)
def test_which_names_may_be_hub_names(name, parent_is_folder, hub_name):
    assert may_be_hub_name(name, parent_is_folder) is hub_name


@pytest.fixture
def hub_calls(monkeypatch):
    """No network: the hub's HEAD answers from `answers` (a status, or an exception), each call recorded."""
    calls: list[str] = []
    answers: dict[str, object] = {}

    def head(name, timeout_s):
        calls.append(name)
        answer = answers.get(name, OSError("no network"))
        if isinstance(answer, BaseException):
            raise answer
        return answer

    monkeypatch.setattr(hub, "_head_status", head)
    monkeypatch.setattr(hub, "_offline", lambda: False)
    monkeypatch.setattr(hub, "_cached", lambda name: name == "org/cached")
    look_up.cache_clear()
    yield calls, answers
    look_up.cache_clear()


def test_a_mistyped_folder_is_never_asked_of_the_hub(hub_calls, tmp_path, monkeypatch):
    calls, _ = hub_calls
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    for name in ("runs/gp_mrcc", "./gp_mrcc", str(tmp_path / "nope")):
        with pytest.raises(FileNotFoundError) as e:
            check_name(name)
        assert str(e.value) == f"{name}: no such model folder"
    assert calls == []


def test_a_hub_name_is_asked_once_and_its_answer_kept(hub_calls, tmp_path, monkeypatch):
    calls, answers = hub_calls
    monkeypatch.chdir(tmp_path)
    answers.update({"org/model": 200, "org/nope": 401})
    check_name("org/model")
    check_name("org/model")
    assert hub_keywords("org/model") == {}
    for _ in range(2):
        with pytest.raises(FileNotFoundError) as e:
            check_name("org/nope")
    assert str(e.value) == (
        "org/nope: no such model folder, nor a model of that name on the hub (the hub has no model of that name "
        "this user can read (HTTP 401))"
    )
    with pytest.raises(FileNotFoundError, match=r"^org/x: no such model folder, nor .*OSError: no network"):
        check_name("org/x")
    assert calls == ["org/model", "org/nope", "org/x"]


def test_an_unreachable_hub_leaves_the_cache(hub_calls, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    check_name("org/cached")
    assert look_up("org/cached") == HubLookup(True, True, "")
    assert hub_keywords("org/cached") == {"local_files_only": True}  # transformers would retry the hub 5 times


@pytest.mark.parametrize("offline", ["", "1"])
@pytest.mark.parametrize("name", ["runs/nope", "org/nope"])
def test_predict_with_a_missing_model_is_one_line_in_seconds(name, offline, tmp_path):
    """This machine has no route to the hub (as the issue's): before, 27 s of retries and 12 lines."""
    env = {**os.environ, "PYTHONPATH": ROOT, "HF_HUB_OFFLINE": offline}
    t = time.perf_counter()
    r = subprocess.run(
        [sys.executable, PREDICT, "--model", name, "--question", "q?", "--context", "c."],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    took = time.perf_counter() - t
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith(f"error: {name}: no such model folder") and r.stderr.count("\n") == 1, r.stderr
    assert took < 5, f"{took:.1f}s"


def test_saved_weights_get_the_umask_permissions(tiny_tokenizer, tmp_path):
    from gp_mrc.models.loading import save_model

    old = os.umask(0o022)
    try:
        out = tmp_path / "model"
        out.mkdir()
        private = out / "notes.txt"  # the user's own file in the folder keeps its mode
        private.write_text("mine")
        private.chmod(0o600)
        save_model(tiny_gp(tiny_tokenizer), str(out), tiny_tokenizer)
        converted = tmp_path / "converted"
        convert_folder(str(out), str(converted))
    finally:
        os.umask(old)
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in out.iterdir()}
    assert modes.pop("notes.txt") == 0o600
    assert modes["model.safetensors"] == 0o644 and set(modes.values()) == {0o644}, modes
    assert stat.S_IMODE((converted / "model.safetensors").stat().st_mode) == 0o644
