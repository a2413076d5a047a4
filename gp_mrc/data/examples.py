"""Load and validate extractive-QA examples.

Accepted inputs, all turned into one flat `datasets.Dataset` with the columns
`id, title, context, question, answers{text, answer_start}, is_impossible`:

* SQuAD layout JSON (v1.1, v2.0 with `is_impossible`; CMRC2018, DRCD and DuReader-robust use it too);
* the flat Hugging Face layout, as a JSON list or JSONL (`id, title, context, question, answers{text, answer_start}`);
* a hub dataset name (`squad`, `squad_v2`, ...) for users who are online.

Bad records never surface as a traceback from deep inside: structural problems (not JSON, not UTF-8,
no `data` list, a missing or mistyped field, a duplicate id, ...) raise `DataError` naming the file and
the record (its JSONL line, its place in the SQuAD tree, its id); records that are well formed but
unusable (an empty question or passage) are skipped; answer offsets that are -1, missing or wrong are found
by searching the passage (gp_mrc/data/answer_search.py) — all counted in one warning naming a few records.
For evaluation every gold text is kept, even one not in its passage (start -1). docs/bad_inputs.md lists all.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable

import datasets

from ..errors import DataError
from .answer_search import ABSENT, LOCATED, REPAIRED, locate_answers
from .layouts import file_records, flat_records

logger = logging.getLogger(__name__)

COLUMNS = ("id", "title", "context", "question", "answers", "is_impossible")


@dataclass
class LoadReport:
    """What validation changed, so one summary warning can be logged instead of thousands of lines."""

    located_answers: int = 0  # no offset (-1, missing): found by searching the passage
    repaired_answers: int = 0  # a wrong offset moved to the nearest occurrence
    dropped_answers: int = 0
    unplaced_answers: int = 0  # evaluation: texts not in the passage, kept (start -1) for scoring only
    dropped_questions: int = 0
    skipped_empty: int = 0  # questions with an empty question or passage
    examples: list[str] = field(default_factory=list)  # a few record ids, for the message
    skipped_ids: list[str] = field(default_factory=list)  # ids of the skipped records (predict.py answers them "")
    skipped_examples: list[str] = field(default_factory=list)  # a few skipped records with the reason

    def note(self, record: str) -> None:
        if len(self.examples) < 5:
            self.examples.append(record)

    def skip(self, record_id: str, where: str, reason: str) -> None:
        self.skipped_empty += 1
        self.skipped_ids.append(record_id)
        self.note(f"{where}: {reason}")
        if len(self.skipped_examples) < 5:
            self.skipped_examples.append(f"{where}: {reason}")


def is_blank(text: str) -> bool:
    """True if `text` has no visible character: only whitespace, control and format characters (NUL, zero-width
    space, BOM, ...), which tokenizers drop, so no token would be left."""
    return all(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp") for ch in text)


def _checked_answers(
    where: str, context: str, answers: dict, report: LoadReport, keep_unplaced: bool
) -> tuple[list[str], list[int]]:
    """The answers with their start in the passage (see answer_search for the rules), counted in `report`.
    A text not in the passage is dropped, or with `keep_unplaced` kept at start -1: the official scorers
    compare texts, so evaluation scores against every gold text, free-form ones included."""
    texts, kept_t, kept_s = answers["text"], [], []
    for text, (start, how) in zip(texts, locate_answers(context, texts, answers["answer_start"])):
        if how == LOCATED:
            report.located_answers += 1
        elif how == REPAIRED:
            report.repaired_answers += 1
            report.note(where)
        elif how == ABSENT:
            if not keep_unplaced or not isinstance(text, str) or not text.strip():
                report.dropped_answers += 1
                report.note(where)
                continue
            report.unplaced_answers += 1
            report.note(where)
            start = -1
        kept_t.append(text)
        kept_s.append(start)
    return kept_t, kept_s


def validate_record(where: str, r: dict, version_2: bool, report: LoadReport, require_answers: bool) -> dict | None:
    """Check one record; return it cleaned, or None if it cannot be used (counted in `report`).

    A missing or mistyped field is a `DataError`; an empty (or blank: only whitespace/control characters)
    question or passage is skipped — real data has them (CMRC2018 trial `TRIAL_776_QUERY_4`)."""
    for key in ("id", "context", "question"):
        if r.get(key) is None:
            raise DataError(f"{where}: missing field {key!r}")
    r["id"] = str(r["id"])
    for key in ("context", "question"):
        if not isinstance(r[key], str):
            raise DataError(f"{where}: field {key!r} must be a string, got {type(r[key]).__name__}")
    for key in ("context", "question"):
        if is_blank(r[key]):  # real sets have these (CMRC2018 trial TRIAL_776_QUERY_4): skip, count, name
            report.skip(
                r["id"], where, f"empty {key}" if not r[key].strip() else f"{key} has only control/format characters"
            )
            return None
    texts = r["answers"]["text"]
    impossible = bool(r["is_impossible"]) if r["is_impossible"] is not None else (len(texts) == 0 and version_2)
    if impossible and not version_2:
        raise DataError(
            f"{where}: the question is unanswerable (is_impossible) but SQuAD v2 mode is off; "
            "pass --version_2_with_negative to train/evaluate with unanswerable questions"
        )
    kept_t, kept_s = [], []
    if not impossible:
        kept_t, kept_s = _checked_answers(where, r["context"], r["answers"], report, not require_answers)
        if not kept_t and require_answers:
            report.dropped_questions += 1
            return None
    r["answers"] = {"text": kept_t, "answer_start": kept_s}
    r["is_impossible"] = impossible
    r["title"] = r.get("title") or ""
    return r


def load_examples(
    path_or_name: str,
    *,
    version_2: bool = False,
    split: str | None = None,
    config_name: str | None = None,
    require_answers: bool = True,
    max_samples: int | None = None,
    report: LoadReport | None = None,
) -> datasets.Dataset:
    """Load a file (SQuAD JSON, flat JSON/JSONL) or a hub dataset name into validated examples.

    `require_answers`: drop answerable questions none of whose answers can be found in the passage
    (right for training; for evaluation such questions still count, so pass False).
    """
    if os.path.exists(path_or_name) or path_or_name.endswith((".json", ".jsonl")):
        records = file_records(path_or_name)
    else:
        hub = datasets.load_dataset(path_or_name, config_name, split=split or "train")
        records = flat_records(path_or_name, list(hub))
    return build_examples(
        records,
        source=path_or_name,
        version_2=version_2,
        require_answers=require_answers,
        max_samples=max_samples,
        report=report,
    )


def labelled_records(records: Iterable[dict]) -> list[tuple[str, dict]]:
    """The caller's records as unlabelled examples ("record N (id ...)", example dict), ids defaulting to N."""
    recs = []
    for n, r in enumerate(records):
        rec = {
            "id": str(r.get("id", n)),
            "title": r.get("title", ""),
            "context": r.get("context"),
            "question": r.get("question"),
            "answers": {"text": [], "answer_start": []},
            "is_impossible": None,
        }
        recs.append((f"record {n + 1} (id {rec['id']!r})", rec))
    return recs


