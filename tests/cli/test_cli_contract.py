"""The CLI's contract: help everywhere, version, exit codes, no traceback, no torch for --help."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from ilsvrc_bench import __version__
from ilsvrc_bench.cli import SUBCOMMANDS, main
from ilsvrc_bench.errors import DataError, DeviceError, ModelError, UsageError


# Commands the contract tests register next to the real ones, each failing in one known way.
def _failing(name: str, exc: BaseException) -> click.Command:
    def callback() -> None:
        raise exc

    return click.Command(name, callback=callback)


boom_data = _failing("boom", DataError("x.tar: bad"))
boom_model = _failing("boom", ModelError("m: bad"))
boom_device = _failing("boom", DeviceError("no cuda"))
boom_usage = _failing("boom", UsageError("nope"))
boom_interrupt = _failing("boom", KeyboardInterrupt())


def _all_commands() -> list[list[str]]:
    """Every command path, e.g. ['data', 'prepare'], found by walking the real groups."""
    paths: list[list[str]] = []
    ctx = click.Context(main)
    for name in main.list_commands(ctx):
        cmd = main.get_command(ctx, name)
        assert cmd is not None
        paths.append([name])
        if isinstance(cmd, click.Group):
            sub_ctx = click.Context(cmd, parent=ctx)
            paths += [[name, sub] for sub in cmd.list_commands(sub_ctx)]
    return paths


def test_root_help_lists_every_subcommand() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in SUBCOMMANDS:
        assert name in result.output
    assert "Exit codes" in result.output


@pytest.mark.parametrize("path", _all_commands(), ids=" ".join)
def test_every_command_has_help(path: list[str]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    # a one-line summary a user can read in the parent's listing
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) >= 2


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["frobnicate"])
    assert result.exit_code == 2


def test_bad_option_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["report", "--format", "yaml"])
    assert result.exit_code == 2
    assert "yaml" in result.output


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("boom_data", 3, "x.tar: bad"),
        ("boom_model", 4, "m: bad"),
        ("boom_device", 5, "no cuda"),
        ("boom_usage", 2, "nope"),
        ("boom_interrupt", 130, "interrupted"),
    ],
)
def test_library_errors_map_to_exit_codes_without_traceback(
    monkeypatch: pytest.MonkeyPatch, name: str, code: int, message: str
) -> None:
    monkeypatch.setitem(SUBCOMMANDS, "boom", f"{__name__}:{name}")
    result = CliRunner().invoke(main, ["boom"])
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_verbose_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SUBCOMMANDS, "boom", f"{__name__}:boom_data")
    result = CliRunner().invoke(main, ["-v", "boom"])
    assert result.exit_code == 3
    assert "Traceback" in result.output


@pytest.mark.parametrize("args", [["--help"], ["report", "--help"], ["synsets", "--help"]])
def test_help_does_not_import_torch(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from ilsvrc_bench.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('TORCH' if 'torch' in sys.modules else 'NOTORCH')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.stderr.strip().endswith("NOTORCH"), proc.stderr


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ilsvrc_bench", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0
    assert __version__ in proc.stdout
