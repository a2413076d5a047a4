"""Shared fixtures: a tiny WordPiece tokenizer and a tiny random BERT, built offline inside the tests."""

from __future__ import annotations

import os
import string

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


def make_tiny_config(vocab_size: int) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )


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


@pytest.fixture
def tiny_model(tiny_tokenizer) -> GlobalPointerForQuestionAnswering:
    torch.manual_seed(0)
    return GlobalPointerForQuestionAnswering.from_encoder_config(
        make_tiny_config(len(tiny_tokenizer)), HeadConfig(head_size=16)
    )


@pytest.fixture(scope="module")
def reader(tiny_tokenizer) -> Reader:
    """A Reader over a tiny random GlobalPointer (seed 0), one per test module."""
    torch.manual_seed(0)
    model = GlobalPointerForQuestionAnswering.from_encoder_config(
        make_tiny_config(len(tiny_tokenizer)), HeadConfig(head_size=16)
    )
    return Reader(model, tiny_tokenizer, device="cpu", mixed_precision="no")


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
