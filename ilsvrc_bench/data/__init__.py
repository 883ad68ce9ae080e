"""ILSVRC2012 val data: prepared datasets, their manifests, and the readers that build them.

``open_dataset`` opens a prepared dataset; ``prepare`` builds one from the official archives or
any other supported source; ``write_sample`` writes small archives in the official layout.
"""

from __future__ import annotations

from ilsvrc_bench.data.dataset import (
    DEFAULT_NAME,
    Dataset,
    ImageRecord,
    list_datasets,
    open_dataset,
)
from ilsvrc_bench.data.prepare import prepare
from ilsvrc_bench.data.sample import write_sample

__all__ = [
    "DEFAULT_NAME",
    "Dataset",
    "ImageRecord",
    "list_datasets",
    "open_dataset",
    "prepare",
    "write_sample",
]
