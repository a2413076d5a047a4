"""Every default is written once (issue #25): each setting is a field of one configuration part (type, default,
help), the command lines are built from the fields, and no other default literal of those settings is left in
gp_mrc/; train.py is the product's command line (the research flags are gp_mrc_lab's). Issue #34: every command's
parser is built from parts, a flag two commands share (--mixed_precision, --backend, --device, --batch_size) is one
field, and a default that depends on the architecture is written on its field."""

from __future__ import annotations

import ast
import dataclasses
import os
import subprocess
import sys
from collections import defaultdict

import pytest

from gp_mrc.flags import FLAG, architecture_defaults, flag_fields, parser_default, part_from
from gp_mrc.inference import command as predict_command
from gp_mrc.inference import evaluate_command
from gp_mrc.rewards import command as rewards_command
from gp_mrc.serving import command as serve_command
from gp_mrc.settings import InferenceSettings, Precision, Runtime
from gp_mrc.training import arguments
from gp_mrc.training.config import PARTS, TrainConfig
from gp_mrc.training.objective import ObjectiveConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fields_by_name(parts: dict) -> dict[str, dataclasses.Field]:
    out: dict[str, dataclasses.Field] = {}
    for part in parts.values():
        for f in flag_fields(part):
            assert f.name not in out, f"{f.name} is a field of two parts"
            out[f.name] = f
    return out


@pytest.mark.parametrize(
    "parser,parts,research",
    [(arguments.build_parser(), PARTS, False)],
    ids=["train.py"],  # the lab's parser (train.py's and the research flags): gp_mrc_lab/tests/test_train_variant.py
)
def test_parser_defaults_are_the_fields_defaults(parser, parts, research):
    """Each flag is one field; its parser default is the field's, or None where it depends on something else
    (then the help says on what)."""
    fields = fields_by_name(parts)
    actions = {a.dest: a for a in parser._actions if a.dest != "help"}
    research_flags = {name for name, f in fields.items() if f.metadata[FLAG]["research"]}
    assert set(actions) == (set(fields) if research else set(fields) - research_flags)
    depends = []
    for name, action in actions.items():
        f = fields[name]
        assert action.default == parser_default(f), name
        if f.metadata[FLAG]["depends"]:
            depends.append(name)
            assert action.default is None and "default: " in action.help, name
        else:
            assert action.default == f.default, name
            if f.default is not None and not isinstance(f.default, bool):  # the help says the default
                assert action.help.endswith(f"default: {f.default}"), name
    assert sorted(depends) == [
        "architecture",
        "decoding",
        "learning_rate",
        "max_seq_length",
        "model_name_or_path",
        "negative_passages",
        "num_train_epochs",
        "objective",
        "train_file",
        "validation_file",
    ]


def test_a_resolved_run_takes_every_other_default_from_the_fields(tiny_encoder_dir, tmp_path):
    """Off the built-in sample, with a fresh encoder: the configuration equals the parts built from their own
    defaults, but for what was named and the GlobalPointer's decoding (the field's by_architecture)."""
    train_file = os.path.join(ROOT, "data", "sample_train.json")
    config = arguments.parse_args(
        ["--model_name_or_path", tiny_encoder_dir, "--train_file", train_file, "--output_dir", str(tmp_path)]
    )
    expected = TrainConfig(**{name: part() for name, part in PARTS.items()})
    expected = dataclasses.replace(
        expected,
        data=dataclasses.replace(expected.data, model_name_or_path=tiny_encoder_dir, train_file=(train_file,)),
        inference=expected.inference.replace(decoding="expected_f1"),
        run=dataclasses.replace(expected.run, output_dir=str(tmp_path)),
    )
    assert config == expected
    assert InferenceSettings().decoding == "argmax"  # a folder without settings: the start/end default
    start_end = arguments.parse_args(
        ["--model_name_or_path", tiny_encoder_dir, "--train_file", train_file, "--architecture", "start_end"]
    )
    assert (start_end.objective.objective, start_end.inference.decoding) == ("multilabel", "argmax")


def test_a_default_by_architecture_is_written_on_its_field():
    """The GlobalPointer's decoding (expected_f1) and start/end's objective (multilabel) are their fields', as the
    help says; training's resolver holds no table of its own."""
    assert architecture_defaults(InferenceSettings, "globalpointer") == {"decoding": "expected_f1"}
    assert architecture_defaults(InferenceSettings, "start_end") == {}
    assert architecture_defaults(ObjectiveConfig, "start_end") == {"objective": "multilabel"}
    assert architecture_defaults(ObjectiveConfig, "globalpointer") == {}
    assert not hasattr(arguments, "BY_ARCHITECTURE")
    helps = {a.dest: a.help for a in arguments.build_parser()._actions}
    assert helps["decoding"].endswith(
        "default: expected_f1 for GlobalPointer (its span softmax is a distribution over answers), argmax for "
        "start/end (its n-best scores are not)"
    )
    assert (
        "default: mixed for GlobalPointer (the study's best, BENCHMARKS.md), multilabel for start/end"
        in (helps["objective"])
    )
    source = open(os.path.join(ROOT, "gp_mrc", "training", "arguments.py"), encoding="utf-8").read()
    assert '"expected_f1"' not in source and '"multilabel"' not in source.split("def resolve", 1)[0]


