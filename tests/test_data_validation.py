"""Bad input files, beyond tests/test_bad_inputs.py: each case ends in a `DataError` naming the file and the
record (JSONL line, place in the SQuAD tree, id), or in a counted warning naming the records that were
repaired or skipped. docs/bad_inputs.md lists the cases and points at these tests. Long and unusual text:
the exact window count of a 200,000-character passage, and exact answer characters through more emoji,
combining-mark and full-width cases."""

from __future__ import annotations

import json
import logging
import math
import time

import pytest
import torch

from gp_mrc.data.examples import DataError, LoadReport, build_examples, load_examples
from gp_mrc.inference.decoding import best_answers
from gp_mrc.inference.window_topk import collect_results, topk_spans
from gp_mrc.data.features import prepare_features
from gp_mrc.method import valid_span_mask

CTX = "the king was born in 1811 . the queen was born in 1861 ."


def rec(id_, **overrides):
    r = {
        "id": id_,
        "title": "t",
        "context": CTX,
        "question": "when was the king born?",
        "answers": {"text": ["1811"], "answer_start": [21]},
    }
    r.update(overrides)
    return r


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return str(path)


def squad_file(path, qas, context=CTX):
    path.write_text(
        json.dumps(
            {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]},
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return str(path)


def squad_qa(id_, question="when was the king born?", answers=(("1811", 21),), **extra):
    return {"id": id_, "question": question, "answers": [{"text": t, "answer_start": s} for t, s in answers], **extra}


def messages(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# ----------------------------------------------------------------------------- structural problems: DataError


def test_jsonl_named_json_is_read_and_errors_name_the_real_file(tmp_path):
    path = tmp_path / "flat.json"
    write_jsonl(path, [rec("a"), rec("b")])
    assert load_examples(str(path))["id"] == ["a", "b"]
    path.write_text(json.dumps(rec("a")) + "\n" + json.dumps(rec("b")) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"flat\.json: line 3: malformed JSON") as e:
        load_examples(str(path))
    assert ".json.jsonl" not in str(e.value)


@pytest.mark.parametrize("missing", ["id", "question", "context"])
def test_missing_field_names_line_id_and_field(tmp_path, missing):
    bad = rec("b")
    del bad[missing]
    path = write_jsonl(tmp_path / "d.jsonl", [rec("a"), bad])
    with pytest.raises(DataError, match=rf"d\.jsonl: line 2 .*missing field '{missing}'"):
        load_examples(path)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("context", 5, "field 'context' must be a string, got int"),
        ("question", ["q"], "field 'question' must be a string, got list"),
        ("answers", "1811", "'answers' must be"),
        # a string where a list belongs used to be split into characters: answers '1', '8', '1', '1'
        ("answers", {"text": "1811", "answer_start": 21}, "answers.text and answers.answer_start must be lists"),
        ("answers", ["1811"], r"answers\[0\] must be an object"),
    ],
)
def test_mistyped_fields_are_errors(tmp_path, field, value, message):
    path = write_jsonl(tmp_path / "d.jsonl", [rec("a", **{field: value})])
    with pytest.raises(DataError, match=rf"d\.jsonl: line 1 \(id 'a'\): {message}"):
        load_examples(path)


@pytest.mark.parametrize(
    "obj, message",
    [
        ({"version": "1.1"}, "neither SQuAD layout"),
        ({"data": 5}, "neither SQuAD layout"),
        (
            {"data": [{"title": "t", "paragraphs": [{"context": CTX}]}]},
            r"data\[0\]\.paragraphs\[0\] needs 'context' and 'qas'",
        ),
        ({"data": [{"title": "t", "paragraphs": 3}]}, r"data\[0\] \('t'\) has no 'paragraphs' list"),
        (
            {"data": [{"title": "t", "paragraphs": [{"context": CTX, "qas": ["q1"]}]}]},
            r"data\[0\]\.paragraphs\[0\]\.qas\[0\] must be an object",
        ),
        ({"data": [{"paragraphs": []}, "oops"]}, r"data\[1\] must be an object"),
        (
            {
                "data": [
                    {
                        "title": "t",
                        "paragraphs": [{"context": CTX, "qas": [squad_qa("q", answers=()) | {"answers": [7]}]}],
                    }
                ]
            },
            r"qas\[0\] \(id 'q'\): answers\[0\] must be an object",
        ),
        ([1, 2], r"record 1: expected an object"),
    ],
)
def test_structural_problems_name_the_place(tmp_path, obj, message):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(DataError, match=rf"d\.json: .*{message}"):
        load_examples(str(path))


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(rec("a"), ensure_ascii=False).encode())
    assert load_examples(str(path))["id"] == ["a"]


