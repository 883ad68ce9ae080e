"""Project settings that keep the suite honest stay in place and agree with CONTRIBUTING.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_stale_xfail_and_unknown_markers_fail(request: pytest.FixtureRequest) -> None:
    assert request.config.getini("xfail_strict") is True
    assert "--strict-markers" in request.config.getini("addopts")


def test_coverage_floor_is_the_one_contributing_states() -> None:
    from coverage import Coverage

    floor = Coverage(config_file=str(REPO / "pyproject.toml")).get_option("report:fail_under")
    assert isinstance(floor, float) and floor >= 80
    contributing = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert f"Coverage floor: {floor:g}%" in contributing


def test_dev_tools_are_pinned_exactly() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    tools = ("ruff", "mypy", "pandas-stubs", "pytest", "pytest-xdist", "pytest-cov", "tox")
    for tool in (*tools, "tox-current-env", "import-linter", "coverage"):
        assert re.search(rf'"{re.escape(tool)}==[0-9][^"]*"', text), f"{tool} is not pinned"
