"""README.md and the guide (docs/*.md) held to the code.

* Every command they show, `python scripts/X.py --flag ...` or `gp-mrc X --flag ...` (in code blocks and inline
  code), names flags that X's parser has (the parsers are gp_mrc's own build_parser functions), and a value given to
  a flag with choices is one of them. Commands of the lab's scripts (a script that imports gp_mrc_lab) are the lab's
  business and skipped here.
* Every shown output is what the code writes, field for field: a block marked `<!-- output -->` after a bash block
  is the output of that block's last command (predict.py: run with the shown flags on a tiny model; curl: the shown
  body posted to the service over a tiny model), and in a python block a literal on a line of its own is the value
  of the statement before it (the block run as shown, "runs/gp_mrc" being a tiny model's folder). Values differ (a
  tiny random model), the fields and their order and types must not; a shown answer must be the context's text at
  its offsets.
* README.md stays short (at most 220 lines), its first 40 lines state the lead by budget and the reward's share
  with their seeds, and it cites no tracker numbers and no lab flag marks.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import io
import json
import os
import re
import shlex
import textwrap
from typing import Any

import pytest

from conftest import tiny_gp, tiny_train_args, write_toy_data
from gp_mrc.settings import InferenceSettings
from test_docs import TRACKER, WORK_PERIOD, headings, prose_lines, read, test_relative_links_and_anchors_resolve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
GUIDE = [os.path.join(ROOT, "docs", name) for name in ("data.md", "training.md", "prediction.md", "serving.md")]
GUIDE += [os.path.join(ROOT, "docs", "method.md")]
PAGES = [README] + GUIDE
SHOWN_MODEL = "runs/gp_mrc"  # the folder the examples answer with: the built-in default's
FENCE = re.compile(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```\n", re.M | re.S)  # list items indent theirs
OUTPUT_MARK = "<!-- output -->"


# ------------------------------------------------------------------------------------------------- the documents
def blocks(text: str) -> list[tuple[str, str, int]]:
    """(language, body, start offset) of each fenced code block."""
    return [(m.group(1), textwrap.dedent(m.group(2)), m.start()) for m in FENCE.finditer(text)]


def strip_comments(script: str) -> str:
    """Shell comments removed (a `#` that starts a word, outside quotes); quotes may span lines."""
    out, quote, i = [], None, 0
    while i < len(script):
        ch = script[i]
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or script[i - 1] in " \t\n"):
            while i < len(script) and script[i] != "\n":
                i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a shell snippet, as argv lists (continuations joined; split at newlines, ;, &&, |)."""
    lexer = shlex.shlex(strip_comments(script).replace("\\\n", " "), posix=True, punctuation_chars=";&|\n")
    lexer.whitespace, lexer.whitespace_split, lexer.commenters = " \t\r", True, ""
    commands, current = [], []
    for token in lexer:
        if token and set(token) <= set(";&|\n"):
            commands, current = commands + [current] * bool(current), []
        else:
            current.append(token)
    return commands + [current] * bool(current)


def inline_commands(text: str) -> list[list[str]]:
    """Commands in inline code spans of the prose that name a script or gp-mrc."""
    out = []
    for _, line in prose_lines(text):
        for span in re.findall(r"`([^`]+)`", line):
            if re.search(r"\w+\.py|^gp-mrc ", span):
                with contextlib.suppress(ValueError):
                    out.extend(shell_commands(span))
    return out


def documented_commands(path: str) -> list[list[str]]:
    text = read(path)
    commands = [c for lang, body, _ in blocks(text) if lang in ("", "bash", "sh") for c in shell_commands(body)]
    return commands + inline_commands(text)


