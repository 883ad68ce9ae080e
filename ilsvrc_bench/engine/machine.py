"""What a speed figure was measured on: CPU model and cores, GPU, library versions, load."""

from __future__ import annotations

import os
from typing import Any


def machine_info() -> dict[str, Any]:
    """``{"cpu", "cpu_count", "usable_cpus", "gpu", "load_average", "versions"}``.

    ``gpu`` is ``None`` without CUDA; ``load_average`` is the 1/5/15-minute load when the
    platform has one (a busy machine explains a slow figure).
    """
    import torch

    from ilsvrc_bench.engine.device import cpu_name
    from ilsvrc_bench.engine.rundir import library_versions

    gpu = None
    if torch.cuda.is_available():
        gpu = {
            "name": torch.cuda.get_device_name(),
            "count": torch.cuda.device_count(),
            "cuda": torch.version.cuda,
        }
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "gpu": gpu,
        "load_average": load,
        "versions": library_versions(),
    }


def usable_cpus() -> int:
    """The cores this process may run on (the affinity mask where there is one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
