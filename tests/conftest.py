"""Shared fixtures: a tiny WordPiece tokenizer and a tiny random BERT, built offline inside the tests."""

from __future__ import annotations

import json
import logging
import os
import socket
import string
import sys

import pytest
import torch
from hypothesis import settings

# CI runs property tests derandomized (HYPOTHESIS_PROFILE=ci in .ci/run): the same cases every run, so CI never
# passes or fails by luck; locally they explore new cases each run.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

from gp_mrc.inference.reader import Reader
from gp_mrc.models.modeling import GlobalPointerForQuestionAnswering, HeadConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREDICT = os.path.join(ROOT, "scripts", "predict.py")
CJK = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严龙飞"
WORDS = (
    "what who when where which how why is was were the a an of in on at to and or for by with from "
    "born year city river founded company invented name long population capital king queen first last "
    "many did does do it its he she his her they their this that as be has have had not"
).split()


def tiny_vocab() -> list[str]:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation) + list(CJK)
    sub = ["##" + c for c in string.ascii_lowercase + string.digits]
    vocab = specials + chars + sub + [w for w in WORDS if w not in chars]
    seen, out = set(), []
    for v in vocab:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory) -> BertTokenizerFast:
    d = tmp_path_factory.mktemp("tok")
    path = d / "vocab.txt"
    path.write_text("\n".join(tiny_vocab()) + "\n", encoding="utf-8")
    return build_tokenizer(str(path))


def build_tokenizer(vocab_path: str) -> BertTokenizerFast:
    """transformers 5 takes the vocabulary as `vocab`, 4.x as `vocab_file`."""
    tok = BertTokenizerFast(vocab_file=vocab_path, do_lower_case=True)
    if len(tok) <= 5:
        with open(vocab_path, encoding="utf-8") as f:
            vocab = {w: i for i, w in enumerate(f.read().splitlines())}
        tok = BertTokenizerFast(vocab=vocab, do_lower_case=True)
    return tok


# the tiny encoder's sizes (any family's config takes them)
TINY_SIZES = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
)


def make_tiny_config(vocab_size: int) -> BertConfig:
    return BertConfig(vocab_size=vocab_size, max_position_embeddings=512, **TINY_SIZES)


def tiny_gp(tokenizer, **head) -> GlobalPointerForQuestionAnswering:
    """The tiny GlobalPointer of the model tests (seed 0, head size 16), in eval mode."""
    torch.manual_seed(0)
    return GlobalPointerForQuestionAnswering.from_encoder_config(
        make_tiny_config(len(tokenizer)), HeadConfig(head_size=16, **head)
    ).eval()


def tiny_bert_qa(tokenizer, seed: int = 0) -> BertForQuestionAnswering:
    """A tiny plain transformers start/end reader, in eval mode."""
    torch.manual_seed(seed)
    return BertForQuestionAnswering(make_tiny_config(len(tokenizer))).eval()


@pytest.fixture(autouse=True, scope="module")
def fresh_accelerate_state_per_module():
    """Accelerate keeps one process-wide state that refuses another mixed precision once set (a module's training
    under bf16 made the next module's fp32 training fail): each module leaves a fresh one, so any order passes."""
    yield
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)


@pytest.fixture
def tiny_model(tiny_tokenizer) -> GlobalPointerForQuestionAnswering:
    """tiny_gp in train mode, as built."""
    return tiny_gp(tiny_tokenizer).train()


@pytest.fixture(scope="module")
def reader(tiny_tokenizer) -> Reader:
    """A Reader over a tiny random GlobalPointer (seed 0), one per test module."""
    return Reader(tiny_gp(tiny_tokenizer), tiny_tokenizer, device="cpu", mixed_precision="no")


@pytest.fixture(scope="session")
def tiny_encoder_dir(tiny_tokenizer, tmp_path_factory) -> str:
    """A folder with a random tiny BERT + tokenizer, usable as --model_name_or_path."""
    from transformers import BertModel

    d = tmp_path_factory.mktemp("tiny_encoder")
    torch.manual_seed(0)
    BertModel(make_tiny_config(len(tiny_tokenizer)), add_pooling_layer=False).save_pretrained(str(d))
    tiny_tokenizer.save_pretrained(str(d))
    return str(d)


@pytest.fixture(scope="session")
def hf_qa_dir(tiny_tokenizer, tmp_path_factory) -> str:
    """A plain transformers start/end QA folder (BertForQuestionAnswering, seed 1) with the tiny tokenizer."""
    d = tmp_path_factory.mktemp("bert_qa")
    torch.manual_seed(1)
    BertForQuestionAnswering(make_tiny_config(len(tiny_tokenizer))).save_pretrained(str(d))
    tiny_tokenizer.save_pretrained(str(d))
    return str(d)


