"""The library's one exception tree; each error carries the exit code the CLI maps it to.

Exit codes (documented in README.md):

====  ==========================================================
0     success
1     regression found (``check``)
2     usage error (bad option, unknown subcommand)
3     data error (missing, corrupt, mislabelled or mismatched data)
4     model or weights error
5     runtime or device error
130   interrupted (Ctrl-C)
====  ==========================================================
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    REGRESSION = 1
    USAGE = 2
    DATA = 3
    MODEL = 4
    RUNTIME = 5
    INTERRUPTED = 130


class IlsvrcBenchError(Exception):
    """Base of every error the library raises on purpose. The message is one line for the user."""

    exit_code: ExitCode = ExitCode.RUNTIME


class UsageError(IlsvrcBenchError):
    """Options that contradict each other or name nothing usable."""

    exit_code = ExitCode.USAGE


class DataError(IlsvrcBenchError):
    """A dataset, archive, label file or image is missing, corrupt or inconsistent."""

    exit_code = ExitCode.DATA


class ModelError(IlsvrcBenchError):
    """A model reference, factory, ONNX file or weights file cannot be used."""

    exit_code = ExitCode.MODEL


class DeviceError(IlsvrcBenchError):
    """The requested device or precision is not available, or the run failed on it."""

    exit_code = ExitCode.RUNTIME


class OutputError(IlsvrcBenchError):
    """A file the user asked for (``-o``, ``--junit``, ``--summary``, ``--plot``) is unwritable."""

    exit_code = ExitCode.RUNTIME


class RunError(IlsvrcBenchError):
    """A run record or runs directory cannot be read or written."""

    exit_code = ExitCode.RUNTIME