def invoked(argv: list[str]) -> tuple[str, list[str]] | None:
    """(command name, its arguments) for a gp_mrc command line (python/accelerate/torchrun scripts/X.py, gp-mrc X),
    else None."""
    for i, word in enumerate(argv):
        script = re.fullmatch(r"(?:\./)?(?:scripts/)?(\w+)\.py", word)
        if script and os.path.exists(os.path.join(ROOT, "scripts", word.split("/")[-1])):
            return script.group(1), argv[i + 1 :]
        if word == "gp-mrc" and i + 1 < len(argv):
            return ("gp-mrc", argv[i + 1 :]) if argv[i + 1].startswith("-") else (argv[i + 1], argv[i + 2 :])
    return None


def lab_script(name: str) -> bool:
    path = os.path.join(ROOT, "scripts", f"{name}.py")
    return os.path.exists(path) and "gp_mrc_lab" in read(path)


# ----------------------------------------------------------------------------------------------------- the parsers
GP_MRC_FLAGS = ("--version", "-V", "--help", "-h")  # gp-mrc's own, before a command (gp_mrc/cli.py's main)


# the module whose build_parser() is each command's (gp-mrc X and scripts/X.py share it)
PARSER_MODULES = {
    "train": "gp_mrc.training.arguments",
    "predict": "gp_mrc.inference.command",
    "evaluate": "gp_mrc.inference.evaluate_command",
    "serve": "gp_mrc.serving.command",
    "export": "gp_mrc.inference.export_command",
    "convert": "gp_mrc.models.convert_command",
}
REWARD_COMMANDS = ("precompute_f1", "check_rewards")  # scripts/X.py only: gp_mrc/rewards/command.py


def parser_of(command: str) -> argparse.ArgumentParser:
    """The parser gp_mrc builds for a command."""
    if command in REWARD_COMMANDS:
        from gp_mrc.rewards.command import CheckOptions, PrecomputeOptions, build_parser

        return build_parser(command, PrecomputeOptions if command == "precompute_f1" else CheckOptions)
    assert command in PARSER_MODULES, f"no parser known for the command {command!r}: add it to PARSER_MODULES"
    return importlib.import_module(PARSER_MODULES[command]).build_parser()


def product_commands() -> list[str]:
    from gp_mrc.cli import COMMANDS

    return list(COMMANDS) + list(REWARD_COMMANDS)


def flag_problems(command: str, args: list[str]) -> list[str]:
    """Flags the parser lacks, and values outside a flag's choices."""
    if command.isupper():
        return []  # `gp-mrc COMMAND --help`: a placeholder
    if command == "gp-mrc":
        return [f"gp-mrc: no flag {a}" for a in args if a.startswith("-") and a not in GP_MRC_FLAGS]
    actions = parser_of(command)._option_string_actions
    problems = []
    for i, word in enumerate(args):
        if not word.startswith("--"):
            continue
        flag, _, value = word.partition("=")
        action = actions.get(flag)
        if action is None:
            problems.append(f"{command}: no flag {flag}")
            continue
        if not value and action.nargs is None and i + 1 < len(args):
            value = args[i + 1]
        if action.choices and value and not value.startswith("$") and value not in action.choices:
            problems.append(f"{command} {flag}: {value!r} is not one of {list(action.choices)}")
    return problems


def test_the_command_parsing_reads_what_a_shell_would():
    script = 'python scripts/predict.py --model m \\\n  --question "a # b" # note\ncurl -d \'{\n "x": 1}\' && echo'
    assert shell_commands(script) == [
        ["python", "scripts/predict.py", "--model", "m", "--question", "a # b"],
        ["curl", "-d", '{\n "x": 1}'],
        ["echo"],
    ]
    assert invoked(["ACCELERATE_USE_CPU=true", "torchrun", "--nproc_per_node", "2", "scripts/train.py", "--cpu"]) == (
        "train",
        ["--cpu"],
    )
    assert invoked(["gp-mrc", "export", "a", "b", "--format", "onnx"]) == ("export", ["a", "b", "--format", "onnx"])
    assert flag_problems("train", ["--architecture", "start_end", "--output_dir", "x"]) == []
    assert flag_problems("train", ["--reward", "soft_f1"]) == ["train: no flag --reward"]
    assert flag_problems("predict", ["--decoding", "beam"])[0].startswith("predict --decoding: 'beam' is not one of")
    assert lab_script("study") and not lab_script("predict")
    assert (
        invoked(["gp-mrc", "--version"]) == ("gp-mrc", ["--version"]) and flag_problems("gp-mrc", ["--version"]) == []
    )
    assert names_a_lab_script("python scripts/load_test.py --mixed") and not names_a_lab_script("train.py --cpu")


