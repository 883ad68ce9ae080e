"""The engine says loudly when predictions fit a known wrong class order better than the labels."""

from __future__ import annotations

from pathlib import Path

import torch

from ilsvrc_bench import runs
from ilsvrc_bench.data.labelorder import string_sorted_map
from ilsvrc_bench.engine import EvalOptions, evaluate_specs
from tests.engine.helpers import MemoryDataset, loader_for, spec


def _predicting(classes: list[int]):
    """A model that answers ``classes`` in order, one per image, whatever the pixels."""
    queue = list(classes)

    def fn(x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(x.shape[0], 1000)
        for row in range(x.shape[0]):
            logits[row, queue.pop(0)] = 10.0
        return logits

    return fn


def _evaluate(tmp_path: Path, classes: list[int]):
    dataset = MemoryDataset(n=40, n_classes=1000)
    (result,) = evaluate_specs(
        [("oracle", spec(name="oracle"))],
        dataset,
        runs_dir=tmp_path / "runs",
        options=EvalOptions(device="cpu", workers=0, batch_size=8, resume=False),
        load=loader_for({"oracle": _predicting(classes)}),
    )
    return result


def test_string_sorted_folder_labels_are_flagged(tmp_path: Path) -> None:
    # The model is right if the folders 0..999 had been read in string order: labels are wrong.
    wrong_order = string_sorted_map()
    result = _evaluate(tmp_path, [wrong_order[i] for i in range(40)])
    assert result.record.metrics.top1_acc < 10
    (warning,) = result.warnings
    assert "labels look permuted" in warning and "string-sorted" in warning
    assert warning in runs.read_record(result.run_dir).notes


def test_a_model_that_matches_the_labels_raises_no_warning(tmp_path: Path) -> None:
    result = _evaluate(tmp_path, list(range(40)))
    assert result.record.metrics.top1_acc == 100
    assert result.warnings == ()
