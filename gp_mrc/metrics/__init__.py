"""Evaluation metrics shipped as evaluate modules inside the package (the hub copies are unreachable offline).

Each folder holds one standard evaluate module file; `load_metric` loads it by path, so it works
with HF_HUB_OFFLINE=1. All of them score with gp_mrc.metrics.scoring.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # evaluate takes seconds to import: only when scoring
    import evaluate

METRICS_DIR = Path(__file__).resolve().parent
METRIC_NAMES = ("squad", "squad_v2", "cmrc")


def metric_path(name: str) -> Path:
    """The module file of metric `name` (one of METRIC_NAMES)."""
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}; valid names: {', '.join(METRIC_NAMES)}")
    return METRICS_DIR / name / f"{name}.py"


def load_metric(name: str, **load_kwargs: Any) -> "evaluate.EvaluationModule":
    """evaluate.load on the packaged module file (extra kwargs, e.g. experiment_id, pass through)."""
    import evaluate

    return evaluate.load(str(metric_path(name)), **load_kwargs)


def metric_name(lang: str, version_2: bool) -> str:
    """The metric for a language ("en" | "zh") and whether unanswerable questions exist."""
    if lang == "en":
        return "squad_v2" if version_2 else "squad"
    if lang == "zh":
        if version_2:
            raise ValueError(
                "no Chinese metric with unanswerable questions (CMRC2018/DRCD/DuReader have none); "
                "drop version_2 for lang 'zh'"
            )
        return "cmrc"
    raise ValueError(f"unknown language {lang!r}; expected 'en' or 'zh'")