SHARED = ("mixed_precision", "backend", "device", "batch_size")


def flag_declarations(root: str, names: tuple[str, ...]) -> dict[str, list[str]]:
    """{flag: ["path:line", ...]}: every field `name: T = setting(...)` and every add_argument("--name") in `root`."""
    found: dict[str, list[str]] = defaultdict(list)
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            where = os.path.relpath(path, ROOT)
            for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
                if (
                    isinstance(node, ast.AnnAssign)
                    and isinstance(node.target, ast.Name)
                    and isinstance(node.value, ast.Call)
                    and getattr(node.value.func, "id", "") == "setting"
                ):
                    flag = node.target.id
                elif (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "attr", "") == "add_argument"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    flag = str(node.args[0].value).removeprefix("--")
                else:
                    continue
                if flag in names:
                    found[flag].append(f"{where}:{node.lineno}")
    return found


def test_each_shared_flag_is_one_field_that_every_command_offers_alike():
    """--mixed_precision (train, predict, serve), --backend, --device, --batch_size (predict, serve): each is
    declared once in gp_mrc/ (a field of settings.Runtime, whose Precision training's RunConfig inherits), and
    every parser that offers it has the same flag: type, choices, default and help."""
    found = flag_declarations(os.path.join(ROOT, "gp_mrc"), SHARED)
    assert {flag: [p.split(":")[0] for p in places] for flag, places in found.items()} == {
        flag: ["gp_mrc/settings.py"] for flag in SHARED
    }
    field = {f.name: f for f in flag_fields(Runtime)}
    assert field["mixed_precision"] is {f.name: f for f in flag_fields(Precision)}["mixed_precision"]
    assert field["mixed_precision"] is {f.name: f for f in flag_fields(PARTS["run"])}["mixed_precision"]
    parsers = {
        "train": arguments.build_parser(),
        "predict": predict_command.build_parser(),
        "serve": serve_command.build_parser(),
    }
    offered = {}
    for command, parser in parsers.items():
        for a in parser._actions:
            if a.dest in SHARED:
                offered.setdefault(a.dest, {})[command] = (a.option_strings, a.type, a.choices, a.default, a.help)
    assert sorted(offered["mixed_precision"]) == ["predict", "serve", "train"]
    for flag in SHARED:
        assert len(set(map(repr, offered[flag].values()))) == 1, flag
        assert set(offered[flag]) >= {"predict", "serve"}
        (strings, kind, choices, default, help_text) = offered[flag]["serve"]
        assert default == parser_default(field[flag]) and help_text.startswith(field[flag].metadata[FLAG]["help"])
    assert offered["mixed_precision"]["train"][2] == ("auto", "no", "fp16", "bf16")


def test_every_command_builds_its_parser_from_parts():
    """train, predict, evaluate, serve, export, precompute_f1 and check_rewards: each flag of theirs is a field (the
    positional operands of export, and predict's --handle_impossible_answer, which words a field, excepted)."""
    from gp_mrc.inference import export_command

    fields = {
        f.name
        for part in (
            *PARTS.values(),
            Runtime,
            *(p for p in vars(predict_command).values() if isinstance(p, type) and dataclasses.is_dataclass(p)),
            *(p for p in vars(evaluate_command).values() if isinstance(p, type) and dataclasses.is_dataclass(p)),
            serve_command.Server,
            *(p for p in vars(serve_command).values() if isinstance(p, type) and dataclasses.is_dataclass(p)),
            export_command.ExportOptions,
            rewards_command.RewardData,
            rewards_command.PrecomputeOptions,
            rewards_command.CheckOptions,
        )
        for f in flag_fields(part)
    }
    parsers = [
        arguments.build_parser(),
        predict_command.build_parser(),
        serve_command.build_parser(),
        export_command.build_parser(),
        rewards_command.build_parser("precompute", rewards_command.PrecomputeOptions),
        rewards_command.build_parser("check", rewards_command.CheckOptions),
    ]
    flags = {a.dest for p in parsers for a in p._actions if a.option_strings and a.dest != "help"}
    assert flags - fields == {"handle_impossible_answer"}


def test_a_part_is_built_from_flag_values():
    assert part_from(Runtime, {"batch_size": 8, "device": None}) == Runtime(batch_size=8)
    args = serve_command.build_parser().parse_args(["--model", "m", "--mixed_precision", "no", "--backend", "torch"])
    assert part_from(Runtime, args) == Runtime(mixed_precision="no", backend="torch")


def test_predict_takes_every_inference_setting_from_its_field():
    """predict.py's inference settings: the fields' types, choices and help, default None (the folder's)."""
    from gp_mrc.inference.command import build_parser

    actions = {a.dest: a for a in build_parser()._actions}
    for f in flag_fields(InferenceSettings):
        if isinstance(f.default, bool):  # version_2_with_negative: worded as --handle_impossible_answer
            assert actions["handle_impossible_answer"].default is None
            continue
        keywords = f.metadata[FLAG]["argparse"]
        action = actions[f.name]
        assert action.default is None and action.help == f.metadata[FLAG]["help"], f.name
        assert (action.type, action.choices) == (keywords.get("type"), keywords.get("choices")), f.name


