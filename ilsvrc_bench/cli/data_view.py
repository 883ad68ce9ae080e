"""How ``data`` commands show a prepared dataset (its identity, completeness, checks, problems)
and the data layer's progress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ilsvrc_bench import output

if TYPE_CHECKING:
    from ilsvrc_bench.data import Dataset
    from ilsvrc_bench.progress import Progress


def _identity(ds: Dataset) -> dict[str, Any]:
    info = ds.info
    classes = sorted({r.class_index for r in ds.records})
    return {
        "name": ds.name,
        "path": str(ds.path),
        "source": ds.source,
        "split": ds.split,
        "n_images": ds.n_images,
        "n_classes": ds.n_classes,
        "classes": classes,
        "size_bytes": sum(r.size for r in ds.records),
        "blacklisted": sum(r.blacklisted for r in ds.records),
        "manifest_sha256": ds.manifest_sha256,
        "storage": ds.storage.kind,
        "storage_location": str(ds.storage.location),
        "verify_skipped": bool(info.get("verify_skipped")),
        "md5_checks": info.get("md5_checks", {}),
        "problems": ds.problems,
        "label_order": info.get("label_order", {}),
        "class_subset": info.get("class_subset"),
        "complete": bool(info.get("complete", False)),
        "is_subset": bool(info.get("is_subset", False)),
        "n_listed": info.get("n_listed"),
        "notes": list(info.get("notes", [])),
    }


def _md5_text(ident: dict[str, Any]) -> str:
    """What was checked, truthfully: "checked" only when a known MD5 was compared."""
    if ident["verify_skipped"]:
        return "skipped (--no-verify)"
    checks = ident["md5_checks"]
    verified = {c.get("expected_from") for c in checks.values() if c.get("verified")}
    if not verified:
        return "none (no archive with a known MD5)"
    where = ", ".join(sorted("official MD5" if v == "official" else str(v) for v in verified))
    unchecked = sum(not c.get("verified") for c in checks.values())
    return f"checked against {where}" + (f"; {unchecked} not checked" if unchecked else "")


def _data_text(ident: dict[str, Any]) -> str:
    if ident["complete"]:
        return "complete ILSVRC2012 val"
    if ident["is_subset"]:
        listed = f" of {ident['n_listed']:,} listed" if ident["n_listed"] else ""
        return f"SUBSET of ILSVRC2012 val: {ident['n_images']:,} images{listed}"
    return f"{ident['split']} split of {ident['source']}"


def _classes_text(classes: list[int]) -> str:
    if len(classes) == 1000:
        return "all 1000"
    shown = ", ".join(str(c) for c in classes[:12])
    return f"{len(classes)}: {shown}{', ...' if len(classes) > 12 else ''}"


def show(ds: Dataset, *, fmt: str = "table", out: Path | None = None) -> None:
    """``data info``: a field/value table, or the identity as JSON."""
    ident = _identity(ds)
    if fmt == "json":
        output.write_text(output.to_json(ident), out)
        return
    rows = [
        {"field": key, "value": value}
        for key, value in {
            **{k: ident[k] for k in ("name", "source", "split", "n_images", "n_classes")},
            "data": _data_text(ident),
            "classes": _classes_text(ident["classes"]),
            "ranked over": f"{len(ident['class_subset'])} classes (the set's subset)"
            if ident["class_subset"]
            else "all 1000 classes",
            "size": f"{ident['size_bytes']:,} bytes",
            "blacklisted": ident["blacklisted"],
            "problems": len(ident["problems"]),
            "md5": _md5_text(ident),
            "storage": f"{ident['storage']} {ident['storage_location']}",
            "manifest_sha256": ident["manifest_sha256"],
            "path": ident["path"],
        }.items()
    ]
    output.emit(rows, fmt=fmt, columns=["field", "value"], output=out, title=f"dataset {ds.name}")


def report_problems(ds: Dataset) -> None:
    """Notes, the subset warning, unusable images and skipped checks, after a prepare."""
    for note in ds.info.get("notes", []):
        output.info(note)
    if ds.info.get("is_subset"):
        output.warn(
            f"{ds.name} is a subset of ILSVRC2012 val ({ds.n_images:,} images), not the "
            "complete val (`data info` and the manifest say so)"
        )
    problems = ds.problems
    if problems:
        first = problems[0]
        output.warn(
            f"{len(problems)} images are not usable JPEGs (first: {first['path']}, "
            f"{first['problem']}); see `ilsvrc-bench data verify --decode`"
        )
    if ds.info.get("verify_skipped"):
        output.warn("MD5 checks were skipped (--no-verify); the dataset records this")


@contextmanager
def progress_bars() -> Iterator[Progress | None]:
    """Bars on stderr for the data layer's stages (None with --quiet: nothing to draw)."""
    if output.is_quiet():
        yield None
        return
    with output.ProgressBars() as bars:
        yield bars
