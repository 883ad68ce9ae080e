"""Options shared by several commands, so each reads and behaves the same everywhere."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

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


def writable_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Click callback for a file the command will write: refused (exit 5, with the path and the
    reason) while the options are read, before any work starts."""
    from ilsvrc_bench import serialize

    if value is not None:
        value = value.expanduser()  # `--output=~/x.json`: the shell leaves that ~ alone
        serialize.check_writable(value)
    return value


def output_option(fn: F) -> F:
    return click.option(
        "-o",
        "--output",
        "output_path",
        type=click.Path(path_type=Path),
        default=None,
        callback=writable_file,
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


# Model options: every command that takes a model reads --weights and the preprocessing flags
# the same way, into the typed choices the model registry takes.
class WeightsParam(click.ParamType):  # type: ignore[type-arg]
    """``--weights``: DEFAULT, a weights name, ``random`` or a file, as a ``WeightsChoice``."""

    name = "NAME|random|PATH"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ilsvrc_bench.models.choices import WeightsChoice

        if isinstance(value, WeightsChoice):
            return value
        if not str(value).strip():
            self.fail("expected DEFAULT, a weights name, 'random' or a file path", param, ctx)
        return WeightsChoice.parse(str(value))


class TripleParam(click.ParamType):  # type: ignore[type-arg]
    """Three finite numbers (``0.5,0.5,0.5`` or ``"0.5 0.5 0.5"``); positive ones for a std."""

    name = "R,G,B"

    def __init__(self, key: str) -> None:
        self.key = key

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ilsvrc_bench.errors import UsageError
        from ilsvrc_bench.models.choices import parse_triple

        if isinstance(value, tuple):
            return value
        try:
            return parse_triple(self.key, value)
        except UsageError as exc:
            # "mean must be three finite numbers, got '0.5,0.5'", after Click's own prefix.
            self.fail(str(exc).removeprefix("preprocessing "), param, ctx)


def weights_option(fn: F) -> F:
    """``--weights``, given to the command as a ``WeightsChoice``."""
    return click.option(
        "--weights",
        type=WeightsParam(),
        default=None,
        help="DEFAULT (published weights), an enum name such as IMAGENET1K_V1 or a timm tag, "
        "'random', or a .pth/.pt/.safetensors state dict.",
    )(fn)


# (click parameter, PreprocessingOverrides field)
_PREPROCESSING_PARAMS = (
    ("resize", "resize_size"),
    ("crop", "crop_size"),
    ("interpolation", "interpolation"),
    ("mean", "mean"),
    ("std", "std"),
    ("central_fraction", "central_fraction"),
)


def preprocessing_options(fn: F) -> F:
    """``--resize/--crop/--interpolation/--mean/--std/--central-fraction``.

    The command receives them as one ``preprocessing: PreprocessingOverrides`` argument.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ilsvrc_bench.models.choices import PreprocessingOverrides

        values = {key: kwargs.pop(param) for param, key in _PREPROCESSING_PARAMS}
        kwargs["preprocessing"] = PreprocessingOverrides.from_mapping(values)
        return fn(*args, **kwargs)

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
        click.option("--mean", type=TripleParam("mean"), help="Normalisation mean, three numbers."),
        click.option("--std", type=TripleParam("std"), help="Normalisation std, three numbers."),
        click.option(
            "--central-fraction",
            type=click.FloatRange(min=0, max=1, min_open=True),
            metavar="F",
            help="TensorFlow's recipe: crop the central F of each side (e.g. 0.875), then "
            "resize to the crop size (aspect ratio not kept; --resize unused).",
        ),
    ]
    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return cast("F", decorated)


def execution_options(fn: F) -> F:
    """How a model runs, the same for ``eval`` and ``bench``: ``--device``, ``--precision``,
    ``-b/--batch-size``, ``-j/--workers``, ``--channels-last``, ``--compile``, ``--limit``,
    ``--protocol`` and ``--decode``."""
    options = [
        click.option(
            "--device",
            default="auto",
            show_default=True,
            metavar="auto|cpu|cuda|cuda:N|mps",
            help="Where to run the models.",
        ),
        click.option(
            "--precision",
            type=click.Choice(["fp32", "bf16", "fp16"]),
            default="fp32",
            show_default=True,
            help="Autocast precision (bf16/fp16 on CUDA; bf16 also on the CPU).",
        ),
        click.option(
            "-b",
            "--batch-size",
            type=click.IntRange(min=1),
            default=64,
            show_default=True,
            help="Images per batch (eval halves it on out-of-memory and says so).",
        ),
        click.option(
            "-j",
            "--workers",
            type=click.IntRange(min=0),
            default=None,
            help="Decoding worker processes (default: CPU cores - 1, at most 16; 0 = in process).",
        ),
        click.option(
            "--channels-last/--no-channels-last",
            default=None,
            help="channels_last memory format (default: on for torch models on the CPU, where it "
            "is faster; off elsewhere). Recorded: it changes float rounding.",
        ),
        click.option("--compile", "compile_", is_flag=True, help="torch.compile the model first."),
        click.option(
            "--limit",
            type=click.IntRange(min=1),
            default=None,
            help="Use a deterministic class-stratified subset of N images (recorded as such).",
        ),
        click.option(
            "--protocol",
            type=click.Choice(["center", "10crop", "full"]),
            default="center",
            show_default=True,
            help="center: resize + centre crop; 10crop: corners + centre and mirrors, softmax "
            "averaged; full: whole image resized to the crop size.",
        ),
        click.option(
            "--decode",
            type=click.Choice(["cpu", "gpu"]),
            default="cpu",
            show_default=True,
            help="cpu: the exact Pillow path; gpu: nvJPEG on the CUDA device (pixels differ "
            "slightly; recorded in the preprocessing).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


class KeyValue(click.ParamType):  # type: ignore[type-arg]
    """``NAME=HEX`` (``--md5``) or ``Name: value`` (``--header``)."""

    def __init__(self, sep: str, what: str) -> None:
        self.sep, self.what = sep, what
        self.name = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        key, sep, val = str(value).partition(self.sep)
        if not sep or not key.strip() or not val.strip():
            self.fail(f"expected {self.what}, got {value!r}", param, ctx)
        if self.sep == "=" and (len(val.strip()) != 32 or not _is_hex(val.strip())):
            self.fail(f"{key}: an MD5 is 32 hex digits, got {val!r}", param, ctx)
        return key.strip(), val.strip()


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


class DatasetName(click.ParamType):  # type: ignore[type-arg]
    """A dataset name: a folder name under the data root, so no paths and no odd characters."""

    name = "NAME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ilsvrc_bench.data.prepare import NAME_RE

        if not NAME_RE.match(str(value)):
            self.fail(
                f"{value!r}: a dataset name is letters, digits, '.', '_' and '-', "
                "starting with a letter or digit",
                param,
                ctx,
            )
        return str(value)


NAME = DatasetName()
MD5 = KeyValue("=", "NAME=HEX")


def md5_options(fn: Any) -> Any:
    fn = click.option(
        "--no-verify", is_flag=True, help="Skip MD5 checks (recorded in the dataset as skipped)."
    )(fn)
    return click.option(
        "--md5",
        "md5",
        type=MD5,
        multiple=True,
        metavar="NAME=HEX",
        help="Expected MD5 for one archive file name, replacing the official one (repeatable).",
    )(fn)
