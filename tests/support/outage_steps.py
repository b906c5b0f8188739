"""Workers for the PostgreSQL-outage test; imported by the test and by ``worker_proc``.

Start a worker with them through ``worker_proc --import tests.support.outage_steps``.

``Work``: every run of ``perform_workflow`` first records a row in ``outage_calls`` with its job's
attempt (in its own committed transaction), then reads its deps' results, then works for
the ``seconds`` given in its args, then returns what it read. A run that is working when
the database goes away therefore finishes its work and has to store its result through
the outage; a run that starts its database calls during the outage fails and is retried.

``TouchesDatabase`` is for a test that runs its Oban instance (named ``INPROCESS``) in the
test process: it waits until the test says the database is down, then fails on it.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from oban import Job

import baton

CALLS_TABLE = """
CREATE TABLE IF NOT EXISTS outage_calls (
    workflow_id text NOT NULL,
    step text NOT NULL,
    attempt integer NOT NULL,
    pid integer NOT NULL,
    started_at timestamp WITHOUT TIME ZONE NOT NULL
)
"""

RECORD_CALL = """
INSERT INTO outage_calls (workflow_id, step, attempt, pid, started_at)
VALUES (%s, %s, %s, %s, clock_timestamp() AT TIME ZONE 'UTC')
"""

#: Seconds before a step that failed (during the outage) is tried again. Oban's default,
#: 15 s + 2^attempt, would only make the test slower; the recovery is the same.
RETRY_AFTER = 1

#: The name of the Oban instance that runs ``TouchesDatabase`` (in the test process).
INPROCESS = "baton-outage-inprocess"
#: Set by the in-process test once a ``TouchesDatabase`` step is running, and once the
#: database is down.
STARTED = asyncio.Event()
DATABASE_DOWN = asyncio.Event()

_pool: Any = None


def use_pool(pool: Any) -> None:
    """Give the steps the connection pool to record their calls with (set by worker_proc)."""
    global _pool
    _pool = pool


async def _record_call(job: Job) -> None:
    if _pool is None:
        raise RuntimeError("tests.support.outage_steps.use_pool() was not called")
    async with _pool.connection() as conn, conn.transaction():
        await conn.execute(
            RECORD_CALL,
            (job.meta["workflow_id"], job.meta["workflow_step"], job.attempt, os.getpid()),
        )


@baton.worker(queue="default", max_attempts=5)
class Work:
    """A step that records its call, reads its deps, works ``seconds``, returns a summary.

    The summary names the step each dep value came from (a list of names for a group), so
    the test can check every step read exactly its deps' stored results.
    """

    async def perform_workflow(self, job: Job) -> Any:
        await _record_call(job)
        results = await baton.get_all_results(job)
        read = {
            dep: [member["step"] for member in value] if isinstance(value, list) else value["step"]
            for dep, value in results.items()
        }
        await asyncio.sleep(float(job.args.get("seconds", 0.2)))
        return {"step": job.meta["workflow_step"], "read": read}

    def backoff(self, job: Job) -> int:
        return RETRY_AFTER


@baton.worker(queue="acks", max_attempts=3, oban=INPROCESS)
class TouchesDatabase:
    """Waits until the database is down, then records its call there, which fails."""

    async def perform_workflow(self, job: Job) -> Any:
        STARTED.set()
        await DATABASE_DOWN.wait()
        await _record_call(job)
        return None