def test_every_product_command_has_a_parser():
    for command in product_commands():  # gp-mrc's commands (gp_mrc/cli.py) and the reward scripts
        assert "--help" in parser_of(command)._option_string_actions, command


def test_gp_mrc_answers_its_own_flags(capsys):
    from gp_mrc.cli import main

    assert main(["--version"]) == 0 and capsys.readouterr().out.startswith("gp-mrc ")
    assert main(["--help"]) == 0 and "commands:" in capsys.readouterr().out


@pytest.mark.parametrize("path", PAGES, ids=os.path.basename)
def test_every_command_shown_has_its_flags(path):
    shown = [call for argv in documented_commands(path) if (call := invoked(argv))]
    assert shown or path != README, "README shows no gp_mrc command"
    problems = [p for command, args in shown if not lab_script(command) for p in flag_problems(command, args)]
    assert problems == []


# inline code that names another program's flags (or the lab's) is not gp_mrc's to check
OTHER_PROGRAMS = re.compile(r"accelerate|torchrun|pytest|ruff|pip |curl|setup\.sh|gpu_study|download\.py|gp_mrc_lab")


def names_a_lab_script(span: str) -> bool:
    return any(lab_script(name) for name in re.findall(r"(\w+)\.py", span))


@pytest.mark.parametrize("path", PAGES, ids=os.path.basename)
def test_every_flag_named_in_the_prose_is_a_flag_of_a_command(path):
    known = {flag for command in product_commands() for flag in parser_of(command)._option_string_actions}
    known |= set(GP_MRC_FLAGS)
    named = {
        flag
        for _, line in prose_lines(read(path))
        for span in re.findall(r"`([^`]+)`", line)
        if not OTHER_PROGRAMS.search(span) and not names_a_lab_script(span)
        for flag in re.findall(r"(?<![\w-])--\w+", span)
    }
    assert sorted(named - known) == []


# ------------------------------------------------------------------------------------------- the shown outputs
def shape(value: Any) -> Any:
    """What a JSON value's fields are, without their values: keys in order, types, list element shapes."""
    if isinstance(value, dict):
        return tuple((k, shape(v)) for k, v in value.items())
    if isinstance(value, list):
        return ("list", frozenset(shape(v) for v in value))
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, (int, float)):
        return "int" if isinstance(value, int) else "float"
    return type(value).__name__


def fits(shown: Any, actual: Any) -> bool:
    """The shown shape is the actual one; a shown list's elements are among the actual list's ([] fits any)."""
    if isinstance(shown, tuple) and shown[:1] == ("list",):
        return (
            isinstance(actual, tuple)
            and actual[:1] == ("list",)
            and all(any(fits(s, a) for a in actual[1]) for s in shown[1])
        )
    if isinstance(shown, tuple) and isinstance(actual, tuple) and len(shown) == len(actual):
        return all(ks == ka and fits(s, a) for (ks, s), (ka, a) in zip(shown, actual))
    return shown == actual


def answers_in(value: Any) -> list[dict]:
    if isinstance(value, dict):
        return ([value] if "answer" in value else []) + [a for v in value.values() for a in answers_in(v)]
    if isinstance(value, list):
        return [a for v in value for a in answers_in(v)]
    return []


