"""The sweep's statements: settle steps no trigger saw, activate steps left suspended."""

from __future__ import annotations

from oban import Oban

from .. import _oban
from . import _execute as db
from ._rows import SweptStep


async def settle_unseen(oban: Oban, limit: int) -> list[SweptStep]:
    """Settle up to ``limit`` steps whose job is gone or final but never settled."""
    async with _oban.pooled(oban) as conn, conn.transaction():
        params = {"limit": limit}
        return await db.rows(conn, "sweep_settle.sql", _oban.prefix(oban), params, SweptStep)


async def activate_stuck(oban: Oban, limit: int) -> list[SweptStep]:
    """Activate (or cancel) up to ``limit`` suspended steps whose deps have all settled."""
    prefix = _oban.prefix(oban)
    params = {"limit": limit, "channel": _oban.insert_channel(prefix)}
    async with _oban.pooled(oban) as conn, conn.transaction():
        return await db.rows(conn, "sweep_activate.sql", prefix, params, SweptStep)
