"""One evaluation across processes: torchrun's environment protocol, shards, a heartbeat.

A process started by ``torchrun`` (or anything that sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` the same way) joins a process group: NCCL
when its device is a GPU, gloo on the CPU. Predictions never travel over the network: every rank
writes its own durable chunks into the one run directory (a file system all nodes share) and
rank 0 merges them. The group carries only small control messages (which run directory, per-rank
timings, the final records) over a gloo group, and a heartbeat over another one, so that a rank
that dies (kill -9, out of memory, a lost node) stops the others within seconds instead of
leaving them waiting forever.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from ilsvrc_bench.errors import DeviceError, IlsvrcBenchError, RunError, UsageError

# Seconds; environment overrides for slow clusters (and fast tests).
INIT_TIMEOUT_ENV = "ILSVRC_BENCH_DIST_TIMEOUT"
HEARTBEAT_TIMEOUT_ENV = "ILSVRC_BENCH_HEARTBEAT_TIMEOUT"
HEARTBEAT_INTERVAL_S = 0.5

_RUNNING, _FINISHED, _FAILED = 0.0, 1.0, 2.0


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"${name}={text!r}: expected a number of seconds") from None
    if value <= 0:
        raise UsageError(f"${name}={text!r}: expected a positive number of seconds")
    return value


def launched() -> bool:
    """True in a process started by torchrun (or with its environment protocol)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def env_rank() -> int:
    """This process's rank from the environment (0 outside torchrun)."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def shard_keep(position: int, *, batch_size: int, rank: int, world_size: int) -> bool:
    """Whether this rank scores the image at ``position`` of the evaluated subset.

    Batch ``j`` of the batch grid (positions ``j*batch_size`` to ``(j+1)*batch_size - 1``) goes
    to rank ``j % world_size``: every image to exactly one rank, no padding, and each batch holds
    the same images as in a single-process run, so the model sees exactly the same inputs.
    """
    return (position // batch_size) % world_size == rank


@dataclass
class World:
    """This process's place in the evaluation: rank, world size, device; collectives on it.

    ``World()`` is a single process (every collective is the identity).
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None
    host: str = field(default_factory=socket.gethostname)
    _control: Any = None
    _heartbeat: Any = None
    _failure: str | None = None

    @property
    def distributed(self) -> bool:
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.distributed:
            return obj
        import torch.distributed as dist

        box = [obj]
        self._collective(lambda: dist.broadcast_object_list(box, src=0, group=self._control))
        return box[0]

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.distributed:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.size
        self._collective(lambda: dist.all_gather_object(out, obj, group=self._control))
        return out

    def _collective(self, call: Any) -> None:
        try:
            call()
        except RuntimeError as exc:
            raise RunError(self.lost_message(exc)) from exc

    def lost_message(self, exc: BaseException) -> str:
        first = _first_line(exc)
        return (
            f"rank {self.rank} of {self.size} on {self.host}: another rank stopped (killed, out "
            f"of memory or its node lost): {first}; every prediction written so far is kept: "
            "run the same command again to resume (with any number of ranks)"
        )

    def check(self) -> None:
        """Raise :class:`RunError` if the heartbeat saw another rank fail or vanish."""
        if self._failure is not None:
            raise RunError(self._failure)

    @contextlib.contextmanager
    def watch(self) -> Iterator[None]:
        """Heartbeat while the block runs: every rank's state, all-reduced every half second.

        The block ends for everyone together: a rank that finishes waits until every rank has
        (or one fails). A rank that fails tells the others in the next beat; a rank that dies
        breaks the beat's connection, which the others see at once. A rank that hangs is given
        up after ``$ILSVRC_BENCH_HEARTBEAT_TIMEOUT`` seconds (default 120).
        """
        if not self.distributed:
            yield
            return
        state = {"value": _RUNNING}
        done = threading.Event()
        beat = threading.Thread(target=self._beat, args=(state, done), daemon=True)
        beat.start()
        try:
            yield
        except BaseException:
            state["value"] = _FAILED
            # One more beat tells the others; bounded so a broken group cannot hold us.
            beat.join(timeout=_seconds(HEARTBEAT_TIMEOUT_ENV, 120.0))
            raise
        state["value"] = _FINISHED
        beat.join()
        self.check()

    def _beat(self, state: dict[str, float], done: threading.Event) -> None:
        import torch.distributed as dist

        states = torch.zeros(self.size)
        while True:
            states.zero_()
            states[self.rank] = state["value"]
            try:
                dist.all_reduce(states, group=self._heartbeat)
            except RuntimeError as exc:
                self._failure = self.lost_message(exc)
                return
            failed = [r for r, s in enumerate(states.tolist()) if s == _FAILED]
            if failed and state["value"] != _FAILED:
                self._failure = (
                    f"rank {self.rank} of {self.size} on {self.host}: rank "
                    f"{', '.join(map(str, failed))} failed (its error is above); every "
                    "prediction written so far is kept: run the same command again to resume"
                )
            if failed or all(s == _FINISHED for s in states.tolist()):
                return
            time.sleep(HEARTBEAT_INTERVAL_S)

    def close(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            with contextlib.suppress(Exception):
                dist.destroy_process_group()
            self.backend = None


def _first_line(exc: BaseException) -> str:
    """The exception's first line without gloo's ``[source/file.cc:123]`` prefix."""
    import re

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return re.sub(r"^\[[^\]]*\]\s*", "", first)[:200]


def device_for_rank(name: str, local_rank: int) -> torch.device:
    """Under torchrun, ``auto`` and ``cuda`` mean the GPU of this rank's ``LOCAL_RANK``."""
    from ilsvrc_bench.engine import device as devices

    text = name.strip().lower()
    if text in ("auto", "cuda") and torch.cuda.is_available():
        if local_rank >= torch.cuda.device_count():
            raise DeviceError(
                f"LOCAL_RANK {local_rank} but {socket.gethostname()} has only "
                f"{torch.cuda.device_count()} CUDA device(s); start at most that many processes "
                "per node (torchrun --nproc-per-node)"
            )
        return torch.device("cuda", local_rank)
    return devices.select_device(name)


def join(device_name: str) -> tuple[World, torch.device]:
    """This process's world and device: a single process outside torchrun, else its rank.

    Raises :class:`RunError` (exit 5) when the process group cannot be formed in time.
    """
    if not launched():
        from ilsvrc_bench.engine import device as devices

        return World(), devices.select_device(device_name)
    import torch.distributed as dist

    try:
        rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as exc:
        raise UsageError(f"torchrun environment: {exc}") from None
    device = device_for_rank(device_name, local_rank)
    backend = "nccl" if device.type == "cuda" else "gloo"
    timeout = datetime.timedelta(seconds=_seconds(INIT_TIMEOUT_ENV, 600.0))
    beat_timeout = datetime.timedelta(seconds=_seconds(HEARTBEAT_TIMEOUT_ENV, 120.0))
    try:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group(backend=backend, rank=rank, world_size=size, timeout=timeout)
        world = World(rank=rank, size=size, local_rank=local_rank, backend=backend)
        world._control = dist.new_group(backend="gloo", timeout=timeout)
        world._heartbeat = dist.new_group(backend="gloo", timeout=beat_timeout)
        # One all-reduce on the default group: the ranks' devices can talk (NCCL on GPUs).
        probe = torch.ones(1, device=device)
        dist.all_reduce(probe)
        if int(probe.item()) != size:
            raise RuntimeError(f"all-reduce of ones gave {probe.item()}, not {size}")
    except IlsvrcBenchError:
        raise
    except (RuntimeError, ValueError, OSError) as exc:
        first = _first_line(exc)
        raise RunError(
            f"rank {rank} of {size} on {socket.gethostname()}: cannot form the process group "
            f"({backend}, MASTER_ADDR={os.environ.get('MASTER_ADDR')}, "
            f"MASTER_PORT={os.environ.get('MASTER_PORT')}): {first}"
        ) from exc
    _stop_on_sigterm(world)
    return world, device


def _stop_on_sigterm(world: World) -> None:
    """torchrun stops the other ranks with SIGTERM when one dies: stop like on an error, so the
    rows scored so far are flushed and the exit is 5 with one line, not a silent kill."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, frame: Any) -> None:
        raise RunError(
            f"rank {world.rank} of {world.size} on {world.host}: stopped by SIGTERM (the launcher "
            "stops every rank when one fails); every prediction written so far is kept: run the "
            "same command again to resume"
        )

    signal.signal(signal.SIGTERM, stop)
