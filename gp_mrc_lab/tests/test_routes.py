"""scripts/check_routes.py: the count of questions whose `context` and `contexts: [C]` top answers differ."""

from __future__ import annotations

from conftest import tiny_gp
from gp_mrc.inference.reader import Reader
from gp_mrc_lab.routes import check_routes, top


def test_a_tiny_reader_answers_the_same_by_either_route(tiny_tokenizer):
    reader = Reader(tiny_gp(tiny_tokenizer), tiny_tokenizer, device="cpu", mixed_precision="bf16")
    records = [
        {"id": f"q{i}", "question": q, "context": c}
        for i, (q, c) in enumerate(
            [
                ("when was the king born?", "the king was born in 1811 . the queen was born in 1861 ."),
                ("who founded the city?", "the river is long . the city was founded in 1875 by the first king . " * 4),
            ]
        )
    ]
    result = check_routes(reader, records)
    assert result == {"questions": 2, "context_vs_contexts_differ": 0, "differing": []}
    assert top([]) is None and top([{"answer": "a", "start": 0, "end": 1}]) == ("a", 0, 1)
