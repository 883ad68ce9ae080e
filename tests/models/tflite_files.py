"""Small TFLite classifiers written with LiteRT's own flatbuffer schema, for tests that need a
float model, a resizable batch or metadata (the real sample is uint8 with a fixed batch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = 4  # input is [N, 4, 4, 3]


def _buffer(schema: object, array: np.ndarray | None) -> object:
    buf = schema.BufferT()  # type: ignore[attr-defined]
    buf.data = None if array is None else list(array.tobytes())
    return buf


def _tensor(schema: object, name: str, shape: list[int], kind: int, buffer: int) -> object:
    t = schema.TensorT()  # type: ignore[attr-defined]
    t.name, t.shape, t.type, t.buffer = name, shape, kind, buffer
    t.shapeSignature = [-1, *shape[1:]] if name == "image" else None
    return t


def normalisation_metadata(mean: list[float], std: list[float]) -> bytes:
    """A ModelMetadata flatbuffer whose input tensor has one NormalizationOptions unit."""
    import flatbuffers

    b = flatbuffers.Builder(256)
    mean_vec = b.CreateNumpyVector(np.asarray(mean, dtype=np.float32))
    std_vec = b.CreateNumpyVector(np.asarray(std, dtype=np.float32))
    b.StartObject(2)  # NormalizationOptions {mean, std}
    b.PrependUOffsetTRelativeSlot(0, mean_vec, 0)
    b.PrependUOffsetTRelativeSlot(1, std_vec, 0)
    norm = b.EndObject()
    b.StartObject(2)  # ProcessUnit {options_type, options}
    b.PrependUint8Slot(0, 1, 0)  # NormalizationOptions
    b.PrependUOffsetTRelativeSlot(1, norm, 0)
    unit = b.EndObject()

    def vector(item: int) -> int:
        b.StartVector(4, 1, 4)
        b.PrependUOffsetTRelative(item)
        return int(b.EndVector())

    units = vector(unit)
    b.StartObject(7)  # TensorMetadata: process_units is field 4
    b.PrependUOffsetTRelativeSlot(4, units, 0)
    tensor = b.EndObject()
    inputs = vector(tensor)
    b.StartObject(7)  # SubGraphMetadata: input_tensor_metadata is field 2
    b.PrependUOffsetTRelativeSlot(2, inputs, 0)
    subgraph = b.EndObject()
    subgraphs = vector(subgraph)
    b.StartObject(8)  # ModelMetadata: subgraph_metadata is field 3
    b.PrependUOffsetTRelativeSlot(3, subgraphs, 0)
    b.Finish(b.EndObject(), file_identifier=b"M001")
    return bytes(b.Output())


def write_float_classifier(
    path: Path,
    *,
    outputs: int = 1001,
    weights: np.ndarray | None = None,
    metadata: bytes | None = None,
    channels_first: bool = False,
) -> np.ndarray:
    """``image`` float32 [N, 4, 4, 3] -> reshape [N, 48] -> fully connected -> [N, outputs].

    Returns the fully connected weights ``[outputs, 48]`` (bias zero), so a test can compute
    the expected output of any input itself.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    features = SIZE * SIZE * 3
    if weights is None:
        weights = np.random.default_rng(0).normal(size=(outputs, features)).astype(np.float32)
    in_shape = [1, 3, SIZE, SIZE] if channels_first else [1, SIZE, SIZE, 3]
    buffers = [
        _buffer(s, None),
        _buffer(s, None),  # image
        _buffer(s, np.array([-1, features], dtype=np.int32)),
        _buffer(s, None),  # flat
        _buffer(s, weights.astype(np.float32)),
        _buffer(s, np.zeros(outputs, dtype=np.float32)),
        _buffer(s, None),  # scores
    ]
    tensors = [
        _tensor(s, "image", in_shape, s.TensorType.FLOAT32, 1),
        _tensor(s, "shape", [2], s.TensorType.INT32, 2),
        _tensor(s, "flat", [1, features], s.TensorType.FLOAT32, 3),
        _tensor(s, "fc_w", [outputs, features], s.TensorType.FLOAT32, 4),
        _tensor(s, "fc_b", [outputs], s.TensorType.FLOAT32, 5),
        _tensor(s, "scores", [1, outputs], s.TensorType.FLOAT32, 6),
    ]
    codes = []
    for op in (s.BuiltinOperator.RESHAPE, s.BuiltinOperator.FULLY_CONNECTED):
        code = s.OperatorCodeT()
        code.builtinCode, code.deprecatedBuiltinCode, code.version = op, op, 1
        codes.append(code)
    reshape = s.OperatorT()
    reshape.opcodeIndex, reshape.inputs, reshape.outputs = 0, [0, 1], [2]
    fc = s.OperatorT()
    fc.opcodeIndex, fc.inputs, fc.outputs = 1, [2, 3, 4], [5]
    fc.builtinOptionsType = s.BuiltinOptions.FullyConnectedOptions
    fc.builtinOptions = s.FullyConnectedOptionsT()
    graph = s.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs = tensors, [0], [5]
    graph.operators, graph.name = [reshape, fc], "main"
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, codes, [graph]
    model.buffers, model.description = buffers, "test classifier"
    if metadata is not None:
        model.buffers.append(_buffer(s, np.frombuffer(metadata, dtype=np.uint8)))
        entry = s.MetadataT()
        entry.name, entry.buffer = "TFLITE_METADATA", len(model.buffers) - 1
        model.metadata = [entry]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return weights
