"""The worker processes of a crash run: started, SIGKILLed, and restarted when they die.

Each process is ``tests.support.worker_proc --import tests.chaos.steps``; it prints
``READY <node> <pid>`` once its Oban instance runs. A fleet keeps ``size`` of them: when
one exits, for any reason, a replacement starts at once under a new node name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

logger = logging.getLogger("tests.chaos.workers")

PROJECT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
#: Stop replacing processes after this many failed to start (a broken setup, not chaos).
MAX_FAILED_STARTS = 3


@dataclass(eq=False)
class Worker:
    """One worker process."""

    slot: int
    node: str
    proc: asyncio.subprocess.Process
    log: IO[str]
    ready: bool = False
    killed: str | None = None  # why the driver killed it, if it did
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None


@dataclass
class Exit:
    """How a worker process ended."""

    node: str
    pid: int
    returncode: int
    cause: str  # a driver kill kind, "self-kill", "stopped" or "crashed"


class Fleet:
    """``size`` worker processes, each replaced as soon as it exits.

    Args:
        dsn: the database.
        size: how many processes to keep running.
        logs: the directory for each process's stderr.
        args: extra ``worker_proc`` arguments (queues, lifeline, leader interval).
        env: extra environment variables for the processes.
    """

    def __init__(
        self, dsn: str, size: int, logs: Path, args: Sequence[str], env: dict[str, str]
    ) -> None:
        self.dsn = dsn
        self.size = size
        self.logs = logs
        self.args = list(args)
        self.env = env
        self.current: list[Worker | None] = [None] * size
        self.everyone: list[Worker] = []
        self.exits: list[Exit] = []
        self.failed_starts = 0
        self._generation = Counter[int]()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def kills(self) -> Counter[str]:
        """Process deaths by cause."""
        return Counter(exit.cause for exit in self.exits)

    def live(self) -> list[Worker]:
        """Processes that are running and have printed READY."""
        return [w for w in self.current if w is not None and w.ready and w.alive]

    async def start(self) -> None:
        """Start every slot and wait until all are READY."""
        await asyncio.gather(*(self._spawn(slot) for slot in range(self.size)))
        async with asyncio.timeout(READY_TIMEOUT):
            while len(self.live()) < self.size:
                if self.failed_starts:
                    raise RuntimeError(f"a worker did not start; see {self.logs}")
                await asyncio.sleep(0.05)

    def kill(self, worker: Worker, kind: str) -> None:
        """SIGKILL a worker; ``kind`` is recorded as the cause of its exit."""
        if worker.alive:
            worker.killed = kind
            with contextlib.suppress(ProcessLookupError):
                worker.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        """SIGTERM every process, SIGKILL those that do not stop in time; no restarts."""
        self._stopping = True
        for worker in self.everyone:
            if worker.alive:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.send_signal(signal.SIGTERM)
        for worker in self.everyone:
            try:
                await asyncio.wait_for(worker.proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.kill()
                await worker.proc.wait()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for worker in self.everyone:
            worker.log.close()

    async def _spawn(self, slot: int) -> None:
        self._generation[slot] += 1
        node = f"chaos-{slot}-{self._generation[slot]}"
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (str(PROJECT), env.get("PYTHONPATH")) if part
        )
        log = (self.logs / f"{node}.stderr").open("w")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.worker_proc",
            "--dsn",
            self.dsn,
            "--node",
            node,
            "--import",
            "tests.chaos.steps",
            *self.args,
            cwd=PROJECT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
        worker = Worker(slot, node, proc, log)
        self.current[slot] = worker
        self.everyone.append(worker)
        task = asyncio.create_task(self._watch(worker), name=f"watch-{node}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, worker: Worker) -> None:
        """Wait for READY, then for the exit; record it and start a replacement."""
        stdout = worker.proc.stdout
        try:
            line = await asyncio.wait_for(stdout.readline(), READY_TIMEOUT) if stdout else b""
        except TimeoutError:
            line = b""
        if line.startswith(b"READY"):
            worker.ready = True
        elif not self._stopping:
            logger.error("%s did not start (%r); see %s", worker.node, line, worker.log.name)
            self.failed_starts += 1
            self.kill(worker, "failed start")
        returncode = await worker.proc.wait()
        if worker.killed:
            cause = worker.killed
        elif self._stopping and returncode in (0, -signal.SIGTERM, -signal.SIGKILL):
            cause = "stopped"
        elif returncode == -signal.SIGKILL:
            cause = "self-kill"
        else:
            cause = "crashed"
            logger.error("%s exited with %s; see %s", worker.node, returncode, worker.log.name)
        self.exits.append(Exit(worker.node, worker.pid, returncode, cause))
        if not self._stopping and self.failed_starts <= MAX_FAILED_STARTS:
            await self._spawn(worker.slot)
