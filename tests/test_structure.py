"""The package's shape: no import cycle anywhere in revisit/ (function-level imports count),
and the development tools stay out of the wheel."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "revisit"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: p for name, p in found.items() if ".migrations.versions" not in name}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The revisit modules that ``name`` imports, at any depth of its code: ``from a import
    b`` counts as ``a.b`` when that is a module, else as ``a``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as the list of its modules (first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_relative_and_function_level_imports_are_seen(tmp_path: Path) -> None:
    graph = import_graph()
    # imported inside a function (open_channel)
    assert "revisit.delivery.channels.calls" in graph["revisit.delivery.channels"]
    assert "revisit.cli.app" in graph["revisit.cli.campaigns"]


def test_no_import_cycle_in_revisit() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


@pytest.mark.slow
def test_the_wheel_holds_the_package_and_not_the_devtools(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("revisit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "revisit/cli/options.py" in names and "revisit/db/migrations/env.py" in names
    assert not [n for n in names if n.startswith(("devtools/", "tests/", "bench/", "flows/"))]
    assert not [n for n in names if "fake_twilio" in n]


# The layers, lowest first: a module imports from its own layer or below, never above.
LAYERS = [
    {"revisit", "revisit.settings", "revisit.errors", "revisit.dates",
     "revisit.yamlfiles"},
    {"revisit.db"}, {"revisit.dms"}, {"revisit.cohorts"}, {"revisit.campaigns"},
    {"revisit.rendering"}, {"revisit.delivery"},
    {"revisit.outcomes", "revisit.reports", "revisit.access"},
    {"revisit.demo"},
    {"revisit.entry"}, {"revisit.cli", "revisit.web"},
]  # fmt: skip


def layer_of(module: str) -> int:
    parts = module.split(".")
    for depth in (2, 1):
        prefix = ".".join(parts[:depth])
        for i, names in enumerate(LAYERS):
            if prefix in names:
                return i
    raise AssertionError(f"{module}: place its sub-package in LAYERS")


def test_imports_never_run_back_up_the_layers() -> None:
    upward = [
        f"{a} → {b}"
        for a, targets in sorted(import_graph().items())
        for b in sorted(targets)
        if layer_of(b) > layer_of(a)
    ]
    assert upward == []