def assert_fits(shown: Any, actual: Any, where: str) -> None:
    assert fits(shape(shown), shape(actual)), f"{where}: shown {shown!r}\n  the code writes {actual!r}"


def assert_offsets(shown: Any, context: str | None, where: str) -> None:
    for answer in answers_in(shown):
        if context is not None and "start" in answer and answer["answer"]:
            assert context[answer["start"] : answer["end"]] == answer["answer"], where


@pytest.fixture(scope="module")
def shown_model(tiny_tokenizer, tmp_path_factory) -> str:
    """A tiny GlobalPointer folder that decodes by expected F1, as the built-in default's model does."""
    folder = str(tmp_path_factory.mktemp("gp_mrc"))
    model = tiny_gp(tiny_tokenizer)
    model.config.inference_settings = InferenceSettings(
        max_seq_length=64, doc_stride=16, decoding="expected_f1"
    ).to_dict()
    model.save_pretrained(folder, tokenizer=tiny_tokenizer)
    return folder


def output_blocks(text: str) -> list[tuple[list[str], str]]:
    """(the command, the output block) for each block marked OUTPUT_MARK: the command is the last gp_mrc command
    (or curl) of the bash block before it."""
    found, fenced = [], blocks(text)
    for k, (lang, body, start) in enumerate(fenced):
        if text[:start].rstrip().endswith(OUTPUT_MARK):
            before = [b for lang_, b, _ in fenced[:k] if lang_ in ("bash", "sh")]
            commands = [c for c in shell_commands(before[-1]) if invoked(c) or c[0] == "curl"] if before else []
            assert commands, f"an output block must follow the bash block that prints it:\n{body}"
            found.append((commands[-1], body))
    return found


def shown_values(body: str) -> list[Any]:
    """The JSON values an output block shows (one per line; a log line's JSON after its message). `??` marks a
    figure still to be measured (a number)."""
    values = []
    for line in body.splitlines():
        start = min((i for i in (line.find("{"), line.find("[")) if i >= 0), default=-1)
        if start >= 0:
            values.append(json.loads(line[start:].replace("??", "0.0")))
    return values


def run_predict(args: list[str], model: str) -> tuple[list[Any], str]:
    """predict.py's printed answers for the shown arguments (the shown model: the tiny one), and the context."""
    from gp_mrc.inference.command import main

    args = [model if a == SHOWN_MODEL else a for a in args]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(args) in (0, None)
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()], args[args.index("--context") + 1]


def run_curl(argv: list[str], model: str) -> tuple[list[Any], str | None]:
    """The service's answer to the shown body, over the shown model (the tiny one); the context if one."""
    from fastapi.testclient import TestClient

    from gp_mrc.inference.reader import Reader
    from gp_mrc.serving.app import create_app

    body = json.loads(argv[argv.index("-d") + 1])
    reader = Reader.from_pretrained(model, device="cpu", mixed_precision="no")
    with TestClient(create_app(reader, model_name="tiny")) as client:
        response = client.post("/", json=body)
        assert response.status_code == 200, response.text
        if "min_score" in body.get("parameters", {}):  # a random model's answers fall under it: ask for them all
            response = client.post("/", json={**body, "parameters": {**body["parameters"], "min_score": 0.0}})
    inputs = body["inputs"]
    return [response.json()], inputs.get("context") if isinstance(inputs, dict) else None


def run_train(tiny_encoder_dir: str, folder: str) -> tuple[list[Any], None]:
    """The final `eval results` of a training run (a tiny one: the fields are those of any run)."""
    from gp_mrc.training.arguments import parse_args
    from gp_mrc.training.loop import train

    data = write_toy_data(os.path.join(folder, "toy.jsonl"), n=8)
    flags = "--per_device_train_batch_size 8 --max_train_steps 2"
    return [
        train(parse_args(tiny_train_args(tiny_encoder_dir, data, os.path.join(folder, "run"), flags, validate=True)))
    ], None


