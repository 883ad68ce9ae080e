"""The import arrows point down the layers of docs/architecture.md."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ilsvrc_bench"

# layer -> layers it may import (besides itself). Top-level modules and subpackages alike.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "serialize": set(),
    "paths": {"errors"},
    "output": {"errors"},
    "history": {"errors"},
    "metrics": set(),
    "synsets": {"errors", "paths"},
    "data": {"errors", "paths", "synsets", "metrics"},
    "models": {"errors", "paths", "synsets"},
    "runs": {"errors", "paths", "metrics", "synsets", "models"},
    "engine": {"errors", "paths", "data", "models", "metrics", "runs", "synsets"},
    "reports": {
        "errors",
        "paths",
        "history",
        "metrics",
        "runs",
        "synsets",
        "models",
        "output",
        "data",
    },
    "cli": {
        "errors",
        "paths",
        "output",
        "history",
        "metrics",
        "synsets",
        "data",
        "models",
        "runs",
        "engine",
        "reports",
    },
}


# Bottom-layer utilities any layer may use.
for _layer_name, _allowed in ALLOWED.items():
    if _layer_name not in {"errors", "serialize"}:
        _allowed.add("serialize")


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "ilsvrc_bench":
                names = [f"ilsvrc_bench.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "ilsvrc_bench" and len(parts) > 1:
                found.add(parts[1])
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if _layer(p) not in {"__init__", "__main__"})


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    layer = _layer(path)
    assert layer in ALLOWED, f"{layer} is not in the layer table; add it to docs/architecture.md"
    imported = _imported_layers(path) - {layer, "__version__"}
    upward = imported - ALLOWED[layer]
    assert not upward, f"{path.relative_to(PACKAGE)} imports {sorted(upward)} from above its layer"
