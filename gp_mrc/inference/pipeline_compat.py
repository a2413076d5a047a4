"""The calling convention of transformers' removed pipeline("question-answering"), for `Reader.__call__`.

Inputs: question= and context= as two strings, a list of questions with one context, or two lists of the
same length; or a {"question", "context"} dict, or a list or generator of them, as the first argument. Outputs:
per question its top_k answers as {"score", "start", "end", "answer"} dicts, in Reader's order (by score, or by
expected F1 under that decoding: gp_mrc/inference/answers.py); one answer comes back as the dict itself, several
as a list; several questions (or any generator of records) give a list with one such result each.

Parameters: the pipeline's names, read here and only here (for `Reader.__call__`, the pipeline task of
hf_pipeline.py and the HTTP API's "parameters" in gp_mrc/serving/schema.py): `answer_keywords` turns them into
`Reader.answer`'s keywords, which are gp_mrc's setting names (gp_mrc/settings.py).
"""

from __future__ import annotations

from typing import Any, Iterator

NO_ANSWER = {"score": 0.0, "start": 0, "end": 0, "answer": ""}  # the pipeline's impossible answer

LIMIT_PARAMETER = "max_answer_len"  # the pipeline's answer-length limit: gp_mrc's max_answer_length
# the pipeline's name → Reader.answer's keyword (the inference setting); its other parameters share their names
PIPELINE_NAMES = {
    LIMIT_PARAMETER: "max_answer_length",
    "max_seq_len": "max_seq_length",
    "max_question_len": "max_query_length",
}
INT_PARAMETERS = ("top_k", "doc_stride", *PIPELINE_NAMES)
BOOL_PARAMETERS = ("handle_impossible_answer", "align_to_words")
CALL_PARAMETERS = INT_PARAMETERS + BOOL_PARAMETERS + ("topk",)  # the call's; `topk`: its deprecated top_k


def _is_record(x: Any) -> bool:
    return isinstance(x, dict) and "question" in x and "context" in x


def pipeline_records(question: Any, context: Any) -> tuple[list[dict], bool]:
    """([{question, context}, ...], whether the output is a list of one result per record whatever their number:
    for a generator of records) from the pipeline's argument forms (its error messages included)."""
    if context is None:
        if _is_record(question):
            return [dict(question)], False
        streamed = isinstance(question, Iterator)
        if streamed:
            question = list(question)
        if isinstance(question, (list, tuple)) and question and all(_is_record(x) for x in question):
            return [dict(x) for x in question], streamed
        raise ValueError("give question= and context=, or {'question': ..., 'context': ...} records")
    return _pairs(question, context), False


def _pairs(question: Any, context: Any) -> list[dict]:
    if isinstance(question, list) and isinstance(context, str):
        return [{"question": q, "context": context} for q in question]
    if isinstance(question, list) and isinstance(context, list):
        if len(question) != len(context):
            raise ValueError("Questions and contexts don't have the same lengths")
        return [{"question": q, "context": c} for q, c in zip(question, context)]
    if isinstance(question, str) and isinstance(context, str):
        return [{"question": question, "context": context}]
    raise ValueError("Arguments can't be understood")


def resolve_top_k(top_k: Any, topk: Any) -> int:
    """top_k, or `topk` (the pipeline's deprecated alias); both given: a ValueError; neither: 1."""
    if top_k is not None and topk is not None:
        raise ValueError("give top_k or its old alias topk, not both")
    return 1 if top_k is None and topk is None else (topk if top_k is None else top_k)


def check_pipeline_limits(top_k: Any, params: dict[str, Any]) -> None:
    """top_k and the answer-length limit among the pipeline-named `params`, with the pipeline's messages."""
    for name, value in (("top_k", top_k), (LIMIT_PARAMETER, params.get(LIMIT_PARAMETER))):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name} parameter should be an integer (got {value!r})")
        if value is not None and value < 1:
            raise ValueError(f"{name} parameter should be >= 1 (got {value})")


def answer_keywords(params: dict[str, Any]) -> dict[str, Any]:
    """Pipeline-named parameters (and any others, as they are) → `Reader.answer`'s keywords; a setting given
    under both names is a ValueError."""
    both = sorted(k for k in PIPELINE_NAMES if k in params and PIPELINE_NAMES[k] in params)
    if both:
        raise ValueError(f"give {both[0]} or {PIPELINE_NAMES[both[0]]}, not both")
    return {PIPELINE_NAMES.get(k, k): v for k, v in params.items()}


def as_pipeline_answer(answer: dict) -> dict:
    """{score, start, end, answer} in the pipeline's key order, then expected_f1 where the decoding ranked by it;
    the null answer at (0, 0) as the pipeline had it."""
    start, end = (0, 0) if answer["start"] < 0 else (answer["start"], answer["end"])
    out = {"score": answer["score"], "start": start, "end": end, "answer": answer["answer"]}
    if "expected_f1" in answer:
        out["expected_f1"] = answer["expected_f1"]
    return out


def pipeline_output(per_record: list[list[dict]], one_per_record: bool = False) -> dict | list:
    """The pipeline's shapes: one question → its answer dict (or list of answers when there are several);
    several questions, or `one_per_record` → a list of those."""
    shaped: list[Any] = []
    for answers in per_record:
        answers = [as_pipeline_answer(a) for a in answers] or [dict(NO_ANSWER)]
        shaped.append(answers[0] if len(answers) == 1 else answers)
    return shaped[0] if len(shaped) == 1 and not one_per_record else shaped
