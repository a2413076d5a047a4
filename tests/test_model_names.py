"""Issue #35 point 7: saved model files get the folder's permissions (the user's umask), not transformers' private
0600."""

from __future__ import annotations

import os
import stat

from conftest import tiny_gp
from gp_mrc.models.folders import convert_folder


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
