"""Hostile cases for the data side of the newer commands: the preprocessed cache (``data
cache``), shift-set folders (ImageNetV2/-R/-A/-Sketch) and Hugging Face parquet shards.

Registered into :data:`tests.hostile.cases.CASES` after ``cases_commands``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from click.testing import Result

from tests.hostile.cases import TINY, case, ev, prep
from tests.hostile.cases_commands import run_cli, sample_name
from tests.hostile.env import Env

# -- the preprocessed cache -------------------------------------------------------------------


def cache_args(env: Env, *extra: str) -> list[str]:
    return ["data", "cache", "-m", TINY, "--root", str(env.root), "--data", sample_name(env),
            "--resize", "40", "--crop", "32", "--workers", "0", *extra]  # fmt: skip


def built_cache(env: Env) -> Path:
    """The sample's cache for the tiny model at 40/32, built; returns its directory."""
    run_cli(cache_args(env))
    (done,) = (env.root / "datasets").rglob("cache.json")
    return done.parent


def damage(path: Path, offset: int = 5000) -> None:
    with path.open("r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xff" * 100)


@case("cache-damaged", "cache", "eval reading a cache whose bytes changed", 3,
      "does not match its SHA-256")  # fmt: skip
def _(env: Env) -> list[str]:
    damage(built_cache(env) / "views.u8")
    return ev(env, TINY, data=sample_name(env))


