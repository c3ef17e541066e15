"""The package's shape, checked from its source: what the design promises (issue 11).

* the import graph has no cycle, lazy imports included;
* the faces (CLI, batch, service, eval) sit on top: no other module imports them;
* only the backends tell an embedded model from a provider's (``is_local``), and only
  they build model clients;
* no function is longer than 60 lines or takes more than 8 parameters.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "summarizer"

# Modules a person or a program talks to; they parse, call ``app.Summarizer``, render.
FACES = {"cli", "cli_options", "server", "batch", "evaluation.suite"}
FACE_PREFIXES = ("server_", "batch_")
# The modules that know what kind of model they serve.
BACKENDS = {"backends", "models", "local", "client", "bundled", "estimate"}
CLIENT_CLASSES = {"LiteLLMClient", "LocalClient", "EstimatingClient"}

MAX_LINES = 60
MAX_PARAMETERS = 8


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        found[name.removesuffix(".__init__") or "__init__"] = ast.parse(path.read_text())
    return found


MODULES = _modules()


def _is_face(name: str) -> bool:
    return name in FACES or name.startswith(FACE_PREFIXES)


def _imports(tree: ast.Module) -> set[str]:
    """Package modules ``tree`` imports, at any depth (lazy imports count)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("summarizer")
        ):
            if node.module == "summarizer":
                found |= {alias.name for alias in node.names if alias.name in MODULES}
            else:
                found.add(node.module.removeprefix("summarizer."))
        elif isinstance(node, ast.Import):
            found |= {
                a.name.removeprefix("summarizer.")
                for a in node.names
                if a.name.startswith("summarizer.")
            }
    return {name for name in found if name in MODULES}


GRAPH = {name: _imports(tree) - {name} for name, tree in MODULES.items()}


def test_the_import_graph_has_no_cycle() -> None:
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(GRAPH[name]):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_nothing_below_the_faces_imports_a_face() -> None:
    offenders = {
        (module, target)
        for module, targets in GRAPH.items()
        if not _is_face(module)
        for target in targets
        if _is_face(target)
    }
    assert offenders == set()


def _names(tree: ast.Module) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            yield node.attr, node.lineno
        elif isinstance(node, ast.Name):
            yield node.id, node.lineno
        elif isinstance(node, ast.alias):
            yield node.name.rsplit(".", 1)[-1], 0


def test_only_the_backends_ask_whether_a_model_is_local() -> None:
    askers = {
        f"{module}:{line}"
        for module, tree in MODULES.items()
        if module not in BACKENDS
        for name, line in _names(tree)
        if name in ("is_local", "local_name")
    }
    assert askers == set()


def test_no_face_builds_a_model_client() -> None:
    builders = {
        f"{module}:{line} {name}"
        for module, tree in MODULES.items()
        if _is_face(module) or module in ("app", "pipeline", "cache")
        for name, line in _names(tree)
        if name in CLIENT_CLASSES
    }
    assert builders == set()


def _functions() -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for module, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield module, node


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    arguments = node.args
    named = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    count = len([a for a in named if a.arg not in ("self", "cls")])
    return count + (arguments.vararg is not None) + (arguments.kwarg is not None)


@pytest.mark.parametrize("limit", ["lines", "parameters"])
def test_functions_are_short_and_take_few_parameters(limit: str) -> None:
    too_big = []
    for module, node in _functions():
        size = (
            (node.end_lineno or node.lineno) - node.lineno + 1
            if limit == "lines"
            else _parameters(node)
        )
        if size > (MAX_LINES if limit == "lines" else MAX_PARAMETERS):
            too_big.append(f"{module}.{node.name}: {size} {limit}")
    assert too_big == []
