"""The budget's statements: a step's usage charged to its workflow, under its row lock."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from . import _execute as db
from ._rows import Charge

#: A charge that changed nothing: no budget was reached.
NO_CHARGE = Charge(stops=False, unpriced=False)


async def charge(conn: AsyncConnection[Any], prefix: str, workflow_id: str, usage: str) -> Charge:
    """Add ``usage`` (its JSON record) to the workflow's spend; stop it at its budget.

    The caller's transaction must hold the workflow's row lock already.
    """
    params = {"workflow_id": workflow_id, "usage": usage}
    found = await db.row(conn, "budget/charge.sql", prefix, params, Charge)
    return found or NO_CHARGE
