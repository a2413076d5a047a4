"""Every bad argument a clear error (issue 19): flags out of range, an output path that is a file or cannot be
written, Ctrl-C. Each is one line on stderr and exit 2 (130 for Ctrl-C), no traceback, in every script."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from gp_mrc.argtypes import check_output_dir, make_output_dir
from gp_mrc.training.arguments import parse_args
from gp_mrc.errors import UsageError, run_script

from conftest import research_parse_args

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREDICT = os.path.join(ROOT, "scripts", "predict.py")
TRAIN = os.path.join(ROOT, "scripts", "train.py")


def one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


RESEARCH_FLAGS = ("--decoding_temperature", "--mixed_weight", "--attention_dropout")


@pytest.mark.parametrize(
    "flag,value,fragment",
    [
        ("--per_device_train_batch_size", "0", "a positive integer"),
        ("--per_device_eval_batch_size", "-1", "a positive integer"),
        ("--max_seq_length", "0", "a positive integer"),
        ("--max_answer_length", "0", "a positive integer"),
        ("--n_best_size", "0", "a positive integer"),
        ("--max_train_steps", "0", "a positive integer"),
        ("--decoding_temperature", "0", "a number > 0"),
        ("--learning_rate", "-1e-4", "a number > 0"),
        ("--mixed_weight", "-1", "a number ≥ 0"),
        ("--reward_weight", "nan", "a number ≥ 0"),
        ("--entropy_lambda", "-0.01", "a number ≥ 0"),
        ("--warm_start_steps", "2.5", "a whole number of steps"),
        ("--num_warmup_steps", "-1", "a whole number of steps"),
        ("--checkpointing_steps", "0", "a positive integer or 'epoch'"),
        ("--attention_dropout", "1.5", "a probability in [0, 1)"),
        ("--null_score_diff_threshold", "inf", "a finite number"),
    ],
)
def test_train_flags_out_of_range_are_one_line(flag, value, fragment, capsys):
    parse = research_parse_args if flag in RESEARCH_FLAGS else parse_args  # not on train.py's command line
    with pytest.raises(SystemExit) as e:
        parse([f"{flag}={value}"])
    assert e.value.code == 2
    line = one_error_line(capsys.readouterr().err)
    assert flag in line and fragment in line, line


def test_train_cross_checks(tmp_path, capsys):
    for argv, fragment in (
        (["--max_seq_length", "64", "--doc_stride", "128"], "doc_stride=128 leaves no room"),
        (["--output_dir", __file__], "is a file, not a folder"),
        (["--output_dir", os.path.join(__file__, "run")], "is a file, not a folder"),
        (["--model_name_or_path", str(tmp_path / "missing")], "no such model folder"),
        (["--architecture", "start_end", "--objective", "f1"], "leave --objective at its default"),
    ):
        with pytest.raises(SystemExit) as e:
            parse_args(argv)
        assert e.value.code == 2
        assert fragment in one_error_line(capsys.readouterr().err)
    with pytest.raises(SystemExit):
        research_parse_args(["--head_size", "15"])
    assert "--head_size must be even" in one_error_line(capsys.readouterr().err)
    for research in (["--head_size", "16"], ["--reward", "soft_f1"]):  # train.py takes no research flag
        with pytest.raises(SystemExit):
            parse_args(research)
        assert f"unrecognized arguments: {' '.join(research)}" in one_error_line(capsys.readouterr().err)


def test_unwritable_output_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(UsageError, match=r"--output_dir .*: no permission to write in "):
        check_output_dir(str(tmp_path / "run"))
    monkeypatch.undo()

    def refuse(path, exist_ok=False):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "makedirs", refuse)
    with pytest.raises(UsageError, match=r"--output_dir .*run: cannot create the folder \(Permission denied\)"):
        make_output_dir(str(tmp_path / "run"))


def test_run_script_turns_user_errors_into_one_line(capsys):
    def bad() -> None:
        raise UsageError("--x 3: out of range\nsecond line dropped")

    with pytest.raises(SystemExit) as e:
        run_script(bad)
    assert e.value.code == 2
    assert one_error_line(capsys.readouterr().err) == "error: --x 3: out of range"
    with pytest.raises(SystemExit) as e:
        run_script(lambda: (_ for _ in ()).throw(FileNotFoundError("runs/x: no such model folder")))
    assert e.value.code == 2 and "no such model folder" in capsys.readouterr().err


def test_run_script_ctrl_c_is_one_line_and_130(capsys):
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as e:
        run_script(interrupted)
    assert e.value.code == 130
    assert one_error_line(capsys.readouterr().err) == "interrupted"


def test_run_script_keeps_the_traceback_of_a_bug():
    with pytest.raises(ZeroDivisionError):
        run_script(lambda: 1 // 0)


def test_a_real_sigint_exits_130_without_traceback(tmp_path):
    """SIGINT (Ctrl-C) to a running script: the process prints one line and exits 130."""
    code = (
        "import sys, time\nfrom gp_mrc.errors import run_script\n"
        "def main():\n    print('ready', flush=True)\n    time.sleep(60)\nrun_script(main)\n"
    )
    # SIGINT at its default disposition, as in a terminal: a shell's background job (`pytest &`) starts its
    # children with SIGINT ignored, and Python then installs no KeyboardInterrupt handler
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=ROOT),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert one_error_line(err) == "interrupted"


def run_predict(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, PREDICT, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )


@pytest.mark.parametrize(
    "flag,value",
    [
        ("--top_k", "-3"),
        ("--top_k", "0"),
        ("--n_best_size", "0"),
        ("--batch_size", "0"),
        ("--max_answer_length", "0"),
        ("--decoding_temperature", "-1"),
    ],
)
def test_predict_flags_out_of_range_exit_2_at_parse_time(flag, value):
    r = run_predict("--model", "runs/none", "--question", "q?", "--context", "c", f"{flag}={value}")
    assert r.returncode == 2 and r.stdout == ""
    line = one_error_line(r.stderr)
    assert flag in line and ("positive integer" in line or "> 0" in line), line


def test_predict_align_to_words_switch_keeps_its_two_spellings():
    """--align_to_words (the default) and --no_align_to_words, one switch of predict's PredictOptions."""
    from gp_mrc.inference.command import build_parser

    parser = build_parser()
    base = ["--model", "m", "--question", "q?", "--context", "c"]
    assert parser.parse_args(base).align_to_words is True
    assert parser.parse_args([*base, "--no_align_to_words"]).align_to_words is False
    assert parser.parse_args([*base, "--no_align_to_words", "--align_to_words"]).align_to_words is True
    assert "[--align_to_words | --no_align_to_words]" in " ".join(parser.format_usage().split())


