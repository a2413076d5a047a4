"""The input layouts, each read into (where, record) pairs for examples.build_examples: the SQuAD tree (v1.1, v2.0,
CMRC2018, DRCD, DuReader-robust) and flat records (a JSON list, `{"data": [...]}`, JSONL, a hub dataset's rows),
both with answers as `[{text, answer_start}]` or `{text: [...], answer_start: [...]}`. `where` names a record (its
JSONL line, its place in the SQuAD tree, its id) for error messages; a structural problem is a `DataError`."""

from __future__ import annotations

from typing import Any, Iterable

from ..errors import DataError
from .json_files import parse_json_or_jsonl, read_text


def file_records(path: str) -> Iterable[tuple[str, dict]]:
    """The records of a SQuAD-layout or flat JSON / JSONL file, whichever it holds."""
    obj = parse_json_or_jsonl(path, read_text(path))
    if (
        isinstance(obj, dict)
        and isinstance(obj.get("data"), list)
        and obj["data"]
        and isinstance(obj["data"][0], dict)
        and "paragraphs" in obj["data"][0]
    ):
        return squad_records(path, obj)
    if isinstance(obj, dict) and isinstance(obj.get("data"), list):  # {"data": [flat records]}
        return flat_records(path, obj["data"])
    if isinstance(obj, list):
        return flat_records(path, obj)
    raise DataError(f"{path}: neither SQuAD layout ({{'data': [{{'paragraphs': ...}}]}}) nor a list of flat records")


def _answer_list(where: str, answers: Any) -> dict:
    """[{text, answer_start}, ...] or {text: [...], answer_start: [...]} → the latter, checked."""
    if isinstance(answers, list):  # [{text, answer_start}] (SQuAD layout; common in flat files too)
        for k, x in enumerate(answers):
            if not isinstance(x, dict):
                raise DataError(
                    f"{where}: answers[{k}] must be an object {{text, answer_start}}, got {type(x).__name__}"
                )
        return {"text": [x.get("text") for x in answers], "answer_start": [x.get("answer_start") for x in answers]}
    if not isinstance(answers, dict) or "text" not in answers:
        raise DataError(
            f"{where}: 'answers' must be {{text: [...], answer_start: [...]}} or a list of {{text, answer_start}}"
        )
    texts, starts = answers["text"], answers.get("answer_start", [])
    if not isinstance(texts, list) or not isinstance(starts, list):
        raise DataError(f"{where}: answers.text and answers.answer_start must be lists")
    return {"text": list(texts), "answer_start": list(starts)}


def squad_records(path: str, obj: dict) -> Iterable[tuple[str, dict]]:
    """Flatten SQuAD layout into (where, record) pairs; `where` names the record for error messages."""
    articles = obj.get("data")
    if not isinstance(articles, list):
        raise DataError(f"{path}: SQuAD layout needs a top-level 'data' list")
    for a, article in enumerate(articles):
        if not isinstance(article, dict):
            raise DataError(f"{path}: data[{a}] must be an object with 'paragraphs', got {type(article).__name__}")
        title = article.get("title", "")
        paragraphs = article.get("paragraphs")
        if not isinstance(paragraphs, list):
            raise DataError(f"{path}: data[{a}] ({title!r}) has no 'paragraphs' list")
        for p, para in enumerate(paragraphs):
            if not isinstance(para, dict) or "context" not in para or "qas" not in para:
                raise DataError(f"{path}: data[{a}].paragraphs[{p}] needs 'context' and 'qas'")
            if not isinstance(para["qas"], list):
                raise DataError(f"{path}: data[{a}].paragraphs[{p}]: 'qas' must be a list")
            for q, qa in enumerate(para["qas"]):
                if not isinstance(qa, dict):
                    raise DataError(
                        f"{path}: data[{a}].paragraphs[{p}].qas[{q}] must be an object, got {type(qa).__name__}"
                    )
                where = f"{path}: data[{a}].paragraphs[{p}].qas[{q}] (id {qa.get('id', '?')!r})"
                answers = qa.get("answers", [])
                if not isinstance(answers, list):
                    raise DataError(f"{where}: 'answers' must be a list of {{text, answer_start}}")
                yield (
                    where,
                    {
                        "id": qa.get("id"),
                        "title": title,
                        "context": para["context"],
                        "question": qa.get("question"),
                        "answers": _answer_list(where, answers),
                        "is_impossible": qa.get("is_impossible", None),
                    },
                )


def flat_records(path: str, records: list) -> Iterable[tuple[str, dict]]:
    """Flat records (a JSON list, JSONL lines or a hub dataset's rows) into (where, record) pairs."""
    lines = getattr(records, "line_numbers", None)  # JSONL: name records by their line
    for n, r in enumerate(records, 1):
        place = f"line {lines[n - 1]}" if lines else f"record {n}"
        where = f"{path}: {place} (id {r.get('id', '?')!r})" if isinstance(r, dict) else f"{path}: {place}"
        if not isinstance(r, dict):
            raise DataError(f"{where}: expected an object with id, context, question, answers")
        yield (
            where,
            {
                "id": r.get("id"),
                "title": r.get("title", ""),
                "context": r.get("context"),
                "question": r.get("question"),
                "answers": _answer_list(where, r.get("answers", {"text": [], "answer_start": []})),
                "is_impossible": r.get("is_impossible", None),
            },
        )
