"""The lab's training entry (gp_mrc_lab/train_variant.py): train.py's command line plus the research flags, built
from the same fields (the product's parts and the lab's own, gp_mrc_lab/objectives.py), its checks, and a run of
the rejected variants' pieces end to end."""

from __future__ import annotations

import json
import math

import pytest

from conftest import tiny_train_args, write_toy_data
from gp_mrc.flags import FLAG, flag_fields, parser_default
from gp_mrc.training.config import PARTS
from gp_mrc_lab import objectives, train_variant
from gp_mrc_lab.train_variant import parse_args, train


def test_help_groups_research_flags_apart() -> None:
    """train.py --help: the flags a user sets, grouped by configuration part; the research knobs are the lab's
    command line only (gp_mrc_lab/train_variant.py: train.py's groups, then a "research" group)."""
    from gp_mrc.training.arguments import build_parser
    from gp_mrc_lab.train_variant import build_parser as lab_parser

    def groups(parser):
        return {g.title: {a.dest for a in g._group_actions} for g in parser._action_groups}

    product, lab = groups(build_parser()), groups(lab_parser())
    user = set().union(*product.values()) - {"help"}
    assert "research" not in product
    research = lab.pop("research") | lab.pop("the lab's variants (gp_mrc_lab/objectives.py)")
    assert {
        "no_rope",
        "multilabel_offset",
        "attention_dropout",
        "mixed_weight",
        "warm_start_loss",
        "span_bias",
        "reward",
        "soft_f1_tau",
        "aux_start_end_weight",
        "keep_optimizer_state",
    } <= research
    assert not research & user
    assert set().union(*lab.values()) - {"help"} == user  # the lab's other groups: train.py's flags, unchanged
    assert {
        "model_name_or_path",
        "train_file",
        "output_dir",
        "objective",
        "decoding",
        "entropy_lambda",
        "warm_start_steps",
        "reward_weight",
    } <= user


def test_the_lab_parser_defaults_are_the_fields_defaults():
    """Each flag of the lab's parser is one field of the product's parts or the lab's, research flags included; its
    parser default is the field's, or None where it depends on something else (then the help says on what)."""
    fields = {f.name: f for part in {**PARTS, **objectives.LAB_PARTS}.values() for f in flag_fields(part)}
    actions = {a.dest: a for a in train_variant.build_parser()._actions if a.dest != "help"}
    assert set(actions) == set(fields)
    for name, action in actions.items():
        f = fields[name]
        assert action.default == parser_default(f), name
        if f.metadata[FLAG]["depends"]:
            assert action.default is None and "default: " in action.help, name
        else:
            assert action.default == f.default, name


def test_the_reward_choices_are_the_labs_rewards():
    choices = {a.dest: tuple(a.choices) for a in train_variant.build_parser()._actions if a.choices}
    assert choices["reward"] == objectives.REWARDS


@pytest.mark.parametrize("flag,value,fragment", [("--soft_f1_tau", "-0.3", "a number > 0")])
def test_lab_flags_out_of_range_are_one_line(flag, value, fragment, capsys):
    with pytest.raises(SystemExit) as e:
        parse_args([f"{flag}={value}"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0] and fragment in lines[0], err


def test_no_rope_builds_a_head_without_rotations(tiny_encoder_dir, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--head_size", "15"])
    assert "--head_size must be even" in capsys.readouterr().err
    config = parse_args(["--model_name_or_path", tiny_encoder_dir, "--head_size", "16", "--no_rope"])
    assert config.model.no_rope and config.model.head_size == 16
    model, _ = objectives.lab_model_fn(config)
    assert not model.head.use_rope and not model.config.use_rope  # the saved folder says so too


def test_compound_objective_and_expected_f1_decoding_run_end_to_end(tiny_encoder_dir, tmp_path):
    """--aux_start_end_weight adds the start/end cross-entropy of the span_bias terms (logged, finite), the soft-F1
    reward ramps in, and evaluation decodes by expected F1; the answers are still cut from the passage;
    --attention_dropout reaches the saved encoder config (gp_mrc_lab's objective pieces, through the lab's entry)."""
    data = write_toy_data(tmp_path / "toy.jsonl", n=16)
    out = tmp_path / "run"
    flags = (
        "--per_device_train_batch_size 8 --max_train_steps 6 --learning_rate 1e-3"
        " --span_bias --aux_start_end_weight 0.5 --objective mixed --mixed_weight 1"
        " --reward soft_f1 --warm_start_steps 2 --reward_ramp_steps 2"
        " --decoding expected_f1 --logging_steps 1 --attention_dropout 0"
    )
    results = train(parse_args(tiny_train_args(tiny_encoder_dir, data, out, flags, validate=True)))
    assert json.load(open(out / "config.json"))["encoder"]["attention_probs_dropout_prob"] == 0.0
    log = [json.loads(line) for line in open(out / "train_log.jsonl")]
    assert [r["objective"] for r in log] == ["softmax"] * 2 + ["mixed"] * 4  # the default gold-span loss
    assert all(r["aux_start_end"] > 0 for r in log)
    assert {"exact_match", "f1"} <= set(results)
    nbest = json.load(open(out / "nbest_predictions.json"))
    preds = json.load(open(out / "predictions.json"))
    ctx = {json.loads(line)["id"]: json.loads(line)["context"] for line in open(data)}
    for qid, entries in nbest.items():  # the Reader's answer format (inference/nbest_file.py), plus log_prob
        assert preds[qid] in [e["answer"] for e in entries]
        assert all(ctx[qid][e["start"] : e["end"]] == e["answer"] for e in entries)
        assert all(e["score"] == pytest.approx(math.exp(e["log_prob"])) for e in entries)
        if len(entries) > 1:
            assert preds[qid] == max(entries, key=lambda e: e["expected_f1"])["answer"]


def test_aux_start_end_needs_span_bias(tiny_encoder_dir, tmp_path, capsys):
    data = write_toy_data(tmp_path / "toy.jsonl", n=4)
    with pytest.raises(SystemExit) as e:
        parse_args(
            ["--model_name_or_path", tiny_encoder_dir, "--train_file", data, "--output_dir", str(tmp_path / "r")]
            + "--no-span_bias --aux_start_end_weight 1".split()
        )
    assert e.value.code == 2
    assert (
        "--aux_start_end_weight needs the GlobalPointer's start/end terms: add --span_bias" in capsys.readouterr().err
    )
