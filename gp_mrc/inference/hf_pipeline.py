"""`transformers.pipeline("extractive-question-answering", model=DIR)` after `import gp_mrc`: the question-answering
pipeline transformers 5.3 removed, for every folder `Reader` takes (GlobalPointer, start/end, a plain transformers
QA model, the older gp_mrc layouts), with its arguments (top_k or topk and the rest of the pipeline's parameters,
gp_mrc/inference/pipeline_compat.py), its inputs (a generator of records included) and its outputs ({score, start,
end, answer}, in Reader's order: gp_mrc/inference/answers.py).

It is a thin `transformers.Pipeline` over a `Reader`: the same windows, the same batched forward and the same
decoder as `Reader` and scripts/predict.py (no second decoder), so its answers are Reader's.

The task registers itself when `transformers.pipelines` is imported (gp_mrc/auto_registration.py), so
`import gp_mrc` stays light. The old name "question-answering" is in transformers' REMOVED_TASKS and
`pipeline()` refuses it before looking at the registry; `enable_question_answering_task()` (gp_mrc's top-level
function) takes it out of that list and registers this pipeline under it too — an explicit opt-in, never done
on import, because it changes what `pipeline("question-answering")` means for the whole process.
"""

from __future__ import annotations

from typing import Any

from transformers import Pipeline, pipelines
from transformers.pipelines import PIPELINE_REGISTRY

from ..models.baseline import StartEndForQuestionAnswering
from ..models.loading import load_model
from ..precision import AUTO
from .pipeline_compat import CALL_PARAMETERS
from .reader import Reader

TASK = "extractive-question-answering"
OLD_TASK = "question-answering"


class SpanReaderModel:
    """What `pipeline()` loads a model string with: gp_mrc's loader (every folder kind, one-line errors). It
    returns the transformers model itself (a GlobalPointer, or the QA model of a start/end reader, whose
    inference settings ride in its config), as pipelines expect a PreTrainedModel."""

    @classmethod
    def from_pretrained(cls, name_or_path: str, **_: Any) -> Any:
        # dtype, revision etc. from pipeline(): precision is the Reader's choice (mixed_precision= / quantize=)
        model = load_model(name_or_path).model
        return model.qa_model if isinstance(model, StartEndForQuestionAnswering) else model


class ExtractiveQuestionAnsweringPipeline(Pipeline):
    """transformers' removed QuestionAnsweringPipeline, answered by a gp_mrc `Reader` (see the module doc).

    `pipe(question=..., context=...)`, `pipe(question, context)`, `pipe({"question", "context"})` or lists of
    those, with the removed pipeline's parameters (pipeline_compat.CALL_PARAMETERS; anything else is an error, as
    there) given to the call or to `pipeline(...)`. `batch_size` (of `pipeline(...)`) is the Reader's windows per forward."""

    def __init__(
        self, model: Any, tokenizer: Any = None, *, mixed_precision: str = AUTO, quantize: str = "none", **kwargs: Any
    ):
        super().__init__(model, tokenizer=tokenizer, **kwargs)
        if tokenizer is None:
            raise ValueError("the extractive-question-answering pipeline needs the model's tokenizer")
        self.reader = Reader(
            model,
            tokenizer,
            device=str(self.device),
            mixed_precision=mixed_precision,
            quantize=quantize,
            batch_size=self._batch_size or 32,
        )

    def _sanitize_parameters(self, **kwargs: Any) -> tuple[dict, dict, dict]:
        unknown = sorted(set(kwargs) - set(CALL_PARAMETERS))
        if unknown:
            raise TypeError(f"unexpected question-answering pipeline argument(s): {', '.join(unknown)}")
        params = {k: v for k, v in kwargs.items() if v is not None}
        if "topk" in params:  # the old pipeline's deprecated alias
            params["top_k"] = params.pop("topk")
        return {}, {}, params

    def __call__(self, *args: Any, **kwargs: Any) -> dict | list:
        question, context = _inputs(args, kwargs)
        params = {**self._postprocess_params, **self._sanitize_parameters(**kwargs)[2]}
        return self.reader(question, context, **params)

    # The Pipeline interface, for callers that drive the stages themselves: one record through the Reader.
    def preprocess(self, inputs: dict, **_: Any) -> dict:
        return {"record": inputs}

    def _forward(self, model_inputs: dict, **_: Any) -> dict:
        return model_inputs

    def postprocess(self, model_outputs: dict, **params: Any) -> dict | list:
        record = model_outputs["record"]
        return self.reader(record["question"], record["context"], **params)


def _inputs(args: tuple, kwargs: dict) -> tuple[Any, Any]:
    """(question, context) from the removed pipeline's argument forms (question=/context=, two positional
    arguments, records; X= and data= as its argument handler took them)."""
    question, context = kwargs.pop("question", None), kwargs.pop("context", None)
    for alias in ("X", "data"):
        if alias in kwargs and question is None:
            question = kwargs.pop(alias)
    if len(args) > 2:
        raise ValueError("give question and context (two positional arguments at most)")
    if args:
        if question is not None:
            raise ValueError("the question is given twice (positionally and as question=)")
        question = args[0]
        if len(args) == 2:
            context = args[1]
    return question, context


def register(task: str = TASK) -> None:
    PIPELINE_REGISTRY.register_pipeline(
        task, pipeline_class=ExtractiveQuestionAnsweringPipeline, pt_model=SpanReaderModel, type="text"
    )


def enable_question_answering_task() -> None:
    """Give transformers' removed task name back: `pipeline("question-answering", model=DIR)` then builds this
    pipeline. Process-wide, so only ever on request (gp_mrc.enable_question_answering_task())."""
    pipelines.REMOVED_TASKS.pop(OLD_TASK, None)
    register(OLD_TASK)


if TASK not in PIPELINE_REGISTRY.supported_tasks:
    register()
