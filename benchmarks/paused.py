"""A paused-queue run: insert with every queue paused, resume, time until the last ack,
and count the CPU the workers and their database backends used per job."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psutil

from baton import Workflow
from benchmarks import db
from benchmarks.common import Bench, wait_completed
from benchmarks.procs import Worker
from benchmarks.steps import Step


async def insert_single_step(b: Bench, count: int) -> None:
    workflows = [Workflow(name="bench-one").add("only", Step.new()) for _ in range(count)]

    async def insert(part: list[Workflow]) -> None:
        for wf in part:
            await wf.insert(oban=b.client)

    await asyncio.gather(*(insert(workflows[i::4]) for i in range(4)))


def _cpu_seconds(pid: int) -> float | None:
    try:
        times = psutil.Process(pid).cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return float(times.user + times.system)


async def cpu_snapshot(b: Bench, workers: list[Worker]) -> dict[tuple[str, int], float]:
    """CPU seconds used so far by the workers and by this database's server backends
    (other than the driver's own polling connection)."""
    cursor = await b.conn.execute(
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    found: dict[tuple[str, int], float] = {}
    for kind, pids in (
        ("worker", [w.pid for w in workers]),
        ("postgres", [r[0] for r in await cursor.fetchall()]),
    ):
        for pid in pids:
            seconds = _cpu_seconds(pid)
            if seconds is not None:
                found[(kind, pid)] = seconds
    return found


def cpu_used(
    before: dict[tuple[str, int], float], after: dict[tuple[str, int], float]
) -> dict[str, float]:
    used = {"worker": 0.0, "postgres": 0.0}
    for key, seconds in after.items():
        used[key[0]] += seconds - before.get(key, 0.0)
    return used


async def paused_run(
    b: Bench, workers: list[Worker], count: int, fill: Callable[[], Awaitable[None]]
) -> dict[str, Any]:
    """Insert with every queue paused, resume them all, time until the last ack.

    Also the CPU time the workers and their database backends spent per job: unlike the
    wall time, it hardly depends on what else the machine is doing.
    """
    await db.reset(b.conn)
    await fill()
    await asyncio.sleep(0.2)  # let the insert's notifications settle
    cpu_before = await cpu_snapshot(b, workers)
    started = time.time()
    await asyncio.gather(*(w.request("RESUME") for w in workers))
    last_ack = await wait_completed(b, count, 120 + count * 0.02)
    seen = time.time()
    cpu = cpu_used(cpu_before, await cpu_snapshot(b, workers))
    await asyncio.gather(*(w.request("PAUSE") for w in workers))
    elapsed = last_ack - started
    return {
        "count": count,
        "elapsed": elapsed,
        "per_second": count / elapsed if elapsed > 0 else None,
        "observed_elapsed": seen - started,
        "cpu_worker_per_job": cpu["worker"] / count,
        "cpu_postgres_per_job": cpu["postgres"] / count,
    }