def test_no_usable_questions(tmp_path):
    for name, text in (("empty.jsonl", ""), ("empty.json", "[]"), ("nodata.json", '{"data": []}')):
        (tmp_path / name).write_text(text, encoding="utf-8")
        with pytest.raises(DataError, match=rf"{name}: no usable questions"):
            load_examples(str(tmp_path / name))


# ----------------------------------------------------------------------------- unusable records: skipped, counted


def test_empty_question_is_skipped_with_a_warning_naming_it(tmp_path, caplog):
    """CMRC2018's trial set has a question that is the empty string (TRIAL_776_QUERY_4): loading used to stop
    with a DataError; the record is skipped and named, the others are kept."""
    path = squad_file(
        tmp_path / "cmrc_trial.json",
        [squad_qa("TRIAL_776_QUERY_3"), squad_qa("TRIAL_776_QUERY_4", question=""), squad_qa("TRIAL_776_QUERY_5")],
    )
    report = LoadReport()
    with caplog.at_level(logging.WARNING, logger="gp_mrc"):
        ds = load_examples(path, require_answers=False, report=report)
    assert ds["id"] == ["TRIAL_776_QUERY_3", "TRIAL_776_QUERY_5"]
    assert report.skipped_ids == ["TRIAL_776_QUERY_4"]
    warning = [m for m in messages(caplog) if "skipped" in m]
    assert len(warning) == 1
    assert "skipped 1 questions with an empty question or passage" in warning[0]
    assert "(id 'TRIAL_776_QUERY_4'): empty question" in warning[0]


@pytest.mark.parametrize(
    "context, reason",
    [
        ("", "empty context"),
        ("  \n\t\u3000", "empty context"),
        ("\x00\u200b\ufeff\x01", "context has only control/format characters"),
    ],
)
def test_blank_passages_are_skipped(tmp_path, caplog, context, reason):
    path = write_jsonl(
        tmp_path / "d.jsonl", [rec("a"), rec("b", context=context, answers={"text": [], "answer_start": []}), rec("c")]
    )
    with caplog.at_level(logging.WARNING, logger="gp_mrc"):
        ds = load_examples(path)
    assert ds["id"] == ["a", "c"]
    assert any(
        "skipped 1 questions with an empty question or passage" in m and f"line 2 (id 'b'): {reason}" in m
        for m in messages(caplog)
    )


def test_only_unusable_records_is_an_error_saying_why(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [rec("a", question=" "), rec("b", context="")])
    with pytest.raises(
        DataError, match=r"no usable questions \(2 skipped: .*id 'a'\): empty question; .*id 'b'\): empty context"
    ):
        load_examples(path)


def test_skipped_record_does_not_hide_a_structural_error_later(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [rec("a", question=""), rec("b", context=None)])
    with pytest.raises(DataError, match=r"line 2 \(id 'b'\): missing field 'context'"):
        load_examples(path)


# ----------------------------------------------------------------------------- answer offsets: repair or drop


def test_answer_start_off_by_a_few_characters_or_negative_is_repaired(tmp_path, caplog):
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [
            rec("a"),
            rec("b", answers={"text": ["1811"], "answer_start": [25]}),
            rec("c", answers={"text": ["1811"], "answer_start": [-3]}),
        ],
    )
    with caplog.at_level(logging.WARNING, logger="gp_mrc"):
        ds = load_examples(path)
    assert [a["answer_start"] for a in ds["answers"]] == [[21], [21], [21]]
    assert all(CTX[s : s + len(t)] == t for a in ds["answers"] for t, s in zip(a["text"], a["answer_start"]))
    # a stated offset that is wrong is repaired; a negative one is no offset: the answer is located by search
    assert any("repaired 1 answer offsets" in m and "id 'b'" in m for m in messages(caplog))
    assert any("located 1 answers without an offset" in m for m in messages(caplog))


def test_repair_picks_the_occurrence_nearest_the_stated_start():
    ctx = "born in 1811 . " * 3
    examples = build_examples(
        [
            (
                "r",
                {
                    "id": "x",
                    "title": "",
                    "context": ctx,
                    "question": "when?",
                    "answers": {"text": ["1811"], "answer_start": [24]},
                    "is_impossible": None,
                },
            )
        ]
    )
    assert examples[0]["answers"]["answer_start"] == [23]  # not 8 (first) nor 38


LONG_CTX = CTX + " the river was long and cold ." * 5  # "1811" is more than 100 characters from the end


