"""Run directories: writable checks, claiming an interrupted run to resume, identity hashes."""

from __future__ import annotations

import contextlib
import platform
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from ilsvrc_bench import __version__, runs
from ilsvrc_bench.errors import RunError


def ensure_writable(runs_dir: Path) -> None:
    """Create the runs directory and prove a file can be written there; RunError otherwise."""
    try:
        Path(runs_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=runs_dir):
            pass
    except OSError as exc:
        raise RunError(
            f"runs directory {runs_dir} is not writable ({exc.strerror or exc}); "
            "use --runs-dir or $ILSVRC_BENCH_RUNS"
        ) from exc


def state_sha256(module: torch.nn.Module | None) -> str | None:
    """sha256 of a module's state (names, dtypes, shapes, bytes), for weights with no file.

    Random weights get a hash of what was actually evaluated, so a resumed run never mixes
    predictions of two different random initialisations.
    """
    import hashlib

    if module is None:
        return None
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        # the array itself, not a .tobytes() copy of it: hashlib reads any contiguous buffer
        digest.update(t.reshape(-1).view(torch.uint8).numpy() if t.numel() else b"")
    return digest.hexdigest()


def lock(run_dir: Path, stack: contextlib.ExitStack) -> bool:
    from filelock import FileLock, Timeout

    lock = FileLock(str(run_dir / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    stack.callback(lock.release)
    return True


def claim_resumable(runs_dir: Path, key: str, stack: contextlib.ExitStack) -> Path | None:
    """The newest incomplete run with this run key that no other process holds."""
    for run_dir in reversed(runs.iter_run_dirs(runs_dir)):
        try:
            rec = runs.read_record(run_dir)
        except RunError:
            continue
        if rec.status == runs.STATUS_RUNNING and rec.run_key == key and lock(run_dir, stack):
            return run_dir
    return None


def library_versions() -> dict[str, Any]:
    """Versions of what a number depends on; None where absent."""

    def dist(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {
        "ilsvrc_bench": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": dist("torchvision"),
        "pillow": dist("pillow"),
        "numpy": dist("numpy"),
        "cuda": torch.version.cuda,
        "cudnn": str(cudnn) if cudnn is not None else None,
        "onnxruntime": dist("onnxruntime"),
    }
