"""Layers point down: no import circle among the modules of rlvr/ and rewards/ (module-level imports), and the
verifiers never import the framework."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

PACKAGES = ("rlvr", "rewards")


def module_imports() -> dict[str, set[str]]:
    """Each module's module-level imports of our own modules (a lazy import inside a function is not a layer
    edge: it is how a lower layer calls an optional upper one, e.g. a CLI command)."""
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            deps: set[str] = set()
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
                    deps.add(node.module)
                    deps |= {f"{node.module}.{a.name}" for a in node.names}  # `from pkg import module`
                elif isinstance(node, ast.Import):
                    deps |= {a.name for a in node.names if a.name.split(".")[0] in PACKAGES}
            graph[name] = deps
    return {name: {d for d in deps if d in graph} for name, deps in graph.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_circle():
    assert cycles(module_imports()) == []


def test_the_cycle_finder_finds_a_planted_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_rewards_never_import_the_framework():
    graph = module_imports()
    leaks = {m: sorted(d for d in deps if d.startswith("rlvr")) for m, deps in graph.items() if m.startswith("rewards")}
    assert {m: d for m, d in leaks.items() if d} == {}