def build_examples(
    records: Iterable[tuple[str, dict]],
    *,
    source: str = "<records>",
    version_2: bool = False,
    require_answers: bool = True,
    max_samples: int | None = None,
    report: LoadReport | None = None,
) -> datasets.Dataset:
    """Validate (where, record) pairs into a Dataset; duplicate ids are an error (predictions are keyed by id).

    Pass a `report` to learn what was repaired or skipped (`report.skipped_ids`)."""
    report = report if report is not None else LoadReport()
    seen: dict[str, str] = {}
    rows = []
    for where, r in records:
        if max_samples is not None and len(rows) >= max_samples:
            break
        r = validate_record(where, r, version_2, report, require_answers)
        if r is None:
            continue
        if r["id"] in seen:
            raise DataError(f"{where}: duplicate id {r['id']!r} (first seen at {seen[r['id']]})")
        seen[r["id"]] = where
        rows.append(r)
    if not rows:
        skipped = (
            f" ({report.skipped_empty} skipped: {'; '.join(report.skipped_examples)})" if report.skipped_empty else ""
        )
        raise DataError(f"{source}: no usable questions{skipped}")
    if version_2 and not any(r["is_impossible"] for r in rows):
        logger.warning(
            "%s: SQuAD v2 mode is on but the file has no unanswerable questions "
            "(a v1 file?); the null answer will only be learnt from windows without the answer",
            source,
        )
    log_report(source, report)
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "title": datasets.Value("string"),
            "context": datasets.Value("string"),
            "question": datasets.Value("string"),
            "answers": {
                "text": datasets.Sequence(datasets.Value("string")),
                "answer_start": datasets.Sequence(datasets.Value("int32")),
            },
            "is_impossible": datasets.Value("bool"),
        }
    )
    return datasets.Dataset.from_list([{k: r[k] for k in COLUMNS} for r in rows], features=features)


def log_report(source: str, report: LoadReport) -> None:
    """One warning for everything loading changed (nothing when the file was used as it is)."""
    if report.located_answers:  # normal for published files (DuReader-robust dev gives -1 everywhere): say so once
        logger.warning(
            "%s: located %d answers without an offset (answer_start -1 or missing) by searching their passage",
            source,
            report.located_answers,
        )
    if (
        report.repaired_answers
        or report.dropped_answers
        or report.dropped_questions
        or report.skipped_empty
        or report.unplaced_answers
    ):
        kept = (
            f", kept {report.unplaced_answers} gold texts not found in their passage for scoring only"
            if report.unplaced_answers
            else ""
        )
        logger.warning(
            "%s: repaired %d answer offsets, dropped %d answers not found in their passage, "
            "dropped %d questions left with no answer%s, skipped %d questions with an empty question "
            "or passage (e.g. %s)",
            source,
            report.repaired_answers,
            report.dropped_answers,
            report.dropped_questions,
            kept,
            report.skipped_empty,
            "; ".join(report.examples),
        )


LANGUAGE_SAMPLE = 200  # passages read to tell the language


def detect_language(examples: datasets.Dataset, sample: int = LANGUAGE_SAMPLE) -> str:
    """'zh' if the passages are mostly CJK characters, else 'en' (picks the metric and its normalization)."""
    return language_of(examples.select(range(min(sample, len(examples))))["context"])


def language_of(contexts: Iterable[str]) -> str:
    """detect_language over passages as they are: 'zh' if mostly CJK characters (first 2,000 of each), else 'en'."""
    n_cjk = n_alpha = 0
    for ctx in contexts:
        for ch in ctx[:2000]:
            if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
                n_cjk += 1
            elif ch.isalpha():
                n_alpha += 1
    return "zh" if n_cjk > n_alpha else "en"
