"""The driver's side of the benchmark's processes: Oban workers, Celery workers, a subscriber.

Each process is started in its own session (so Ctrl-C reaches only the driver, which then
stops them) with the project root on ``PYTHONPATH``; its stderr goes to a log file in
the run's log directory, named in any error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, ClassVar

PROJECT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 60.0
REQUEST_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(PROJECT), env.get("PYTHONPATH")) if part
    )
    env.update(extra or {})
    return env


class ProcessError(RuntimeError):
    """A benchmark process failed to start or answer."""


class _Child:
    def __init__(self, name: str, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _fail(self, why: str) -> ProcessError:
        tail = ""
        with contextlib.suppress(OSError):
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
        return ProcessError(
            f"{self.name} (pid {self.pid}) {why}; exit code {self.proc.returncode}; "
            f"log {self.log}:\n{tail}"
        )

    async def _readline(self, timeout: float) -> str:
        if self.proc.stdout is None:
            raise self._fail("has no output pipe")
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        except TimeoutError:
            raise self._fail(f"gave no answer within {timeout:.0f} s") from None
        if not line:
            await asyncio.sleep(0.2)
            raise self._fail("closed its output")
        return line.decode().rstrip("\n")

    async def stop(self) -> None:
        """SIGTERM the process's session, then SIGKILL it if it is still there."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()
        # prefork children may outlive a parent killed hard; they share its session
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


async def _spawn(
    argv: list[str], log: Path, env: dict[str, str] | None = None, stdin: bool = True
) -> tuple[asyncio.subprocess.Process, Path]:
    handle = log.open("w")
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=PROJECT,
            env=child_env(env),
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=handle,
            start_new_session=True,
            limit=2**28,
        )
    finally:
        handle.close()
    return proc, log


class Worker(_Child):
    """A ``benchmarks.worker`` process: one Oban node running the ``default`` queue."""

    @classmethod
    async def start(
        cls,
        dsn: str,
        node: str,
        logs: Path,
        *,
        limit: int = 10,
        paused: bool = False,
        pool_size: int = 15,
    ) -> Worker:
        argv = [sys.executable, "-m", "benchmarks.worker", "--dsn", dsn, "--node", node]
        argv += ["--limit", str(limit), "--pool-size", str(pool_size)]
        if paused:
            argv.append("--paused")
        proc, log = await _spawn(argv, logs / f"{node}.log")
        worker = cls(node, proc, log)
        line = await worker._readline(READY_TIMEOUT)
        if not line.startswith("READY"):
            raise worker._fail(f"printed {line!r} instead of READY")
        return worker

    async def request(self, command: str, timeout: float = REQUEST_TIMEOUT) -> str:
        if self.proc.stdin is None:
            raise self._fail("has no input pipe")
        try:
            self.proc.stdin.write(command.encode() + b"\n")
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            await asyncio.sleep(0.2)
            raise self._fail(f"exited before {command}") from None
        answer = await self._readline(timeout)
        if answer.startswith("ERROR"):
            raise self._fail(answer)
        return answer

    async def dump(self) -> list[tuple[str, int, float, float]]:
        rows = json.loads(await self.request("DUMP"))
        return [(run, int(i), float(start), float(end)) for run, i, start, end in rows]

    async def rss(self) -> int:
        return int(await self.request("RSS"))


async def start_workers(
    dsn: str, count: int, logs: Path, prefix: str, **options: Any
) -> list[Worker]:
    """Start ``count`` workers side by side; stop those that started if one fails."""
    results = await asyncio.gather(
        *(Worker.start(dsn, f"{prefix}-{i + 1}", logs, **options) for i in range(count)),
        return_exceptions=True,
    )
    started = [r for r in results if isinstance(r, Worker)]
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        await stop_all(started)
        raise failed[0]
    return started


async def stop_all(children: list[Any]) -> None:
    await asyncio.gather(*(child.stop() for child in children), return_exceptions=True)


class Subscriber(_Child):
    """A ``benchmarks.subscriber`` process following ``workflow:all``."""

    @classmethod
    async def start(cls, dsn: str, workflows: list[str], logs: Path) -> Subscriber:
        argv = [sys.executable, "-m", "benchmarks.subscriber", "--dsn", dsn]
        argv += ["--workflows", ",".join(workflows)]
        proc, log = await _spawn(argv, logs / "subscriber.log", stdin=False)
        subscriber = cls("subscriber", proc, log)
        line = await subscriber._readline(READY_TIMEOUT)
        if line != "READY":
            raise subscriber._fail(f"printed {line!r} instead of READY")
        return subscriber

    @classmethod
    async def start_all(cls, dsn: str, finished: int, logs: Path) -> Subscriber:
        """One that counts the events it receives until ``finished`` workflows finished."""
        argv = [sys.executable, "-m", "benchmarks.subscriber", "--dsn", dsn]
        argv += ["--count", str(finished)]
        proc, log = await _spawn(argv, logs / "subscriber-count.log", stdin=False)
        subscriber = cls("subscriber", proc, log)
        line = await subscriber._readline(READY_TIMEOUT)
        if line != "READY":
            raise subscriber._fail(f"printed {line!r} instead of READY")
        return subscriber

    async def counts(self, timeout: float) -> dict[str, int]:
        """What a ``start_all`` subscriber counted, once it has seen every workflow finish."""
        line = await self._readline(timeout)
        await self.proc.wait()
        return json.loads(line)  # type: ignore[no-any-return]

    async def result(self, timeout: float) -> list[list[Any]]:
        line = await self._readline(timeout)
        await self.proc.wait()
        return json.loads(line)  # type: ignore[no-any-return]


class CeleryWorker(_Child):
    """A Celery worker (``threads`` x 10 or ``prefork`` x 2) consuming its own queue."""

    POOLS: ClassVar[dict[str, int]] = {"threads": 10, "prefork": 2}

    def __init__(
        self, name: str, proc: asyncio.subprocess.Process, log: Path, pool: str, queue: str
    ) -> None:
        super().__init__(name, proc, log)
        self.pool = pool
        self.queue = queue

    @classmethod
    async def start(cls, pool: str, redis_url: str, logs: Path) -> CeleryWorker:
        from benchmarks import celery_client

        queue = f"bench_{pool}"
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "benchmarks.celery_app",
            "worker",
            f"--pool={pool}",
            f"--concurrency={cls.POOLS[pool]}",
            "-Q",
            queue,
            "-n",
            f"bench-{pool}-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ]
        proc, log = await _spawn(
            argv,
            logs / f"celery-{pool}.log",
            env={"BENCH_REDIS_URL": redis_url},
            stdin=False,
        )
        worker = cls(f"celery-{pool}", proc, log, pool, queue)
        try:
            await celery_client.ping(queue, READY_TIMEOUT)
        except TimeoutError:
            await worker.stop()
            raise worker._fail("did not run a task within 60 s") from None
        return worker
