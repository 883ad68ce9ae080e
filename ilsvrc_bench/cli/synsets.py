"""``ilsvrc-bench synsets``: the 1000 classes, searchable; never imports torch."""

from __future__ import annotations

from pathlib import Path

import click

from ilsvrc_bench import output
from ilsvrc_bench.cli.options import format_option, output_option, root_option

COLUMNS = ["index", "wnid", "devkit_id", "name", "lemmas", "gloss"]


@click.command()
@click.argument("query", required=False)
@format_option()
@output_option
@root_option
def synsets(query: str | None, fmt: str, output_path: Path | None, root: Path | None) -> None:
    """List the 1000 ILSVRC2012 classes, or those matching QUERY (a wnid, an index or words).

    The index is the sorted-wnid class index every model uses; the devkit id (ILSVRC2012_ID)
    is shown once `data prepare` has seen the real devkit.

    \b
    ilsvrc-bench synsets crane
    ilsvrc-bench synsets n01440764 --format json
    ilsvrc-bench synsets --format csv -o classes.csv
    """
    from ilsvrc_bench.data.devkit import devkit_ids
    from ilsvrc_bench.errors import UsageError
    from ilsvrc_bench.synsets import all_synsets, search

    found = search(query) if query else list(all_synsets())
    if not found:
        raise UsageError(f"no class matches {query!r}")
    ids = devkit_ids(root) or {}
    rows = [
        {
            "index": s.class_index,
            "wnid": s.wnid,
            "devkit_id": ids.get(s.wnid),
            "name": s.name,
            "lemmas": ", ".join(s.lemmas) if fmt in ("table", "markdown") else list(s.lemmas),
            "gloss": s.gloss,
        }
        for s in found
    ]
    columns = COLUMNS if ids or fmt in ("json", "csv") else [c for c in COLUMNS if c != "devkit_id"]
    output.emit(rows, fmt=fmt, columns=columns, output=output_path)
