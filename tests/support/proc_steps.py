"""Workers for the multi-process tests; imported by the test and by ``worker_proc``.

Every run of ``perform_workflow`` first records a row in ``test_calls`` (in its own
committed transaction), so a test can count how often each step really ran, in which
process, and when it started. The step then returns what it read from its deps.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from oban import Job, telemetry

import baton

CALLS_TABLE = """
CREATE TABLE IF NOT EXISTS test_calls (
    workflow_id text NOT NULL,
    step text NOT NULL,
    pid integer NOT NULL,
    started_at timestamp WITHOUT TIME ZONE NOT NULL
)
"""

RECORD_CALL = """
INSERT INTO test_calls (workflow_id, step, pid, started_at)
VALUES (%s, %s, %s, clock_timestamp() AT TIME ZONE 'UTC')
"""

CRASH_HANDLER_ID = "baton-tests-crash-after-store"

_pool: Any = None


def use_pool(pool: Any) -> None:
    """Give the steps the connection pool to record their calls with (set by worker_proc)."""
    global _pool
    _pool = pool


async def _record_call(job: Job) -> None:
    if _pool is None:
        raise RuntimeError("tests.support.proc_steps.use_pool() was not called")
    async with _pool.connection() as conn, conn.transaction():
        await conn.execute(
            RECORD_CALL, (job.meta["workflow_id"], job.meta["workflow_step"], os.getpid())
        )


async def _run(job: Job) -> dict[str, Any]:
    """Record the call, then read every dep's result and return a summary of it.

    The summary names the step each value came from (a list of names for a group), so a
    test can check that results were handed downstream without results nesting.
    """
    await _record_call(job)
    results = await baton.get_all_results(job)
    read = {
        dep: [member["step"] for member in value] if isinstance(value, list) else value["step"]
        for dep, value in results.items()
    }
    return {"step": job.meta["workflow_step"], "read": read}


@baton.worker(queue="default", max_attempts=3)
class Node:
    """A plain DAG step."""

    async def perform_workflow(self, job: Job) -> Any:
        return await _run(job)


@baton.worker(queue="default", max_attempts=3)
class Crashy:
    """Like Node; with ``crash`` set, its process is SIGKILLed after attempt 1 stored its result.

    The kill happens in ``crash_after_store`` (an ``oban.job.stop`` handler), see there.
    """

    async def perform_workflow(self, job: Job) -> Any:
        return await _run(job)


def crash_after_store(_name: str, meta: dict[str, Any]) -> None:
    """Kill this process between Baton's result write and Oban's ack, for a step whose
    ``crash`` arg is set (``Crashy``; ``tests.support.proc_dynamic_steps.Planner``).

    Oban's executor emits ``oban.job.stop`` once ``process()`` has returned — Baton's
    ``process()`` stores the result before returning — and before the producer queues the
    job's ack, so the job row is left ``executing`` with the result already committed.
    """
    job = meta["job"]
    if job.args.get("crash") and job.attempt == 1 and meta.get("state") == "completed":
        os.kill(os.getpid(), signal.SIGKILL)


def install_crash_handler() -> None:
    """Attach ``crash_after_store`` in this process (worker processes only)."""
    telemetry.detach(CRASH_HANDLER_ID)
    telemetry.attach(CRASH_HANDLER_ID, ["oban.job.stop"], crash_after_store)
