"""The preprocessed cache: bit-identical views, keyed, resumable after kill -9, never half-used."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from ilsvrc_bench.data import open_dataset, prepare
from ilsvrc_bench.engine import EvalOptions, evaluate_specs, pipeline
from ilsvrc_bench.engine import cache as caches
from ilsvrc_bench.engine.loader import ImageViews
from ilsvrc_bench.errors import DataError
from ilsvrc_bench.models.spec import ModelSpec, Preprocessing, WeightsSpec
from tests.engine.helpers import SMALL_PREP, Tiny, make_sample_root

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sample(tmp_path: Path):
    """A fresh copy of dataset ``sample`` (each test writes its own caches)."""
    return open_dataset("sample", root=make_sample_root(tmp_path))


def _direct(dataset, prep: Preprocessing, protocol: str = "center") -> list[Any]:
    views = ImageViews(dataset, dataset.records, prep, protocol)
    return [views[i] for i in range(len(views))]


def _cached(target: caches.CachePlan, dataset) -> list[Any]:
    opened = caches.open_complete(target)
    assert opened is not None
    views = opened.for_records(dataset.records)
    return [views[i] for i in range(len(views))]


def _no_address(text: str) -> str:
    return re.sub(r" at 0x[0-9a-f]+", "", text)


def _assert_same(a: list[Any], b: list[Any]) -> None:
    assert len(a) == len(b)
    for (i1, v1, ok1, e1), (i2, v2, ok2, e2) in zip(a, b, strict=True):
        # Pillow's message names its BytesIO object by address: equal up to that.
        assert (i1, ok1, _no_address(e1)) == (i2, ok2, _no_address(e2))
        assert v1.dtype == v2.dtype == torch.uint8
        assert torch.equal(v1, v2), f"image {i1} differs"


@pytest.mark.realdata
def test_cache_is_bit_identical_on_the_real_images(real_images: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for src in sorted(real_images.iterdir()):
        (tree / src.name.split("_", 1)[0]).mkdir(parents=True, exist_ok=True)
        os.link(src, tree / src.name.split("_", 1)[0] / src.name)
    dataset = prepare([tree], root=tmp_path / "root", name="real", fmt="imagefolder")
    prep = Preprocessing()  # the torchvision recipe, 256/224 bilinear
    target = caches.plan(dataset, prep, "center")
    assert caches.build(dataset, prep, target, workers=0) == 200
    _assert_same(_cached(target, dataset), _direct(dataset, prep))


def test_ten_crop_cache_is_bit_identical_and_resumes_after_kill_9(sample, tmp_path: Path) -> None:
    target = caches.plan(sample, SMALL_PREP, "10crop", chunk_images=4)
    script = textwrap.dedent(
        f"""
        import os, signal
        from ilsvrc_bench.data import open_dataset
        from ilsvrc_bench.engine import cache
        from tests.engine.helpers import SMALL_PREP
        ds = open_dataset({str(sample.path)!r})
        p = cache.plan(ds, SMALL_PREP, "10crop", chunk_images=4)
        seen = []
        def killer(n):
            seen.append(n)
            if len(seen) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        cache.build(ds, SMALL_PREP, p, on_chunk=killer)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, check=False)
    assert done.returncode == -9
    # Killed: not complete, so never read, and eval decodes instead.
    assert caches.open_complete(target) is None
    assert caches.status(target) == (False, 8)
    assert pipeline.find_cache(sample, SMALL_PREP, "10crop") is None
    # What a kill in the middle of the third chunk leaves: garbage pixels and a torn line.
    with (target.directory / caches.VIEWS).open("r+b") as fh:
        fh.seek(9 * target.image_bytes)
        fh.write(b"\x7f" * target.image_bytes)
    with (target.directory / caches.CHUNKS).open("a") as fh:
        fh.write('{"chunk": 2, "unread')
    assert caches.build(sample, SMALL_PREP, target) == 12  # resumed: 8 were already there
    _assert_same(_cached(target, sample), _direct(sample, SMALL_PREP, "10crop"))


def test_a_cache_for_other_preprocessing_is_never_used(sample, tmp_path: Path) -> None:
    made = caches.plan(sample, SMALL_PREP, "center")
    caches.build(sample, SMALL_PREP, made)
    assert pipeline.find_cache(sample, SMALL_PREP, "center") is not None
    other_crop = Preprocessing(resize_size=40, crop_size=30)
    bicubic = Preprocessing(resize_size=40, crop_size=32, interpolation="bicubic")
    tf_geometry = Preprocessing(resize_size=40, crop_size=32, central_fraction=0.875)
    others = [(other_crop, "center"), (bicubic, "center"), (tf_geometry, "center")]
    for prep, protocol in [*others, (SMALL_PREP, "full")]:
        assert pipeline.find_cache(sample, prep, protocol) is None
    assert pipeline.find_cache(sample, SMALL_PREP, "center", decode="gpu") is None
    # Mean and std are applied after the cache: a model differing only there shares it.
    renormed = Preprocessing(resize_size=40, crop_size=32, mean=(0.5, 0.5, 0.5))
    assert pipeline.find_cache(sample, renormed, "center") is not None


