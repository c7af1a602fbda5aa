"""Imports point one way (style guide §1): core → datasets/models → envs/policies → experiments →
reporting → cli.  A module may import its own layer's package and anything below, never above or
its sibling on the same line (envs never import policies, and vice versa)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "neuralbandits"
LAYER = {
    "types": 0, "rng": 0, "registry": 0, "validation": 0, "allocator": 0,
    "datasets": 1, "models": 1,
    "envs": 2, "policies": 2,
    "experiments": 3,
    "reporting": 4,
    "cli": 5, "serving": 5,
}
SIBLINGS = {frozenset({"envs", "policies"}), frozenset({"datasets", "models"})}


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "neuralbandits" else None


def imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


FILES = [p for p in SRC.rglob("*.py") if p.parent != SRC or p.stem != "__init__"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    relative = path.relative_to(SRC)
    own = relative.parts[0] if len(relative.parts) > 1 else relative.stem
    if own not in LAYER:
        pytest.skip(f"{own} has no layer")
    for module in imports(path):
        target = package_of(module)
        if target is None or target == own or target not in LAYER:
            continue
        assert LAYER[target] <= LAYER[own], f"{relative} imports {module} (a higher layer)"
        assert frozenset({own, target}) not in SIBLINGS, f"{relative} imports its sibling {module}"
