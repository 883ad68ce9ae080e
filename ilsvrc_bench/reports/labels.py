"""How a measured run is named wherever it is compared: protocol, data, precision, decoder.

A run's figure depends on how it was measured, so every row and legend that shows one says so:
the protocol always, the data always (marked when it is a subset, with its size), and the
precision and the image decoder only when they are not the defaults. Functions take a run's flat
row (the run record's ``row()`` keys), so they work for every format.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Mapping
from typing import Any

Row = Mapping[str, Any] | Mapping[Hashable, Any]  # a run's flat row, or a pandas record

DEFAULT_PROTOCOL = "center"
DEFAULT_PRECISION = "fp32"
DEFAULT_DECODER = "cpu"
SUBSET_MARK = "-subset-"  # prepared datasets that hold part of val are named "<name>-subset-<n>"


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def decoder(row: Row) -> str:
    """The image decoder the run used (recorded in its preprocessing when not the default)."""
    prep = row.get("preprocessing")
    if isinstance(prep, str) and prep.strip().startswith("{"):
        try:
            prep = json.loads(prep)
        except json.JSONDecodeError:
            prep = None
    if isinstance(prep, Mapping) and prep.get("decoder"):
        return str(prep["decoder"])
    return str(row.get("decoder") or DEFAULT_DECODER)


def is_subset(row: Row) -> bool:
    """Whether the run scored only part of its dataset, or a dataset prepared as a subset."""
    if _present(row.get("limit")):
        return True
    if row.get("is_subset"):
        return True
    return SUBSET_MARK in str(row.get("data") or "")


def data_label(row: Row) -> str:
    """The data a run scored: its name, and ``(subset, N images)`` when it is a subset."""
    name = str(row.get("data") or "?")
    if not is_subset(row):
        return name
    n = row.get("n_images")
    size = f", {int(n):,} images" if isinstance(n, (int, float)) and _present(n) else ""
    how = ", --limit" if _present(row.get("limit")) else ""
    return f"{name} (subset{size}{how})"


def how_label(row: Row) -> str:
    """The protocol, then the precision and decoder where they are not the defaults."""
    parts = [str(row.get("protocol") or DEFAULT_PROTOCOL)]
    precision = row.get("precision")
    if precision and precision != DEFAULT_PRECISION:
        parts.append(str(precision))
    dec = decoder(row)
    if dec != DEFAULT_DECODER:
        parts.append(f"{dec} decode")
    return ", ".join(parts)


def run_detail(row: Row) -> str:
    """``center, bf16; ilsvrc2012-val (subset, 500 images, --limit)``: what a run compares."""
    return f"{how_label(row)}; {data_label(row)}"
