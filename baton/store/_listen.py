"""The event listener's statements, on a connection of its own."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql


async def listen(conn: AsyncConnection[Any], channel: str) -> None:
    """Start receiving notifications on ``channel``."""
    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
