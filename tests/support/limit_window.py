"""The rate limit measured across processes: no window over the limit, and its utilisation.

    python -m tests.support.limit_window [--workers 3] [--seconds 120] [--rpm 120]
        [--window 60] [--dsn URL]

Starts ``--workers`` worker processes (``tests.support.worker_proc`` running
``tests.support.limit_steps``), sets the limit ``KEY`` to ``--rpm`` requests per minute
counted over ``--window`` seconds, and inserts more single-call steps than the limit can
admit in the run, so that work waits all along. Every call records the time it started
(taken first thing in ``perform_workflow``, by the machine's clock, which the processes
and the local PostgreSQL share) in ``test_limit_calls``. After ``--seconds``
from the first call the workers stop and it prints, as JSON:

- ``max_in_window``: the most calls started within any closed window ``[t, t + window]``
  (t at each call); the limit holds when it is at most the limit per window + 1;
- ``utilisation``: the calls started in ``[t0, t0 + seconds)`` (t0: the first call) over
  what the limit allows in that time;
- the calls by process, and the steps still waiting at the end.

Without ``--dsn`` it runs on a database of its own (``baton_limits_scratch_…``), dropped
at the end. ``tests/integration/test_multiprocess_limits.py`` runs a shorter version.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from oban import Oban

import baton
from baton import Workflow
from baton._database import private_database
from tests.integration.test_multiprocess import Workers
from tests.support import limit_steps as ls

#: The worker processes' options: the queue of ``limit_steps`` and its workers.
WORKER_ARGS = ["--queues", f"{ls.QUEUE}:10", "--import", "tests.support.limit_steps"]

MAX_IN_WINDOW = """
SELECT coalesce(max(n), 0) FROM (
    SELECT (SELECT count(*) FROM test_limit_calls b
             WHERE b.at >= a.at AND b.at <= a.at + make_interval(secs => %(window)s)) AS n
      FROM test_limit_calls a
) windows
"""

SUMMARY = """
SELECT count(*) FILTER (WHERE at < first + make_interval(secs => %(seconds)s)) AS in_run,
       count(*) AS calls,
       extract(epoch FROM max(at) - min(at))::float AS span
  FROM test_limit_calls, (SELECT min(at) AS first FROM test_limit_calls) f
"""


@dataclass(frozen=True)
class Measurement:
    workers: int
    seconds: float
    requests_per_minute: int
    window: float
    limit_per_window: int
    steps: int
    calls: int
    calls_in_run: int
    max_in_window: int
    allowed_in_run: float
    utilisation: float
    calls_by_process: dict[str, int]
    waiting_at_end: int


async def scalar(conn: psycopg.AsyncConnection[Any], query: str, params: Any = None) -> Any:
    row = await (await conn.execute(query, params)).fetchone()
    return row[0] if row else None


async def measure(
    dsn: str,
    *,
    workers: int = 3,
    seconds: float = 120.0,
    requests_per_minute: int = 120,
    window: float = 60.0,
    sleep: float = 0.05,
    logs: Path | None = None,
) -> Measurement:
    """Run the measurement on ``dsn`` (Baton installed; its job and limit tables emptied)."""
    per_window = math.floor(requests_per_minute * window / 60)
    # More than the run can admit: the limit's worth per window, one window more, and spare.
    steps = per_window * (math.ceil(seconds / window) + 1) + 20
    logs = logs or Path(tempfile.mkdtemp(prefix="baton-limit-window-"))
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(ls.CALLS_TABLE)
        await conn.execute(
            "TRUNCATE oban_jobs, baton_workflows, baton_steps, baton_edges, baton_limits, "
            "baton_limit_calls, test_limit_calls RESTART IDENTITY CASCADE"
        )
        pool = await Oban.create_pool(dsn, min_size=1, max_size=4)
        try:
            client = Oban(pool=pool, leadership=False, name="limit-window")
            await baton.set_limit(
                ls.KEY, requests_per_minute=requests_per_minute, window=window, oban=client
            )
            group = Workers(dsn, logs)
            try:
                await group.start([f"limits-{index}" for index in range(workers)], WORKER_ARGS)
                wf = Workflow(name="limit-window")
                for index in range(steps):
                    wf.add(f"call{index}", ls.Call.new({"sleep": sleep}))
                await wf.insert(oban=client)
                async with asyncio.timeout(60):
                    while not await scalar(conn, "SELECT count(*) FROM test_limit_calls"):
                        await asyncio.sleep(0.05)
                await asyncio.sleep(seconds + 1.0)
            finally:
                await group.close()
            max_in_window = int(await scalar(conn, MAX_IN_WINDOW, {"window": window}))
            cursor = await conn.execute(SUMMARY, {"seconds": seconds})
            summary = await cursor.fetchone()
            assert summary is not None
            by_process = await (
                await conn.execute(
                    "SELECT pid::text, count(*) FROM test_limit_calls GROUP BY pid ORDER BY pid"
                )
            ).fetchall()
            waiting = await scalar(
                conn,
                "SELECT count(*) FROM oban_jobs WHERE state IN ('available', 'scheduled')",
            )
        finally:
            await pool.close()
    allowed = per_window * seconds / window
    return Measurement(
        workers=workers,
        seconds=seconds,
        requests_per_minute=requests_per_minute,
        window=window,
        limit_per_window=per_window,
        steps=steps,
        calls=int(summary[1]),
        calls_in_run=int(summary[0]),
        max_in_window=max_in_window,
        allowed_in_run=allowed,
        utilisation=int(summary[0]) / allowed,
        calls_by_process={pid: int(count) for pid, count in by_process},
        waiting_at_end=int(waiting),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.limit_window", description=__doc__
    )
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--rpm", type=int, default=120)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--dsn", default=None, help="default: a database of the run's own")
    args = parser.parse_args(argv)

    async def run(dsn: str) -> Measurement:
        await baton.install(dsn)
        return await measure(
            dsn,
            workers=args.workers,
            seconds=args.seconds,
            requests_per_minute=args.rpm,
            window=args.window,
        )

    if args.dsn:
        result = asyncio.run(run(args.dsn))
    else:
        with private_database("baton_limits_scratch") as dsn:
            result = asyncio.run(run(dsn))
    print(json.dumps(asdict(result), indent=2))
    ok = result.max_in_window <= result.limit_per_window + 1 and result.utilisation >= 0.9
    print(
        f"max calls in any {result.window:g} s window: {result.max_in_window} "
        f"(limit {result.limit_per_window} + 1); utilisation {result.utilisation:.1%} "
        f"(>= 90%): {'OK' if ok else 'FAILED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
