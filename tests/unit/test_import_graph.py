"""Imports flow one way, api -> workers -> knowledge -> nlp, with no circle; evals may import
anything, and only the CLI's evaluation commands import evals. Function-level imports count."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "workers", "knowledge", "nlp", "evals")
LAYERS = ("api", "workers", "knowledge", "nlp")  # each may import the ones after it
EVALS_IMPORTERS = {"api.eval_cli"}  # `visitlens eval|tune|figures|bench`: evals/ when present


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    _module_name(path): path
    for package in PACKAGES
    for path in sorted((ROOT / package).rglob("*.py"))
}


def _resolve(name: str) -> str:
    """The module a dotted name lives in: itself, or the closest package above it."""
    while name not in MODULES and "." in name:
        name = name.rpartition(".")[0]
    return name


def _imported_names(module: str, path: Path) -> set[str]:
    """Every first-party name the module imports, anywhere in it."""
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                above = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{above}.{base}" if base else above
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {n for n in names if n.split(".")[0] in PACKAGES}


def _imports(module: str) -> set[str]:
    return {_resolve(n) for n in _imported_names(module, MODULES[module])} - {module}


GRAPH = {module: _imports(module) for module in MODULES}


def _layer(module: str) -> str:
    return module.split(".")[0]


def test_the_graph_covers_every_layer() -> None:
    assert {_layer(m) for m in GRAPH} == set(PACKAGES)
    assert "workers.celery_app" in GRAPH["api.app"]


@pytest.mark.parametrize("importer", LAYERS)
def test_imports_flow_from_api_to_workers_to_knowledge_to_nlp(importer: str) -> None:
    above = set(LAYERS[: LAYERS.index(importer)])
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _layer(module) == importer
        for target in targets
        if _layer(target) in above
    )
    assert wrong == []


def test_only_the_evaluation_commands_import_evals() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _layer(module) != "evals" and module not in EVALS_IMPORTERS
        for target in targets
        if _layer(target) == "evals"
    )
    assert wrong == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_import_circle() -> None:
    assert _cycles(GRAPH) == []


def test_a_circle_would_be_found() -> None:
    circled = GRAPH | {"nlp.audio": GRAPH["nlp.audio"] | {"nlp.asr_language"}}
    assert _cycles(circled) == [["nlp.asr_language", "nlp.audio"]]
