"""docs/ci.md: the GitHub Actions workflow is valid YAML and gates on `check`.

That every command in the docs parses is tests/test_docs.py's job."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_docs import blocks

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_ci_workflow_is_valid_and_gates_on_check() -> None:
    yaml = pytest.importorskip("yaml")
    (block,) = blocks((DOCS / "ci.md").read_text(), "yaml")
    workflow = yaml.safe_load(block)
    steps = workflow["jobs"]["accuracy"]["steps"]
    uses = [s["uses"] for s in steps if "uses" in s]
    assert all(re.fullmatch(r"[\w-]+/[\w-]+@v\d+", u) for u in uses)
    runs = " ".join(s.get("run", "") for s in steps)
    assert "--limit" in runs and "ilsvrc-bench check" in runs
    assert "$GITHUB_STEP_SUMMARY" in runs
    cached = [s["with"]["path"] for s in steps if s.get("uses", "").startswith("actions/cache")]
    assert ".ilsvrc-bench" in cached and ".torch" in cached
    assert workflow["env"]["TORCH_HOME"].endswith("/.torch")
