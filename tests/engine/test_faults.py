"""Faults a model or a resume can bring: non-finite outputs, a model raising in forward,
--strict on resume, and the command a run records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from ilsvrc_bench import runs
from ilsvrc_bench.engine import EvalOptions, evaluate_specs
from ilsvrc_bench.errors import DataError, ExitCode, ModelError
from tests.engine.helpers import MemoryDataset, Tiny, loader_for, spec


def run(tmp_path: Path, ds: MemoryDataset, model: object, **opts: object) -> list:  # type: ignore[type-arg]
    options = EvalOptions(device="cpu", workers=0, batch_size=4, **opts)  # type: ignore[arg-type]
    return evaluate_specs(
        [("tiny", spec())],
        ds,
        runs_dir=tmp_path / "runs",
        options=options,
        load=loader_for({"tiny": model}),
    )


def poisoned(bad: float) -> object:
    """Tiny, but the first image of every batch gets one ``bad`` score."""
    tiny = Tiny()

    def forward(x: torch.Tensor) -> torch.Tensor:
        out = tiny(x).clone()
        out[0, 7] = bad
        return out

    return forward


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_outputs_are_misses_listed_in_the_record(tmp_path: Path, bad: float) -> None:
    ds = MemoryDataset(n=12)
    (clean,) = run(tmp_path / "clean", ds, Tiny())
    (result,) = run(tmp_path / "bad", ds, poisoned(bad))
    record = result.record
    assert [u.index for u in record.nonfinite] == [0, 4, 8]
    assert record.metrics.n_nonfinite == 3 and record.metrics.n_unreadable == 0
    assert any("NaN or inf" in n for n in record.notes)
    preds = np.stack(runs.read_predictions(result.run_dir)["pred"].to_list())
    ref = np.stack(runs.read_predictions(clean.run_dir)["pred"].to_list())
    assert (preds[[0, 4, 8]] == -1).all()
    keep = [i for i in range(12) if i not in (0, 4, 8)]
    assert np.array_equal(preds[keep], ref[keep])
    # Never ranked as scores: a miss even where the clean model is right.
    labels = np.array([r.class_index for r in ds.records])
    assert record.metrics.top5_correct == int((ref[keep] == labels[keep, None]).any(1).sum())


def test_every_output_non_finite_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="NaN or inf for every one of the 12 images") as err:
        run(tmp_path, MemoryDataset(n=12), lambda x: torch.full((x.shape[0], 1000), float("nan")))
    assert err.value.exit_code == ExitCode.MODEL
    assert "\n" not in str(err.value)


def test_a_model_raising_in_forward_is_a_model_error_and_the_run_resumes(tmp_path: Path) -> None:
    tiny, calls = Tiny(), [0]

    def flaky(x: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        if calls[0] == 2:
            raise ValueError("weights went missing\nsecond line of the story")
        return tiny(x)

    ds = MemoryDataset(n=12)
    with pytest.raises(ModelError) as err:
        run(tmp_path, ds, flaky, flush_batches=1, flush_min_seconds=0.0)
    message = str(err.value)
    assert message == (
        "tiny: the model failed on a batch of shape [4, 3, 32, 32]: ValueError: weights went "
        "missing"
    )
    (run_dir,) = runs.iter_run_dirs(tmp_path / "runs")
    assert runs.read_record(run_dir).status == "running"
    (result,) = run(tmp_path, ds, flaky)
    assert result.run_dir == run_dir and result.record.reused_images == 4


def test_an_input_too_small_for_the_architecture_is_a_model_error(tmp_path: Path) -> None:
    alexnet = torchvision.models.alexnet(weights=None).eval()
    with pytest.raises(ModelError, match=r"tiny: the model failed on a batch of shape \[4, 3, 32"):
        run(tmp_path, MemoryDataset(n=4), alexnet)


def test_strict_is_not_bypassed_on_resume(tmp_path: Path) -> None:
    tiny, calls = Tiny(), [0]

    def stop_at_third(x: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        if calls[0] == 3:
            raise KeyboardInterrupt
        return tiny(x)

    ds = MemoryDataset(n=12, broken=frozenset({3}))
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, ds, stop_at_third, flush_batches=1, flush_min_seconds=0.0)
    (run_dir,) = runs.iter_run_dirs(tmp_path / "runs")
    assert list(run_dir.glob("chunks/*.parquet"))  # image 3 stored as an unreadable miss
    with pytest.raises(DataError, match=r"unreadable image \(--strict\): /mem/img003.png"):
        run(tmp_path, ds, Tiny(), strict=True)
    # Without --strict the run completes, the image counted as a miss.
    (result,) = run(tmp_path, ds, Tiny())
    assert result.run_dir == run_dir and result.record.metrics.n_unreadable == 1


def test_the_library_records_the_command_its_caller_gives(tmp_path: Path) -> None:
    (plain,) = run(tmp_path / "a", MemoryDataset(n=4), Tiny())
    assert plain.record.command == ()  # never the test runner's argv
    (given,) = run(tmp_path / "b", MemoryDataset(n=4), Tiny(), command=("my-sweep", "--seed", "1"))
    assert given.record.command == ("my-sweep", "--seed", "1")
