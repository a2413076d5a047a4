"""Bad and unusual input: each case gets a clear error naming the file and record, or a counted warning,
never a traceback from deep inside (docs/bad_inputs.md lists them all)."""

import json
import logging
import time

import pytest
import torch

from gp_mrc.data.examples import DataError, load_examples
from gp_mrc.inference.decoding import best_answers
from gp_mrc.inference.window_topk import collect_results, topk_spans
from gp_mrc.data.features import prepare_features
from gp_mrc.method import MASK_VALUE, valid_span_mask
from test_features import make_examples


def squad(qas, context="The cat sat on the mat in 1875.", title="t"):
    return {"version": "1.1", "data": [{"title": title, "paragraphs": [{"context": context, "qas": qas}]}]}


def qa(id_, question="Where did the cat sit?", text="the mat", start=15, **extra):
    return {"id": id_, "question": question, "answers": [{"text": text, "answer_start": start}], **extra}


def write(tmp_path, name, obj_or_text):
    p = tmp_path / name
    if isinstance(obj_or_text, bytes):
        p.write_bytes(obj_or_text)
    else:
        p.write_text(obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text), encoding="utf-8")
    return str(p)


# ----------------------------------------------------------------------------- errors that stop the run


def test_malformed_json_names_the_line(tmp_path):
    path = write(tmp_path, "bad.json", '{"version": "1.1",\n "data": [\n {"title": "x",, }]}')
    with pytest.raises(DataError, match=r"bad\.json: line 3: malformed JSON"):
        load_examples(path)


def test_malformed_jsonl_names_the_line(tmp_path):
    good = json.dumps({"id": "a", "context": "x y", "question": "q?", "answers": {"text": ["x"], "answer_start": [0]}})
    path = write(tmp_path, "bad.jsonl", good + "\n" + good.replace('"a"', '"b"') + "\n{oops\n")
    with pytest.raises(DataError, match=r"bad\.jsonl: line 3: malformed JSON"):
        load_examples(path)


def test_missing_field_names_the_record(tmp_path):
    rec = qa("q7")
    del rec["question"]
    path = write(tmp_path, "m.json", squad([qa("q1"), rec]))
    with pytest.raises(DataError, match=r"qas\[1\] \(id 'q7'\): missing field 'question'"):
        load_examples(path)


def test_duplicate_ids_name_both_records(tmp_path):
    path = write(tmp_path, "d.json", squad([qa("same"), qa("other"), qa("same")]))
    with pytest.raises(DataError, match=r"qas\[2\] \(id 'same'\): duplicate id 'same' \(first seen at .*qas\[0\]"):
        load_examples(path)


def test_non_utf8_bytes_name_the_line(tmp_path):
    text = json.dumps(squad([qa("q1")]), indent=1).encode()
    text = text.replace(b"The cat", b"The \xff cat")
    path = write(tmp_path, "latin.json", text)
    with pytest.raises(DataError, match=r"latin\.json: line \d+: not valid UTF-8"):
        load_examples(path)


def test_v2_file_with_v1_flags_is_an_error_naming_the_flag(tmp_path):
    path = write(
        tmp_path, "v2.json", squad([qa("q1"), {"id": "q2", "question": "Why?", "answers": [], "is_impossible": True}])
    )
    with pytest.raises(DataError, match=r"\(id 'q2'\).*--version_2_with_negative"):
        load_examples(path)
    assert sum(load_examples(path, version_2=True)["is_impossible"]) == 1


def test_v1_file_with_v2_flags_warns(tmp_path, caplog):
    path = write(tmp_path, "v1.json", squad([qa("q1"), qa("q2")]))
    with caplog.at_level(logging.WARNING, logger="gp_mrc.data.examples"):
        ex = load_examples(path, version_2=True)
    assert len(ex) == 2 and "no unanswerable questions (a v1 file?)" in caplog.text


def test_not_squad_and_not_records_is_an_error(tmp_path):
    with pytest.raises(DataError, match="neither SQuAD layout"):
        load_examples(write(tmp_path, "x.json", {"rows": [1, 2]}))
    with pytest.raises(DataError, match="file not found"):
        load_examples(str(tmp_path / "nope.json"))


# ----------------------------------------------------------------------------- skipped or repaired, counted


def test_empty_question_or_passage_is_skipped_and_counted(tmp_path, caplog):
    # as in the real CMRC2018 trial file (TRIAL_776_QUERY_4 has an empty question)
    data = squad([qa("q1"), qa("blank", question="  "), qa("q3")])
    data["data"].append({"title": "e", "paragraphs": [{"context": " ", "qas": [qa("nopassage", start=0)]}]})
    path = write(tmp_path, "e.json", data)
    with caplog.at_level(logging.WARNING, logger="gp_mrc.data.examples"):
        ex = load_examples(path)
    assert ex["id"] == ["q1", "q3"]
    assert "skipped 2 questions with an empty question or passage" in caplog.text
    assert "(id 'blank'): empty question" in caplog.text and "(id 'nopassage'): empty context" in caplog.text