def _spec(prep: Preprocessing) -> ModelSpec:
    return ModelSpec(
        name="tiny",
        source="factory",
        architecture="tiny",
        weights=WeightsSpec("random"),
        preprocessing=prep,
    )


def _eval(dataset, runs: Path, **options):
    (result,) = evaluate_specs(
        [("tiny", _spec(SMALL_PREP))],
        dataset,
        runs_dir=runs,
        options=EvalOptions(device="cpu", batch_size=6, resume=False, **options),
        load=lambda spec, device: _Loaded(Tiny().eval()),
    )
    return result


class _Loaded:
    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        self.weights_sha256 = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def _predictions(result) -> np.ndarray:
    import pandas as pd

    table = pd.read_parquet(result.run_dir / "predictions.parquet")
    return np.concatenate([np.stack(list(table["pred"])), np.stack(list(table["prob"]))], axis=1)


def test_eval_with_and_without_the_cache_gives_identical_predictions(sample, tmp_path) -> None:
    plain = _eval(sample, tmp_path / "runs", cache=False)
    built = _eval(sample, tmp_path / "runs", cache=True)  # writes it, then reads it
    reused = _eval(sample, tmp_path / "runs")  # found automatically
    assert not any("cache" in n for n in plain.record.notes)
    for result in (built, reused):
        assert any("read from the cache" in n for n in result.record.notes)
        assert result.record.metrics == plain.record.metrics
        np.testing.assert_array_equal(_predictions(result), _predictions(plain))


def test_too_small_a_disk_is_refused_before_writing(sample) -> None:
    target = caches.plan(sample, SMALL_PREP, "center")
    with pytest.raises(DataError, match=r"needs .* GiB more and the disk has .* free"):
        caches.build(sample, SMALL_PREP, target, free_bytes=lambda _: target.size_bytes - 1)
    assert not (target.directory / caches.VIEWS).exists()


def test_an_unwritable_cache_file_is_one_line_naming_it(sample) -> None:
    target = caches.plan(sample, SMALL_PREP, "center")
    (target.directory / caches.PLAN).mkdir(parents=True)
    with pytest.raises(DataError, match=r"^cannot write .*/plan\.json: [^\n]*$"):
        caches.build(sample, SMALL_PREP, target)
    assert caches.open_complete(target) is None
    (target.directory / caches.PLAN).rmdir()
    (target.directory / ".lock").unlink(missing_ok=True)
    (target.directory / ".lock").mkdir()  # the lock file cannot be made
    with pytest.raises(DataError, match=r"^cannot write .*/\.lock: [^\n]*$"):
        caches.build(sample, SMALL_PREP, target)


def test_a_file_where_the_cache_folder_goes_is_one_line_naming_it(sample) -> None:
    target = caches.plan(sample, SMALL_PREP, "center")
    shutil.rmtree(target.directory.parent, ignore_errors=True)
    target.directory.parent.write_text("not a folder")  # <dataset>/cache
    with pytest.raises(DataError, match=r"cannot write .*: .*/cache is not a directory$"):
        caches.build(sample, SMALL_PREP, target)


def test_a_damaged_cache_is_an_error_not_a_wrong_number(sample, tmp_path) -> None:
    target = caches.plan(sample, SMALL_PREP, "center")
    caches.build(sample, SMALL_PREP, target)
    views = target.directory / caches.VIEWS
    data = bytearray(views.read_bytes())
    data[5 * target.image_bytes + 17] ^= 0xFF
    views.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"views.u8: image 5 does not match its SHA-256"):
        _cached(target, sample)
    with pytest.raises(DataError, match="does not match its SHA-256"):
        _eval(sample, tmp_path / "runs")
    views.write_bytes(bytes(data[:-1]))
    with pytest.raises(DataError, match="wrong size"):
        caches.open_complete(target)
    assert _eval(sample, tmp_path / "runs", cache=False).record.metrics is not None


class _OneBroken:
    """The sample dataset, with image 3's bytes replaced by garbage."""

    def __init__(self, dataset) -> None:
        self._dataset = dataset
        self.name, self.path, self.records = dataset.name, dataset.path, dataset.records
        self.manifest_sha256, self.n_images = dataset.manifest_sha256, dataset.n_images
        self.source, self.split = dataset.source, dataset.split

    def read_bytes(self, record) -> bytes:
        return b"not a jpeg" if record.index == 3 else self._dataset.read_bytes(record)


def test_an_unreadable_image_is_cached_as_unreadable_with_its_error(sample) -> None:
    broken = _OneBroken(sample)
    target = caches.plan(broken, SMALL_PREP, "center")
    caches.build(broken, SMALL_PREP, target)
    cached, direct = _cached(target, broken), _direct(broken, SMALL_PREP)
    _assert_same(cached, direct)
    assert cached[3][2] is False and "cannot decode image" in cached[3][3]
