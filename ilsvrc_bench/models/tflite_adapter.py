"""LiteRT/TFLite classifiers (``tflite:PATH`` or a bare ``PATH.tflite``), run with ai-edge-litert.

What a TFLite classifier looks like, and what is done about it:

* one image input, NHWC ``[1, S, S, 3]`` (the batch is often fixed at 1 in the file): the batch is
  resized when the graph allows it, otherwise images run one at a time;
* uint8 or int8 inputs with quantisation parameters: by default raw pixels go in (the mean and std
  are derived from the input's scale and zero point); any ``--mean/--std`` defines the real-valued
  input, which is then quantised with the model's parameters. Float inputs are normalised with the
  file's metadata (``NormalizationOptions``) when it has any, else to [-1, 1] (TF-slim's
  convention: mean = std = 127.5 in pixels);
* ``[1, 1000]`` or ``[1, 1001]`` outputs (output 0 = background, dropped), dequantised with the
  output's scale and zero point;
* TensorFlow's eval geometry by default: the central 87.5% of each side resized to ``S x S``
  (bilinear).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ilsvrc_bench.errors import ModelError
from ilsvrc_bench.models import tflite_metadata
from ilsvrc_bench.models import weights as wts
from ilsvrc_bench.models.choices import NO_OVERRIDES, PreprocessingOverrides, WeightsChoice
from ilsvrc_bench.models.loaded import LoadedModel
from ilsvrc_bench.models.onnx_adapter import model_file
from ilsvrc_bench.models.spec import ModelSpec, Preprocessing, WeightsSpec

if TYPE_CHECKING:
    import numpy as np
    import torch

TFLITE_WEIGHTS = "tflite"
CENTRAL_FRACTION = 0.875  # TF-slim's eval crop for Inception/MobileNet-style models
_INT_RANGES = {"uint8": (0, 255), "int8": (-128, 127)}
_INPUT_DTYPES = ("uint8", "int8", "float32")


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise ModelError(
                "tflite: models need ai-edge-litert; install it with: "
                "pip install 'ilsvrc-bench[tflite]'"
            ) from None
    return Interpreter


@contextmanager
def _native_stderr_captured() -> Iterator[Callable[[], str]]:
    """Hold back what the runtime's C++ code writes to stderr ("INFO: Created TensorFlow Lite
    XNNPACK delegate ..."): the library never prints. Yields a function giving the text."""
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        captured = {"text": ""}
        try:
            yield lambda: captured["text"]
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured["text"] = sink.read().decode("utf-8", "replace")


def _first_line(exc: BaseException) -> str:
    return wts.describe_exception(exc)


def _open(path: Path) -> Any:
    interpreter_class = _interpreter_class()
    try:
        with _native_stderr_captured():
            interpreter = interpreter_class(model_path=str(path))
            interpreter.allocate_tensors()
    except Exception as exc:
        raise ModelError(f"cannot load TFLite model {path}: {_first_line(exc)}") from exc
    return interpreter


@dataclass(frozen=True)
class _Layout:
    """The input and output of a TFLite classifier, as far as evaluation cares."""

    input_index: int
    input_dtype: str
    size: int
    input_scale: float
    input_zero: int
    output_index: int
    output_dtype: str
    output_scale: float
    output_zero: int
    num_outputs: int
    resizable: bool


def _quantisation(detail: dict[str, Any]) -> tuple[float, int]:
    scale, zero = detail.get("quantization", (0.0, 0))
    return float(scale), int(zero)


def _check_input(path: Path, inputs: list[dict[str, Any]]) -> dict[str, Any]:
    if len(inputs) != 1:
        names = ", ".join(str(d["name"]) for d in inputs)
        raise ModelError(f"TFLite model {path} has {len(inputs)} inputs ({names}); expected one")
    detail = inputs[0]
    shape = [int(v) for v in detail["shape"]]
    dtype = getattr(detail["dtype"], "__name__", str(detail["dtype"]))
    if len(shape) != 4 or shape[3] != 3:
        raise ModelError(
            f"TFLite model {path} input {detail['name']!r} has shape {shape}; expected NHWC "
            f"[N, H, W, 3] (channels-first TFLite models are not supported)"
        )
    if shape[1] != shape[2]:
        raise ModelError(f"TFLite model {path} input is {shape[1]}x{shape[2]}; expected a square")
    if dtype not in _INPUT_DTYPES:
        raise ModelError(
            f"TFLite model {path} input {detail['name']!r} is {dtype}; expected uint8, int8 or "
            f"float32"
        )
    scale, _ = _quantisation(detail)
    if dtype != "float32" and scale <= 0:
        raise ModelError(
            f"TFLite model {path} input {detail['name']!r} is {dtype} without quantisation "
            f"parameters; cannot tell what its values mean"
        )
    return detail


