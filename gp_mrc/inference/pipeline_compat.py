"""The calling convention of transformers' removed pipeline("question-answering"), for `Reader.__call__`.

Inputs: question= and context= as two strings, a list of questions with one context, or two lists of the
same length; or a {"question", "context"} dict, or a list of them, as the first argument. Outputs: per
question its top_k answers as {"score", "start", "end", "answer"} dicts, sorted by score; one answer comes
back as the dict itself, several as a list; several questions give a list with one such result each.
"""

from __future__ import annotations

from typing import Any

NO_ANSWER = {"score": 0.0, "start": 0, "end": 0, "answer": ""}  # the pipeline's impossible answer


def _is_record(x: Any) -> bool:
    return isinstance(x, dict) and "question" in x and "context" in x


def pipeline_records(question: Any, context: Any) -> list[dict]:
    """[{question, context}, ...] from the pipeline's argument forms (its error messages included)."""
    if context is None:
        if _is_record(question):
            return [dict(question)]
        if isinstance(question, (list, tuple)) and question and all(_is_record(x) for x in question):
            return [dict(x) for x in question]
        raise ValueError("give question= and context=, or {'question': ..., 'context': ...} records")
    if isinstance(question, list) and isinstance(context, str):
        return [{"question": q, "context": context} for q in question]
    if isinstance(question, list) and isinstance(context, list):
        if len(question) != len(context):
            raise ValueError("Questions and contexts don't have the same lengths")
        return [{"question": q, "context": c} for q, c in zip(question, context)]
    if isinstance(question, str) and isinstance(context, str):
        return [{"question": question, "context": context}]
    raise ValueError("Arguments can't be understood")


def check_pipeline_limits(top_k: int, max_answer_len: int | None) -> None:
    if top_k < 1:
        raise ValueError(f"top_k parameter should be >= 1 (got {top_k})")
    if max_answer_len is not None and max_answer_len < 1:
        raise ValueError(f"max_answer_len parameter should be >= 1 (got {max_answer_len})")


def as_pipeline_answer(answer: dict) -> dict:
    """{score, start, end, answer} in the pipeline's key order; the null answer at (0, 0) as the pipeline had it."""
    start, end = (0, 0) if answer["start"] < 0 else (answer["start"], answer["end"])
    return {"score": answer["score"], "start": start, "end": end, "answer": answer["answer"]}


def pipeline_output(per_record: list[list[dict]]) -> dict | list:
    """The pipeline's shapes: one question → its answer dict (or list of answers when there are several);
    several questions → a list of those."""
    shaped: list[Any] = []
    for answers in per_record:
        answers = [as_pipeline_answer(a) for a in answers] or [dict(NO_ANSWER)]
        shaped.append(answers[0] if len(answers) == 1 else answers)
    return shaped[0] if len(shaped) == 1 else shaped
