"""Issue #24 points 7 and 8 for the commands: `gp-mrc serve` refuses a bad or busy port, or any bad flag, with one
`error:` line, exit 2, before the model loads, and its help shows every default (issue #34: its flags are the
fields of its parts); `gp-mrc --version`; AutoModelForQuestionAnswering opens a GlobalPointer folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import torch

pytest.importorskip("fastapi", reason="the service needs the serve extra: pip install -e '.[serve]'")

import gp_mrc
from gp_mrc.inference.reader import Reader
from gp_mrc.serving import command
from gp_mrc.settings import Runtime


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


SERVE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "serve.py")


def test_scripts_serve_bad_batch_size_is_one_error_line_before_the_model_loads(tmp_path):
    """A model folder that exists (an empty one, which would fail to load): the flag is refused first."""
    r = subprocess.run(
        [sys.executable, SERVE, "--model", str(tmp_path), "--batch_size", "abc"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "serve.py: error: argument --batch_size: expected a positive integer, got 'abc' (see --help)\n"


@pytest.mark.parametrize(
    "flag,value,expected",
    [
        ("--batch_size", "0", "expected a positive integer, got 0"),
        ("--cpu_threads", "-1", "expected a positive integer, got -1"),
        ("--max_wait_ms", "-5", "expected a number ≥ 0, got -5 "),
        ("--max_queued", "x", "expected a positive integer, got 'x'"),
        ("--mixed_precision", "fp8", "invalid choice: 'fp8'"),
        ("--backend", "tf", "invalid choice: 'tf'"),
    ],
)
def test_bad_flags_are_one_error_line_and_exit_2_before_the_model_loads(flag, value, expected, no_model_load, capsys):
    with pytest.raises(SystemExit) as e:
        command.main(["--model", "some/model", flag, value], prog="gp-mrc serve")
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith(f"gp-mrc serve: error: argument {flag}: {expected}")
    assert err.count("\n") == 1


def test_help_shows_every_default():
    """Each flag with a default says it (the limits and batching from their fields in serving/schema.py)."""
    from gp_mrc.flags import flag_fields
    from gp_mrc.serving.schema import Batching, Limits
    from gp_mrc.settings import Runtime

    actions = {a.dest: a for a in command.build_parser()._actions}
    for part in (Limits, Batching, Runtime, command.Server):
        for f in flag_fields(part):
            help_text = actions[f.name].help or ""
            if f.default is None or isinstance(f.default, bool):
                continue
            assert help_text.endswith(f"default: {f.default}"), (f.name, help_text)
    assert actions["max_body_bytes"].help == "default: 1000000" and actions["max_body_bytes"].default == 1_000_000
    assert actions["cpu_threads"].help.startswith("threads of torch") and "default: half the cores" in (
        actions["cpu_threads"].help
    )


def test_the_parts_are_built_from_the_flags(no_model_load):
    args, limits, batching = command.parse(["--model", "m", "--max_top_k", "7", "--max_wait_ms", "2.5"], None)
    from gp_mrc.serving.schema import Batching, Limits

    assert limits == Limits(max_top_k=7) and batching == Batching(max_wait_ms=2.5)
    assert (args.model, args.port, args.batch_size, args.mixed_precision) == ("m", 8000, Runtime.batch_size, "auto")


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
