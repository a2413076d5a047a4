"""scripts/benchmark_speed.py careful: the careful user's loop (windows sorted by length, padded per batch) answers
what the padded-to-the-longest loop answers, and the forward pass's operation count is the one written by hand."""

from types import SimpleNamespace

from conftest import tiny_bert_qa
from gp_mrc_lab.speed_careful import careful_loop, forward_gflop
from gp_mrc_lab.speed_predict import transformers_loop

QUESTIONS = ["who founded the city", "what is red", "where is the river"]
CONTEXTS = [
    "the city was founded by ana in the year one thousand . " * 6,
    "the apple is red and the sky is blue .",
    "a river runs through the old town near the hills .",
]


def test_the_careful_loop_answers_as_the_padded_loop_in_fp32_and_runs_in_bf16(tiny_tokenizer):
    model = tiny_bert_qa(tiny_tokenizer)
    kw = dict(max_seq_length=48, doc_stride=16, batch_size=2)
    careful = careful_loop(model, tiny_tokenizer, QUESTIONS, CONTEXTS, bf16=False, **kw)
    assert careful == transformers_loop(model, tiny_tokenizer, QUESTIONS, CONTEXTS, **kw)  # padding changes nothing
    assert all(a and a in c for a, c in zip(careful, CONTEXTS))
    bf16 = careful_loop(model, tiny_tokenizer, QUESTIONS, CONTEXTS, bf16=True, **kw)
    assert len(bf16) == 3 and all(a in c for a, c in zip(bf16, CONTEXTS))


def test_forward_operations_by_hand():
    config = SimpleNamespace(hidden_size=4, intermediate_size=8, num_hidden_layers=2)
    # per layer 2·n·(4·16 + 2·32) + 4·n²·4, n = 3: 768 + 144; the start/end head 2·n·4·2 = 48
    assert forward_gflop(config, [3], "start_end") == (2 * (768 + 144) + 48) / 1e9
    # the GlobalPointer head: q, k of 64 from 4 (2·n·4·128) and the span scores (2·n²·64)
    assert forward_gflop(config, [3], "globalpointer") == (2 * (768 + 144) + 3072 + 1152) / 1e9
