"""Options shared by several commands, so each reads and behaves the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ilsvrc_bench.output import FORMATS

F = TypeVar("F", bound=Callable[..., Any])


def format_option(*extra: str, default: str = "table") -> Callable[[F], F]:
    """``--format`` with the standard choices plus ``extra`` ones."""
    choices = [*FORMATS, *extra]
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices, case_sensitive=False),
        default=default,
        show_default=True,
        help="Output format; json and csv are machine-readable and alone on stdout.",
    )


def output_option(fn: F) -> F:
    return click.option(
        "-o",
        "--output",
        "output_path",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        default=None,
        help="Write the output to FILE instead of stdout.",
    )(fn)


def root_option(fn: F) -> F:
    return click.option(
        "--root",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Data root (default: $ILSVRC_BENCH_ROOT, else the user data directory).",
    )(fn)


def data_option(fn: F) -> F:
    return click.option(
        "--data",
        "data",
        default=None,
        metavar="NAME|PATH",
        help="Prepared dataset: a name under the root or a path (default: ILSVRC2012 val).",
    )(fn)


def runs_dir_option(fn: F) -> F:
    return click.option(
        "--runs-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Runs directory (default: $ILSVRC_BENCH_RUNS, else <root>/runs).",
    )(fn)
