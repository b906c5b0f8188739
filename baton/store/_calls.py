"""Captured calls: an attempt's calls written, a workflow's read, old ones pruned."""

from __future__ import annotations

from datetime import datetime

from oban import Job, Oban

from .. import _oban
from . import _execute as db
from ._rows import CallCount
from ._steps import step_key


async def insert_calls(oban: Oban, job: Job, calls: str) -> None:
    """Store the calls (a JSON array) the job's current attempt captured, in one statement."""
    params = {**step_key(job), "attempt": job.attempt, "calls": calls}
    async with _oban.single(oban) as conn:
        await db.run(conn, "calls/insert.sql", _oban.prefix(oban), params)


async def call_counts(oban: Oban, workflow_id: str) -> dict[str, int]:
    """How many calls each step of the workflow captured (steps with none are left out)."""
    params = {"workflow_id": workflow_id}
    async with _oban.single(oban) as conn:
        found = await db.rows(conn, "calls/counts.sql", _oban.prefix(oban), params, CallCount)
    return {row.step: row.calls for row in found}


async def prune_calls(oban: Oban, cutoff: datetime, limit: int, *, delete: bool) -> int:
    """Delete up to ``limit`` calls captured before ``cutoff`` (a dry run counts them all)."""
    params = {"cutoff": cutoff, "limit": limit}
    name = "prune/calls.sql" if delete else "prune/calls_count.sql"
    async with _oban.single(oban) as conn:
        [count] = await db.values(conn, name, _oban.prefix(oban), params)
    return int(count)
