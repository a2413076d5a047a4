"""The `gp-mrc` console command (gp_mrc/cli.py): its help, its errors, and that each command is the script's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import free_port

from gp_mrc import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C1, Q1 = "the king was born in 1811 . the queen was born in 1861 .", "when was the king born?"


def gp_mrc_command() -> list[str]:
    """The installed console script where pip put one (CI), else the function it calls, in a fresh process."""
    exe = shutil.which("gp-mrc")
    return [exe] if exe else [sys.executable, "-c", "import sys; from gp_mrc.cli import main; sys.exit(main())"]


def run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([*gp_mrc_command(), *args], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


def test_pyproject_installs_gp_mrc_as_cli_main():
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:  # no tomllib: Python 3.10 is supported
        text = f.read()
    scripts = text.split("[project.scripts]\n", 1)[1].split("\n[", 1)[0]
    assert [line for line in scripts.splitlines() if line.strip()] == ['gp-mrc = "gp_mrc.cli:console"']


def test_help_lists_the_commands():
    r = run("--help")
    assert r.returncode == 0 and all(c in r.stdout for c in ("train", "predict", "serve"))


@pytest.mark.parametrize(
    "command,flag",
    [
        ("predict", "--question"),
        ("evaluate", "--file"),
        ("serve", "--max_wait_ms"),
        ("export", "--quantize"),
        ("train", "--learning_rate"),
    ],
)
def test_command_help_is_the_scripts_help(command, flag):
    r = run(command, "--help")
    assert r.returncode == 0 and r.stdout.startswith(f"usage: gp-mrc {command}") and flag in r.stdout


def test_help_does_not_import_torch():
    code = (
        "import sys; from gp_mrc.cli import main\ntry:\n    main(['serve', '--help'])\nexcept SystemExit:\n    pass\n"
        "try:\n    main(['predict', '--help'])\nexcept SystemExit:\n    pass\n"
        "try:\n    main(['evaluate', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'transformers', 'fastapi') if m in sys.modules))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT)
    )
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_a_bad_command_exits_2_with_a_message():
    r = run("serv")
    assert (
        r.returncode == 2
        and "unknown command 'serv' (choose from train, predict, evaluate, serve, export, convert)" in r.stderr
    )
    r = run()
    assert r.returncode == 2 and "usage: gp-mrc" in r.stderr


def test_bad_flags_exit_2_naming_them(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["serve", "--model", "x", "--max_top_k", "0"])
    assert e.value.code == 2
    assert capsys.readouterr().err == (
        "gp-mrc serve: error: argument --max_top_k: expected a positive integer, got 0 (see --help)\n"
    )
    assert cli.main(["serve", "--model", "/nonexistent/model"]) == 2
    assert "error: /nonexistent/model" in capsys.readouterr().err


def test_predict_answers_as_the_script_does(hf_qa_dir, capsys):
    assert cli.main(["predict", "--model", hf_qa_dir, "--question", Q1, "--context", C1, "--top_k", "2"]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(answers) == 2 and all(C1[a["start"] : a["end"]] == a["answer"] for a in answers)


@pytest.mark.slow
def test_scripts_serve_answers_over_http(hf_qa_dir):
    """scripts/serve.py in its own process: /health, one answer, a bad request, then a clean stop."""
    import httpx

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            os.path.join(ROOT, "scripts", "serve.py"),
            "--model",
            hf_qa_dir,
            "--port",
            str(port),
            "--log_level",
            "warning",
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                health = httpx.get(url + "/health", timeout=2).json()
                break
            except httpx.TransportError:
                assert time.time() < deadline, "the server did not come up"
                time.sleep(0.3)
        assert health["architecture"] == "start_end" and health["heat_map"] is False
        a = httpx.post(url, json={"inputs": {"question": Q1, "context": C1}}, timeout=30).json()
        assert C1[a["start"] : a["end"]] == a["answer"] != ""
        r = httpx.post(url, content=b"{", headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 400 and r.json()["error"].startswith("request body is not valid JSON")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
