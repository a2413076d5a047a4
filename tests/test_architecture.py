"""The package's shape (issue 19): no import cycle among gp_mrc's modules and no import back up its stages
(serving, training, inference, models, rewards, data, the leaves, metrics), short functions and modules, and the
argparse Namespace read only where arguments become configurations. Read from the source with `ast` (nothing is
imported), so it runs in milliseconds."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "gp_mrc")
MAX_FUNCTION_LINES, MAX_MODULE_LINES = 60, 300
# The training recipe reads top to bottom in one file, as nanoGPT's train.py or a torchtune recipe (issue 34): its
# module and its loop function (`train`: setup → epochs → the step) have caps of their own, rather than being split
# by line count. Nothing else is exempt.
RECIPE = "gp_mrc/training/loop.py"
LONGER_MODULES = {RECIPE: 400}
LONGER_FUNCTIONS = {f"{RECIPE}.train": 120}
# where command-line arguments become configurations: the only modules that read an argparse Namespace
# where flags become configurations: training's parser, and the predict / serve commands (their flags become the
# Reader's settings and the service's limits, once, in main)
ARGUMENT_READERS = {
    "gp_mrc/training/arguments.py",
    "gp_mrc/training/config.py",
    "gp_mrc/inference/command.py",
    "gp_mrc/inference/evaluate_command.py",
    "gp_mrc/serving/command.py",
    "gp_mrc/inference/export_command.py",
    "gp_mrc/rewards/command.py",
    "gp_mrc/models/convert_command.py",
}


def modules() -> dict[str, str]:
    """{dotted module name: file path} of every module under gp_mrc/."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[rel.removesuffix(".__init__")] = path
    return found


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[: len(base) - node.level + 1]
        stem = ".".join(base + ([node.module] if node.module else []))
    else:
        stem = node.module or ""
    return [stem] + [f"{stem}.{a.name}" for a in node.names]


