"""gp_mrc: extractive reading comprehension with a GlobalPointer span head trained on the metric."""

from typing import Any

from .auto_registration import register_with_transformers

__version__ = "0.1.0"
__all__ = [
    "Reader",
    "GlobalPointerForQuestionAnswering",
    "GlobalPointerConfig",
    "HeadConfig",
    "StartEndForQuestionAnswering",
    "InferenceSettings",
    "load_model",
    "enable_question_answering_task",
]

# AutoConfig / AutoModel know model_type "gp_mrc" once transformers is imported (before or after this line), and
# transformers.pipeline() the task "extractive-question-answering" once transformers.pipelines is (hf_pipeline.py).
register_with_transformers()


def enable_question_answering_task() -> None:
    """Opt in to the old task name: afterwards `transformers.pipeline("question-answering", model=DIR)` builds
    gp_mrc's extractive QA pipeline (transformers >= 5.3 removed that task; this takes it out of
    REMOVED_TASKS for this process). Never done on import."""
    from .inference.hf_pipeline import enable_question_answering_task as enable

    enable()


_LAZY = {
    "Reader": "inference.reader",
    "GlobalPointerForQuestionAnswering": "models.modeling",
    "GlobalPointerConfig": "models.configuration",
    "HeadConfig": "models.configuration",
    "StartEndForQuestionAnswering": "models.baseline",
    "InferenceSettings": "settings",
    "load_model": "models.loading",
}


def __getattr__(name: str) -> Any:
    # Lazy, so `import gp_mrc.data` (or the metric modules) does not pull in torch and transformers.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'gp_mrc' has no attribute {name!r}")
