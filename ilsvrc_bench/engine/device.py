"""Choosing the device and the precision context; CUDA-only branches are guarded here."""

from __future__ import annotations

import contextlib
import platform
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ilsvrc_bench.errors import DeviceError, UsageError

_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def select_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then the CPU; a named device that is absent is an error."""
    text = name.strip().lower()
    if not _DEVICE_RE.match(text):
        raise UsageError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps")
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if text.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"--device {name}: CUDA is not available (torch {torch.__version__}, "
                f"built for CUDA {torch.version.cuda or 'none'}); use --device cpu or auto"
            )
        dev = torch.device(text)
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise DeviceError(
                f"--device {name}: there are only {torch.cuda.device_count()} CUDA device(s)"
            )
        return torch.device("cuda", index)
    if text == "mps" and not _mps_available():
        raise DeviceError("--device mps: Apple MPS is not available here; use --device cpu")
    return torch.device(text)


def device_info(device: torch.device) -> dict[str, Any]:
    """``{"type", "name"}`` for the run record."""
    if device.type == "cuda":
        return {"type": "cuda", "name": torch.cuda.get_device_name(device)}
    if device.type == "mps":
        return {"type": "mps", "name": "Apple MPS"}
    return {"type": "cpu", "name": cpu_name()}


def cpu_name() -> str:
    with contextlib.suppress(OSError), Path("/proc/cpuinfo").open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "cpu"


_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str, device: torch.device) -> None:
    """fp16/bf16 autocast runs on CUDA (and on the CPU for bf16); refuse what would not work."""
    if precision == "fp32":
        return
    if device.type == "cuda":
        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            raise DeviceError(f"--precision bf16: {torch.cuda.get_device_name(device)} lacks bf16")
        return
    if device.type == "cpu" and precision == "bf16":
        return
    raise DeviceError(
        f"--precision {precision} needs a CUDA device (bf16 also runs on the CPU); "
        f"the device is {device.type}"
    )


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """The autocast context for ``precision`` (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


@contextlib.contextmanager
def inference() -> Iterator[None]:
    with torch.inference_mode():
        yield


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a CUDA (or MPS) out-of-memory error."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def release_memory(device: torch.device) -> None:
    """Give cached blocks back after an out-of-memory error (CUDA only)."""
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
