"""A plain AST walk over the first-party packages: every import between top-level packages, counted with the
ones inside functions, must point down the layers, and nothing may import the command line.

Run it as `python tests/check_layers.py` (exit 1 and the offending imports on failure); tests/system/test_layers.py
runs it too, next to import-linter's contracts in pyproject.toml.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Lower index = lower layer; a package may import its own layer's package and anything below, never above.
LAYERS: dict[str, int] = {"rag": 0, "ingest": 1, "api": 2, "ui": 2, "evals": 2, "policyqa": 3}
COMMAND_LINE = "policyqa"


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """(first-party top-level package, line) of every import in the file, at any depth."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found.update((n.split(".")[0], node.lineno) for n in names if n.split(".")[0] in LAYERS)
    return found


def package_graph(root: Path = REPO) -> dict[str, dict[str, list[str]]]:
    """package → imported package → ["file:line", …], for the packages under root."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for package in LAYERS:
        for path in sorted((root / package).rglob("*.py")):
            for target, line in imported_packages(path):
                if target != package:
                    graph[package][target].append(f"{path.relative_to(root)}:{line}")
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Every cycle between top-level packages (as package paths), found by depth-first search."""
    found: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        for nxt in graph.get(node, {}):
            if nxt == path[0]:
                found.append([*path, nxt])
            elif nxt not in path and nxt > path[0]:  # each cycle once, from its smallest package
                walk(nxt, [*path, nxt])

    for start in sorted(graph):
        walk(start, [start])
    return found


def violations(root: Path = REPO) -> list[str]:
    """Readable problems: cycles, upward imports, imports of the command line."""
    graph = package_graph(root)
    problems = [f"cycle: {' -> '.join(c)}" for c in cycles(graph)]
    for source, targets in sorted(graph.items()):
        for target, where in sorted(targets.items()):
            if target == COMMAND_LINE:
                problems.append(f"{source} imports the command line ({target}) at {', '.join(where)}")
            elif LAYERS[target] >= LAYERS[source]:
                problems.append(f"{source} imports {target} (same or higher layer) at {', '.join(where)}")
    return problems


if __name__ == "__main__":
    found = violations()
    print("\n".join(found) or "layers ok: no cycle between packages, nothing imports the command line")
    sys.exit(1 if found else 0)