def test_answer_start_repaired_else_dropped_and_counted(tmp_path, caplog):
    context = "The cat sat on the mat in 1875."
    qas = [
        qa("off_by_3", start=12),  # "the mat" is at 15: repaired
        qa("out_of_range", start=999),  # beyond the passage, the text is there: repaired
        qa("absent", text="the dog", start=15),  # nowhere in the passage: dropped (question too)
        {
            "id": "two",
            "question": "When?",
            "answers": [{"text": "1875", "answer_start": 26}, {"text": "1876", "answer_start": 26}],
        },
    ]
    with caplog.at_level(logging.WARNING, logger="gp_mrc.data.examples"):
        ex = load_examples(write(tmp_path, "a.json", squad(qas, context)))
    by_id = {e["id"]: e for e in ex}
    assert set(by_id) == {"off_by_3", "out_of_range", "two"}
    for e in ex:
        for t, s in zip(e["answers"]["text"], e["answers"]["answer_start"]):
            assert context[s : s + len(t)] == t
    assert by_id["two"]["answers"]["text"] == ["1875"]
    assert (
        "repaired 2 answer offsets, dropped 2 answers not found in their passage, "
        "dropped 1 questions left with no answer" in caplog.text
    )
    # for evaluation the question is kept with its gold text (it still counts in EM/F1, scored on that text)
    evaluation = load_examples(write(tmp_path, "a2.json", squad(qas, context)), require_answers=False)
    assert {e["id"]: e["answers"]["text"] for e in evaluation}["absent"] == ["the dog"]


# ----------------------------------------------------------------------------- long and unusual text


def test_question_longer_than_the_window_is_truncated_with_a_warning(tiny_tokenizer, caplog):
    question = "what " * 300 + "year?"
    ex = make_examples([("he was born in 1875 in the city of bay .", question, [("1875", 15)])])
    with caplog.at_level(logging.WARNING, logger="gp_mrc.data.features"):
        feats = prepare_features(ex, tiny_tokenizer, max_seq_length=64, doc_stride=16, max_query_length=64)
    assert "longer than max_query_length" in caplog.text and "truncated" in caplog.text
    assert all(len(f["input_ids"]) <= 64 for f in feats)
    f = feats[0]
    assert (
        ex[0]["context"][f["offset_mapping"][f["gold_starts"][0]][0] : f["offset_mapping"][f["gold_ends"][0]][1]]
        == "1875"
    )


def test_passage_of_200k_characters_is_windowed_in_bounded_memory(tiny_tokenizer):
    filler = "the river was long and cold . "
    context = filler * 3340 + "he was born in 1875 in the city of bay . " + filler * 3340
    assert len(context) > 200_000
    answer_start = context.index("1875")
    ex = make_examples([(context, "when was he born?", [("1875", answer_start)])])
    t = time.perf_counter()
    feats = prepare_features(ex, tiny_tokenizer, max_seq_length=384, doc_stride=128, max_query_length=32)
    assert time.perf_counter() - t < 60
    n_tokens = len(tiny_tokenizer(context, add_special_tokens=False)["input_ids"])
    stride_step = 384 - len(tiny_tokenizer("when was he born?")["input_ids"]) - 1 - 128
    assert abs(len(feats) - n_tokens / stride_step) <= 2  # windows, not one giant sequence
    assert max(len(f["input_ids"]) for f in feats) <= 384  # each window bounded: memory is per window
    hits = [f for f in feats if f["gold_starts"]]
    assert 1 <= len(hits) <= 3
    f = hits[0]
    assert context[f["offset_mapping"][f["gold_starts"][0]][0] : f["offset_mapping"][f["gold_ends"][0]][1]] == "1875"


UNUSUAL = [
    ("emoji", "The party 🎉🎉 started at noon with 🍰 cake and ended at dusk.", "🍰 cake"),
    (
        "combining marks",
        "The cafe\u0301 in Zu\u0308rich opened in 1875; its owner was Jose\u0301 Nun\u0303ez.",
        "Jose\u0301 Nun\u0303ez",
    ),
    ("full-width punctuation", "他说：“我们明天出发！”然后（在1875年）离开了。", "“我们明天出发！”"),
    ("mixed CJK/Latin", "张三在2019年加入Google公司，担任AI研究员。", "Google公司"),
    ("mixed CJK/Latin digits", "张三在2019年加入Google公司，担任AI研究员。", "2019年"),
]


@pytest.mark.parametrize("name,context,answer", UNUSUAL, ids=[u[0] for u in UNUSUAL])
def test_unusual_text_answer_recovered_exactly(tiny_tokenizer, name, context, answer):
    """Features' offsets point at the exact characters, and decoding a window whose best span is the gold
    returns exactly the gold text (nothing normalized away, no half characters)."""
    ex = make_examples([(context, "what?", [(answer, context.index(answer))])])
    feats = prepare_features(ex, tiny_tokenizer, max_seq_length=48, doc_stride=16, max_query_length=8)
    batches = []
    found = False
    for k, f in enumerate(feats):
        n = len(f["input_ids"])
        passage = torch.tensor([[o[0] >= 0 for o in f["offset_mapping"]]])
        mask = valid_span_mask(passage, 30)
        s = torch.full((1, n, n), -5.0)
        if f["gold_starts"]:
            gs, ge = f["gold_starts"][0], f["gold_ends"][0]
            assert context[f["offset_mapping"][gs][0] : f["offset_mapping"][ge][1]] == answer
            s[0, gs, ge] = 10.0
            found = True
        batches.append((torch.tensor([k]), topk_spans(s.masked_fill(~mask, MASK_VALUE), mask, 5)))
    assert found
    preds, nbest, _ = best_answers(ex, feats, collect_results(batches), n_best_size=5)
    assert preds["q0"] == answer
    top = nbest["q0"][0]
    assert context[top["start"] : top["end"]] == answer
