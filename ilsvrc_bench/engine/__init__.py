"""Evaluate: loader, device, precision, protocol, exact accounting, prediction store, resume.

``evaluate(models, data=..., options=EvalOptions(...))`` returns one :class:`EvalResult` per
model; it never prints. Progress goes through a :class:`Progress` the caller provides.
"""

from __future__ import annotations

from ilsvrc_bench.engine.options import EvalOptions
from ilsvrc_bench.engine.result import EvalResult
from ilsvrc_bench.engine.session import evaluate, evaluate_specs
from ilsvrc_bench.progress import NullProgress, Progress

__all__ = ["EvalOptions", "EvalResult", "NullProgress", "Progress", "evaluate", "evaluate_specs"]
