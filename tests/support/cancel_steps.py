"""Workers for the tests of a cancel that stops work (``test_cancel.py``,
``test_multiprocess_cancel.py``); imported by the tests and by ``worker_proc``.

Each run records what it did in ``test_cancel_runs`` (its own committed write), so a test
in another process can tell that a step started, was interrupted, or ran to its end.
"""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

from oban import Job

import baton

RUNS_TABLE = """
CREATE TABLE IF NOT EXISTS test_cancel_runs (
    job_id bigint NOT NULL,
    step text NOT NULL,
    pid integer NOT NULL,
    what text NOT NULL,
    at timestamp WITHOUT TIME ZONE NOT NULL DEFAULT (clock_timestamp() AT TIME ZONE 'UTC')
)
"""

MARK_CANCELLED = """
UPDATE baton_workflows SET cancelled_at = timezone('UTC', now()) WHERE id = %s
"""

_pool: Any = None


def use_pool(pool: Any) -> None:
    """Give the steps the connection pool they record with (worker_proc calls it)."""
    global _pool
    _pool = pool


async def record(job: Job, what: str) -> None:
    if _pool is None:
        raise RuntimeError("tests.support.cancel_steps.use_pool() was not called")
    async with _pool.connection() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO test_cancel_runs (job_id, step, pid, what) VALUES (%s, %s, %s, %s)",
            (job.id, job.meta.get("workflow_step", ""), os.getpid(), what),
        )


async def _wait_like_a_model_call(job: Job) -> None:
    """Wait ``seconds`` (120 by default) as a slow HTTP call would, recording the start."""
    await record(job, "started")
    await asyncio.sleep(float(job.args.get("seconds", 120)))


@baton.worker(queue="default", max_attempts=1)
class Hangs:
    """Waits for a reply that does not come; records ``interrupted`` if cancelled."""

    async def perform_workflow(self, job: Job) -> Any:
        try:
            await _wait_like_a_model_call(job)
        except asyncio.CancelledError:
            await record(job, "interrupted")
            raise
        await record(job, "finished")
        return {"finished": True}


@baton.worker(queue="default", max_attempts=1)
class Catches:
    """Catches the interruption and returns a value all the same: it must not be stored."""

    async def perform_workflow(self, job: Job) -> Any:
        try:
            await _wait_like_a_model_call(job)
        except asyncio.CancelledError:
            await record(job, "caught")
        return {"caught": True}


@baton.worker(queue="default", max_attempts=1, interruptible=False)
class MustFinish:
    """Opted out of interruption: it sees the cancel (``job.cancelled()``), then finishes
    its work and returns a result, which is kept."""

    async def perform_workflow(self, job: Job) -> Any:
        await record(job, "started")
        async with asyncio.timeout(60):
            while not job.cancelled():
                await asyncio.sleep(0.01)
        await record(job, "finished")
        return {"finished": True}


async def _cancel_without_a_signal(job: Job) -> dict[str, Any]:
    """Mark the step's workflow cancelled as ``baton.cancel`` does, but send no signal:
    a cancel that committed while this node missed Oban's signal."""
    async with _pool.connection() as conn, conn.transaction():
        await conn.execute(MARK_CANCELLED, (job.meta["workflow_id"],))
    return {"after": "the cancel"}


@baton.worker(queue="default", max_attempts=1)
class ReturnsAfterCancel:
    """Returns a value once its workflow's cancel committed, unsignalled: the store refuses."""

    async def perform_workflow(self, job: Job) -> Any:
        return await _cancel_without_a_signal(job)


@baton.worker(queue="default", max_attempts=1, interruptible=False)
class ReturnsAfterCancelMustFinish:
    """As ReturnsAfterCancel, but opted out of interruption: its result is stored."""

    async def perform_workflow(self, job: Job) -> Any:
        return await _cancel_without_a_signal(job)


@baton.worker(queue="default", max_attempts=1)
class Racer:
    """Works for a random 0-``spread`` seconds, then returns; raced against a cancel."""

    async def perform_workflow(self, job: Job) -> Any:
        await record(job, "started")
        await asyncio.sleep(random.uniform(0, float(job.args["spread"])))  # noqa: S311
        return {"done": job.args["n"]}
