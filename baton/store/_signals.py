"""The statements of signal steps: ``baton.signal`` storing a payload, the signal worker
taking it (or ending the wait), and ``baton.retry`` starting a wait again.

Both sides take the workflow's row lock first, the lock every settlement of the workflow
takes first, so a signal, the settlement that makes its step ready and the end of its wait
are serialised: whichever comes second sees what the first wrote.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from oban import Job, Oban
from psycopg import AsyncConnection

from .. import _oban
from ..errors import UnknownWorkflow
from . import _execute as db
from ._rows import SignalStored, SignalTaken, SignalTarget

#: Checks the locked step; raises to refuse the signal.
type Check = Callable[[SignalTarget], None]


async def signal(
    oban: Oban,
    conn: Any,
    workflow_id: str,
    step: str,
    payload: str,
    result: str | None,
    check: Check,
) -> SignalStored | None:
    """Lock the workflow, read the step, let ``check`` accept it, then store the payload.

    ``payload`` is the encoded payload, ``result`` the step's result if the signal
    completes it (None: no value).

    ``conn`` is the caller's connection (the signal joins its transaction) or None for a
    transaction of its own. Returns None when the step was signalled or its wait ended
    after the read (under the lock it cannot; a caller's transaction may see otherwise).

    Raises:
        UnknownWorkflow: no workflow has that id.
    """
    prefix = _oban.prefix(oban)
    params: dict[str, Any] = {"workflow_id": workflow_id, "step": step}

    async def write(connection: AsyncConnection[Any]) -> SignalStored | None:
        # the lock first, then a read of its own: a fresh snapshot, taken once any
        # settlement holding the lock has committed
        await db.values(connection, "lock_workflow.sql", prefix, params)
        target = await db.row(connection, "signal_step.sql", prefix, params, SignalTarget)
        if target is None:
            raise UnknownWorkflow(f"no workflow with id {workflow_id!r}")
        check(target)
        stored = {
            **params,
            "payload": payload,
            "result": result,
            "ready": target.pending == 0 and target.blocked == 0,
            "workflow_name": target.workflow_name,
        }
        return await db.row(connection, "signal_store.sql", prefix, stored, SignalStored)

    if conn is not None:
        caller = await _oban.caller_connection(conn)
        if not caller.autocommit:  # the caller's transaction: it commits or rolls back
            return await write(caller)
        async with caller.transaction():
            return await write(caller)
    async with _oban.pooled(oban) as pooled, pooled.transaction():
        return await write(pooled)


async def take_signal(oban: Oban, job: Job) -> SignalTaken | None:
    """The signal worker's step under the workflow's lock; None when it is not this job's."""
    prefix = _oban.prefix(oban)
    params = {
        "workflow_id": job.meta.get("workflow_id"),
        "step": job.meta.get("workflow_step"),
        "job_id": job.id,
    }
    async with _oban.pooled(oban) as conn, conn.transaction():
        await db.values(conn, "lock_workflow.sql", prefix, params)
        return await db.row(conn, "signal_take.sql", prefix, params, SignalTaken)


def retry_signals(
    conn: AsyncConnection[Any], prefix: str, workflow_id: str, names: Sequence[str]
) -> Awaitable[int]:
    """In ``baton.retry``'s transaction: the retried signal steps without a signal wait again."""
    params = {"workflow_id": workflow_id, "names": list(names)}
    return db.run(conn, "retry_signals.sql", prefix, params)


__all__: Sequence[str] = ["Check", "retry_signals", "signal", "take_signal"]
