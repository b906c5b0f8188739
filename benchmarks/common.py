"""What every benchmark scenario shares: sizes, the ``Bench`` context, waiting helpers and
the worker processes with their peers.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from oban import Oban

from benchmarks import stats
from benchmarks.procs import CeleryWorker, Worker, start_workers, stop_all

INSERT_QUEUE = "bench_insert"  # no worker runs it: inserted jobs stay put
POLL = 0.02


@dataclass(frozen=True)
class Sizes:
    chain: int = 200
    throughput: int = 5_000
    widths: tuple[int, int] = (1_000, 10_000)
    insert: int = 10_000
    events_chain: int = 250
    memory_workflows: int = 500
    memory_steps: int = 100
    memory_warmup_workflows: int = 50
    scale_workers: int = 3
    prune_steps: int = 100_000
    prune_live: int = 8_000
    usage_rows: int = 1_000_000


FULL = Sizes()
QUICK = Sizes(
    chain=50,
    throughput=500,
    widths=(100, 1_000),
    insert=1_000,
    events_chain=100,
    memory_workflows=50,
    memory_steps=100,
    memory_warmup_workflows=10,
    scale_workers=3,
    prune_steps=10_000,
    prune_live=800,
    usage_rows=100_000,
)


@dataclass
class Bench:
    """What every scenario needs: the database, a client Oban instance, options."""

    dsn: str
    sizes: Sizes
    repeat: int
    logs: Path
    conn: psycopg.AsyncConnection[Any]
    client: Oban
    celery_pools: list[str]
    redis_url: str
    notes: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        print(f"  {text}", file=sys.stderr, flush=True)


# -- helpers --------------------------------------------------------------------------------


async def wait_for(
    conn: psycopg.AsyncConnection[Any], query: str, params: Any, timeout: float
) -> tuple[Any, ...]:
    """Re-run ``query`` until its first column is true; return that row."""
    deadline = time.monotonic() + timeout
    while True:
        row = await (await conn.execute(query, params)).fetchone()
        if row and row[0]:
            return tuple(row)
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for: {query.strip()}")
        await asyncio.sleep(POLL)


async def wait_workflows(b: Bench, count: int, timeout: float) -> None:
    await wait_for(
        b.conn,
        "SELECT count(*) FILTER (WHERE finished_at IS NOT NULL) >= %s FROM baton_workflows",
        (count,),
        timeout,
    )


async def wait_completed(b: Bench, count: int, timeout: float) -> float:
    """Wait until ``count`` jobs completed; the epoch of the last completion (its ack)."""
    row = await wait_for(
        b.conn,
        "SELECT count(*) >= %s, extract(epoch FROM max(completed_at))::float8 "
        "FROM oban_jobs WHERE state = 'completed'",
        (count,),
        timeout,
    )
    return float(row[1])


def mine(
    records: Sequence[tuple[str, int, float, float]], label: str
) -> dict[int, tuple[float, float]]:
    return {i: (start, end) for run, i, start, end in records if run == label}


def chain_pairs(
    by_index: dict[int, tuple[float, float]], length: int, who: str
) -> list[tuple[float, float]]:
    missing = [i for i in range(length) if i not in by_index]
    if missing:
        raise RuntimeError(f"{who}: {len(missing)} of {length} chain steps left no record")
    return [by_index[i] for i in range(length)]


async def start_celery(b: Bench) -> list[CeleryWorker]:
    if not b.celery_pools:
        return []
    try:
        from benchmarks import celery_client
    except ImportError as error:
        b.notes.append(f"Celery baselines skipped: {error} (pip install -e '.[bench]')")
        return []
    try:
        celery_client.flush()
    except Exception as error:
        b.notes.append(f"Celery baselines skipped: Redis at {b.redis_url} failed: {error}")
        return []
    started = []
    try:
        for pool in b.celery_pools:
            started.append(await CeleryWorker.start(pool, b.redis_url, b.logs))
    except BaseException:
        await stop_all(started)
        raise
    return started


@asynccontextmanager
async def with_peers(b: Bench, label: str) -> AsyncIterator[tuple[Worker, list[CeleryWorker]]]:
    """One Baton/Oban worker process and the Celery workers; all stopped on exit."""
    workers = await start_workers(b.dsn, 1, b.logs, label)
    celery: list[CeleryWorker] = []
    try:
        celery = await start_celery(b)
        yield workers[0], celery
    finally:
        await stop_celery(celery)
        await stop_all(workers)


async def stop_celery(workers: list[CeleryWorker]) -> None:
    await stop_all(workers)
    if workers:
        from benchmarks import celery_client

        celery_client.close()


def chain_summary(
    handoffs: list[list[float]], cycles: list[list[float]], totals: list[float]
) -> dict[str, Any]:
    """Medians over rounds of each round's p50/p90, plus the pooled distribution."""
    pooled = [x for run in handoffs for x in run]
    return {
        "handoff_p50": stats.median(stats.median(run) for run in handoffs),
        "handoff_p90": stats.median(stats.percentile(run, 90) for run in handoffs),
        "handoff_pooled": stats.summarize(pooled),
        "cycle_p50": stats.median(stats.median(run) for run in cycles),
        "total": stats.median(totals),
        "negative_handoffs": sum(x < 0 for x in pooled),
    }
