"""The sandbox every hostile case runs in: its own HOME, XDG dirs, torch home, data root, runs.

Inputs are built under ``src/`` before the command runs; afterwards the only files that may be
new or changed are under the data root, the runs directory and ``$TORCH_HOME`` (plus any folder
a case names as an output it asked for).
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ilsvrc_bench.data.scan import DEVKIT_TGZ, MD5SUMS, VAL_TAR


@dataclass
class Env:
    base: Path
    sample_dir: Path  # the session's sample archives (read-only)
    server_url: str = ""  # a real HTTP server on 127.0.0.1 (see conftest)
    keep: list[Any] = field(default_factory=list)  # objects held while the command runs
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    allowed_extra: list[Path] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)  # environment a case changes

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def runs(self) -> Path:
        return self.base / "runs"

    @property
    def torch(self) -> Path:
        return self.base / "torch"

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def src(self) -> Path:
        return self.base / "src"

    @property
    def cwd(self) -> Path:
        return self.base / "cwd"

    def environ(self) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.base / "xdg" / "data"),
            "XDG_CONFIG_HOME": str(self.base / "xdg" / "config"),
            "XDG_CACHE_HOME": str(self.base / "xdg" / "cache"),
            "XDG_STATE_HOME": str(self.base / "xdg" / "state"),
            "TORCH_HOME": str(self.torch),
            "HF_HOME": str(self.torch / "hf"),
            "ILSVRC_BENCH_ROOT": str(self.root),
            "ILSVRC_BENCH_RUNS": str(self.runs),
            "NO_COLOR": "1",
            "COLUMNS": "200",
            **self.overrides,
        }

    def allowed(self) -> list[Path]:
        return [self.root, self.runs, self.torch, *self.allowed_extra]

    # -- inputs ---------------------------------------------------------------------------

    def write(self, name: str, data: bytes | str) -> Path:
        path = self.src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        return path

    def official(self, *, sums: bool = True) -> Path:
        """A folder holding a copy of the sample val tar, devkit and (optionally) MD5SUMS."""
        folder = self.src / "official"
        folder.mkdir(parents=True, exist_ok=True)
        for name in (VAL_TAR, DEVKIT_TGZ, *([MD5SUMS] if sums else [])):
            shutil.copy(self.sample_dir / name, folder / name)
        return folder

    def devkit(self) -> Path:
        target = self.src / DEVKIT_TGZ
        if not target.exists():
            shutil.copy(self.sample_dir / DEVKIT_TGZ, target)
            shutil.copy(self.sample_dir / MD5SUMS, self.src / MD5SUMS)
        return target

    def flat(self) -> Path:
        """The sample's images extracted into ``src/val``, as ``tar xf`` would."""
        folder = self.src / "val"
        if not folder.exists():
            folder.mkdir(parents=True)
            with tarfile.open(self.sample_dir / VAL_TAR) as tar:
                tar.extractall(folder, filter="data")
        return folder

    def truth(self) -> dict[str, int]:
        """Image file name -> sorted-wnid class index, from the sample's devkit."""
        from ilsvrc_bench.data.devkit import read_devkit
        from ilsvrc_bench.synsets import index_of

        devkit = read_devkit(self.sample_dir / DEVKIT_TGZ)
        return {
            f"ILSVRC2012_val_{n:08d}.JPEG": index_of(devkit.wnid_of_devkit_id[d])
            for n, d in enumerate(devkit.ground_truth, start=1)
        }

    def prepared(self, name: str = "sample") -> str:
        """Prepare the sample into the root as ``name``; returns ``--root R --data NAME``."""
        from ilsvrc_bench.data import prepare

        prepare([self.sample_dir / VAL_TAR, self.sample_dir / DEVKIT_TGZ], root=self.root,
                name=name)  # fmt: skip
        return name

    def prepared_flat(self) -> Path:
        """The sample prepared from a flat folder (images read in place); returns the folder."""
        from ilsvrc_bench.data import prepare

        folder = self.flat()
        prepare([folder, self.devkit()], root=self.root, name="flat")
        return folder


def tar_with(path: Path, members: dict[str, bytes]) -> Path:
    """A tar holding ``members`` (name -> bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def snapshot(base: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``base``: relative path -> (size, mtime_ns)."""
    out = {}
    for dirpath, _, files in os.walk(base):
        for name in files:
            path = Path(dirpath) / name
            try:
                stat = path.lstat()
            except OSError:
                continue
            out[str(path.relative_to(base))] = (stat.st_size, stat.st_mtime_ns)
    return out
