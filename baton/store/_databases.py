"""Creating and dropping whole databases, for runs that need one of their own.

Test sessions, benchmark runs and crash runs each make a database with a derived name on
a server they are given, and drop it when they end (``baton._database.scratch_database``).
These statements run outside any pool, on a short connection in autocommit mode.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

CONNECT_TIMEOUT = 10


def _connect(dsn: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT)


def create_database(admin: str, name: str) -> None:
    """Create the database ``name``, connected through ``admin``."""
    with _connect(admin) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin: str, name: str) -> None:
    """Drop the database ``name`` if it exists, ending its sessions first."""
    with _connect(admin) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def answers(dsn: str) -> bool:
    """Whether a connection to ``dsn`` can be made."""
    try:
        _connect(dsn).close()
    except psycopg.OperationalError:
        return False
    return True
