"""Runs: the versioned run record, the files of a run directory, and many runs as a DataFrame.

- :mod:`ilsvrc_bench.runs.record`: the schema (:class:`RunRecord`, versioned) and its one flat
  row; :mod:`ilsvrc_bench.runs.parts`: the record's typed parts (model, weights, data, counts);
- :mod:`ilsvrc_bench.runs.files`: run directories on disk (write durably, read, find);
- :mod:`ilsvrc_bench.runs.catalogue`: every run of a runs directory as a DataFrame.

Everything is re-exported here: ``from ilsvrc_bench import runs; runs.read_record(d)``.
"""

from __future__ import annotations

from ilsvrc_bench.runs.catalogue import LOAD_RUNS_COLUMNS, Catalogue, load_runs, read_catalogue
from ilsvrc_bench.runs.files import (
    CHUNKS,
    LOGITS,
    PREDICTION_COLUMNS,
    PREDICTIONS,
    RUN_JSON,
    compact_logits,
    compute_run_key,
    find_run,
    iter_run_dirs,
    new_run_id,
    predictions_table,
    read_logits,
    read_predictions,
    read_record,
    utc_now,
    write_logits,
    write_parquet,
    write_record,
)
from ilsvrc_bench.runs.parts import (
    DEFAULT_LEVEL,
    BlacklistExcluded,
    Counts,
    DataIdentity,
    DeviceInfo,
    Distributed,
    EnsembleMember,
    Metric,
    Metrics,
    ModelInfo,
    NonfiniteImage,
    RankTiming,
    ReferenceInfo,
    Timings,
    UnreadableImage,
    WeightsIdentity,
)
from ilsvrc_bench.runs.record import (
    ROW_COLUMNS,
    SCHEMA_VERSION,
    STATUS_COMPLETE,
    STATUS_RUNNING,
    RunRecord,
    counts_columns,
)

__all__ = [
    "CHUNKS",
    "DEFAULT_LEVEL",
    "LOAD_RUNS_COLUMNS",
    "LOGITS",
    "PREDICTIONS",
    "PREDICTION_COLUMNS",
    "ROW_COLUMNS",
    "RUN_JSON",
    "SCHEMA_VERSION",
    "STATUS_COMPLETE",
    "STATUS_RUNNING",
    "BlacklistExcluded",
    "Catalogue",
    "Counts",
    "DataIdentity",
    "DeviceInfo",
    "Distributed",
    "EnsembleMember",
    "Metric",
    "Metrics",
    "ModelInfo",
    "NonfiniteImage",
    "RankTiming",
    "ReferenceInfo",
    "RunRecord",
    "Timings",
    "UnreadableImage",
    "WeightsIdentity",
    "compact_logits",
    "compute_run_key",
    "counts_columns",
    "find_run",
    "iter_run_dirs",
    "load_runs",
    "new_run_id",
    "predictions_table",
    "read_catalogue",
    "read_logits",
    "read_predictions",
    "read_record",
    "utc_now",
    "write_logits",
    "write_parquet",
    "write_record",
]
