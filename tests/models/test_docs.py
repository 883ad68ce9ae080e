"""docs/models.md: every documented command parses, and the offline-safe ones run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ilsvrc_bench.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def _commands() -> list[list[str]]:
    found = []
    for block in re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.DOTALL):
        for raw in block.splitlines():
            words = shlex.split(raw, comments=True)
            if words and words[0] == "ilsvrc-bench":
                found.append(words[1:])
    return found


def _parse(args: list[str]) -> None:
    """Parse ``args`` down the command tree as click would, without running anything."""
    command: click.Command = main
    name, parent = "ilsvrc-bench", None
    while True:
        ctx = command.make_context(name, list(args), parent=parent)
        if not isinstance(command, click.Group):
            return
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not rest:
            return
        found, sub, args = command.resolve_command(ctx, rest)
        assert found is not None and sub is not None, rest
        name, command, parent = found, sub, ctx


def test_every_documented_command_parses() -> None:
    commands = _commands()
    assert len(commands) >= 10
    for args in commands:
        try:
            _parse(args)
        except click.ClickException as exc:
            pytest.fail(f"`ilsvrc-bench {' '.join(args)}`: {exc.format_message()}")


def test_documented_listing_and_show_commands_run(tmp_path: Path) -> None:
    runnable = [
        args
        for args in _commands()
        if args[0] == "models"
        and not any(a.startswith(("onnx:", "my-")) for a in args)
        and "my-*" not in args
    ]
    assert len(runnable) >= 5
    for args in runnable:
        local = [str(tmp_path / a) if a.endswith(".json") else a for a in args]
        result = CliRunner().invoke(main, local)
        assert result.exit_code == 0, (local, result.stderr)
