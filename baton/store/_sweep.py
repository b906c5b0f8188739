"""The sweep's statements: settle steps no trigger saw, activate steps left suspended."""

from __future__ import annotations

from oban import Oban

from .. import _oban
from . import _execute as db
from ._rows import ActivatedJob, StuckStep, SweptStep


async def settle_unseen(oban: Oban, limit: int) -> list[SweptStep]:
    """Settle up to ``limit`` steps whose job is gone or final but never settled."""
    async with _oban.pooled(oban) as conn, conn.transaction():
        params = {"limit": limit}
        return await db.rows(conn, "sweep_settle.sql", _oban.prefix(oban), params, SweptStep)


async def activate_stuck(oban: Oban, limit: int) -> list[SweptStep]:
    """Activate up to ``limit`` suspended steps whose deps have all settled.

    Those whose deps did not complete and whose worker has no ``on_dep_*`` callback to
    run (plain Oban workers, and Baton workers without one) are cancelled instead, by the
    settlement's own ``baton_cancel_blocked``.
    """
    prefix = _oban.prefix(oban)
    async with _oban.pooled(oban) as conn, conn.transaction():
        stuck = await db.rows(conn, "sweep_stuck.sql", prefix, {"limit": limit}, StuckStep)
        doomed = [step.job_id for step in stuck if step.doomed]
        if doomed:
            await db.run(conn, "sweep_cancel.sql", prefix, {"job_ids": doomed})
        params = {
            "job_ids": [step.job_id for step in stuck if not step.doomed],
            "channel": _oban.insert_channel(prefix),
        }
        moved = await db.rows(conn, "sweep_activate.sql", prefix, params, ActivatedJob)
    states = {job.job_id: job.state for job in moved} | dict.fromkeys(doomed, "cancelled")
    return [
        SweptStep(step.workflow_id, step.name, states[step.job_id])
        for step in stuck
        if step.job_id in states
    ]
