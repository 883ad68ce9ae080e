"""The input normalisation a TFLite file declares in its metadata, read without extra packages.

TFLite metadata (``tflite_support``'s ``metadata_schema.fbs``) is a second flatbuffer stored in a
buffer of the model that a ``Model.metadata`` entry named ``TFLITE_METADATA`` points to. Only one
path through it matters here: ``ModelMetadata.subgraph_metadata[0].input_tensor_metadata[0]
.process_units[*]`` whose options are ``NormalizationOptions {mean: [float], std: [float]}``
(in pixel units, e.g. 127.5 / 127.5). The field numbers below are that schema's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

METADATA_NAME = b"TFLITE_METADATA"
# Field numbers in metadata_schema.fbs (each field's vtable slot is 4 + 2 * number).
_MODEL_SUBGRAPHS = 3  # ModelMetadata.subgraph_metadata
_SUBGRAPH_INPUTS = 2  # SubGraphMetadata.input_tensor_metadata
_TENSOR_PROCESS_UNITS = 4  # TensorMetadata.process_units
_UNIT_OPTIONS_TYPE, _UNIT_OPTIONS = 0, 1  # ProcessUnit.options (a union: type, then value)
_NORMALIZATION = 1  # ProcessUnitOptions.NormalizationOptions
_NORM_MEAN, _NORM_STD = 0, 1


def _slot(field: int) -> int:
    return 4 + 2 * field


def _metadata_bytes(data: bytes) -> bytes | None:
    """The ``TFLITE_METADATA`` buffer of a model file's bytes, or None."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # the tflite-runtime fallback ships no schema: no metadata defaults
        return None
    model = schema.Model.GetRootAs(data, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() != METADATA_NAME:
            continue
        buffer = model.Buffers(entry.Buffer())
        if buffer.Offset() > 1:  # large models keep buffers after the flatbuffer
            return data[buffer.Offset() : buffer.Offset() + buffer.Size()]
        return bytes(buffer.DataAsNumpy().tobytes()) if buffer.DataLength() else None
    return None


def _table_at(table: Any, field: int) -> Any | None:
    from flatbuffers.table import Table

    offset = table.Offset(_slot(field))
    return Table(table.Bytes, table.Indirect(offset + table.Pos)) if offset else None


def _tables(table: Any, field: int) -> list[Any]:
    from flatbuffers.table import Table

    offset = table.Offset(_slot(field))
    if not offset:
        return []
    start = table.Vector(offset)
    return [
        Table(table.Bytes, table.Indirect(start + 4 * j)) for j in range(table.VectorLen(offset))
    ]


def _floats(table: Any, field: int) -> list[float]:
    from flatbuffers import number_types

    offset = table.Offset(_slot(field))
    if not offset:
        return []
    return [float(v) for v in table.GetVectorAsNumpy(number_types.Float32Flags, offset)]


def _normalisation(metadata: bytes) -> tuple[list[float], list[float]] | None:
    from flatbuffers import encode, number_types, packer
    from flatbuffers.table import Table

    buf = bytearray(metadata)
    root = Table(buf, encode.Get(packer.uoffset, buf, 0))
    subgraphs = _tables(root, _MODEL_SUBGRAPHS)
    inputs = _tables(subgraphs[0], _SUBGRAPH_INPUTS) if subgraphs else []
    for unit in _tables(inputs[0], _TENSOR_PROCESS_UNITS) if inputs else []:
        kind_at = unit.Offset(_slot(_UNIT_OPTIONS_TYPE))
        kind = unit.Get(number_types.Uint8Flags, kind_at + unit.Pos) if kind_at else 0
        options = _table_at(unit, _UNIT_OPTIONS) if kind == _NORMALIZATION else None
        if options is not None:
            return _floats(options, _NORM_MEAN), _floats(options, _NORM_STD)
    return None


def input_normalisation(path: Path) -> tuple[list[float], list[float]] | None:
    """Per-channel (mean, std) in pixel units for the image input, or None when not declared.

    One value stands for all three channels. Unreadable or malformed metadata counts as none:
    the flags can always say what the metadata would have.
    """
    try:
        metadata = _metadata_bytes(path.read_bytes())
        found = _normalisation(metadata) if metadata else None
    except Exception:  # metadata is a hint; a malformed one must not stop the model running
        return None
    if found is None:
        return None
    mean, std = found
    if len(mean) == 1:
        mean = mean * 3
    if len(std) == 1:
        std = std * 3
    if len(mean) != 3 or len(std) != 3 or any(s <= 0 for s in std):
        return None
    return mean, std
