"""docs/models.md: the offline-safe documented commands run (tests/test_docs.py parses them all)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ilsvrc_bench.cli import main
from tests.test_docs import commands

DOC = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def test_documented_listing_and_show_commands_run(tmp_path: Path) -> None:
    runnable = [
        args
        for args in commands(DOC, ("bash",))
        if args[0] == "models"
        and not any(a.startswith(("onnx:", "my-")) for a in args)
        and "my-*" not in args
        # commands on the sample files are run by tests/models/test_tflite.py, where they exist
        and not any("shared/realdata" in a for a in args)
    ]
    assert len(runnable) >= 5
    for args in runnable:
        local = [str(tmp_path / a) if a.endswith(".json") else a for a in args]
        result = CliRunner().invoke(main, local)
        assert result.exit_code == 0, (local, result.stderr)
