"""Every hostile case: the documented exit code, a short error without a traceback, and nothing
written outside the data root, the runs directory and ``$TORCH_HOME``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ilsvrc_bench.cli import main
from tests.hostile.cases import CASES, Case, markdown_table
from tests.hostile.env import Env, snapshot

REPO = Path(__file__).resolve().parents[2]
RAW_WARNING = re.compile(r"\w+Warning: |warnings\.warn\(")
MAX_ERROR_LINES = 3


def _outside(env: Env, before: dict[str, tuple[int, int]]) -> list[str]:
    after = snapshot(env.base)
    allowed = [str(p.relative_to(env.base)) for p in env.allowed()]
    changed = [p for p, stat in after.items() if before.get(p) != stat]
    return [p for p in changed if not any(p == a or p.startswith(a + "/") for a in allowed)]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_case(
    case: Case,
    hostile_sample: Path,
    hostile_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = Env(tmp_path, hostile_sample, hostile_server)
    for var, value in env.environ().items():
        monkeypatch.setenv(var, value)
    for folder in (env.home, env.src, env.cwd):
        folder.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(env.cwd)
    try:
        args = case.setup(env)
        before = snapshot(env.base)
        result = CliRunner(env=env.environ()).invoke(main, ["-q", *args])
    finally:
        for release in env.cleanup:
            release()
    stderr = result.stderr
    shown = f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{stderr}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(shown) from result.exception
    assert result.exit_code == case.code, shown
    assert "Traceback" not in stderr and not RAW_WARNING.search(stderr), shown
    if case.code != 0:
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert 1 <= len(lines) <= MAX_ERROR_LINES, shown
        assert case.expect.lower() in stderr.lower(), shown
    assert _outside(env, before) == [], shown
    assert snapshot(env.home) == {} and snapshot(env.cwd) == {}, shown
    if case.post is not None:
        case.post(env, result)


def test_table_is_large_and_covers_every_area() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    areas = {c.area for c in CASES}
    assert areas >= {"archives", "labels", "images", "weights", "models", "flags", "runs",
                     "downloads", "faults"}  # fmt: skip


def test_reliability_doc_carries_the_table() -> None:
    """docs/reliability.md holds the table generated from CASES (print it with
    ``python -m tests.hostile.cases``)."""
    doc = (REPO / "docs" / "reliability.md").read_text(encoding="utf-8")
    start, end = "<!-- hostile-table:start -->\n", "<!-- hostile-table:end -->"
    assert start in doc and end in doc
    body = doc.split(start, 1)[1].split(end, 1)[0]
    assert body == markdown_table(), "regenerate with: python -m tests.hostile.cases"
