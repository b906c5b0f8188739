"""The crash suite's workflow steps; worker processes load them with ``--import tests.chaos.steps``.

Every run of ``perform_workflow``:

1. records its start in ``chaos_runs`` (committed at once, with the database's clock), so
   the suite can check that no step started before its deps completed;
2. reads every dep's result with ``baton.get_all_results``;
3. calls the fake LLM over HTTP (the URL is in ``CHAOS_LLM_URL``);
4. returns the LLM's answer, the answers it read from its deps, and ``llm_usage``.

With ``CHAOS_CRASH_AFTER_STORE=P`` set, a worker process SIGKILLs itself with probability
P right after a step it ran has stored its result and before Oban acks the job: the
window the retry guard exists for (see ``crash_after_store``).
"""

from __future__ import annotations

import os
import random
import signal
import sys
from typing import Any

from oban import Job, telemetry

import baton
from tests.chaos.fake_llm import complete

LLM_URL_ENV = "CHAOS_LLM_URL"
CRASH_ENV = "CHAOS_CRASH_AFTER_STORE"
CRASH_HANDLER_ID = "chaos-crash-after-store"
#: Each SIGKILL of a process costs the jobs it was running an attempt; keep plenty.
MAX_ATTEMPTS = 50

RUNS_TABLE = """
CREATE TABLE IF NOT EXISTS chaos_runs (
    workflow_id text NOT NULL,
    step text NOT NULL,
    job_id bigint NOT NULL,
    attempt integer NOT NULL,
    pid integer NOT NULL,
    started_at timestamp WITHOUT TIME ZONE NOT NULL
)
"""

RECORD_RUN = """
INSERT INTO chaos_runs (workflow_id, step, job_id, attempt, pid, started_at)
VALUES (%s, %s, %s, %s, %s, clock_timestamp() AT TIME ZONE 'UTC')
"""

_pool: Any = None
_returned: set[int] = set()
_rng = random.Random()  # noqa: S311 - when to crash, not a secret


def use_pool(pool: Any) -> None:
    """Set up this worker process (``worker_proc --import tests.chaos.steps`` calls it).

    Keeps the pool to record runs with, and attaches the crash handler when
    ``CHAOS_CRASH_AFTER_STORE`` asks for one.
    """
    global _pool
    _pool = pool
    telemetry.detach(CRASH_HANDLER_ID)
    if float(os.environ.get(CRASH_ENV) or 0) > 0:
        telemetry.attach(CRASH_HANDLER_ID, ["oban.job.stop"], crash_after_store)


def crash_after_store(_name: str, meta: dict[str, Any]) -> None:
    """SIGKILL this process between Baton's result write and Oban's ack, now and then.

    ``oban.job.stop`` is emitted once ``process()`` returned — Baton's ``process()`` has
    committed the result by then — and before the producer acks the job, so the job row
    is left ``executing`` with its result stored. Only jobs whose ``perform_workflow``
    returned in this process qualify (not runs answered from a stored result).
    """
    job = meta["job"]
    ran_here = job.id in _returned
    _returned.discard(job.id)
    probability = float(os.environ.get(CRASH_ENV) or 0)
    if ran_here and meta.get("state") == "completed" and _rng.random() < probability:
        sys.stderr.write(f"CHAOS self-kill after job {job.id} stored its result\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)


async def _record_run(job: Job) -> None:
    if _pool is None:
        raise RuntimeError("tests.chaos.steps.use_pool() was not called in this process")
    async with _pool.connection() as conn, conn.transaction():
        await conn.execute(
            RECORD_RUN,
            (job.meta["workflow_id"], job.meta["workflow_step"], job.id, job.attempt, os.getpid()),
        )


def answers(results: dict[str, Any]) -> dict[str, Any]:
    """The LLM answer each dep stored; a list of them for a group."""
    return {
        dep: [member["answer"] for member in value] if isinstance(value, list) else value["answer"]
        for dep, value in results.items()
    }


async def _run(job: Job) -> dict[str, Any]:
    await _record_run(job)
    read = answers(await baton.get_all_results(job))
    url = os.environ[LLM_URL_ENV]
    answer = await complete(
        url,
        {
            "workflow_id": job.meta["workflow_id"],
            "step": job.meta["workflow_step"],
            "attempt": job.attempt,
            "job_id": job.id,
            "pid": os.getpid(),
            "prompt": f"{job.args.get('prompt', '')} given {read}",
        },
    )
    _returned.add(job.id or 0)
    return {
        "step": job.meta["workflow_step"],
        "answer": answer["text"],
        "call": answer["call"],
        "read": read,
        "llm_usage": {"model": answer["model"], **answer["usage"]},
    }


@baton.llm_worker(timeout=30, max_attempts=MAX_ATTEMPTS, backoff_base=1, backoff_max=2)
class Think:
    """An LLM step on the ``llm`` queue."""

    async def perform_workflow(self, job: Job) -> Any:
        return await _run(job)


@baton.worker(queue="default", max_attempts=MAX_ATTEMPTS)
class Tool:
    """A plain step on the ``default`` queue (it calls the fake LLM too)."""

    async def perform_workflow(self, job: Job) -> Any:
        return await _run(job)

    def backoff(self, job: Job) -> int:
        return 1
