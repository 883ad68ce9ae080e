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


# Model options: every command that takes a model reads --weights and the preprocessing
# flags the same way.
def weights_option(fn: F) -> F:
    return click.option(
        "--weights",
        default=None,
        metavar="NAME|random|PATH",
        help="DEFAULT (published weights), an enum name such as IMAGENET1K_V1 or a timm tag, "
        "'random', or a .pth/.pt/.safetensors state dict.",
    )(fn)


def preprocessing_options(fn: F) -> F:
    """``--resize/--crop/--interpolation/--mean/--std``, for ``preprocessing_overrides``."""
    options = [
        click.option(
            "--resize",
            "--resize-size",
            "resize",
            type=click.IntRange(min=1),
            help="Resize the shorter side to N.",
        ),
        click.option(
            "--crop", "--crop-size", "crop", type=click.IntRange(min=1), help="Centre crop N x N."
        ),
        click.option(
            "--interpolation",
            type=click.Choice(["nearest", "bilinear", "bicubic"], case_sensitive=False),
            help="Resize interpolation.",
        ),
        click.option("--mean", metavar="R,G,B", help="Normalisation mean, three numbers."),
        click.option("--std", metavar="R,G,B", help="Normalisation std, three numbers."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def preprocessing_overrides(
    *,
    resize: int | None = None,
    crop: int | None = None,
    interpolation: str | None = None,
    mean: str | None = None,
    std: str | None = None,
) -> dict[str, object]:
    """The preprocessing flags as the ``preprocessing`` mapping ``models.resolve`` takes."""
    given = {
        "resize_size": resize,
        "crop_size": crop,
        "interpolation": interpolation,
        "mean": mean,
        "std": std,
    }
    return {k: v for k, v in given.items() if v is not None}
