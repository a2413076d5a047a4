"""A file of any size (issue 36): records read one at a time, predictions.jsonl written as answers are made, a killed
run resumed with every id once, and several processes (gloo on CPUs) answering each question once, as one does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, tiny_gp, write_toy_data

from gp_mrc.data.record_stream import SeenIds, stream_records
from gp_mrc.errors import DataError
from gp_mrc.inference import command as predict_command
from gp_mrc.inference.prediction_log import LOG_NAME

PREDICT, EVALUATE = (os.path.join(ROOT, "scripts", f"{name}.py") for name in ("predict", "evaluate"))
FP32 = ("--mixed_precision", "no")
# one torch thread in every process: a GEMM's sums may be ordered by its thread count, so runs compare to the bit
ENV = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", ACCELERATE_USE_CPU="true")
TORCHRUN = (sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2")


@pytest.fixture(scope="module")
def folder(tiny_tokenizer, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("corpus_model") / "gp"
    tiny_gp(tiny_tokenizer).save_pretrained(str(path))
    tiny_tokenizer.save_pretrained(str(path))
    return str(path)


def lines_of(out) -> list[dict]:
    with open(os.path.join(out, LOG_NAME), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_records_are_read_one_line_at_a_time(tmp_path):
    path = write_toy_data(tmp_path / "q.jsonl", n=3)
    with open(path, "a") as f:
        f.write('{"id": "bad", \n')
    records = stream_records(path)
    assert [rec["id"] for _, rec in (next(records) for _ in range(3))] == ["x0", "x1", "x2"]  # before line 4 is read
    with pytest.raises(DataError, match=r"q.jsonl: line 4: malformed JSON"):
        next(records)


def test_a_repeated_id_is_refused_in_its_chunk_or_a_later_one():
    seen = SeenIds()
    seen.add([("f: line 1", {"id": "a"}), ("f: line 2", {"id": "b"})])
    with pytest.raises(DataError, match=r"f: line 4: duplicate id 'c' \(first seen at f: line 3\)"):
        SeenIds().add([("f: line 3", {"id": "c"}), ("f: line 4", {"id": "c"})])
    with pytest.raises(DataError, match=r"f: line 9: duplicate id 'a' \(an earlier record has it\)"):
        seen.add([("f: line 8", {"id": "z"}), ("f: line 9", {"id": "a"})])
    seen.add([("f: line 10", {"id": "y"})])
    assert len(seen.hashes) == 3 and list(seen.hashes) == sorted(seen.hashes)


def predict(capsys, *argv: str) -> tuple[int, str]:
    code = predict_command.main(list(argv))
    return code, capsys.readouterr().err


def test_a_torn_last_line_is_cut_and_the_run_resumed(folder, tmp_path, capsys):
    data = write_toy_data(tmp_path / "q.jsonl", n=40)
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert predict(capsys, "--model", folder, "--input", data, "--output_dir", str(full), *FP32)[0] == 0
    text = (full / LOG_NAME).read_text()
    lines = text.splitlines(keepends=True)
    assert [json.loads(x)["id"] for x in lines] == [f"x{i}" for i in range(40)]
    cut.mkdir()
    (cut / LOG_NAME).write_text("".join(lines[:10]) + lines[10][:25])  # a kill in the middle of line 11
    code, err = predict(capsys, "--model", folder, "--input", data, "--output_dir", str(cut), *FP32)
    assert code == 2 and err.strip().splitlines() == [
        f"error: {cut} already holds predictions.jsonl (an earlier run's); give another --output_dir, or --resume "
        "to continue that run"
    ]
    code, err = predict(capsys, "--model", folder, "--input", data, "--output_dir", str(cut), "--resume", *FP32)
    assert code == 0, err
    assert (cut / LOG_NAME).read_text() == text
    for name in ("predictions.json", "nbest_predictions.json"):
        assert (cut / name).read_text() == (full / name).read_text()


def test_resuming_the_run_of_another_input_is_one_line(folder, tmp_path, capsys):
    out = tmp_path / "out"
    first = write_toy_data(tmp_path / "a.jsonl", n=5)
    assert predict(capsys, "--model", folder, "--input", first, "--output_dir", str(out), *FP32)[0] == 0
    before = (out / LOG_NAME).read_text()
    other = tmp_path / "b.jsonl"
    other.write_text("".join(line.replace('"x', '"y') for line in open(first)))
    code, err = predict(capsys, "--model", folder, "--input", str(other), "--output_dir", str(out), "--resume")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{out / LOG_NAME} holds id 'x0' where {other}: line 1 (id 'y0') has 'y0'" in err
    assert (out / LOG_NAME).read_text() == before


def wait_for_lines(path: str, n: int, process: subprocess.Popen, timeout: float = 300) -> None:
    end = time.time() + timeout
    while time.time() < end and process.poll() is None:
        if os.path.exists(path) and sum(1 for _ in open(path, "rb")) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path}: fewer than {n} lines (process: {process.poll()})")


@pytest.mark.slow
def test_a_run_killed_halfway_resumes_with_every_id_once(folder, tmp_path):
    data = write_toy_data(tmp_path / "q.jsonl", n=1500)
    reference = tmp_path / "reference"
    run = [sys.executable, PREDICT, "--model", folder, "--input", data, *FP32, "--output_dir"]
    r = subprocess.run([*run, str(reference)], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "questions/s" in r.stderr  # the progress bar: questions/s and what is left
    out = tmp_path / "killed"
    process = subprocess.Popen([*run, str(out)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_lines(str(out / LOG_NAME), 256, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 256 <= len(lines_of(out)) < 1500 and not (out / "predictions.json").exists()
    r = subprocess.run([*run, str(out), "--resume"], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert [x["id"] for x in lines_of(out)] == [f"x{i}" for i in range(1500)]  # every id once, in order
    assert (out / LOG_NAME).read_bytes() == (reference / LOG_NAME).read_bytes()
    with open(out / "predictions.json") as f:
        assert list(json.load(f)) == [f"x{i}" for i in range(1500)]


@pytest.mark.slow
def test_two_processes_answer_each_question_once_as_one_does(folder, tmp_path):
    """torchrun with 2 gloo processes on the CPU: evaluate's numbers and lines are one process's; a 2-process
    predict killed after its first chunk and resumed in 2 processes ends with one process's files."""
    data = write_toy_data(tmp_path / "q.jsonl", n=601)  # 2 chunks of 2 x 256, the second one odd
    evaluate = [EVALUATE, "--model", folder, "--file", data, *FP32, "--output_dir"]
    one = subprocess.run([sys.executable, *evaluate, str(tmp_path / "one")], capture_output=True, text=True, env=ENV)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([*TORCHRUN, "--master_port", "29541", *evaluate, str(tmp_path / "two")],
                         capture_output=True, text=True, env=ENV, timeout=600)  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    assert "2 processes share the questions" in two.stderr
    assert [x["id"] for x in lines_of(tmp_path / "two")] == [f"x{i}" for i in range(601)]
    for name in (LOG_NAME, "eval_results.json", "predictions.json", "nbest_predictions.json"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
    assert json.loads(two.stdout) == json.loads(one.stdout)  # printed once
    data = write_toy_data(tmp_path / "more.jsonl", n=2000)
    run = [PREDICT, "--model", folder, "--input", data, *FP32, "--output_dir"]
    r = subprocess.run([sys.executable, *run, str(tmp_path / "ref")], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr[-2000:]
    out, run = tmp_path / "killed", [*TORCHRUN, "--master_port", "29542", *run]
    process = subprocess.Popen([*run, str(out)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    wait_for_lines(str(out / LOG_NAME), 512, process)
    os.killpg(process.pid, signal.SIGKILL)  # torchrun and both of its processes
    process.wait()
    assert 512 <= len(lines_of(out)) < 2000
    r = subprocess.run([*run, str(out), "--resume"], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / LOG_NAME).read_bytes() == (tmp_path / "ref" / LOG_NAME).read_bytes()
    assert (out / "predictions.json").read_bytes() == (tmp_path / "ref" / "predictions.json").read_bytes()


def test_a_bad_record_midway_is_one_line_and_the_run_resumes_once_it_is_fixed(folder, tmp_path, capsys):
    """The chunks before a malformed line are written; the error names the line; fixed, --resume completes the run
    with every id once, as a run of the good file."""
    good = write_toy_data(tmp_path / "good.jsonl", n=600)
    lines = open(good).read().splitlines(keepends=True)
    bad = tmp_path / "q.jsonl"
    bad.write_text("".join(lines[:549]) + '{"id": "x549", "question": \n' + "".join(lines[550:]))
    out, clean = tmp_path / "out", tmp_path / "clean"
    code, err = predict(capsys, "--model", folder, "--input", str(bad), "--output_dir", str(out), *FP32)
    assert code == 2 and "Traceback" not in err
    assert [x for x in err.splitlines() if x.startswith("error:")] == [
        f"error: {bad}: line 550: malformed JSON (Expecting value at column 28)"
    ]
    assert [x["id"] for x in lines_of(out)] == [f"x{i}" for i in range(512)] and not (out / "predictions.json").exists()
    bad.write_text("".join(lines))
    code, err = predict(capsys, "--model", folder, "--input", str(bad), "--output_dir", str(out), "--resume", *FP32)
    assert code == 0, err
    assert predict(capsys, "--model", folder, "--input", good, "--output_dir", str(clean), *FP32)[0] == 0
    assert (out / LOG_NAME).read_bytes() == (clean / LOG_NAME).read_bytes()
    assert (out / "predictions.json").read_bytes() == (clean / "predictions.json").read_bytes()
