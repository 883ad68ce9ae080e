"""Guardrails of docs/architecture.md: the layer contracts hold; only the edge talks to the user.

The import arrows are declared once, as import-linter contracts in pyproject.toml
(``[tool.importlinter]``); this test runs them so a plain ``pytest`` catches an upward import, and
checks the rule import-linter cannot see: outside ``cli/`` and ``output/`` nothing prints, writes
to the terminal, exits, or imports click/rich.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "ilsvrc_bench"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# The edge: the only places allowed to print, exit and use click/rich.
EDGE = ("cli/", "output/", "output.py", "__main__.py")
TERMINAL_MODULES = ("click", "rich")
EXIT_CALLS = {"sys.exit", "exit", "quit", "os._exit", "os.abort"}
PRINT_CALLS = {"print", "pprint", "pprint.pprint", "builtins.print"}
STREAMS = {"sys.stdout", "sys.stderr", "sys.__stdout__", "sys.__stderr__"}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def edge_violations(source: str, filename: str = "<module>") -> list[str]:
    """Each place in ``source`` that prints, exits or imports click/rich, as ``file:line what``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        what = ""
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
            what = next((f"imports {n}" for n in names if n.split(".")[0] in TERMINAL_MODULES), "")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            root = node.module.split(".")[0]
            if root in TERMINAL_MODULES:
                what = f"imports {node.module}"
            elif root == "sys" and any(a.name in {"exit", "stdout", "stderr"} for a in node.names):
                what = "imports sys.exit/stdout/stderr"
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in EXIT_CALLS or name in PRINT_CALLS:
                what = f"calls {name}()"
        elif isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if _dotted(exc) == "SystemExit":
                what = "raises SystemExit"
        elif isinstance(node, ast.Attribute) and _dotted(node) in STREAMS:
            what = f"uses {_dotted(node)}"
        if what:
            found.append(f"{filename}:{getattr(node, 'lineno', 0)} {what}")
    return found


LIBRARY = sorted(
    p for p in PACKAGE.rglob("*.py") if not str(p.relative_to(PACKAGE)).startswith(EDGE)
)


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_library_never_prints_or_exits(path: Path) -> None:
    rel = str(path.relative_to(REPO))
    assert edge_violations(path.read_text(encoding="utf-8"), rel) == []


@pytest.mark.parametrize(
    "source",
    [
        "print('x')",
        "import sys\nsys.exit(1)",
        "exit(2)",
        "import os\nos._exit(3)",
        "raise SystemExit(1)",
        "import sys\nsys.stderr.write('x')",
        "from sys import stdout",
        "import click",
        "from rich.console import Console",
        "import rich.progress as p",
        "def f():\n    import click",
    ],
)
def test_edge_rule_catches(source: str) -> None:
    assert len(edge_violations(source)) == 1


def test_edge_rule_allows_ordinary_code() -> None:
    ok = "import logging\nlog = logging.getLogger(__name__)\ndef f(x):\n    return x.print\n"
    assert edge_violations(ok) == []


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    if not LINT_IMPORTS.is_file():
        pytest.fail(f"{LINT_IMPORTS} missing: install the dev extras (pip install -e '.[dev]')")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(REPO / "pyproject.toml")],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )


def test_import_contracts_hold() -> None:
    done = _lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def _copy_package(tmp_path: Path) -> Path:
    shutil.copytree(
        PACKAGE, tmp_path / "ilsvrc_bench", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path / "ilsvrc_bench"


def test_import_contracts_catch_an_upward_import(tmp_path: Path) -> None:
    pkg = _copy_package(tmp_path)
    synsets = pkg / "synsets.py"
    synsets.write_text(
        synsets.read_text(encoding="utf-8") + "\nfrom ilsvrc_bench import engine  # noqa\n",
        encoding="utf-8",
    )
    done = _lint_imports(tmp_path)
    assert done.returncode == 1
    assert "ilsvrc_bench.synsets -> ilsvrc_bench.engine" in done.stdout


def test_import_contracts_catch_an_unplaced_module(tmp_path: Path) -> None:
    pkg = _copy_package(tmp_path)
    (pkg / "newthing.py").write_text('"""Not yet placed in a layer."""\n', encoding="utf-8")
    done = _lint_imports(tmp_path)
    assert done.returncode == 1
    assert "newthing" in done.stdout


def _contracts() -> dict[str, list[str]]:
    from importlinter.api import read_configuration

    config = read_configuration(str(REPO / "pyproject.toml"))
    return {c["id"]: list(c["layers"]) for c in config["contracts_options"]}


def _documented_layers() -> list[set[str]]:
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    by_level: dict[int, set[str]] = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].isdigit() and cells[1].startswith("`"):
            name = cells[1].strip("`").removesuffix("/").removesuffix(".py")
            by_level.setdefault(int(cells[0]), set()).add(name)
    return [by_level[level] for level in sorted(by_level, reverse=True)]


def test_architecture_doc_lists_the_contract_layers() -> None:
    contracts = _contracts()
    top = [{m.strip() for m in layer.split("|")} for layer in contracts.pop("layers")]
    assert _documented_layers() == top
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name, layers in contracts.items():
        assert f"{name}: {' > '.join(layers)}" in doc, f"docs/architecture.md lacks {name}'s layers"
