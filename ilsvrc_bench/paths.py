"""Where things live: the data root, the runs directory, the weights cache.

Precedence for each: the command-line option, then an environment variable, then a default.
"""

from __future__ import annotations

import os
from pathlib import Path

from ilsvrc_bench.errors import UsageError

ROOT_ENV = "ILSVRC_BENCH_ROOT"
RUNS_ENV = "ILSVRC_BENCH_RUNS"
APP_NAME = "ilsvrc-bench"


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``root``, else ``$ILSVRC_BENCH_ROOT``, else the user data directory."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ROOT_ENV)
    if env:
        path = Path(env).expanduser()
        if path.exists() and not path.is_dir():
            raise UsageError(f"${ROOT_ENV}={env} is a file, not a folder; point it at a folder")
        return path
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def runs_dir(
    runs: str | os.PathLike[str] | None = None, *, root: str | os.PathLike[str] | None = None
) -> Path:
    """The runs directory: ``runs``, else ``$ILSVRC_BENCH_RUNS``, else ``<data root>/runs``."""
    if runs is not None:
        return Path(runs).expanduser()
    env = os.environ.get(RUNS_ENV)
    if env:
        return Path(env).expanduser()
    return data_root(root) / "runs"


def torch_home() -> Path:
    """The torch hub cache that torchvision downloads weights into (``$TORCH_HOME``)."""
    env = os.environ.get("TORCH_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "torch"
