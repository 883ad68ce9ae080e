"""``ilsvrc-bench data``: download, prepare, info, verify, sample."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ilsvrc_bench import output
from ilsvrc_bench.cli.cache import cache_command
from ilsvrc_bench.cli.canary_view import canary_options
from ilsvrc_bench.cli.data_view import report_problems, show
from ilsvrc_bench.cli.options import data_option, format_option, output_option, root_option

if TYPE_CHECKING:
    from ilsvrc_bench.progress import Progress

SOURCE_FORMATS = (
    "official",
    "flat",
    "kaggle",
    "hf",
    "imagefolder",
    "imagenetv2",
    "imagenet-r",
    "imagenet-a",
    "imagenet-sketch",
)


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
HEADER = KeyValue(":", "'Name: value'")


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


@contextmanager
def progress_bars() -> Iterator[Progress | None]:
    """Bars on stderr for the data layer's stages (None with --quiet: nothing to draw)."""
    if output.is_quiet():
        yield None
        return
    with output.ProgressBars() as bars:
        yield bars


@click.group()
def data() -> None:
    """Download, prepare, inspect and verify ILSVRC2012 val (and other) datasets."""


@data.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "source_format",
    type=click.Choice(SOURCE_FORMATS),
    default=None,
    help="Source layout (detected when omitted).",
)
@click.option(
    "--name",
    type=NAME,
    default=None,
    help="Dataset name (default: from the source; ilsvrc2012-val only for the complete val).",
)
@click.option(
    "--label-offset",
    type=click.IntRange(-1, 1),
    default=0,
    show_default=True,
    help="Add this to integer labels in a label list: -1 for 1-based files (the 1001-class "
    "convention with 0 = background, or 1..1000).",
)
@md5_options
@root_option
def prepare(  # noqa: PLR0917 - one parameter per click option
    sources: tuple[Path, ...],
    source_format: str | None,
    name: str | None,
    label_offset: int,
    md5: tuple[tuple[str, str], ...],
    no_verify: bool,
    root: Path | None,
) -> None:
    """Prepare a dataset from SOURCES: the official val tar + devkit, a flat folder with a label
    file, the Kaggle tree, Hugging Face parquet shards, an ImageFolder or ImageNetV2 folders.

    \b
    ilsvrc-bench data prepare ILSVRC2012_img_val.tar ILSVRC2012_devkit_t12.tar.gz
    ilsvrc-bench data prepare ./val LOC_val_solution.csv
    ilsvrc-bench data prepare imagenetv2-matched-frequency-format-val
    """
    from ilsvrc_bench.data import prepare as prepare_dataset

    with progress_bars() as progress:
        ds = prepare_dataset(
            sources,
            root=root,
            name=name,
            fmt=source_format,
            md5=dict(md5),
            verify=not no_verify,
            label_offset=label_offset,
            progress=progress,
        )
    output.info(f"prepared {ds.name}: {ds.n_images:,} images, {ds.n_classes} classes")
    report_problems(ds)
    show(ds)


