"""The ``ilsvrc-bench`` command line: a thin layer that parses, calls the library and renders.

Subcommands are imported lazily, so ``ilsvrc-bench --help`` never imports torch.
"""

from __future__ import annotations

import importlib
import traceback
from typing import Any

import click

from ilsvrc_bench import __version__, output
from ilsvrc_bench.errors import ExitCode, IlsvrcBenchError

# name -> "module:attribute" of the click command; each module keeps heavy imports inside
# its command functions.
SUBCOMMANDS: dict[str, str] = {
    "data": "ilsvrc_bench.cli.data:data",
    "synsets": "ilsvrc_bench.cli.synsets:synsets",
    "models": "ilsvrc_bench.cli.models:models",
    "eval": "ilsvrc_bench.cli.eval:eval_command",
    "report": "ilsvrc_bench.cli.report:report",
    "check": "ilsvrc_bench.cli.check:check",
    "ensemble": "ilsvrc_bench.cli.ensemble:ensemble",
    "sweep": "ilsvrc_bench.cli.sweep:sweep_command",
}


class CliError(click.ClickException):
    """A library error on its way out, with the exit code the library chose."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        # click declares exit_code per class; a per-instance code is what we need here
        self.exit_code = exit_code  # type: ignore[misc]

    def show(self, file: Any = None) -> None:
        output.err().print(f"[bold red]error:[/] {click.unstyle(self.format_message())}")


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IlsvrcBenchError as exc:
            if output.verbosity() > 0:
                output.err().print(traceback.format_exc(), markup=False)
            raise CliError(str(exc), int(exc.exit_code)) from exc
        except KeyboardInterrupt as exc:
            raise CliError("interrupted", int(ExitCode.INTERRUPTED)) from exc


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ilsvrc-bench")
@click.option("-v", "--verbose", count=True, help="More detail on stderr; tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or status lines; results only.")
@click.option("--no-color", is_flag=True, help="Plain text, no colours.")
def main(verbose: int, quiet: bool, no_color: bool) -> None:
    """Evaluate image classifiers on ILSVRC2012 val and place them in the challenge's history.

    \b
    Exit codes: 0 success, 1 regression found (check), 2 usage error,
    3 data error, 4 model or weights error, 5 runtime or device error,
    130 interrupted.
    """
    output.configure(color=not no_color, quiet=quiet, verbose=verbose)
