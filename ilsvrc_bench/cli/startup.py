"""What a command-line process does once, to start and end quickly.

Two fixed costs that every ``ilsvrc-bench`` process paid, measured in docs/performance.md:

- ``import torchvision`` imports ``torch._dynamo`` (the ``torch.compile`` front end, with sympy
  and half of ``torch.fx``) for one function, ``is_compile_supported``, which
  ``torchvision.ops.roi_align`` imports at module level and only calls while compiling. That is
  more than a second of a 1,000-image run. :func:`defer_dynamo_import` lets torchvision import
  without it; ``torch._dynamo`` is imported as soon as anything uses it (``--compile`` does).
- At exit the interpreter's last garbage collections walk every object torch and torchvision
  made (over a second). :func:`freeze_heap` moves them out of the collector's sight first.
- While torch is imported, the collector's default thresholds (700 new objects; a full pass
  every 100 young ones) run five full collections over a heap that only grows: 15-20% of the
  import's CPU time. :func:`collect_less_often` raises them for the process.
"""

from __future__ import annotations

import gc
import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

DYNAMO = "torch._dynamo"
DYNAMO_UTILS = "torch._dynamo.utils"


def _real_dynamo_utils() -> ModuleType:
    """The real ``torch._dynamo.utils``, importing ``torch._dynamo`` now if it was deferred."""
    _drop_stand_ins()
    return importlib.import_module(DYNAMO_UTILS)


def is_compile_supported(device_type: str) -> Any:
    """``torch._dynamo.utils.is_compile_supported``, looked up when first called."""
    return _real_dynamo_utils().is_compile_supported(device_type)


class _StandIn(ModuleType):
    """Stands in for a ``torch._dynamo`` module while torchvision is imported.

    Any name it does not hold imports the real module and answers from it, so nothing ever
    gets a different object than it would without the stand-in.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            # __path__, __file__, ...: the import system probing; the stand-in has none
            raise AttributeError(name)
        _drop_stand_ins()
        return getattr(importlib.import_module(self.__name__), name)


_STAND_INS: dict[str, ModuleType] = {}


def _drop_stand_ins() -> None:
    """Remove the stand-ins from ``sys.modules`` and from torch, so the next import is real."""
    torch = sys.modules.get("torch")
    for name, module in list(_STAND_INS.items()):
        if sys.modules.get(name) is module:
            del sys.modules[name]
        del _STAND_INS[name]
        # vars(): getattr(torch, "_dynamo") would import the real module (torch's lazy __getattr__)
        if torch is not None and vars(torch).get(name.rpartition(".")[2]) is module:
            delattr(torch, name.rpartition(".")[2])


@contextmanager
def _dynamo_deferred() -> Iterator[None]:
    if DYNAMO in sys.modules:
        yield
        return
    import torch  # noqa: F401 - the stand-ins name one of its subpackages

    package = _StandIn(DYNAMO)
    utils = _StandIn(DYNAMO_UTILS)
    utils.is_compile_supported = is_compile_supported  # type: ignore[attr-defined]
    package.utils = utils  # type: ignore[attr-defined]
    _STAND_INS.update({DYNAMO: package, DYNAMO_UTILS: utils})
    sys.modules.update(_STAND_INS)
    try:
        yield
    finally:
        _drop_stand_ins()


class _DeferringLoader(importlib.abc.Loader):
    """Runs torchvision's own loader with ``torch._dynamo`` stood in for."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the module keeps its own loader (resources, reload); only this first run is wrapped
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        with _dynamo_deferred():
            self.loader.exec_module(module)


class _TorchvisionFinder(importlib.abc.MetaPathFinder):
    """Finds ``torchvision`` with the finders after it, and wraps its loader (once)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "torchvision":
            return None
        _uninstall()
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _DeferringLoader(spec.loader)
                return spec  # type: ignore[no-any-return]
        return None


def _uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _TorchvisionFinder)]


def defer_dynamo_import() -> None:
    """Make the first ``import torchvision`` of this process skip ``torch._dynamo``."""
    if "torchvision" in sys.modules or DYNAMO in sys.modules:
        return
    _uninstall()
    sys.meta_path.insert(0, _TorchvisionFinder())


# Young collections every 10,000 net new objects instead of 700, and a full one every 20 of the
# middle generation's instead of 10: no full collection while torch imports, and at most 10,000
# cyclic garbage objects waiting at any time.
GC_THRESHOLDS = (10_000, 20, 20)


def collect_less_often() -> None:
    """Raise the garbage collector's thresholds for a command-line process (never lowers them)."""
    current = gc.get_threshold()
    gc.set_threshold(*(max(c, t) for c, t in zip(current, GC_THRESHOLDS, strict=True)))


def freeze_heap() -> None:
    """Exclude every object alive now from garbage collection until the process ends.

    For the end of a command-line process: the interpreter's final collections then skip the
    hundreds of thousands of objects torch's modules hold. Objects still alive at exit are
    never guaranteed a finaliser; files and run records are closed before this point.
    """
    gc.freeze()
