"""The rate limits' statements: admit a call, correct its tokens, pause, set and list keys."""

from __future__ import annotations

from datetime import datetime

from oban import Oban

from .. import _oban
from . import _execute as db
from ._rows import Admission, LimitRow


async def acquire(oban: Oban, key: str, tokens: int) -> Admission:
    """Admit one call weighing ``tokens`` under ``key``'s limits, or say how long to wait."""
    params = {"key": key, "tokens": tokens}
    async with _oban.single(oban) as conn:
        found = await db.row(conn, "limits/acquire.sql", _oban.prefix(oban), params, Admission)
    if found is None:  # the function always returns a row
        raise RuntimeError("baton_limit_acquire returned no row")
    return found


async def correct(oban: Oban, call_id: int, tokens: int) -> None:
    """Charge an admitted call ``tokens`` instead of its estimate."""
    params = {"call_id": call_id, "tokens": tokens}
    async with _oban.single(oban) as conn:
        await db.run(conn, "limits/correct.sql", _oban.prefix(oban), params)


async def pause(oban: Oban, key: str, seconds: float) -> datetime:
    """Admit no call under ``key`` for ``seconds`` (a later pause already set stays)."""
    params = {"key": key, "seconds": seconds}
    async with _oban.single(oban) as conn:
        until = await db.values(conn, "limits/pause.sql", _oban.prefix(oban), params)
    return until[0]  # type: ignore[no-any-return]


async def resume(oban: Oban, key: str) -> bool:
    """End ``key``'s pause; whether the key exists."""
    async with _oban.single(oban) as conn:
        return await db.run(conn, "limits/resume.sql", _oban.prefix(oban), {"key": key}) > 0


async def set_limit(
    oban: Oban, key: str, requests: int | None, tokens: int | None, window: float
) -> None:
    """Create or replace ``key``'s limits (its pause and admitted calls stay)."""
    params = {
        "key": key,
        "requests_per_minute": requests,
        "tokens_per_minute": tokens,
        "window_seconds": window,
    }
    async with _oban.single(oban) as conn:
        await db.run(conn, "limits/set.sql", _oban.prefix(oban), params)


async def remove(oban: Oban, key: str) -> bool:
    """Delete ``key`` and its admitted calls; whether it existed."""
    async with _oban.single(oban) as conn:
        return await db.run(conn, "limits/remove.sql", _oban.prefix(oban), {"key": key}) > 0


async def limits(oban: Oban, key: str | None = None) -> list[LimitRow]:
    """Every key (or only ``key``) with its limits and current usage, by key."""
    async with _oban.single(oban) as conn:
        return await db.rows(conn, "limits/list.sql", _oban.prefix(oban), {"key": key}, LimitRow)
