"""Opening connections and pools that fail fast, with the database's own reason.

psycopg's pool retries a bad DSN in the background and, 30 s later, raises ``PoolTimeout``
saying nothing of why. Where Baton opens a connection or a pool from a DSN, it connects
once first, with a short timeout, so a wrong host, port, password or database name raises
psycopg's ``OperationalError`` with the server's message at once.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

CONNECT_TIMEOUT = 10  # seconds


async def connect(dsn: str, **options: Any) -> AsyncConnection[Any]:
    """A connection to ``dsn``, or ``OperationalError`` within ``CONNECT_TIMEOUT`` seconds."""
    return await AsyncConnection.connect(dsn, connect_timeout=CONNECT_TIMEOUT, **options)


async def open_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 5, timeout: float = 30.0
) -> AsyncConnectionPool[Any]:
    """An open pool on ``dsn``; a connection that cannot be made raises its error now.

    ``timeout`` is how long a later request waits for a connection of the pool (psycopg's
    default is 30 s).

    Raises:
        psycopg.OperationalError: the database cannot be reached (the server's reason).
    """
    probe = await connect(dsn)
    await probe.close()
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        dsn, min_size=min_size, max_size=max_size, timeout=timeout, open=False
    )
    await pool.open(wait=True, timeout=CONNECT_TIMEOUT)
    return pool