@data.command()
@click.option(
    "--from",
    "origin",
    type=click.Choice(["official", "hf", "kaggle"]),
    default="official",
    show_default=True,
    help="official: image-net.org (or --mirror); hf: the Hugging Face Hub's gated "
    "ILSVRC/imagenet-1k validation parquet shards; kaggle: the val files of the Kaggle "
    "competition imagenet-object-localization-challenge (needs the kaggle extra).",
)
@click.option(
    "--token",
    default=None,
    metavar="TOKEN",
    help="Hugging Face token for --from hf (default: $HF_TOKEN or the stored login; never logged).",
)
@click.option("--revision", default="main", show_default=True, help="Hub revision for --from hf.")
@click.option("--mirror", default=None, metavar="URL", help="Base URL to fetch the files from.")
@click.option(
    "--header",
    "headers",
    type=HEADER,
    multiple=True,
    metavar="'Name: value'",
    help="HTTP header to send, e.g. a cookie or token (repeatable; never logged).",
)
@click.option("--retries", default=5, show_default=True, help="Retries without progress.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1, max=64),
    default=None,
    help="Files fetched at once for --from kaggle (default: 16).",
)
@click.option("--name", type=NAME, default=None, help="Dataset name (default: ilsvrc2012-val).")
@md5_options
@root_option
def download(  # noqa: PLR0917 - one parameter per click option
    origin: str,
    token: str | None,
    revision: str,
    mirror: str | None,
    headers: tuple[tuple[str, str], ...],
    retries: int,
    jobs: int | None,
    name: str | None,
    md5: tuple[tuple[str, str], ...],
    no_verify: bool,
    root: Path | None,
) -> None:
    """Download ILSVRC2012_img_val.tar and the devkit (resumable), check MD5s, then prepare.

    image-net.org needs an account: pass your session with --header 'Cookie: ...', or
    download the files by hand and use `ilsvrc-bench data prepare`. With --from hf the
    validation parquet shards come from the Hugging Face Hub (a token and the dataset's
    accepted terms are needed), are checked against the Hub's SHA-256 and prepared. With
    --from kaggle the 50,000 val images come one by one from the Kaggle competition (Kaggle
    credentials and its accepted rules are needed; a rerun fetches only what is missing).

    \b
    ilsvrc-bench data download --from hf
    ilsvrc-bench data download --from kaggle -j 16
    """
    from ilsvrc_bench.errors import UsageError

    if origin != "official":
        given = [
            flag
            for flag, value in (("--mirror", mirror), ("--header", headers), ("--md5", md5))
            if value
        ]
        if given:
            raise UsageError(f"{', '.join(given)}: only for --from official")
    if origin != "hf" and (token is not None or revision != "main"):
        flag = "--token" if token is not None else "--revision"
        extra = " (use --header for image-net.org)" if origin == "official" else ""
        raise UsageError(f"{flag}: only for --from hf{extra}")
    if jobs is not None and origin != "kaggle":
        raise UsageError("--jobs: only for --from kaggle")
    if origin == "kaggle":
        from ilsvrc_bench.data.kaggle import DEFAULT_JOBS, download_kaggle

        with progress_bars() as progress:
            ds = download_kaggle(root=root, name=name, jobs=jobs or DEFAULT_JOBS, progress=progress)
        report_problems(ds)
        show(ds)
        return
    if origin == "hf":
        from ilsvrc_bench.data.hub import download_hf

        with progress_bars() as progress:
            ds = download_hf(
                root=root, token=token, revision=revision, name=name, progress=progress
            )
        report_problems(ds)
        show(ds)
        return
    from ilsvrc_bench.data.download import DEFAULT_BASE_URL, RetryPolicy
    from ilsvrc_bench.data.download import download as download_dataset

    with progress_bars() as progress:
        ds = download_dataset(
            root=root,
            base_url=mirror or DEFAULT_BASE_URL,
            headers=dict(headers),
            md5=dict(md5),
            verify=not no_verify,
            name=name,
            policy=RetryPolicy(retries=retries),
            progress=progress,
        )
    report_problems(ds)
    show(ds)


@data.command()
@root_option
@data_option
@format_option()
@output_option
def info(root: Path | None, data: str | None, fmt: str, output_path: Path | None) -> None:
    """Show a prepared dataset: counts, classes, source, size and manifest hash."""
    from ilsvrc_bench.data import open_dataset

    show(open_dataset(data, root=root), fmt=fmt, out=output_path)


