"""Weights files: safe loading, key checks against the architecture, the hub cache, SHA-256.

Local files are read with ``torch.load(weights_only=True)`` (no arbitrary unpickling) or with
``safetensors``. Published weights go through torch hub's cache (``$TORCH_HOME/hub/checkpoints``)
under the file name torchvision uses, whose ``-<hex>`` suffix is checked against the file's SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from ilsvrc_bench import paths, serialize
from ilsvrc_bench.errors import ModelError

if TYPE_CHECKING:
    import torch

# Checkpoints often wrap the state dict; these keys are unwrapped (in this order).
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module")
# torch hub's convention: "<name>-<first hex digits of the sha256>.<ext>".
_HASH_PREFIX = re.compile(r"-([a-f0-9]*)\.")
_CHUNK = 1 << 20


def _sha256_cache_file(path: Path) -> Path:
    # Beside the weights in the torch hub cache: the data root is not known here (``--root``
    # is a per-command option), and nothing may be written outside the folders the user named.
    key = hashlib.sha1(str(path).encode("utf-8")).hexdigest()
    return paths.torch_home() / "ilsvrc-bench" / "weights-sha256" / f"{key}.json"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, remembered in a small cache keyed by path, size, mtime, inode, ctime.

    The inode and ctime catch a file replaced by one of the same size with its mtime kept
    (``cp -p``, ``rsync -a``, ``touch -r``): the kernel sets ctime, nobody can set it back.
    """
    file = Path(path).expanduser().resolve()
    try:
        stat = file.stat()
    except OSError as exc:
        raise ModelError(f"cannot read weights file {file}: {exc.strerror or exc}") from exc
    cache = _sha256_cache_file(file)
    stamp = {
        "path": str(file),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "device": stat.st_dev,
        "inode": stat.st_ino,
        "ctime_ns": stat.st_ctime_ns,
    }
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if {k: cached.get(k) for k in stamp} == stamp and isinstance(cached.get("sha256"), str):
            return str(cached["sha256"])
    except (OSError, ValueError):
        pass
    digest = hashlib.sha256()
    try:
        with file.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise ModelError(f"cannot read weights file {file}: {exc.strerror or exc}") from exc
    sha = digest.hexdigest()
    with suppress(ModelError):  # a cache we cannot write only costs time
        serialize.atomic_write_text(cache, json.dumps({**stamp, "sha256": sha}), error=ModelError)
    return sha


def _as_state_dict(obj: object, file: Path) -> dict[str, torch.Tensor]:
    import torch

    for _ in range(2):
        if isinstance(obj, Mapping) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
            inner = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
            if inner is not None:
                obj = inner
    if not isinstance(obj, Mapping) or not obj:
        kind = "an empty mapping" if isinstance(obj, Mapping) else type(obj).__name__
        raise ModelError(f"weights file {file} is not a state dict (it holds {kind})")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ModelError(
            f"weights file {file} is not a state dict: {len(bad)} entries are not tensors "
            f"(first: {bad[0]!r})"
        )
    state = {str(k): v for k, v in obj.items()}
    # Saved from DataParallel/DistributedDataParallel: strip the wrapper's prefix.
    if all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a torch file, never running pickled code.

    Raises ``ModelError`` for a missing, truncated or corrupt file, a pickle that needs code
    execution, or contents that are not a mapping of names to tensors.
    """
    import torch

    file = Path(path).expanduser()
    if not file.is_file():
        where = "is a directory" if file.is_dir() else "does not exist"
        raise ModelError(f"weights file {file} {where}")
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return _as_state_dict(load_file(str(file), device="cpu"), file)
        except ModelError:
            raise
        except Exception as exc:  # safetensors raises its own, unexported error types
            raise ModelError(f"weights file {file} is truncated or not safetensors: {exc}") from exc
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols before refusing or loading; handled here.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            try:
                # Memory-mapped: tensors are read when copied into the model, not twice.
                obj = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
            except (RuntimeError, ValueError, OSError):
                # Legacy (non-zip) files cannot be mapped; a damaged file fails again below.
                obj = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc).strip()
        # torch's first line runs on for several sentences; its first sentence says it all
        first = text.splitlines()[0].split(". ")[0] if text else type(exc).__name__
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            raise ModelError(
                f"weights file {file} needs code execution to unpickle and was refused "
                f"(only plain state dicts are loaded, with weights_only=True): {first}"
            ) from exc
        raise ModelError(f"weights file {file} is corrupt: {first}") from exc
    except (EOFError, zipfile.BadZipFile) as exc:
        raise ModelError(f"weights file {file} is truncated or corrupt: {exc}") from exc
    except (RuntimeError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"weights file {file} is truncated or not a torch file: {first}") from exc
    except Exception as exc:  # the unpickler raises IndexError, KeyError, ... on random bytes
        raise ModelError(
            f"weights file {file} is not a torch file ({type(exc).__name__}: {exc})"
        ) from exc
    return _as_state_dict(obj, file)


@contextmanager
def skip_init() -> Iterator[None]:
    """Make ``torch.nn.init``'s in-place initialisers no-ops while a model is constructed.

    Only for models whose every parameter is then overwritten by a strict ``load_state_dict``:
    building VGG16 drops from seconds to milliseconds.
    """
    import torch

    names = [n for n in dir(torch.nn.init) if n.endswith("_") and not n.startswith("_")]
    saved = {n: getattr(torch.nn.init, n) for n in names}

    def keep(tensor: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        return tensor

    try:
        for name in names:
            setattr(torch.nn.init, name, keep)
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch.nn.init, name, fn)


def summarise(label: str, keys: list[str], limit: int = 5) -> str:
    """``"12 missing keys (a, b, c, d, e and 7 more)"``."""
    shown = ", ".join(keys[:limit])
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return f"{len(keys)} {label} ({shown}{more})"


def check_state_dict(
    model: torch.nn.Module, state: Mapping[str, torch.Tensor], *, source: str, architecture: str
) -> None:
    """Raise ``ModelError`` listing missing and unexpected keys and shape mismatches."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {list(state[k].shape)} vs {list(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if not (missing or unexpected or shapes):
        return
    parts = []
    if missing:
        parts.append(summarise("missing keys", missing))
    if unexpected:
        parts.append(summarise("unexpected keys", unexpected))
    if shapes:
        parts.append(summarise("shape mismatches (file vs model)", shapes, limit=3))
    raise ModelError(
        f"weights {source} do not fit architecture {architecture}: " + "; ".join(parts)
    )


