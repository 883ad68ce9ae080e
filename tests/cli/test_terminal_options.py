"""Habits users bring from timm and other tools: -b/-j; -q/-v/--no-color after the subcommand."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ilsvrc_bench import output, runs
from ilsvrc_bench.cli import SUBCOMMANDS, main
from tests.cli.test_cli_contract import _all_commands

TINY = "tests.engine.helpers:tiny"


def _command(path: list[str]) -> click.Command:
    ctx = click.Context(main)
    cmd = main.get_command(ctx, path[0])
    for name in path[1:]:
        assert isinstance(cmd, click.Group)
        cmd = cmd.get_command(click.Context(cmd, parent=ctx), name)
    assert cmd is not None
    return cmd


@pytest.mark.parametrize("path", _all_commands(), ids=" ".join)
def test_every_command_accepts_the_terminal_options(path: list[str]) -> None:
    opts = {o for p in _command(path).params for o in getattr(p, "opts", ())}
    assert {"-v", "--verbose", "-q", "--quiet", "--no-color"} <= opts
    result = CliRunner().invoke(main, [*path, "-q", "-v", "--no-color", "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("path", _all_commands(), ids=" ".join)
def test_batch_size_and_workers_have_their_short_forms(path: list[str]) -> None:
    opts = [set(getattr(p, "opts", ())) for p in _command(path).params]
    for long, short in (("--batch-size", "-b"), ("--workers", "-j")):
        assert all(short in o for o in opts if long in o), f"{long} without {short}"


@pytest.mark.parametrize(
    "args",
    [
        ["-v", "boom"],
        ["boom", "-v"],
        ["boom", "--verbose"],
    ],
)
def test_verbose_before_or_after_the_subcommand(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setitem(SUBCOMMANDS, "boom", "tests.cli.test_cli_contract:boom_data")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 3
    assert "Traceback" in result.output


def test_verbose_counts_add_up_across_positions() -> None:
    result = CliRunner().invoke(main, ["-v", "synsets", "tench", "-vv", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert output.verbosity() == 3
    result = CliRunner().invoke(main, ["synsets", "tench", "--format", "json"])
    assert output.verbosity() == 0 and not output.is_quiet()


@pytest.mark.parametrize("where", ["before", "after", "nested-group"])
def test_quiet_after_the_subcommand_silences_status_lines(tmp_path: Path, where: str) -> None:
    root = str(tmp_path / "root")
    args = ["data", "sample", "--root", root, "--classes", "2", "--per-class", "1"]
    loud = CliRunner().invoke(main, [*args, "--name", "loud"])
    assert loud.exit_code == 0, loud.output
    assert loud.stderr.strip()  # status lines on stderr without -q
    named = [*args, "--name", f"quiet-{where}"]
    argv = {
        "before": ["-q", *named],
        "after": [*named, "-q"],
        "nested-group": ["data", "-q", *named[1:]],
    }[where]
    quiet = CliRunner().invoke(main, argv)
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""


def test_short_batch_size_and_workers(sample_root: Path, tmp_path: Path) -> None:
    small = ["--resize-size", "40", "--crop-size", "32", "--limit", "8"]
    args = ["eval", "-m", TINY, "--root", str(sample_root), "--data", "sample"]
    args += ["--runs-dir", str(tmp_path / "runs"), *small, "--format", "json"]
    result = CliRunner().invoke(main, [*args, "-b", "3", "-j", "0", "-q"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    record = runs.read_record(Path(row["run_dir"]))
    assert (record.batch_size, record.workers) == (3, 0)


@pytest.mark.parametrize("bad", [["-b", "0"], ["-j", "-1"], ["-b", "x"]])
def test_short_options_validate_like_the_long_ones(bad: list[str]) -> None:
    result = CliRunner().invoke(main, ["eval", "-m", TINY, *bad])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_parsing_a_command_line_without_running_it_changes_nothing() -> None:
    output.configure()
    root = main.make_context("ilsvrc-bench", ["-q", "synsets", "tench", "-v", "--no-color"])
    name, command, rest = main.resolve_command(root, [*root._protected_args, *root.args])
    assert command is not None and name is not None
    command.make_context(name, rest, parent=root)
    assert not output.is_quiet() and output.verbosity() == 0