def serving_client(reader, limits):
    """A TestClient of the service over `reader` (server errors come back as responses, as a client sees them)."""
    from fastapi.testclient import TestClient

    from gp_mrc.serving.app import create_app

    return TestClient(create_app(reader, limits=limits, model_name="tiny"), raise_server_exceptions=False)


def post_json(client, body):
    """POST / with a JSON body (bytes and str are sent as they are, for malformed-body tests)."""
    import json

    body = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/", content=body, headers={"Content-Type": "application/json"})


def qa_batch(tokenizer, question: str, context: str) -> dict[str, torch.Tensor]:
    """One question-passage pair as a model batch, with the passage mask."""
    enc = tokenizer([question], [context], return_tensors="pt")
    passage = torch.tensor([[s == 1 for s in enc.sequence_ids(0)]])
    return dict(
        input_ids=enc["input_ids"],
        attention_mask=enc["attention_mask"],
        token_type_ids=enc["token_type_ids"],
        passage_mask=passage,
    )


def window_row(tokenizer, question: str, context: str, index: int, gold: tuple[int, int] | None = None) -> dict:
    """One training window as the collator takes it: the pair's tokens, passage offsets ([-1, -1] elsewhere) and
    the gold span's token positions (none without `gold`)."""
    enc = tokenizer(question, context, return_offsets_mapping=True)
    offsets = [list(o) if s == 1 else [-1, -1] for o, s in zip(enc["offset_mapping"], enc.sequence_ids())]
    return {
        "input_ids": enc["input_ids"],
        "attention_mask": enc["attention_mask"],
        "token_type_ids": enc["token_type_ids"],
        "offset_mapping": offsets,
        "feature_index": index,
        "gold_starts": [gold[0]] if gold else [],
        "gold_ends": [gold[1]] if gold else [],
    }


def write_toy_data(path, n: int = 40) -> str:
    """n toy questions ("when was the king born?", ids x0, x1, ...), one JSON line each; the path as a str."""
    with open(path, "w") as f:
        for i in range(n):
            y = 1800 + i
            ctx = f"the king was born in {y} . the queen was born in {y + 50} ."
            answers = {"text": [str(y)], "answer_start": [ctx.index(str(y))]}
            record = {"id": f"x{i}", "title": "t", "context": ctx, "question": "when was the king born?"}
            f.write(json.dumps({**record, "answers": answers}) + "\n")
    return str(path)


def tiny_train_args(encoder, data, out, flags: str = "", *extra: str, validate: bool = False) -> list[str]:
    """The command line of a tiny training run: `encoder` trained on `data` (also evaluated on it with validate=True)
    in 64-token windows at stride 16, written to `out`; `flags` ("--name value ..." words) replace or add to these,
    `extra` (flags with paths, say) come last as given."""
    named = {"--model_name_or_path": [str(encoder)], "--train_file": [str(data)]}
    if validate:
        named["--validation_file"] = [str(data)]
    named.update({"--max_seq_length": ["64"], "--doc_stride": ["16"], "--output_dir": [str(out)]})
    for word in flags.split():
        if word.startswith("--"):
            named[word] = values = []
        else:
            values.append(word)
    return [word for name, values in named.items() for word in (name, *values)] + list(extra)


def research_parse_args(argv: list[str]):
    """A run's configuration from train.py's flags and the research flags of the product's own fields (the lab's
    command line, gp_mrc_lab/train_variant.py, takes these and its own parts' flags); errors are one line, exit 2."""
    from gp_mrc.errors import UsageError
    from gp_mrc.training import arguments

    parser = arguments.build_parser(research=True)
    try:
        return arguments.resolve(vars(parser.parse_args(argv)))
    except (ValueError, UsageError) as e:
        parser.error(str(e))


def run_predict_main(monkeypatch, capsys, *argv) -> tuple[int, str, str]:
    """scripts/predict.py's main() in this process with `argv`: its exit code, stdout and stderr."""
    import runpy

    monkeypatch.setattr(sys, "argv", [PREDICT, *argv])
    code = runpy.run_path(PREDICT)["main"]()
    out, err = capsys.readouterr()
    return code, out, err


def free_port() -> int:
    """A loopback port free right now (bound, read, released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gp_mrc_warnings(caplog) -> list[str]:
    """The warnings gp_mrc's logger emitted during a test (caplog at WARNING)."""
    return [r.getMessage() for r in caplog.records if r.name == "gp_mrc" and r.levelno == logging.WARNING]
