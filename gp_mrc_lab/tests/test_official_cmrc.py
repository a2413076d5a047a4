"""gp_mrc's Chinese EM/F1 against the official CMRC2018 script's (nltk on non-CJK runs), question by question."""

import pytest

from gp_mrc_lab.official_cmrc import compare, stand_in_predictions

pytest.importorskip("nltk")

DATA = [
    {
        "paragraphs": [
            {
                "context": "苹果公司于2007年发布iPhone (the first one), Jobs's \"magic\" phone; 售价499美元... 销量don't know。",
                "qas": [
                    {"id": "a", "question": "何时?", "answers": [{"text": "2007年", "answer_start": 5}]},
                    {
                        "id": "b",
                        "question": "什么?",
                        "answers": [{"text": "iPhone (the first one)", "answer_start": 12}],
                    },
                    {"id": "c", "question": "谁?", "answers": [{"text": 'Jobs\'s "magic" phone', "answer_start": 36}]},
                    {"id": "d", "question": "多少?", "answers": [{"text": "499美元...", "answer_start": -1}]},
                ],
            }
        ]
    }
]


def test_every_question_scores_as_the_official_script():
    preds = {"a": "于2007年", "b": "iPhone (the", "c": 's "magic" phone;', "d": "售价499美元... 销量don't"}
    result = compare(DATA, preds)
    assert result["questions"] == 4 and result["segmentations_differing"] == 0
    assert result["f1_differing"] == 0 and result["em_differing"] == 0
    assert 0 < result["ours"]["f1"] < 100 and result["ours"] == result["official"]


def test_the_stand_in_reader_widens_the_gold_within_the_passage():
    preds = stand_in_predictions(DATA, seed=1)
    ctx = DATA[0]["paragraphs"][0]["context"]
    assert set(preds) == {"a", "b", "c", "d"} and all(p in ctx for p in preds.values())
    assert "2007年" in preds["a"] and "499美元..." in preds["d"]  # answer_start -1: found by its text