@data.command()
@click.option("--decode", is_flag=True, help="Also decode every image (CMYK, grayscale, non-JPEG).")
@canary_options
@root_option
@data_option
@format_option()
@output_option
def verify(  # noqa: PLR0917 - one parameter per click option
    root: Path | None,
    data: str | None,
    decode: bool,
    canary: str | None,
    canary_images: int,
    canary_expect: float | None,
    canary_weights: str | None,
    device: str,
    fmt: str,
    output_path: Path | None,
) -> None:
    """Check every image against the manifest (size, SHA-256); exit 3 if any fails.

    With --canary [MODEL], a model of known accuracy then scores a class-stratified subset;
    exit 3 if the data scores significantly below the published accuracy, with the usual
    suspect (label order, shift by one, channel order, resize rule) that explains it best.

    \b
    ilsvrc-bench data verify --canary
    ilsvrc-bench data verify --canary model.onnx --canary-expect 68.3 --canary-images 2000
    """
    from ilsvrc_bench.data import open_dataset
    from ilsvrc_bench.data.verify import verify as verify_dataset
    from ilsvrc_bench.errors import DataError

    ds = open_dataset(data, root=root)
    with progress_bars() as progress:
        report = verify_dataset(ds, decode=decode, progress=progress)
    rows = [{"path": f.path, "kind": f.kind, "detail": f.detail} for f in report.findings]
    if rows or (fmt in ("json", "csv") and canary is None):
        output.emit(rows, fmt=fmt, columns=["path", "kind", "detail"], output=output_path)
    notes = len(report.findings) - len(report.errors)
    output.info(
        f"checked {report.n_checked:,} images of {ds.name}: {len(report.errors)} failed, "
        f"{notes} notes{' (decoded)' if decode else ''}"
    )
    if not report.ok:
        raise DataError(
            f"{ds.path}: {len(report.errors)} of {report.n_checked} images failed verification "
            f"(first: {report.errors[0].path}, {report.errors[0].kind})"
        )
    if canary is not None:
        from ilsvrc_bench.cli.canary_view import run_and_show

        verdict = run_and_show(
            ds,
            model=canary,
            n_images=canary_images,
            expect=canary_expect,
            weights=canary_weights,
            device=device,
            fmt=fmt,
            output_path=output_path,
        )
        if not verdict.ok:
            best = verdict.best
            why = (
                f"best explanation: {best.name} ({best.detail}: {best.top1:.2f}%)"
                if best is not None
                else "none of the usual suspects explains it"
            )
            given = verdict.expected_source == "--canary-expect"
            raise DataError(
                f"{ds.path}: the canary {verdict.model} scores {verdict.top1:.2f}% top-1 "
                f"(95% CI {verdict.ci[0]:.2f}-{verdict.ci[1]:.2f}), below the "
                f"{'--canary-expect' if given else 'published'} {verdict.expected_top1:.3f}%; {why}"
            )


@data.command()
@click.argument("out_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--classes",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Number of classes (spread out).",
)
@click.option(
    "--per-class",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Images per class.",
)
@click.option("--seed", default=0, show_default=True, help="Seed for images and order.")
@click.option(
    "--name", type=NAME, default="sample", show_default=True, help="Name of the prepared dataset."
)
@click.option("--no-prepare", is_flag=True, help="Only write the archives.")
@root_option
def sample(  # noqa: PLR0917 - one parameter per click option
    out_dir: Path | None,
    classes: int,
    per_class: int,
    seed: int,
    name: str,
    no_prepare: bool,
    root: Path | None,
) -> None:
    """Write a small generated val tar + devkit in the official layout and prepare it.

    The archives go to OUT_DIR (default: <root>/sample-archives); the dataset is named
    `sample`, so `--data sample` selects it and the real ILSVRC2012 val is never shadowed.
    """
    from ilsvrc_bench import paths
    from ilsvrc_bench.data import prepare as prepare_dataset
    from ilsvrc_bench.data import write_sample

    target = out_dir or paths.data_root(root) / "sample-archives"
    val_tar, devkit = write_sample(target, classes=classes, per_class=per_class, seed=seed)
    output.info(f"wrote {val_tar} and {devkit}")
    if no_prepare:
        return
    ds = prepare_dataset([val_tar, devkit], root=root, name=name)
    show(ds)


data.add_command(cache_command)
