"""ONNX models: the real int8 MobileNetV2 on the 200 real images, and malformed graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ilsvrc_bench.errors import ExitCode, ModelError
from ilsvrc_bench.metrics import topk
from ilsvrc_bench.models import load, resolve
from ilsvrc_bench.models.preprocess import decode_rgb, normalize, resize_center_crop

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)


def _independent_input(file: Path) -> np.ndarray:
    """The model card's recipe written with PIL and numpy only (no ilsvrc_bench, no torchvision)."""
    img = Image.open(file).convert("RGB")
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(256 * long / short)
    size = (256, new_long) if w <= h else (new_long, 256)
    img = img.resize(size, Image.Resampling.BILINEAR)
    w, h = img.size
    top, left = round((h - 224) / 2), round((w - 224) / 2)
    img = img.crop((left, top, left + 224, top + 224))
    x = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    return ((x - MEAN) / STD)[None]


@pytest.mark.realdata
@pytest.mark.slow
def test_real_onnx_model_agrees_with_an_independent_onnxruntime_loop(
    real_onnx: Path, real_images: Path
) -> None:
    """Same top-1 on every image; ties go to the lower class index (metrics.topk's rule)."""
    import onnxruntime as ort

    spec = resolve(f"onnx:{real_onnx}")
    assert (spec.num_outputs, spec.class_offset, spec.preprocessing.crop_size) == (1000, 0, 224)
    model = load(spec)
    assert model.module is None
    assert model.weights_sha256 == (
        "cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f"
    )
    files = sorted(real_images.glob("*.JPEG"))
    batch = torch.stack(
        [
            resize_center_crop(decode_rgb(f.read_bytes(), source=f.name), spec.preprocessing)
            for f in files
        ]
    )
    ours = torch.cat([model(normalize(chunk, spec.preprocessing)) for chunk in batch.split(50)])
    assert ours.shape == (200, 1000)

    session = ort.InferenceSession(str(real_onnx), providers=["CPUExecutionProvider"])
    theirs = np.concatenate([session.run(None, {"input": _independent_input(f)})[0] for f in files])
    ours_top1 = topk(ours.numpy(), k=1)[:, 0]
    theirs_top1 = topk(theirs, k=1)[:, 0]
    assert (ours_top1 == theirs_top1).all(), np.flatnonzero(ours_top1 != theirs_top1)
    # The sample holds one image of every fifth class in sorted-wnid order: label = 5 * i.
    labels = np.arange(200) * 5
    assert (ours_top1 == labels).mean() > 0.6


def _graph(
    path: Path,
    *,
    input_shape: list[int | str],
    outputs: int,
    input_type: int | None = None,
) -> Path:
    """A tiny ONNX classifier: mean over H and W (or the last two axes), then a linear layer."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    elem = TensorProto.FLOAT if input_type is None else input_type
    weight = np.random.default_rng(0).standard_normal((3, outputs)).astype(np.float32)
    nodes = []
    source = "x"
    if elem != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT))
        source = "xf"
    channels_first = input_shape[1] == 3 or isinstance(input_shape[1], str)
    axes = list(range(2, len(input_shape))) if channels_first else [1, 2]
    nodes += [
        helper.make_node("ReduceMean", [source], ["pooled"], axes=axes, keepdims=0),
        helper.make_node("MatMul", ["pooled", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", elem, input_shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", outputs])],
        initializer=[numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_1001_outputs_drop_the_background_class(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    path = _graph(tmp_path / "tf1001.onnx", input_shape=["N", 3, 224, 224], outputs=1001)
    spec = resolve(f"onnx:{path}")
    assert (spec.num_outputs, spec.class_offset) == (1001, 1)
    import onnxruntime as ort

    x = torch.randn(2, 3, 224, 224)
    raw = ort.InferenceSession(str(path)).run(None, {"x": x.numpy()})[0]
    assert torch.equal(load(spec)(x), torch.from_numpy(raw[:, 1:]))


def test_fixed_input_size_sets_the_crop(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    path = _graph(tmp_path / "m299.onnx", input_shape=["N", 3, 299, 299], outputs=1000)
    spec = resolve(str(path))  # a bare .onnx path works too
    assert (spec.preprocessing.resize_size, spec.preprocessing.crop_size) == (342, 299)
    with pytest.raises(ModelError, match="takes 299x299 images but the crop size is 224"):
        resolve(f"onnx:{path}", preprocessing={"crop_size": 224})


def test_preprocessing_flags_apply_to_onnx(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    path = _graph(tmp_path / "dyn.onnx", input_shape=["N", 3, "H", "W"], outputs=1000)
    spec = resolve(
        f"onnx:{path}",
        preprocessing={"resize_size": 320, "crop_size": 288, "interpolation": "bicubic",
                       "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)},
    )  # fmt: skip
    prep = spec.preprocessing
    assert (prep.resize_size, prep.crop_size, prep.interpolation) == (320, 288, "bicubic")
    assert prep.mean == (0.5, 0.5, 0.5)


@pytest.mark.parametrize(
    ("shape", "outputs", "elem", "message"),
    [
        (["N", 224, 224, 3], 1000, None, "expected NCHW"),
        (["N", 3, 224, 224], 10, None, "is 10 wide; expected 1000 classes"),
        (["N", 3, 224, 224], 1000, "uint8", "is tensor\\(uint8\\), expected float32 NCHW"),
        (["N", 3, 224], 1000, None, "expected NCHW"),
    ],
    ids=["nhwc", "10-outputs", "uint8-input", "rank-3"],
)
def test_unusable_onnx_graphs(
    tmp_path: Path, shape: list[int | str], outputs: int, elem: str | None, message: str
) -> None:
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    elem_type = onnx.TensorProto.UINT8 if elem == "uint8" else None
    path = _graph(tmp_path / "bad.onnx", input_shape=shape, outputs=outputs, input_type=elem_type)
    with pytest.raises(ModelError, match=message) as info:
        resolve(f"onnx:{path}")
    assert info.value.exit_code == ExitCode.MODEL


def test_missing_and_corrupt_onnx_files(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    with pytest.raises(ModelError, match="does not exist"):
        resolve(f"onnx:{tmp_path / 'none.onnx'}")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelError, match=r"cannot load ONNX model .*junk\.onnx"):
        resolve(f"onnx:{junk}")


def test_onnx_weights_option_is_rejected(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    path = _graph(tmp_path / "m.onnx", input_shape=["N", 3, 224, 224], outputs=1000)
    with pytest.raises(ModelError, match="carries its own weights"):
        resolve(f"onnx:{path}", weights="random")
