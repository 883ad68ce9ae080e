"""The ``ilsvrc-bench`` command line: a thin layer that parses, calls the library and renders.

Subcommands are imported lazily, so ``ilsvrc-bench --help`` never imports torch.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
import traceback
import warnings
from typing import Any

import click

from ilsvrc_bench import __version__, output
from ilsvrc_bench.cli import startup
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
    "bench": "ilsvrc_bench.cli.bench:bench_command",
}


class CliError(click.ClickException):
    """A library error on its way out, with the exit code the library chose."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        # click declares exit_code per class; a per-instance code is what we need here
        self.exit_code = exit_code  # type: ignore[misc]

    def show(self, file: Any = None) -> None:
        output.error(click.unstyle(self.format_message()))


STDOUT_ERRNOS = (errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EFBIG)
TERMINAL = "ilsvrc_bench.terminal"
CONFIGURED = "ilsvrc_bench.terminal.configured"


def _terminal(ctx: click.Context) -> dict[str, Any]:
    """The terminal flags of this invocation, kept on the root context."""
    flags: dict[str, Any] = ctx.find_root().meta.setdefault(
        TERMINAL, {"color": True, "quiet": False, "verbose": 0}
    )
    return flags


def _set_terminal(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Merge ``-v``/``-q``/``--no-color`` wherever they appear (before or after the subcommand)."""
    if not value:
        return
    flags = _terminal(ctx)
    if param.name == "verbose":
        flags["verbose"] += value
    elif param.name == "quiet":
        flags["quiet"] = True
    elif param.name == "no_color":
        flags["color"] = False
    if ctx.find_root().meta.get(CONFIGURED):
        # a flag after the subcommand, parsed once the root has set the consoles up;
        # before that (or when a command line is only parsed, never run) main() applies them
        output.configure(**flags)


def terminal_options() -> list[click.Option]:
    """``-v``, ``-q`` and ``--no-color``, accepted by the root and by every subcommand alike."""
    common: dict[str, Any] = {"expose_value": False, "callback": _set_terminal}
    return [
        click.Option(
            ["-v", "--verbose"],
            count=True,
            help="More detail on stderr; tracebacks on errors.",
            **common,
        ),
        click.Option(
            ["-q", "--quiet"],
            is_flag=True,
            help="No progress or status lines; results only.",
            **common,
        ),
        click.Option(["--no-color"], is_flag=True, help="Plain text, no colours.", **common),
    ]


def _with_terminal_options(command: click.Command) -> click.Command:
    """Give ``command`` (and a group's subcommands) the terminal options, once."""
    names = {n for p in command.params for n in getattr(p, "opts", ())}
    if "--quiet" not in names:
        command.params.extend(terminal_options())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_terminal_options(sub)
    return command


def _torchrun_rank() -> bool:
    """Whether this process is one rank of a torchrun (or ``eval --nproc``) job that has
    imported torch.distributed."""
    return "RANK" in os.environ and "torch.distributed" in sys.modules


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
        return _with_terminal_options(command)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **kwargs)
        except SystemExit as exc:
            if _torchrun_rank() and (exc.code is None or isinstance(exc.code, int)):
                # A torchrun rank ends here, its results written and printed: skip the
                # interpreter's teardown, where torch.distributed's C++ threads can abort the
                # process (SIGABRT) and turn a finished run (or a model error) into a crash.
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(exc.code or 0)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IlsvrcBenchError as exc:
            if output.verbosity() > 0:
                output.err().print(traceback.format_exc(), markup=False)
            raise CliError(str(exc), int(exc.exit_code)) from exc
        except KeyboardInterrupt as exc:
            resumable = ctx.invoked_subcommand in ("eval", "sweep")
            message = "interrupted; the same command resumes where it stopped" if resumable else ""
            raise CliError(message or "interrupted", int(ExitCode.INTERRUPTED)) from exc
        except OSError as exc:
            if output.verbosity() > 0:
                output.err().print(traceback.format_exc(), markup=False)
            if exc.filename is not None:  # a folder or file the library did not expect to fail
                raise CliError(
                    f"{exc.filename}: {exc.strerror or exc}", int(ExitCode.RUNTIME)
                ) from exc
            if exc.errno not in STDOUT_ERRNOS:
                raise
            # stdout is a full disk (> /dev/full) or a pipe its reader closed (| head): say so
            # once, and send what is still buffered nowhere so shutdown adds no traceback
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise CliError(
                f"cannot write to stdout: {exc.strerror or exc}", int(ExitCode.RUNTIME)
            ) from exc


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    params=terminal_options(),
)
@click.version_option(__version__, "--version", prog_name="ilsvrc-bench")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Evaluate image classifiers on ILSVRC2012 val and place them in the challenge's history.

    \b
    Exit codes: 0 success, 1 regression found (check), 2 usage error,
    3 data error, 4 model or weights error, 5 runtime or device error,
    130 interrupted.
    """
    # -v/-q/--no-color may also follow the subcommand; its parser merges them in later
    output.configure(**_terminal(ctx))
    ctx.meta[CONFIGURED] = True
    warnings.showwarning = _show_warning
    # Loader workers and the model's intra-op threads share the cores. OpenMP threads that spin
    # while they wait steal them from the workers: with PASSIVE, a 2-thread AlexNet or ResNet-18
    # forward took 40-45% less CPU time on a busy 2-core machine (docs/performance.md). Set
    # before torch is imported (commands import it lazily); a user's own setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    startup.defer_dynamo_import()


def run() -> None:
    """The ``ilsvrc-bench`` program: :func:`main`, then a quick exit (``cli/startup.py``)."""
    startup.collect_less_often()
    try:
        main()
    finally:
        startup.freeze_heap()


def _show_warning(  # noqa: PLR0917 - the signature warnings.showwarning calls
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """A Python warning from a library (Pillow, torch) as the tool's own one-line warning."""
    lines = str(message).strip().splitlines()
    output.warn(f"{lines[0] if lines else category.__name__} ({category.__name__})")
