"""The schedules' statement: a tick claimed in the transaction that inserts its workflow."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from . import _execute as db


async def claim_tick(
    conn: AsyncConnection[Any], prefix: str, schedule: str, tick: datetime, workflow_id: str
) -> bool:
    """Record ``workflow_id`` as the workflow of ``schedule``'s ``tick``, in ``conn``'s
    transaction; False when the tick already has one (build nothing then)."""
    claimed = await db.values(
        conn,
        "claim_tick.sql",
        prefix,
        {"schedule": schedule, "tick": tick, "workflow_id": workflow_id},
    )
    return bool(claimed)
