"""gp_mrc.atomic: the target holds either its old or its whole new content, and no temporary file is left."""

from __future__ import annotations

import json
import os
import stat

import pytest

from gp_mrc.atomic import atomic_path, write_json_atomic, write_text_atomic


def test_json_and_text_are_written_and_replace_the_old_file(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    write_json_atomic(path, {"é": [1, 2]})
    assert path.read_text(encoding="utf-8") == json.dumps({"é": [1, 2]}, ensure_ascii=False, indent=2)
    write_text_atomic(str(tmp_path / "latest"), "step_8")
    assert (tmp_path / "latest").read_text() == "step_8"
    assert sorted(os.listdir(tmp_path)) == ["latest", "out.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("killed mid-write")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["state.json"]


def test_the_file_gets_the_permissions_of_a_plain_open(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("x")
    write_text_atomic(tmp_path / "atomic", "x")
    assert stat.S_IMODE(os.stat(tmp_path / "atomic").st_mode) == stat.S_IMODE(os.stat(plain).st_mode)
