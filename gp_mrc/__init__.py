"""gp_mrc: extractive reading comprehension with a GlobalPointer span head trained on the metric."""

from typing import Any

__version__ = "0.1.0"
__all__ = ["Reader", "GlobalPointerForQuestionAnswering", "HeadConfig"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import gp_mrc.data` (or the metric modules) does not pull in torch and transformers.
    if name == "Reader":
        from .reader import Reader
        return Reader
    if name in ("GlobalPointerForQuestionAnswering", "HeadConfig"):
        from . import modeling
        return getattr(modeling, name)
    raise AttributeError(f"module 'gp_mrc' has no attribute {name!r}")
