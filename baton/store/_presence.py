"""Subscribers' presence: the topics a listening connection follows, under a lease.

The event functions send an event only when a live row names its workflow, or ``''`` for
every workflow (``sql/functions/baton_listened.sql``). Each statement here runs alone in
autocommit on the listener's own connection.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from psycopg import AsyncConnection

from . import _execute


async def register(
    conn: AsyncConnection[Any],
    prefix: str,
    events: str,
    listener: str,
    topics: Collection[str],
    lease: float,
) -> None:
    """Make ``topics`` present for ``listener`` once every transaction already deciding
    whether to send an event has ended; renews their lease when already present."""
    await _execute.run(
        conn,
        "presence/register.sql",
        prefix,
        {"events": events, "listener": listener, "topics": list(topics), "lease": lease},
    )


async def renew(conn: AsyncConnection[Any], prefix: str, listener: str, lease: float) -> set[str]:
    """Renew ``listener``'s leases; the topics that were still present."""
    found = await _execute.values(
        conn, "presence/renew.sql", prefix, {"listener": listener, "lease": lease}
    )
    return set(found)


async def leave(
    conn: AsyncConnection[Any], prefix: str, listener: str, topics: Collection[str] | None
) -> None:
    """``listener`` no longer follows ``topics`` (every topic when None)."""
    await _execute.run(
        conn,
        "presence/leave.sql",
        prefix,
        {"listener": listener, "topics": None if topics is None else list(topics)},
    )
