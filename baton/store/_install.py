"""Every statement of ``baton install``: Oban's tables, Baton's baseline, migrations, functions.

Baton's tables are one baseline (``sql/schema/baseline.sql``, schema version 5) plus the
numbered table migrations after it (``sql/schema/migrations/NNN_<what>.sql``, from 6). A
database records its versions in ``baton_versions``: the baseline records 1 to 5 (the versions
it stands for), each migration its own number. Functions and triggers are no version's: each
is one file: every install creates or replaces each function and drops the baton_ functions no
file defines any more. A trigger is dropped and created again only when its file changed (the
trigger's comment holds the file's digest): dropping a trigger locks ``oban_jobs`` against
every worker, so an install while workers run must not do it each time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib.resources.abc import Traversable
from typing import Any

from oban.schema import install_sql as oban_install_sql
from psycopg import AsyncConnection, sql

from .. import _oban
from ..errors import SchemaError
from . import _sql

#: The schema version the baseline brings a database to; migrations are numbered after it.
BASELINE_VERSION = 5

#: The functions in the order they are created: each after the functions it calls.
FUNCTIONS = (
    "baton_last_error",
    "baton_listened",  # whether anyone listens: every event asks it first
    "baton_notify_step",
    "baton_cancel_blocked",
    "baton_finish_workflow",
    "baton_await_signal",  # calls baton_notify_step
    "baton_skip_steps",  # calls baton_notify_step
    "baton_settle_step",  # calls the five above
    "baton_job_changed",  # the row triggers' function: calls baton_settle_step
    "baton_jobs_truncated",  # the TRUNCATE trigger's function: calls baton_settle_step
    "baton_keep_skipped",  # baton_step_skipped's function: a skipped step's job stays cancelled
    "baton_limit_acquire",  # rate limits: admits one call (docs/rate-limits.md)
    "baton_limit_correct",  # rate limits: a call's tokens corrected after it ran
)

#: The triggers on ``oban_jobs``, created after the functions.
TRIGGERS = (
    "baton_step_settled",
    "baton_step_deleted",
    "baton_jobs_truncated",
    "baton_step_skipped",
)

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
        stale = await _stale_triggers(conn, prefix)
        if stale and await _exists(conn, f"{prefix}.oban_jobs"):
            # Before any weaker lock on the table (Oban's install takes one): a worker holding
            # one while this waited to drop a trigger would deadlock with it.
            await conn.execute(
                sql.SQL("LOCK TABLE {}.oban_jobs IN ACCESS EXCLUSIVE MODE").format(
                    sql.Identifier(prefix)
                )
            )
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(prefix)))
        # Oban's install checks for its enum in current_schema().
        await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(prefix)))
        await conn.execute(oban_install_sql(prefix))  # idempotent
        await conn.execute(_sql.query("create_versions.sql", prefix))
        await _tables(conn, prefix, channel, events, migrations)
        for name in FUNCTIONS:
            await conn.execute(_sql.script(f"functions/{name}.sql", prefix, channel, events))
        for name in stale:
            await conn.execute(_sql.script(f"triggers/{name}.sql", prefix, channel, events))
            await conn.execute(
                sql.SQL("COMMENT ON TRIGGER {} ON {}.oban_jobs IS {}").format(
                    sql.Identifier(name), sql.Identifier(prefix), sql.Literal(trigger_digest(name))
                )
            )
        await conn.execute(_sql.script("schema/drop_stale_functions.sql", prefix, channel, events))
    return max([BASELINE_VERSION, *(version for version, _file in migrations)])


async def _tables(
    conn: AsyncConnection[Any],
    prefix: str,
    channel: str,
    events: str,
    migrations: Sequence[tuple[int, Traversable]],
) -> None:
    """The baseline into a schema without Baton, then each migration not yet recorded."""
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


def trigger_digest(trigger: str) -> str:
    """What a trigger's comment says when it was created from today's file."""
    text = _sql.text(f"triggers/{trigger}.sql")
    return f"{trigger}.sql sha256:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


async def _stale_triggers(conn: AsyncConnection[Any], prefix: str) -> list[str]:
    """The triggers missing on ``oban_jobs`` or created from another version of their file."""
    cursor = await conn.execute(
        _sql.query("installed_triggers.sql", prefix), {"table": f"{prefix}.oban_jobs"}
    )
    comments = dict(await cursor.fetchall())
    return [name for name in TRIGGERS if comments.get(name) != trigger_digest(name)]


async def _exists(conn: AsyncConnection[Any], table: str) -> bool:
    cursor = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    row = await cursor.fetchone()
    return row is not None and bool(row[0])


async def _record(conn: AsyncConnection[Any], prefix: str, version: int) -> None:
    await conn.execute(_sql.query("record_version.sql", prefix), {"version": version})


async def installed_version(conn: AsyncConnection[Any], prefix: str) -> int | None:
    """The Baton schema version in ``prefix``, or None when Baton is not installed."""
    async with conn.transaction():
        if not await _exists(conn, f"{prefix}.baton_versions"):
            return None
        cursor = await conn.execute(_sql.query("schema_version.sql", prefix))
        found = await cursor.fetchone()
    return None if found is None else found[0]
