"""Deadlines and unique keys: the statements that enforce them.

``expire_deadlines`` marks the unfinished workflows whose deadline passed as failed with
the reason ``deadline`` (one statement, through the partial index of migration 012), and
returns them with the jobs Oban must cancel. ``unique_holder`` finds the unfinished
workflow that holds a unique key, read on a connection of its own so that the caller's
transaction (its snapshot, or its aborted state after a unique violation) does not hide it.
"""

from __future__ import annotations

from typing import Any

from oban import Oban
from psycopg import AsyncConnection, errors

from .. import _oban
from . import _execute as db

#: The partial unique index over unfinished workflows' keys (migration 012).
UNIQUE_KEY_INDEX = "baton_workflows_unique_key_index"


def is_unique_key_violation(error: errors.UniqueViolation) -> bool:
    """Whether a unique violation is a workflow's unique key already held by another."""
    return error.diag.constraint_name == UNIQUE_KEY_INDEX


async def expire_deadlines(oban: Oban, limit: int) -> list[tuple[str, list[int]]]:
    """Fail the workflows whose deadline passed: each id, with the jobs to cancel now.

    The marking commits first (then no step stores a result or starts), and the jobs are
    read afterwards, as ``baton.cancel`` reads them.
    """
    prefix = _oban.prefix(oban)
    params: dict[str, Any] = {"limit": limit}
    async with _oban.single(oban) as conn:  # one statement, one round trip: every cycle
        expired: list[str] = await db.values(conn, "flow/expire_deadlines.sql", prefix, params)
    found: list[tuple[str, list[int]]] = []
    if not expired:
        return found
    async with _oban.single(oban) as conn:
        for workflow_id in expired:
            jobs = await db.values(
                conn, "cancellable_jobs.sql", prefix, {"workflow_id": workflow_id, "sparing": None}
            )
            found.append((workflow_id, jobs))
    return found


async def unique_holder(
    oban: Oban, unique_key: str, caller: AsyncConnection[Any] | None = None
) -> str | None:
    """The id of the unfinished workflow holding ``unique_key``; None if none holds it now.

    ``caller``, the connection whose insert was refused (its transaction still usable), is
    read first: the holder may be its own, not yet committed. Then a connection of the pool,
    whose fresh snapshot sees a holder committed after the caller's snapshot was taken.
    """
    prefix = _oban.prefix(oban)
    params = {"unique_key": unique_key}
    if caller is not None:
        held = await db.values(caller, "flow/unique_holder.sql", prefix, params)
        if held:
            return str(held[0])
    async with _oban.single(oban) as conn:
        held = await db.values(conn, "flow/unique_holder.sql", prefix, params)
    return str(held[0]) if held else None