@case("cache-truncated", "cache", "eval reading a cache file cut short", 3, "wrong size")
def _(env: Env) -> list[str]:
    views = built_cache(env) / "views.u8"
    with views.open("r+b") as fh:
        fh.truncate(views.stat().st_size // 2)
    return ev(env, TINY, data=sample_name(env))


def _repaired_and_usable(env: Env, result: Result) -> None:
    (row,) = json.loads(result.stdout)
    assert row["status"].startswith("repaired"), row
    run_cli(ev(env, TINY, data=sample_name(env)))  # the repaired cache reads cleanly


@case("cache-repair", "cache", "data cache run again on a damaged cache (repaired)", 0,
      post=_repaired_and_usable)  # fmt: skip
def _(env: Env) -> list[str]:
    damage(built_cache(env) / "views.u8")
    return [*cache_args(env), "--format", "json"]


@case("cache-garbage-record", "cache", "eval with a cache whose cache.json is garbage (decodes)",
      0)  # fmt: skip
def _(env: Env) -> list[str]:
    (built_cache(env) / "cache.json").write_text("{garbage")
    return ev(env, TINY, data=sample_name(env))


def _decoded(env: Env, result: Result) -> None:
    for run_json in env.runs.rglob("run.json"):
        notes = json.loads(run_json.read_text())["notes"]
        assert not any("read from the cache" in n for n in notes), notes


@case("cache-foreign", "cache", "another dataset's cache copied in under this one's key", 0,
      post=_decoded)  # fmt: skip
def _(env: Env) -> list[str]:
    from ilsvrc_bench.data import write_sample

    source = built_cache(env)
    write_sample(env.src / "other", classes=4, per_class=2, seed=1)
    run_cli(["data", "prepare", str(env.src / "other"), "--root", str(env.root),
             "--name", "other"])  # fmt: skip
    result = run_cli([*cache_args(env, "--dry-run", "--format", "json"), "--data", "other"])
    (row,) = json.loads(result.stdout)
    shutil.copytree(source, row["path"])
    return ev(env, TINY, data="other")


@case("cache-locked", "cache", "data cache while another process writes the same cache", 5,
      "another process")  # fmt: skip
def _(env: Env) -> list[str]:
    from filelock import FileLock

    result = run_cli(cache_args(env, "--dry-run", "--format", "json"))
    (row,) = json.loads(result.stdout)
    Path(row["path"]).mkdir(parents=True)
    lock = FileLock(Path(row["path"]) / ".lock")
    lock.acquire()
    env.cleanup.append(lock.release)
    return cache_args(env)


def _resumed(env: Env, result: Result) -> None:
    (row,) = json.loads(result.stdout)
    assert row["status"].startswith("resumed"), row


@case("cache-after-kill", "cache",
      "data cache after a killed build (no cache.json, a torn log line, a stale .lock)", 0,
      post=_resumed)  # fmt: skip
def _(env: Env) -> list[str]:
    folder = built_cache(env)
    (folder / "cache.json").unlink()
    (folder / "chunks.jsonl").write_text('{"chunk": 0, "unreadable": {}}\n{"chunk": 1, "unrea')
    (folder / ".lock").write_text("")
    return [*cache_args(env), "--format", "json"]


@case(
    "data-name-and-folder",
    "flags",
    "--data NAME run where a folder NAME (its source images) is in the working directory",
    0,
)
def _(env: Env) -> list[str]:
    name = env.prepared()
    (env.cwd / name).mkdir()
    env.allowed_extra.append(env.cwd)
    return ev(env, TINY, data=name)


# -- shift sets -------------------------------------------------------------------------------


def shift_folder(env: Env, name: str, wnids: list[str], *, per_class: int = 2) -> Path:
    from tests.shifts.layouts import generated

    return generated(env.src / name, wnids, per_class)


def r_wnids(n: int) -> list[str]:
    from ilsvrc_bench.data.shifts import subset_wnids

    wnids = subset_wnids("imagenet-r")
    assert wnids is not None
    return list(wnids[:n])


@case("v2-class-1000", "shifts", "an ImageNetV2 folder holding a class folder '1000'", 3,
      "named 0..999")  # fmt: skip
def _(env: Env) -> list[str]:
    from tests.shifts.layouts import jpeg

    folder = env.src / "imagenetv2-matched-frequency-format-val"
    for c in ("0", "999", "1000"):
        (folder / c).mkdir(parents=True)
        (folder / c / "x.jpeg").write_bytes(jpeg(len(c)))
    return prep(env, folder)


@case("shift-wrong-format", "shifts", "ImageNet-R folders prepared with --format imagenet-a", 3,
      "not one of the 200 imagenet-a classes")  # fmt: skip
def _(env: Env) -> list[str]:
    from ilsvrc_bench.data.shifts import subset_wnids

    a = set(subset_wnids("imagenet-a") or ())
    only_r = [w for w in (subset_wnids("imagenet-r") or ()) if w not in a][:2]
    return prep(env, shift_folder(env, "imagenet-r", only_r), extra=("--format", "imagenet-a"))


@case("shift-nested", "shifts", "imagenet-r/imagenet-r/<wnid> (unpacked one level too deep)", 3,
      "not a recognised")  # fmt: skip
def _(env: Env) -> list[str]:
    shift_folder(env, "outer/imagenet-r/imagenet-r", r_wnids(2))
    return prep(env, env.src / "outer" / "imagenet-r")


@case(
    "shift-odd-names",
    "shifts",
    "ImageNet-Sketch files named with spaces, brackets, unicode and a leading dash",
    0,
)
def _(env: Env) -> list[str]:
    from tests.shifts.layouts import jpeg

    folder = shift_folder(env, "sketch", ["n01440764", "n01443537"])
    for i, name in enumerate(("a b [1].JPEG", "ünïcode.jpg", "-dash.jpeg")):
        (folder / "n01440764" / name).write_bytes(jpeg(50 + i))
    return prep(env, folder)


@case("shift-broken-strict", "shifts",
      "eval --strict on ImageNet-R holding a broken JPEG (the file named, not a buffer)", 3,
      "not an image format")  # fmt: skip
def _(env: Env) -> list[str]:
    folder = shift_folder(env, "imagenet-r", r_wnids(2))
    (folder / r_wnids(1)[0] / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    run_cli(prep(env, folder))
    return ev(env, TINY, "--strict", data="imagenet-r")


# -- Hugging Face parquet shards (data prepare of the files data download --from hf fetches) --


def parquet_shard(env: Env, rows: Sequence[tuple[bytes | None, str, object]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = env.src / "hf" / "validation-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = [label for *_, label in rows]
    kind = pa.bool_() if any(isinstance(x, bool) for x in labels) else pa.int64()
    table = pa.table({"image": [{"bytes": d, "path": n} for d, n, _ in rows],
                      "label": pa.array(labels, kind)})  # fmt: skip
    pq.write_table(table, path)
    return path


@case("hf-same-name-twice", "downloads", "a parquet shard naming one image file twice", 3,
      "appears twice")  # fmt: skip
def _(env: Env) -> list[str]:
    from tests.shifts.layouts import jpeg

    rows = [(jpeg(1), "x.JPEG", 0), (jpeg(2), "x.JPEG", 5), (jpeg(3), "y.JPEG", 7)]
    return prep(env, parquet_shard(env, rows))


@case("hf-bool-label", "downloads", "a parquet shard whose labels are booleans", 3, "not 0..999")
def _(env: Env) -> list[str]:
    from tests.shifts.layouts import jpeg

    return prep(env, parquet_shard(env, [(jpeg(1), "a.JPEG", True), (jpeg(2), "b.JPEG", False)]))


def _inside(env: Env, result: Result) -> None:
    assert not (env.root / "evil.JPEG").exists() and not (env.base / "evil.JPEG").exists()
    (images,) = (env.root / "datasets").glob("*/images")
    assert sorted(p.name for p in images.iterdir()) == [
        "evil.JPEG",
        "validation-00000-of-00001-000002.JPEG",
        "x.JPEG",
    ]


@case("hf-path-traversal", "downloads",
      "a parquet shard whose image paths are '../../evil.JPEG', '/etc/x.JPEG' and ''", 0,
      post=_inside)  # fmt: skip
def _(env: Env) -> list[str]:
    from tests.shifts.layouts import jpeg

    rows = [(jpeg(1), "../../evil.JPEG", 0), (jpeg(2), "/etc/x.JPEG", 5), (jpeg(3), "", 7)]
    return prep(env, parquet_shard(env, rows))


@case("hf-not-parquet", "downloads", "a .parquet file of random bytes", 3, "parquet")
def _(env: Env) -> list[str]:
    return prep(env, env.write("hf/validation-00000-of-00001.parquet", os.urandom(2000)))