def import_graph() -> dict[str, set[str]]:
    """module → the gp_mrc modules it imports (top-level and function-local imports alike)."""
    mods = modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_package = path.endswith("__init__.py")
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = _resolve(mod, is_package, node)
            for name in names:
                if name in mods and name != mod:
                    graph[mod].add(name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (a list of modules, first = last), or None. The edge from a module to its own package's
    __init__ is left out: `from . import x` names the package, but only x is loaded."""
    edges = {m: {t for t in ts if t != m.rsplit(".", 1)[0]} for m, ts in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                return stack[stack.index(t) :] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycle() -> None:
    assert find_cycle(import_graph()) is None


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


# The stages, top to bottom: a module imports only from its own stage or the stages below it. The package root
# (its public names load lazily by name) and cli.py (the console command over training, inference and serving)
# stand above them all; the top-level modules not named here are the shared leaves at the bottom.
LAYERS = ("serving", "training", "inference", "models", "rewards", "data", "leaves", "metrics")


def layer(module: str) -> str | None:
    """The stage of a gp_mrc module (None: the package root and cli.py, above every stage)."""
    parts = module.split(".")
    if module in ("gp_mrc", "gp_mrc.cli"):
        return None
    if len(parts) > 2 or parts[1] in LAYERS:
        return parts[1]
    return "leaves"


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports that run back up the stages: from a module to one of a stage above its own."""
    rank = {name: n for n, name in enumerate(LAYERS)}
    found = []
    for mod, targets in graph.items():
        if layer(mod) is None:
            continue
        for t in sorted(targets):
            if layer(t) is None or rank[layer(t)] < rank[layer(mod)]:
                found.append(f"{mod} -> {t}")
    return found


def test_imports_run_down_the_stages() -> None:
    assert not upward_imports(import_graph())


def test_the_library_never_imports_the_lab() -> None:
    """gp_mrc_lab (the study and benchmarks) sits on top of gp_mrc; nothing in gp_mrc imports it."""
    offenders = []
    for mod, path in modules().items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            offenders += [f"{mod} imports {n}" for n in names if n.split(".")[0] == "gp_mrc_lab"]
    assert not offenders, offenders


def test_the_lab_can_be_put_out_of_reach() -> None:
    """GP_MRC_WITHOUT_LAB=1 (.ci/run runs the product's tests so): no process imports gp_mrc_lab, not even one
    started from the repository root with it on PYTHONPATH, as a test's scripts are."""
    env = dict(os.environ, PYTHONPATH=ROOT, GP_MRC_WITHOUT_LAB="1")
    code = "import gp_mrc, gp_mrc_lab.train_variant"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("ModuleNotFoundError: No module named 'gp_mrc_lab'")


def test_upward_imports_are_found() -> None:
    assert upward_imports(
        {"gp_mrc.data.features": {"gp_mrc.training.loop", "gp_mrc.settings"}, "gp_mrc.settings": {"gp_mrc.metrics"}}
    ) == ["gp_mrc.data.features -> gp_mrc.training.loop"]
    assert layer("gp_mrc.models.modeling") == "models" and layer("gp_mrc.band") == "leaves"


# Imports sit at the top of a module, where the import graph shows them; a function imports gp_mrc's own modules
# only at the command-line edges, which keep `--help` and `import gp_mrc` free of torch by loading the stages once
# the arguments are read. (Heavy optional third-party packages — onnxruntime, fastapi, matplotlib — are not gp_mrc
# modules and are not checked here.)
LOCAL_IMPORT_EDGES = {
    "gp_mrc/__init__.py": "the public names load lazily by name, so `import gp_mrc` stays free of torch",
    "gp_mrc/cli.py": "the `gp-mrc` console command: each subcommand loads its stage only when it is run",
    "gp_mrc/inference/command.py": "predict's entry point: --help and bad flags before torch loads",
    "gp_mrc/inference/evaluate_command.py": "evaluate's entry point: --help, bad flags and a file without answers "
    "before torch loads",
    "gp_mrc/inference/export_command.py": "export's entry point: --help and bad flags before torch loads",
    "gp_mrc/models/convert_command.py": "convert's entry point: runs without torch or transformers at all",
    "gp_mrc/rewards/command.py": "precompute_f1's and check_rewards' entry point: --help before the data loads",
    "gp_mrc/serving/command.py": "serve's entry point: --help and bad flags before torch and fastapi load",
}


def local_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """ "function: module" for each import of a gp_mrc module inside a function (or method) of `source`."""
    found = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [_resolve(module, is_package, node)[0]]
            else:
                continue
            found += [f"{fn.name}: {n}" for n in names if n.split(".")[0] == "gp_mrc"]
    return sorted(set(found))


def test_functions_import_gp_mrc_only_at_the_edges() -> None:
    offenders, stale = [], []
    for mod, path in modules().items():
        rel = os.path.relpath(path, ROOT).replace(os.sep, "/")
        with open(path, encoding="utf-8") as f:
            found = local_imports(f.read(), mod, path.endswith("__init__.py"))
        if found and rel not in LOCAL_IMPORT_EDGES:
            offenders += [f"{rel}: {x}" for x in found]
        if not found and rel in LOCAL_IMPORT_EDGES:
            stale.append(rel)
    assert not offenders, f"move these imports to the top of their module: {offenders}"
    assert not stale, f"no import inside a function any more: take them off LOCAL_IMPORT_EDGES: {stale}"


def test_local_imports_are_found() -> None:
    source = (
        "import os\nfrom .b import c\n"
        "def f():\n    from .data import features\n    import numpy\n"
        "class A:\n    def g(self):\n        from gp_mrc.metrics import scoring\n        from ..x import y\n"
    )
    assert local_imports(source, "gp_mrc.training.a") == [
        "f: gp_mrc.training.data",
        "g: gp_mrc.metrics",
        "g: gp_mrc.x",
    ]


def _functions(path: str) -> list[tuple[str, int]]:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    return [
        (n.name, n.end_lineno - n.lineno + 1)
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def python_files(folder: str) -> dict[str, str]:
    """{name relative to the root: path} of every .py file under ROOT/folder (tests/ folders left out)."""
    found = {}
    for sub, dirs, files in os.walk(os.path.join(ROOT, folder)):
        dirs[:] = [d for d in dirs if d != "tests"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(sub, name)
                found[os.path.relpath(path, ROOT)] = path
    return found


@pytest.mark.parametrize("folder", ["gp_mrc", "gp_mrc_lab", "scripts"])
def test_functions_and_modules_are_short(folder: str) -> None:
    long_functions, long_modules = [], []
    for mod, path in python_files(folder).items():
        mod = mod.replace(os.sep, "/")
        long_functions += [
            f"{mod}.{name}: {n} lines"
            for name, n in _functions(path)
            if n > LONGER_FUNCTIONS.get(f"{mod}.{name}", MAX_FUNCTION_LINES)
        ]
        with open(path, encoding="utf-8") as f:
            n_lines = sum(1 for _ in f)
        if n_lines > LONGER_MODULES.get(mod, MAX_MODULE_LINES):
            long_modules.append(f"{mod}: {n_lines} lines")
    assert not long_functions, long_functions
    assert not long_modules, long_modules


def test_namespace_read_only_where_arguments_become_configurations() -> None:
    readers = []
    for path in modules().values():
        rel = os.path.relpath(path, ROOT).replace(os.sep, "/")
        with open(path, encoding="utf-8") as f:
            if re.search(r"\bargs\.", f.read()) and rel not in ARGUMENT_READERS:
                readers.append(rel)
    assert not readers, readers


@pytest.mark.parametrize("name", ["noqa: F401"])
def test_no_reexports_kept_for_tests(name: str) -> None:
    offenders = []
    for path in modules().values():
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if name in line and "for tests" in line:
                    offenders.append(f"{os.path.relpath(path, ROOT)}:{n}")
    assert not offenders, offenders
