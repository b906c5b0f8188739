"""Installing and upgrading Baton's tables (and Oban's, when missing)."""

from __future__ import annotations

import re
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from . import _oban, _pool, store
from ._redact import check_dsn
from .errors import SchemaError

MAX_CHANNEL_BYTES = 63
#: Oban writes the prefix into its SQL unquoted, so it must be a plain lower-case name:
#: anything else would name another schema there than in Baton's quoted SQL, or be SQL.
PREFIX_PATTERN = re.compile(r"[a-z_][a-z0-9_]*")

#: The schema version this code expects; ``install`` brings a database up to it.
SCHEMA_VERSION = store.SCHEMA_VERSION


async def install(target: str | AsyncConnectionPool[Any] | Any, *, prefix: str = "public") -> int:
    """Install or upgrade Oban's and Baton's tables; safe to run again at any time.

    Runs in one transaction under an advisory lock, so concurrent installs (two deploys
    starting at once) take turns, and a failure leaves the database as it was.

    Args:
        target: a DSN, a psycopg pool, or an ``Oban`` instance (its pool and prefix are
            used).
        prefix: the schema for the tables (Oban's ``prefix``); created if missing.

    Returns:
        The schema version now installed.

    Raises:
        InvalidDSN: ``target`` is a DSN that cannot be parsed (its password hidden).
        SchemaError: ``prefix`` is not a name Oban can use.
        psycopg.OperationalError: a DSN's database cannot be reached (within 10 s, with
            the server's reason).
    """
    if isinstance(target, str | AsyncConnectionPool):
        check_prefix(prefix)
    if isinstance(target, str):
        async with await _pool.connect(check_dsn(target)) as conn:
            return await store.install_schema(conn, prefix)
    if isinstance(target, AsyncConnectionPool):
        async with target.connection() as conn:
            return await store.install_schema(conn, prefix)
    instance = _oban.instance(target)
    check_prefix(_oban.prefix(instance))
    async with _oban.pooled(instance) as conn:
        return await store.install_schema(conn, _oban.prefix(instance))


def check_prefix(prefix: object) -> None:
    """Refuse a prefix Oban cannot use as it is (it writes it into its SQL unquoted).

    Raises:
        SchemaError: not a plain lower-case name, or too long for the events channel.
    """
    if not isinstance(prefix, str) or not PREFIX_PATTERN.fullmatch(prefix):
        raise SchemaError(
            f"prefix {prefix!r} is not a valid schema name: use lower-case letters, digits "
            "and _ (not starting with a digit), as Oban writes it into SQL unquoted"
        )
    if len(_oban.events_channel(prefix).encode()) > MAX_CHANNEL_BYTES:
        raise SchemaError(
            f"prefix {prefix!r} is too long: PostgreSQL channel names such as "
            f"{_oban.events_channel(prefix)!r} are limited to {MAX_CHANNEL_BYTES} bytes"
        )


async def installed_version(conn: AsyncConnection[Any], prefix: str = "public") -> int | None:
    """The Baton schema version in ``prefix``, or None when Baton is not installed."""
    return await store.installed_version(conn, prefix)
