"""ONNX classifiers run with onnxruntime: input/output checks, preprocessing defaults, a runner.

The file must take one float32 NCHW input with 3 channels and give ``[N, 1000]`` logits in
sorted-wnid order, or ``[N, 1001]`` with a background class at output 0 (TensorFlow-era models).
Preprocessing defaults to the standard 256/224 bilinear ImageNet recipe; a fixed input size in
the file sets the crop size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ilsvrc_bench.errors import ModelError
from ilsvrc_bench.models import weights as wts
from ilsvrc_bench.models.choices import NO_OVERRIDES, PreprocessingOverrides, WeightsChoice
from ilsvrc_bench.models.loaded import LoadedModel
from ilsvrc_bench.models.spec import ModelSpec, Preprocessing, WeightsSpec

if TYPE_CHECKING:
    import torch

ONNX_WEIGHTS = "onnx"
_FLOAT_OUTPUTS = ("tensor(float)", "tensor(float16)", "tensor(double)")


def _onnxruntime() -> Any:
    # onnxruntime otherwise writes a telemetry device id under ~/.cache at import; nothing may
    # be written outside the data root, the runs directory and $TORCH_HOME.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelError(
            "onnx: models need onnxruntime; install it with: pip install 'ilsvrc-bench[onnx]'"
        ) from exc
    return onnxruntime


def _session(path: Path, providers: list[str]) -> Any:
    ort = _onnxruntime()
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only; warnings would go to stderr unasked
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:
        raise ModelError(f"cannot load ONNX model {path}: {wts.describe_exception(exc)}") from exc


def _check_io(path: Path, session: Any) -> tuple[int | None, int]:
    """Validate the graph's input and output; returns (fixed input size or None, num_outputs)."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise ModelError(
            f"ONNX model {path} has {len(inputs)} inputs ({names}); expected one image"
        )
    tensor = inputs[0]
    shape = list(tensor.shape)
    if tensor.type != "tensor(float)":
        raise ModelError(
            f"ONNX model {path} input {tensor.name!r} is {tensor.type}, expected float32 NCHW"
        )
    # A symbolic channel dimension is accepted unless the last dimension says channels-last.
    nchw = len(shape) == 4 and (shape[1] == 3 or (not isinstance(shape[1], int) and shape[3] != 3))
    if not nchw:
        raise ModelError(
            f"ONNX model {path} input {tensor.name!r} has shape {shape}, expected NCHW "
            f"[N, 3, H, W] (channels-last models are not supported)"
        )
    height, width = shape[2], shape[3]
    size: int | None = None
    if isinstance(height, int) and isinstance(width, int):
        if height != width:
            raise ModelError(f"ONNX model {path} input is {height}x{width}; expected a square")
        size = height
    out = outputs[0]
    out_shape = list(out.shape)
    if out.type not in _FLOAT_OUTPUTS or len(out_shape) != 2:
        raise ModelError(
            f"ONNX model {path} output {out.name!r} is {out.type} {out_shape}; expected "
            f"float logits [N, 1000] or [N, 1001]"
        )
    width_out = out_shape[1]
    if isinstance(width_out, int) and width_out not in (1000, 1001):
        raise ModelError(
            f"ONNX model {path} output {out.name!r} is {width_out} wide; expected 1000 classes, "
            f"or 1001 with a background class first"
        )
    return size, width_out if isinstance(width_out, int) else 1000


def own_weights_only(path: Path, weights: WeightsChoice | None, *, kind: str, alias: str) -> None:
    """Refuse a ``--weights`` choice for a model file that carries its own weights."""
    if weights is None or weights.kind == "default":
        return
    if weights.kind == "named" and (weights.name or "").lower() == alias:
        return
    raise ModelError(f"{kind} model {path} carries its own weights; --weights does not apply")


def model_file(ref: str, weights: WeightsChoice | None, *, kind: str, alias: str) -> Path:
    """The model file ``ref`` names, resolved; refused when missing, a folder, or given
    ``--weights`` (a model file carries its own)."""
    path = Path(ref).expanduser().resolve()
    own_weights_only(path, weights, kind=kind, alias=alias)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ModelError(f"{kind} model file {path} {what}")
    return path


def spec_for(
    ref: str,
    *,
    weights: WeightsChoice | None = None,
    preprocessing: PreprocessingOverrides = NO_OVERRIDES,
) -> ModelSpec:
    """The spec of an ONNX file (opened once with onnxruntime to check its input and output)."""
    path = model_file(ref, weights, kind="ONNX", alias=ONNX_WEIGHTS)
    size, num_outputs = _check_io(path, _session(path, ["CPUExecutionProvider"]))
    base = Preprocessing()
    if size is not None and size != base.crop_size:
        base = Preprocessing(resize_size=round(size * 256 / 224), crop_size=size)
    prep = preprocessing.apply(base)
    if size is not None and prep.crop_size != size:
        raise ModelError(
            f"ONNX model {path} takes {size}x{size} images but the crop size is {prep.crop_size}"
        )
    return ModelSpec(
        name=path.stem,
        source="onnx",
        architecture=path.name,
        weights=WeightsSpec(name=ONNX_WEIGHTS, path=str(path)),
        preprocessing=prep,
        num_outputs=num_outputs,
        class_offset=1 if num_outputs == 1001 else 0,
        target=str(path),
    )


def providers_for(device: torch.device) -> list[str]:
    """CUDA first when the device is CUDA and onnxruntime has it; the CPU always."""
    available = _onnxruntime().get_available_providers()
    if device.type == "cuda" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def build_runner(
    spec: ModelSpec, *, device: torch.device
) -> tuple[Callable[[torch.Tensor], torch.Tensor], str]:
    """A function from a normalised batch to the raw output tensor, and the file's SHA-256."""
    import torch

    path = Path(spec.target or spec.weights.path or "")
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ModelError(f"ONNX model file {path} {what}")
    session = _session(path, providers_for(device))
    _check_io(path, session)
    input_name = session.get_inputs()[0].name
    output_name = session.get_outputs()[0].name

    def run(x: torch.Tensor) -> torch.Tensor:
        array = x.detach().to("cpu", torch.float32).contiguous().numpy()
        try:
            (logits,) = session.run([output_name], {input_name: array})
        except Exception as exc:
            raise ModelError(
                f"onnxruntime failed on {path.name} with input {list(array.shape)}: "
                f"{wts.describe_exception(exc)}"
            ) from exc
        return torch.from_numpy(logits).to(device=x.device, dtype=torch.float32)

    return run, wts.sha256_file(path)


class OnnxSource:
    """``onnx:PATH`` or a bare ``PATH.onnx``, run with onnxruntime."""

    scheme = "onnx"

    def names(self) -> Sequence[str]:
        return ()

    def claims(self, ref: str) -> bool:
        return ref.lower().endswith(".onnx")

    def spec(
        self, name: str, *, weights: WeightsChoice, preprocessing: PreprocessingOverrides
    ) -> ModelSpec:
        return spec_for(name, weights=weights, preprocessing=preprocessing)

    def build(self, spec: ModelSpec, *, device: torch.device) -> LoadedModel:
        runner, sha = build_runner(spec, device=device)
        return LoadedModel(spec=spec, weights_sha256=sha, module=None, device=device, runner=runner)


SOURCE = OnnxSource()
