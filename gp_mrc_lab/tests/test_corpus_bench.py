"""scripts/benchmark_corpus.py: its records, and predict.py's last line, which it reads its rate from."""

from __future__ import annotations

import json

from conftest import tiny_gp

from gp_mrc.inference import command as predict_command
from gp_mrc_lab.corpus_bench import RATE, write_records


def test_the_records_are_short_distinct_questions(tmp_path):
    lines = [json.loads(x) for x in open(write_records(str(tmp_path / "r.jsonl"), 1500))]
    assert [x["id"] for x in lines] == [f"q{i}" for i in range(1500)]
    assert all(x["context"].startswith("the king was born in ") and len(x["context"]) < 120 for x in lines)


def test_the_rate_is_read_from_predicts_last_line(tiny_tokenizer, tmp_path, capsys):
    model = tmp_path / "gp"
    tiny_gp(tiny_tokenizer).save_pretrained(str(model))
    tiny_tokenizer.save_pretrained(str(model))
    data = write_records(str(tmp_path / "r.jsonl"), 70)
    argv = ["--model", str(model), "--input", data, "--output_dir", str(tmp_path / "out"), "--mixed_precision", "no"]
    assert predict_command.main(argv) == 0
    found = RATE.search(capsys.readouterr().err.splitlines()[-1])
    assert found and int(found.group(1)) == 70
    assert float(found.group(3)) > 0 and float(found.group(2)) >= 0
