"""Every statement of ``baton install``: Oban's tables, Baton's baseline, migrations, functions.

Baton's tables are one baseline (``sql/schema/baseline.sql``, schema version 5) plus the
numbered table migrations after it (``sql/schema/migrations/NNN_<what>.sql``, from 6). A
database records its versions in ``baton_versions``: the baseline records 1 to 5 (the versions
it stands for), each migration its own number. Functions and triggers are no version's: each
is one file, applied on every install, and the functions no file defines any more are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources.abc import Traversable
from typing import Any

from oban.schema import install_sql as oban_install_sql
from psycopg import AsyncConnection, sql

from .. import _oban, _sql
from ..errors import SchemaError

#: The schema version the baseline brings a database to; migrations are numbered after it.
BASELINE_VERSION = 5

#: The functions in the order they are created: each after the functions it calls.
FUNCTIONS = (
    "baton_last_error",
    "baton_notify_step",
    "baton_cancel_blocked",
    "baton_finish_workflow",
    "baton_settle_step",  # calls the four above
    "baton_job_changed",  # the triggers' function: calls baton_settle_step
)

#: The triggers on ``oban_jobs``, created after the functions.
TRIGGERS = ("baton_step_settled", "baton_step_deleted")

MIGRATIONS = _sql.migrations()

#: The schema version this code expects; ``install`` brings a database up to it.
SCHEMA_VERSION = max([BASELINE_VERSION, *(version for version, _file in MIGRATIONS)])


async def install(
    conn: AsyncConnection[Any],
    prefix: str,
    *,
    migrations: Sequence[tuple[int, Traversable]] = MIGRATIONS,
) -> int:
    """Install or upgrade Oban's and Baton's tables in ``prefix``, in one transaction.

    Args:
        conn: a connection outside a transaction.
        prefix: the schema, already checked to be a valid name.
        migrations: the table migrations after the baseline, oldest first.

    Returns:
        The schema version now installed.

    Raises:
        SchemaError: the schema holds a Baton version older than the baseline.
    """
    channel = _oban.insert_channel(prefix)
    events = _oban.events_channel(prefix)
    async with conn.transaction():
        await conn.execute(_sql.query("lock_install.sql", prefix), {"prefix": prefix})
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(prefix)))
        # Oban's install checks for its enum in current_schema().
        await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(prefix)))
        await conn.execute(oban_install_sql(prefix))  # idempotent
        await conn.execute(_sql.query("create_versions.sql", prefix))
        cursor = await conn.execute(_sql.query("installed_versions.sql", prefix))
        installed = {version for (version,) in await cursor.fetchall()}
        if not installed:
            await conn.execute(_sql.script("schema/baseline.sql", prefix, channel, events))
            for version in range(1, BASELINE_VERSION + 1):
                await _record(conn, prefix, version)
        elif BASELINE_VERSION not in installed:
            raise SchemaError(
                f"schema {prefix!r} holds Baton schema version {max(installed)}, from before "
                f"version {BASELINE_VERSION}, which this release cannot upgrade: drop Baton's "
                "tables and functions there (baton_*) and run baton install again"
            )
        for version, file in migrations:
            if version not in installed:
                await conn.execute(_sql.script(file, prefix, channel, events))
                await _record(conn, prefix, version)
        for name in FUNCTIONS:
            await conn.execute(_sql.script(f"functions/{name}.sql", prefix, channel, events))
        for name in TRIGGERS:
            await conn.execute(_sql.script(f"triggers/{name}.sql", prefix, channel, events))
        await conn.execute(_sql.script("schema/drop_stale_functions.sql", prefix, channel, events))
    return max([BASELINE_VERSION, *(version for version, _file in migrations)])


async def _record(conn: AsyncConnection[Any], prefix: str, version: int) -> None:
    await conn.execute(_sql.query("record_version.sql", prefix), {"version": version})


async def installed_version(conn: AsyncConnection[Any], prefix: str) -> int | None:
    """The Baton schema version in ``prefix``, or None when Baton is not installed."""
    table = f"{prefix}.baton_versions"
    async with conn.transaction():
        exists = await conn.execute("SELECT to_regclass(%s)", (table,))
        row = await exists.fetchone()
        if row is None or row[0] is None:
            return None
        cursor = await conn.execute(_sql.query("schema_version.sql", prefix))
        found = await cursor.fetchone()
    return None if found is None else found[0]
