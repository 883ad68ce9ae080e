"""``ilsvrc-bench data download``: ILSVRC2012 val from image-net.org (or a mirror), the Hugging
Face Hub or Kaggle, checked and prepared in one step."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ilsvrc_bench.cli.data_view import progress_bars, report_problems, show
from ilsvrc_bench.cli.options import NAME, KeyValue, md5_options, root_option

if TYPE_CHECKING:
    from ilsvrc_bench.data import Dataset
    from ilsvrc_bench.progress import Progress

HEADER = KeyValue(":", "'Name: value'")


@click.command("download")
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
@click.option(
    "--retries",
    default=5,
    show_default=True,
    type=click.IntRange(min=0),
    help="Retries without progress.",
)
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
def download_command(  # noqa: PLR0917 - one parameter per click option
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
    with progress_bars() as progress:
        ds = _fetch(
            origin,
            root=root,
            name=name,
            progress=progress,
            token=token,
            revision=revision,
            jobs=jobs,
            mirror=mirror,
            headers=headers,
            md5=md5,
            no_verify=no_verify,
            retries=retries,
        )
    report_problems(ds)
    show(ds)


def _fetch(
    origin: str,
    *,
    root: Path | None,
    name: str | None,
    progress: Progress | None,
    token: str | None,
    revision: str,
    jobs: int | None,
    mirror: str | None,
    headers: tuple[tuple[str, str], ...],
    md5: tuple[tuple[str, str], ...],
    no_verify: bool,
    retries: int,
) -> Dataset:
    """Download from ``origin`` and prepare; the prepared dataset."""
    if origin == "kaggle":
        from ilsvrc_bench.data.kaggle import DEFAULT_JOBS, download_kaggle

        return download_kaggle(root=root, name=name, jobs=jobs or DEFAULT_JOBS, progress=progress)
    if origin == "hf":
        from ilsvrc_bench.data.hub import download_hf

        return download_hf(root=root, token=token, revision=revision, name=name, progress=progress)
    from ilsvrc_bench.data.download import DEFAULT_BASE_URL, RetryPolicy, download

    return download(
        root=root,
        base_url=mirror or DEFAULT_BASE_URL,
        headers=dict(headers),
        md5=dict(md5),
        verify=not no_verify,
        name=name,
        policy=RetryPolicy(retries=retries),
        progress=progress,
    )