@pytest.mark.parametrize("path", PAGES, ids=os.path.basename)
def test_every_shown_command_output_is_what_the_code_prints(path, shown_model, tiny_encoder_dir, tmp_path):
    for argv, body in output_blocks(read(path)):
        shown = shown_values(body)
        assert shown, f"{os.path.basename(path)}: an output block without a JSON value:\n{body}"
        call = invoked(argv)
        if call and call[0] == "predict":
            actual, context = run_predict(call[1], shown_model)
        elif call and call[0] == "train":
            actual, context = run_train(tiny_encoder_dir, str(tmp_path))
        elif argv[0] == "curl":
            actual, context = run_curl(argv, shown_model)
        else:
            raise AssertionError(f"no way to run {argv} to check its shown output")
        where = f"{os.path.basename(path)}: {' '.join(argv)[:80]}"
        for value in shown:
            assert_fits(value, actual[0], where)
            assert_offsets(value, context, where)


def shown_literal(statement: ast.stmt) -> Any:
    """The value a statement shows if it is a literal on its own (a shown output), else NOT_SHOWN."""
    if isinstance(statement, ast.Expr):
        with contextlib.suppress(ValueError, SyntaxError, TypeError):
            return ast.literal_eval(statement.value)
    return NOT_SHOWN


NOT_SHOWN = object()


def run_python_block(body: str, namespace: dict) -> list[tuple[str, Any, Any]]:
    """A python block run statement by statement up to its last shown value (a literal after an expression):
    [(the expression, the value shown, the value it returns)]."""
    statements = ast.parse(body).body
    shown_at = [k for k in range(1, len(statements)) if shown_literal(statements[k]) is not NOT_SHOWN]
    found, value = [], None
    for k, statement in enumerate(statements[: max(shown_at, default=-1) + 1]):
        if k in shown_at:
            before = statements[k - 1]
            assert isinstance(before, ast.Expr), f"a shown value after a statement that has none:\n{body}"
            found.append((ast.get_source_segment(body, before), shown_literal(statement), value))
        elif isinstance(statement, ast.Expr):
            value = eval(compile(ast.Expression(statement.value), "<doc>", "eval"), namespace)
        else:
            exec(compile(ast.Module([statement], []), "<doc>", "exec"), namespace)
    return found


@pytest.mark.parametrize("path", PAGES, ids=os.path.basename)
def test_every_shown_python_value_is_what_the_code_returns(path, shown_model):
    namespace: dict = {}  # one page's blocks share their names, as a reader following the page does
    for lang, body, _ in blocks(read(path)):
        if lang == "python":
            code = body.replace(f'"{SHOWN_MODEL}"', repr(shown_model))
            for statement, shown, returned in run_python_block(code, namespace):
                assert_fits(shown, returned, f"{os.path.basename(path)}: {statement[:80]}")


# --------------------------------------------------------------------------------------------------- the README
def test_readme_is_short_and_says_first_when_the_method_helps():
    lines = read(README).splitlines()
    assert len(lines) <= 220
    head = "\n".join(lines[:40])
    for figure in ("+4.1", "+1.7", "+0.3", "EM +1.2", "+0.25 F1", "27 paired runs", "+3.4 ± 2.0"):
        assert figure in head, figure
    assert head.count("3 seeds") >= 2 and "2 seeds" in head  # the budgets' seeds
    assert "independent check" in head and "no command in" in head


def test_readme_cites_no_tracker_and_no_lab_marks():
    text = read(README)
    assert [line for line in text.splitlines() if TRACKER.search(line)] == []
    assert "†" not in text and "‡" not in text
    assert "2.27" not in text  # the weak transformers-loop baseline's ratio
    assert [h for h in headings(text) if WORK_PERIOD.search(h)] == []


def test_readme_links_and_anchors_resolve():
    test_relative_links_and_anchors_resolve(README)