def _literal(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is not None


def default_literals(root: str, names: set[str]) -> dict[str, list[str]]:
    """{setting: ["path:line value", ...]} for every literal default given to a setting's name in `root`: a class
    field (`name: T = value` or `= setting(value, ...)`), a function's keyword default, a parser's default=."""
    found: dict[str, list[str]] = defaultdict(list)
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            where = os.path.relpath(path, ROOT)
            for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
                pairs: list[tuple[str, ast.AST | None]] = []
                if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    value = node.value
                    if isinstance(value, ast.Call) and getattr(value.func, "id", "") == "setting" and value.args:
                        value = value.args[0]
                    pairs.append((node.target.id, value))
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    a = node.args
                    positional = a.posonlyargs + a.args
                    pairs += [
                        (arg.arg, d) for arg, d in zip(positional[len(positional) - len(a.defaults) :], a.defaults)
                    ]
                    pairs += [(arg.arg, d) for arg, d in zip(a.kwonlyargs, a.kw_defaults)]
                elif (
                    isinstance(node, ast.Call)
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and str(node.args[0].value).startswith("--")
                ):
                    pairs += [(node.args[0].value[2:], k.value) for k in node.keywords if k.arg == "default"]
                for setting, value in pairs:
                    if setting in names and _literal(value):
                        found[setting].append(f"{where}:{value.lineno} {value.value!r}")
    return found


# Literal defaults of a configuration field's name that are not a second copy of that setting, and why.
NOT_A_COPY = {
    "lang": ("gp_mrc/settings.py", "gp_mrc/rewards/command.py"),  # a folder's metric language ("en") is another
    # setting than training's --lang ("auto": detect), which precompute_f1.py repeats (a lower stage: no import)
    "seed": ("gp_mrc/rewards/",),  # check_rewards.py's sampling seed, not training's
    "span_bias": ("gp_mrc/models/configuration.py",),  # what a head config that does not say has (False); a
    # fresh head in training takes training's own default (True)
    "entropy_lambda": ("gp_mrc/training/losses.py",),  # the pure loss function's neutral 0
}


def test_each_default_literal_is_written_once():
    names = set(fields_by_name(PARTS)) | {
        "head_size",
        "use_rope",
        "rope_base",
        "span_bias",
        "max_answer_length",
        "n_best_size",
    }
    found = default_literals(os.path.join(ROOT, "gp_mrc"), names)
    copies = {}
    for setting, places in found.items():
        kept = [p for p in places if not p.startswith(NOT_A_COPY.get(setting, ()))]
        if len(kept) > 1:
            copies[setting] = kept
    assert not copies
    # the scan sees what it should: the field holds the one literal ...
    assert [p.split(":")[0] + " " + p.split()[-1] for p in found["doc_stride"]] == ["gp_mrc/settings.py 128"]
    assert default_literals(os.path.join(ROOT, "tests"), {"head_size"})  # (a scan that can find something)
    # ... or names the one constant: the head size of training, a head config and a folder's config
    from gp_mrc.models.configuration import GlobalPointerConfig, HeadConfig
    from gp_mrc.settings import HEAD_SIZE

    assert "head_size" not in found
    assert PARTS["model"].head_size == HeadConfig.head_size == GlobalPointerConfig().head_size == HEAD_SIZE


def test_train_help_is_the_product_command_line():
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "train.py"), "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        check=True,
    ).stdout
    flags = {a.option_strings[-1] for a in arguments.build_parser()._actions}
    assert len(flags) <= 45
    assert all(flag in out for flag in flags)
    for flag in (
        "--objective",
        "--entropy_lambda",
        "--warm_start_steps",
        "--reward_weight",
        "--decoding",
        "--architecture",
    ):
        assert flag in flags
    for research in ("--span_bias", "--attention_dropout", "--warm_start_loss", "--mixed_weight", "--head_size"):
        assert research not in out


def test_the_rejected_variants_left_the_product():
    """--reward soft_f1, --multilabel_offset, --aux_start_end_weight, --no_rope, --keep_optimizer_state: only
    gp_mrc_lab/objectives.py knows them (the model keeps use_rope in its config, for its folders)."""
    words = ("soft_f1", "multilabel_offset", "aux_start_end", "no_rope", "keep_optimizer_state")
    hits = []
    for folder, _, files in os.walk(os.path.join(ROOT, "gp_mrc")):
        for name in files:
            if name.endswith(".py"):
                text = open(os.path.join(folder, name), encoding="utf-8").read()
                hits += [f"{name}: {w}" for w in words if w in text]
    assert not hits
    lab = open(os.path.join(ROOT, "gp_mrc_lab", "objectives.py"), encoding="utf-8").read()
    assert all(w in lab for w in words)