def load_into(
    model: torch.nn.Module, state: Mapping[str, torch.Tensor], *, source: str, architecture: str
) -> torch.nn.Module:
    """Check ``state`` against ``model`` and copy it in (cast to the model's dtypes)."""
    check_state_dict(model, state, source=source, architecture=architecture)
    model.load_state_dict(state, strict=True)
    return model


def hub_dir() -> Path:
    """Where torch hub (and so torchvision) keeps downloaded checkpoints."""
    return paths.torch_home() / "hub" / "checkpoints"


def hash_prefix(url: str) -> str | None:
    """The SHA-256 prefix torch hub encodes in a checkpoint's file name, if any."""
    match = _HASH_PREFIX.search(Path(url.split("?", maxsplit=1)[0]).name)
    return match.group(1) if match and match.group(1) else None


def hub_checkpoint(url: str, *, progress: bool = False) -> Path:
    """The cached checkpoint for ``url``, downloading it with torch hub if absent.

    Verifies the hash prefix in the file name. Offline with nothing cached, the error names
    the exact file to put in place.
    """
    import torch.hub

    filename = Path(url.split("?", maxsplit=1)[0]).name
    target = hub_dir() / filename
    prefix = hash_prefix(url)
    if not target.is_file():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # $TORCH_HOME is a file, or read-only
            raise ModelError(
                f"cannot create {target.parent} for the weights ($TORCH_HOME): "
                f"{exc.strerror or exc}"
            ) from exc
        try:
            torch.hub.download_url_to_file(url, str(target), hash_prefix=prefix, progress=progress)
        except RuntimeError as exc:
            if "invalid hash" not in str(exc):
                raise
            raise ModelError(
                f"downloaded {url} but its sha256 does not start with {prefix} as its name "
                f"says ({exc}); nothing was saved"
            ) from exc
        except Exception as exc:
            reason = getattr(exc, "reason", None) or exc
            raise ModelError(
                f"cannot download {url} ({reason}); if this machine is offline, download it "
                f"elsewhere and save it as {target} (file {filename} in directory {target.parent})"
            ) from exc
    if prefix:
        sha = sha256_file(target)
        if not sha.startswith(prefix):
            raise ModelError(
                f"cached weights {target} have sha256 {sha[:12]}…, but the file name says "
                f"{prefix}; the file is corrupt or incomplete: delete it and download again"
            )
    return target


def describe_exception(exc: BaseException) -> str:
    """``Type: first line`` of an exception, for one-line error messages."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