@pytest.mark.parametrize(
    "answers",
    [
        {"text": ["1811"], "answer_start": [10**6]},  # out of range: the occurrence nearest the passage end
        {"text": ["1811"], "answer_start": [140]},  # in range, more than 100 characters from the text
    ],
)
def test_a_wrong_offset_far_from_the_text_is_repaired_anywhere_in_the_passage(tmp_path, answers):
    """Before, only ±100 characters around the stated offset were searched and these answers were dropped."""
    ds = load_examples(write_jsonl(tmp_path / "d.jsonl", [rec("b", context=LONG_CTX, answers=answers)]))
    assert ds[0]["answers"] == {"text": ["1811"], "answer_start": [21]}


@pytest.mark.parametrize(
    "answers",
    [
        {"text": ["the emperor"], "answer_start": [4]},  # text not in the passage
        {"text": [""], "answer_start": [0]},  # empty answer text
    ],
)
def test_answer_not_found_is_dropped_and_counted(tmp_path, caplog, answers):
    path = write_jsonl(tmp_path / "d.jsonl", [rec("a"), rec("b", context=LONG_CTX, answers=answers)])
    with caplog.at_level(logging.WARNING, logger="gp_mrc"):
        train = load_examples(path)  # training: the question has no answer left, so it goes
        evaluation = load_examples(path, require_answers=False)  # evaluation: it stays (and counts as missed)
    assert train["id"] == ["a"]
    assert evaluation["id"] == ["a", "b"]
    # evaluation keeps a gold text that is not in the passage (start -1): the official scorers compare texts
    kept = {"text": ["the emperor"], "answer_start": [-1]} if answers["text"][0] else {"text": [], "answer_start": []}
    assert evaluation[1]["answers"] == kept
    assert any(
        "dropped 1 answers not found in their passage, dropped 1 questions left with no answer" in m
        and "line 2 (id 'b')" in m
        for m in messages(caplog)
    )


# ----------------------------------------------------------------------------- long questions and passages


def test_question_longer_than_max_seq_length_is_truncated_with_a_warning(tiny_tokenizer, caplog):
    long_q = "who was the first king of the city and " * 40  # ~360 tokens
    recs = [
        (
            "r0",
            {
                "id": "short",
                "title": "",
                "context": CTX,
                "question": "when?",
                "answers": {"text": ["1811"], "answer_start": [21]},
                "is_impossible": None,
            },
        ),
        (
            "r1",
            {
                "id": "long",
                "title": "",
                "context": CTX,
                "question": long_q,
                "answers": {"text": ["1861"], "answer_start": [CTX.index("1861")]},
                "is_impossible": None,
            },
        ),
    ]
    assert len(tiny_tokenizer(long_q)["input_ids"]) > 64
    with caplog.at_level(logging.WARNING, logger="gp_mrc"):
        feats = prepare_features(
            build_examples(recs), tiny_tokenizer, max_seq_length=64, doc_stride=16, max_query_length=200
        )
    assert any("1 questions longer than max_query_length" in m and "'long'" in m for m in messages(caplog))
    assert all(len(ids) <= 64 for ids in feats["input_ids"])
    long_windows = [f for f in feats if f["example_id"] == "long"]
    assert long_windows and all(any(o[0] >= 0 for o in f["offset_mapping"]) for f in long_windows)
    f = next(f for f in long_windows if f["gold_starts"])
    assert CTX[f["offset_mapping"][f["gold_starts"][0]][0] : f["offset_mapping"][f["gold_ends"][0]][1]] == "1861"


def peaked_decode(examples, features, peak=12.0):
    """Decode with span logits that put `peak` on each window's first gold span and 0 elsewhere: the best
    answer must then be exactly that gold's characters (the same decoding path as evaluation)."""
    batches, results = [], {}
    for f in features:
        if not f["gold_starts"]:  # a window that only backs the null span (keeps long passages cheap)
            results[f["feature_index"]] = ([], [], [], 0.0)
            continue
        n = len(f["input_ids"])
        passage = torch.tensor([[o[0] >= 0 for o in f["offset_mapping"]]])
        mask = valid_span_mask(passage, n)
        logits = torch.zeros(1, n, n)
        logits[0, f["gold_starts"][0], f["gold_ends"][0]] = peak
        batches.append((torch.tensor([f["feature_index"]]), topk_spans(logits, mask, k=5)))
    results.update(collect_results(batches))
    return best_answers(examples, features, results, n_best_size=5)[0]


def expected_windows(tokenizer, context, question, max_seq_length, doc_stride):
    n = len(tokenizer(context, add_special_tokens=False)["input_ids"])
    room = max_seq_length - len(tokenizer(question, add_special_tokens=False)["input_ids"]) - 3
    return 1 + math.ceil(max(0, n - room) / (room - doc_stride))


