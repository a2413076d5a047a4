"""Issue #24 points 7 and 8 for the commands: `gp-mrc serve` refuses a bad or busy port with one `error:` line,
exit 2, before the model loads; `gp-mrc --version`; AutoModelForQuestionAnswering opens a GlobalPointer folder."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import torch

pytest.importorskip("fastapi", reason="the service needs the serve extra: pip install -e '.[serve]'")

import gp_mrc
from gp_mrc.inference.reader import Reader
from gp_mrc.serving import command


@pytest.fixture
def no_model_load(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the model was loaded before the port was checked")

    monkeypatch.setattr(Reader, "from_pretrained", classmethod(lambda cls, *a, **k: refuse()))


@pytest.mark.parametrize("port", ["99999", "0", "-1", "65536"])
def test_a_port_out_of_range_is_one_error_line_before_the_model_loads(port, no_model_load, capsys):
    assert command.main(["--model", "some/model", "--port", port]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --port must be in 1..65535, got {port}\n"


def test_a_busy_port_is_one_error_line_before_the_model_loads(no_model_load, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert command.main(["--model", "some/model", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}: ") and "in use" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_the_installed_command_exits_2_on_a_bad_port():
    r = subprocess.run(
        [sys.executable, "-m", "gp_mrc.cli", "serve", "--model", "/nonexistent", "--port", "99999"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and r.stderr == "error: --port must be in 1..65535, got 99999\n"


def test_version(capsys):
    from gp_mrc.cli import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"gp-mrc {gp_mrc.__version__}\n"


def test_auto_model_for_question_answering_opens_a_globalpointer_folder(tiny_model, tmp_path):
    from transformers import AutoModelForQuestionAnswering

    tiny_model.save_pretrained(str(tmp_path))
    loaded = AutoModelForQuestionAnswering.from_pretrained(str(tmp_path))
    assert type(loaded) is type(tiny_model)
    for name, tensor in tiny_model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
