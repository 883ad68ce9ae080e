"""``eval --nproc N``: start N local ranks with torchrun's environment protocol and wait.

Thin on purpose: no restarts, no rendezvous backend; for several nodes use torchrun itself.
Each rank is ``python -m ilsvrc_bench <args>`` with ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``LOCAL_WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set as torchrun sets them. The exit
code is the one of the first rank to fail (a rank killed by a signal counts as exit 5).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ilsvrc_bench.errors import ExitCode, UsageError

# The command the user typed, for the ranks' run records (they see only their own argv).
COMMAND_ENV = "ILSVRC_BENCH_COMMAND"
# After one rank fails, the others get this long to stop by themselves (the heartbeat stops
# them within seconds) before they are terminated.
GRACE_S = 60.0


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    message: str | None  # one line about a rank that died by a signal, else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rank_env(rank: int, nproc: int, port: int, command: Sequence[str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        GROUP_RANK="0",
        WORLD_SIZE=str(nproc),
        LOCAL_WORLD_SIZE=str(nproc),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    env[COMMAND_ENV] = json.dumps(list(command))
    # The cores shared out, as torchrun would leave it to the user (it sets 1).
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    return env


def launch(args: Sequence[str], *, nproc: int, command: Sequence[str]) -> Outcome:
    """Run ``python -m ilsvrc_bench *args`` as ``nproc`` local ranks; the combined outcome."""
    if nproc < 1:
        raise UsageError(f"--nproc must be at least 1, got {nproc}")
    if "RANK" in os.environ:
        raise UsageError("--nproc cannot be used under torchrun (it is already one rank)")
    port = free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ilsvrc_bench", *args],
            env=rank_env(rank, nproc, port, command),
        )
        for rank in range(nproc)
    ]
    try:
        return _wait(procs)
    except KeyboardInterrupt:
        for proc in procs:
            proc.wait()
        return Outcome(int(ExitCode.INTERRUPTED), None)


def _wait(procs: list[subprocess.Popen[bytes]]) -> Outcome:
    first: tuple[int, int] | None = None  # (rank, return code) of the first rank to fail
    failed_at = 0.0
    while any(p.poll() is None for p in procs):
        if first is None:
            for rank, proc in enumerate(procs):
                code = proc.poll()
                if code not in (None, 0):
                    first, failed_at = (rank, int(code)), time.monotonic()
                    break
        elif time.monotonic() - failed_at > GRACE_S:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
    if first is None:
        failures = [(r, p.returncode) for r, p in enumerate(procs) if p.returncode != 0]
        if not failures:
            return Outcome(0, None)
        first = failures[0]
    rank, code = first
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals.__members__.values() else ""
        return Outcome(
            int(ExitCode.RUNTIME),
            f"rank {rank} was killed by signal {-code} {name}".rstrip()
            + "; every prediction written so far is kept: run the same command again to resume",
        )
    return Outcome(code, None)