def test_200k_character_passage_gives_the_expected_windows_in_seconds(tiny_tokenizer):
    unit = "the river was long and cold . "
    ctx = (unit * (200_000 // len(unit) + 1))[:199_985] + " bay in 1875 ."
    assert len(ctx) == 199_999
    answer_start = ctx.index("1875")
    examples = build_examples(
        [
            (
                "r",
                {
                    "id": "big",
                    "title": "",
                    "context": ctx,
                    "question": "when was he born?",
                    "answers": {"text": ["1875"], "answer_start": [answer_start]},
                    "is_impossible": None,
                },
            )
        ]
    )
    t0 = time.perf_counter()
    feats = prepare_features(examples, tiny_tokenizer, max_seq_length=384, doc_stride=128, max_query_length=64)
    seconds = time.perf_counter() - t0
    assert len(feats) == expected_windows(tiny_tokenizer, ctx, "when was he born?", 384, 128) > 200
    assert seconds < 15, seconds
    # every window is bounded by max_seq_length (memory per window is fixed), and together they cover the passage
    assert max(len(ids) for ids in feats["input_ids"]) <= 384
    covered = set()
    for offs in feats["offset_mapping"]:
        covered.update(s for s, _ in offs if s >= 0)
    assert max(covered) == ctx.rindex(".")
    with_gold = [f["feature_index"] for f in feats if f["gold_starts"]]
    assert with_gold and with_gold[-1] == len(feats) - 1  # the answer sits in the last characters
    t0 = time.perf_counter()
    assert peaked_decode(examples, feats) == {"big": "1875"}
    assert time.perf_counter() - t0 < 15


def test_long_passage_through_the_reader(tiny_model, tiny_tokenizer):
    """The whole prediction path (windows, batched model, decoding) on a 20,000-character passage."""
    from gp_mrc.inference.reader import Reader

    ctx = "the river was long and cold . " * 667
    reader = Reader(tiny_model, tiny_tokenizer, max_seq_length=128, doc_stride=32, batch_size=16, device="cpu")
    ans = reader("how long was the river?", ctx)
    assert ans["answer"] and ctx[ans["start"] : ans["end"]] == ans["answer"]


# ----------------------------------------------------------------------------- unusual characters


UNICODE_CASES = [
    # (context, answer)
    ("she said I ❤️ you to him 😀 ok", "❤️"),  # emoji + variation selector (U+FE0F, a combining mark)
    ("family 👨\u200d👩\u200d👧 and 👍🏽 thumbs", "👨\u200d👩\u200d👧"),  # zero-width-joiner sequence
    ("family 👨\u200d👩\u200d👧 and 👍🏽 thumbs", "👍🏽"),  # skin-tone modifier
    ("the cafe\u0301 in rio", "cafe\u0301"),  # decomposed accent: the tokenizer drops U+0301
    ("in rio the cafe\u0301", "cafe\u0301"),  # ... at the very end of the passage
    ("the café in rio", "café"),  # precomposed
    ("the n\u0303a\u0301 word", "n\u0303a\u0301"),  # two decomposed accents
    ("张三说：“你好！”（测试）。", "你好"),  # full-width punctuation around CJK
    ("张三说：“你好！”（测试）。", "“你好！”"),
    ("在2019年iPhone发布，售价ＡＢＣ元。", "iPhone"),  # mixed CJK/Latin without spaces
    ("在2019年iPhone发布，售价ＡＢＣ元。", "2019年"),
    ("在2019年iPhone发布，售价ＡＢＣ元。", "ＡＢＣ"),  # full-width Latin
    ("İstanbul is big", "İstanbul"),  # lower-casing changes the length
    ("x 1\ufe0f\u20e3 y", "1\ufe0f\u20e3"),  # keycap sequence
]


@pytest.mark.parametrize("context, answer", UNICODE_CASES)
def test_unusual_characters_round_trip_exactly(tiny_tokenizer, context, answer):
    start = context.index(answer)
    examples = build_examples(
        [
            (
                "r",
                {
                    "id": "u",
                    "title": "",
                    "context": context,
                    "question": "what is it?",
                    "answers": {"text": [answer], "answer_start": [start]},
                    "is_impossible": None,
                },
            )
        ]
    )
    feats = prepare_features(examples, tiny_tokenizer, max_seq_length=64, doc_stride=16)
    f = next(f for f in feats if f["gold_starts"])
    offs = f["offset_mapping"]
    assert offs[f["gold_starts"][0]][0] == start  # the gold's tokens start where the answer starts
    assert peaked_decode(examples, feats) == {"u": answer}  # and decoding returns exactly its characters