def test_predict_output_dir_that_is_a_file(tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "1", "question": "q?", "context": "c"}\n')
    r = run_predict("--model", "runs/none", "--input", str(questions), "--output_dir", str(questions))
    assert r.returncode == 2
    assert "is a file, not a folder" in one_error_line(r.stderr)


def test_train_script_output_dir_that_is_a_file():
    r = subprocess.run(
        [sys.executable, TRAIN, "--output_dir", TRAIN],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert r.returncode == 2
    assert "is a file, not a folder" in one_error_line(r.stderr)


def test_reader_rejects_counts_out_of_range(tiny_model, tiny_tokenizer):
    from gp_mrc.inference.reader import Reader

    reader = Reader(tiny_model, tiny_tokenizer)
    record = [{"question": "who?", "context": "the cat sat"}]
    for kwargs, fragment in (
        ({"top_k": -3}, "top_k must be a positive integer, got -3"),
        ({"n_best_size": 0}, "n_best_size must be a positive integer, got 0"),
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
    ):
        with pytest.raises(ValueError, match=fragment):
            reader.answer(record, **kwargs)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        Reader(tiny_model, tiny_tokenizer, batch_size=0)


def test_one_question_through_reader_shows_no_progress_bar(tiny_model, tiny_tokenizer, capfd):
    from gp_mrc.inference.reader import Reader

    reader = Reader(tiny_model, tiny_tokenizer)
    capfd.readouterr()
    reader(question="who sat?", context="the cat sat on the mat")
    reader.answer([{"question": "who sat?", "context": "the cat sat"}], progress=True)
    out, err = capfd.readouterr()
    assert out == "" and "Building windows" not in err and "%|" not in err, err