def _check_output(path: Path, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    detail = outputs[0]
    shape = [int(v) for v in detail["shape"]]
    dtype = getattr(detail["dtype"], "__name__", str(detail["dtype"]))
    if len(shape) != 2 or shape[1] not in (1000, 1001):
        raise ModelError(
            f"TFLite model {path} output {detail['name']!r} has shape {shape}; expected [N, 1000] "
            f"or [N, 1001] with a background class first"
        )
    if dtype not in _INPUT_DTYPES and dtype != "float16":
        raise ModelError(f"TFLite model {path} output {detail['name']!r} is {dtype}")
    if dtype in _INT_RANGES and _quantisation(detail)[0] <= 0:
        raise ModelError(
            f"TFLite model {path} output {detail['name']!r} is {dtype} without quantisation "
            f"parameters"
        )
    return detail


def _can_resize(path: Path, input_index: int, size: int) -> bool:
    """Whether the graph runs with a batch of 2 (a Reshape to [1, 1001] in the file says no)."""
    import numpy as np

    scratch = _open(path)
    try:
        with _native_stderr_captured():
            scratch.resize_tensor_input(input_index, [2, size, size, 3])
            scratch.allocate_tensors()
            dtype = scratch.get_input_details()[0]["dtype"]
            scratch.set_tensor(input_index, np.zeros((2, size, size, 3), dtype=dtype))
            scratch.invoke()
    except Exception:
        return False
    return True


def _inspect(path: Path, interpreter: Any) -> _Layout:
    inp = _check_input(path, interpreter.get_input_details())
    out = _check_output(path, interpreter.get_output_details())
    size = int(inp["shape"][1])
    in_scale, in_zero = _quantisation(inp)
    out_scale, out_zero = _quantisation(out)
    return _Layout(
        input_index=int(inp["index"]),
        input_dtype=getattr(inp["dtype"], "__name__", str(inp["dtype"])),
        size=size,
        input_scale=in_scale,
        input_zero=in_zero,
        output_index=int(out["index"]),
        output_dtype=getattr(out["dtype"], "__name__", str(out["dtype"])),
        output_scale=out_scale,
        output_zero=out_zero,
        num_outputs=int(out["shape"][1]),
        resizable=int(inp["shape"][0]) != 1 or _can_resize(path, int(inp["index"]), size),
    )


def _default_preprocessing(path: Path, layout: _Layout) -> tuple[Preprocessing, list[str]]:
    """TF's geometry, and the normalisation the input's type, quantisation or metadata implies."""
    notes: list[str] = []
    if layout.input_dtype in _INT_RANGES:
        # Raw pixels in: real value (q - zero) * scale, with q = pixel (uint8) or pixel - 128.
        shift = 0 if layout.input_dtype == "uint8" else 128
        mean = (layout.input_zero + shift) / 255
        std = 1 / (255 * layout.input_scale)
        notes.append(
            f"{layout.input_dtype} input (scale {layout.input_scale:g}, zero point "
            f"{layout.input_zero}): raw pixels go in unless --mean/--std say otherwise"
        )
        means, stds = [mean] * 3, [std] * 3
    else:
        found = tflite_metadata.input_normalisation(path)
        if found is not None:
            means = [m / 255 for m in found[0]]
            stds = [s / 255 for s in found[1]]
            notes.append(f"normalisation from the file's metadata: mean {found[0]}, std {found[1]}")
        else:
            means, stds = [0.5] * 3, [0.5] * 3
            notes.append(
                "float input without normalisation metadata: assumed [-1, 1] "
                "(mean = std = 127.5 in pixels); set --mean/--std if the model expects otherwise"
            )
    prep = Preprocessing(
        resize_size=round(layout.size / CENTRAL_FRACTION),
        crop_size=layout.size,
        interpolation="bilinear",
        mean=(means[0], means[1], means[2]),
        std=(stds[0], stds[1], stds[2]),
        central_fraction=CENTRAL_FRACTION,
    )
    return prep, notes


def spec_for(
    ref: str,
    *,
    weights: WeightsChoice | None = None,
    preprocessing: PreprocessingOverrides = NO_OVERRIDES,
) -> ModelSpec:
    """The spec of a TFLite file (opened once with the runtime to check its input and output)."""
    path = model_file(ref, weights, kind="TFLite", alias=TFLITE_WEIGHTS)
    layout = _inspect(path, _open(path))
    base, notes = _default_preprocessing(path, layout)
    if preprocessing.resize_size is not None and preprocessing.central_fraction is None:
        base = replace(base, central_fraction=None)  # --resize asks for resize + centre crop
    prep = preprocessing.apply(base)
    if prep.crop_size != layout.size:
        raise ModelError(
            f"TFLite model {path} takes {layout.size}x{layout.size} images but the crop size is "
            f"{prep.crop_size}"
        )
    if layout.num_outputs == 1001:
        notes.append("1001 outputs: output 0 (background) dropped, outputs 1-1000 scored")
    if not layout.resizable:
        notes.append("batch fixed at 1 in the file: images run one at a time")
    return ModelSpec(
        name=path.stem,
        source="tflite",
        architecture=path.name,
        weights=WeightsSpec(name=TFLITE_WEIGHTS, path=str(path)),
        preprocessing=prep,
        num_outputs=layout.num_outputs,
        class_offset=1 if layout.num_outputs == 1001 else 0,
        target=str(path),
        notes=tuple(notes),
    )


def quantise(x: np.ndarray, dtype: str, scale: float, zero: int) -> np.ndarray:
    """Real values -> the input's integer type (round half to even, clipped to its range)."""
    import numpy as np

    low, high = _INT_RANGES[dtype]
    q = np.rint(x.astype(np.float64) / scale + zero)
    return np.clip(q, low, high).astype(dtype)


class _Runner:
    """Normalised NCHW batches in, dequantised ``[N, num_outputs]`` scores out."""

    def __init__(self, path: Path, interpreter: Any, layout: _Layout) -> None:
        self.path, self.interpreter, self.layout = path, interpreter, layout
        self.batch = 1

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        import numpy as np
        import torch

        nhwc = x.detach().to("cpu", torch.float32).permute(0, 2, 3, 1).numpy()
        lay = self.layout
        if lay.input_dtype in _INT_RANGES:
            array = quantise(nhwc, lay.input_dtype, lay.input_scale, lay.input_zero)
        else:
            array = np.ascontiguousarray(nhwc, dtype=np.float32)
        try:
            if lay.resizable:
                raw = self._invoke(array)
            else:
                raw = np.concatenate([self._invoke(array[i : i + 1]) for i in range(len(array))])
        except Exception as exc:
            raise ModelError(
                f"LiteRT failed on {self.path.name} with input {list(array.shape)}: "
                f"{_first_line(exc)}"
            ) from exc
        scores = raw.astype(np.float32)
        if lay.output_dtype in _INT_RANGES:
            scores = (scores - lay.output_zero) * np.float32(lay.output_scale)
        return torch.from_numpy(scores).to(device=x.device)

    def _invoke(self, array: np.ndarray) -> np.ndarray:
        it, lay = self.interpreter, self.layout
        if len(array) != self.batch:
            with _native_stderr_captured():
                it.resize_tensor_input(lay.input_index, [len(array), lay.size, lay.size, 3])
                it.allocate_tensors()
            self.batch = len(array)
        it.set_tensor(lay.input_index, array)
        it.invoke()
        return it.get_tensor(lay.output_index).copy()  # type: ignore[no-any-return]


def build_runner(spec: ModelSpec) -> tuple[Callable[[torch.Tensor], torch.Tensor], str]:
    """A function from a normalised batch to the dequantised outputs, and the file's SHA-256."""
    path = Path(spec.target or spec.weights.path or "")
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ModelError(f"TFLite model file {path} {what}")
    interpreter = _open(path)
    return _Runner(path, interpreter, _inspect(path, interpreter)), wts.sha256_file(path)


class TfliteSource:
    """``tflite:PATH`` or a bare ``PATH.tflite``, run on the CPU with LiteRT."""

    scheme = "tflite"

    def names(self) -> Sequence[str]:
        return ()

    def claims(self, ref: str) -> bool:
        return ref.lower().endswith(".tflite")

    def spec(
        self, name: str, *, weights: WeightsChoice, preprocessing: PreprocessingOverrides
    ) -> ModelSpec:
        return spec_for(name, weights=weights, preprocessing=preprocessing)

    def build(self, spec: ModelSpec, *, device: torch.device) -> LoadedModel:
        runner, sha = build_runner(spec)
        return LoadedModel(spec=spec, weights_sha256=sha, module=None, device=device, runner=runner)


SOURCE = TfliteSource()
