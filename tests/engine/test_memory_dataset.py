"""The in-memory dataset type: scored like a prepared dataset, keyed by its content."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ilsvrc_bench import runs
from ilsvrc_bench.data.memory import MemoryDataset
from ilsvrc_bench.engine import EvalOptions, evaluate_specs
from ilsvrc_bench.errors import DataError
from tests.engine.helpers import MemoryDataset as HandWritten
from tests.engine.helpers import Tiny, jpeg, loader_for, spec


def test_scores_like_the_hand_written_stand_in(tmp_path: Path) -> None:
    pairs = [(jpeg(i), i % 4) for i in range(10)]
    ds = MemoryDataset.from_images(pairs, name="ten", blacklisted=frozenset({2}))
    options = EvalOptions(device="cpu", workers=0, batch_size=4)
    load = loader_for({"tiny": Tiny()})
    (result,) = evaluate_specs(
        [("tiny", spec())], ds, runs_dir=tmp_path / "a", options=options, load=load
    )
    (ref,) = evaluate_specs(
        [("tiny", spec())], HandWritten(n=10), runs_dir=tmp_path / "b", options=options, load=load
    )
    got = np.stack(runs.read_predictions(result.run_dir)["pred"].to_list())
    want = np.stack(runs.read_predictions(ref.run_dir)["pred"].to_list())
    assert np.array_equal(got, want)
    record = result.record
    assert record.data.name == "ten" and record.data.is_subset
    assert record.metrics is not None and record.metrics.blacklist_excluded is not None
    assert record.metrics.blacklist_excluded.n_blacklisted == 1


def test_the_manifest_hash_follows_the_content() -> None:
    a = MemoryDataset.from_images([(jpeg(0), 1), (jpeg(1), 2)])
    assert (
        a.manifest_sha256 == MemoryDataset.from_images([(jpeg(0), 1), (jpeg(1), 2)]).manifest_sha256
    )
    assert (
        a.manifest_sha256 != MemoryDataset.from_images([(jpeg(0), 1), (jpeg(1), 3)]).manifest_sha256
    )
    assert (
        a.manifest_sha256 != MemoryDataset.from_images([(jpeg(2), 1), (jpeg(1), 2)]).manifest_sha256
    )


def test_bad_labels_are_data_errors() -> None:
    with pytest.raises(DataError, match=r"class index 1000 is not in 0\.\.999"):
        MemoryDataset.from_images([(jpeg(0), 1000)])
    with pytest.raises(DataError, match="2 images but 1 labels"):
        MemoryDataset([jpeg(0), jpeg(1)], [3])
