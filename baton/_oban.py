"""The one place where Baton touches Oban for Python's private API.

Oban 0.7 exposes no public way to reach an instance's pool and prefix, to insert with a
caller's SQLAlchemy session, to learn its notifier channel names, or to discard a job
before its attempts run out. Everything of that kind sits here, so an Oban upgrade breaks
this file alone (``pyproject.toml`` pins the 0.7 minor range for that reason).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from oban import Job, Oban
from oban._extensions import get_ext, put_ext
from oban._query import _ack_jobs, unwrap_connection
from oban.worker import WorkerResolutionError, resolve_worker
from psycopg import AsyncConnection, Error

DEFAULT_INSTANCE = "Oban"


def instance(oban: Oban | str | None = None) -> Oban:
    """The Oban instance given, or the one registered under that name (default ``"Oban"``)."""
    if isinstance(oban, Oban):
        return oban
    return Oban.get_instance(oban or DEFAULT_INSTANCE)


def instance_for_job(job: Job, oban: Oban | str | None = None) -> Oban:
    """The instance a job belongs to: ``oban`` if given, else its worker's ``oban=`` option."""
    if oban is not None:
        return instance(oban)
    try:
        name = getattr(resolve_worker(job.worker), "_oban_name", DEFAULT_INSTANCE)
    except WorkerResolutionError:
        name = DEFAULT_INSTANCE
    return instance(name)


def prefix(oban: Oban) -> str:
    """The schema holding the instance's tables (and Baton's)."""
    return str(oban._prefix)


async def dsn(oban: Oban) -> str:
    """The connection string of the instance's pool."""
    return str(await oban._query.dsn())


async def cancel_jobs(oban: Oban, job_ids: list[Job | int]) -> int:
    """Cancel jobs through Oban, which also signals the ones executing."""
    return int(await oban.cancel_many_jobs(job_ids)) if job_ids else 0


def insert_channel(schema: str) -> str:
    """The Postgres channel on which Oban's stagers listen for newly available jobs."""
    return f"{schema}.oban_insert"


def events_channel(schema: str) -> str:
    """The Postgres channel carrying Baton's events for tables in ``schema``."""
    return f"{schema}.baton_events"


@asynccontextmanager
async def pooled(oban: Oban) -> AsyncIterator[AsyncConnection[Any]]:
    """A connection from the instance's pool."""
    async with oban._query.connection() as conn:
        yield conn


@asynccontextmanager
async def single(oban: Oban) -> AsyncIterator[AsyncConnection[Any]]:
    """A connection from the instance's pool for one statement, in autocommit mode.

    Oban's pool hands out connections outside autocommit, on which psycopg sends ``BEGIN``
    and, when the connection goes back, ``COMMIT`` as round trips of their own: three per
    statement instead of one, twice on every step's hand-off path. The connection goes back
    to the pool as it came, or is closed (and so replaced) if that cannot be restored.
    """
    async with oban._query.connection() as conn:
        await conn.set_autocommit(True)
        try:
            yield conn
        finally:
            try:
                await conn.set_autocommit(False)
            except Error:
                await conn.close()


async def caller_connection(conn: Any) -> Any:
    """The psycopg connection behind a caller's connection, cursor or SQLAlchemy session."""
    return await unwrap_connection(conn)


def discard_now(job: Job) -> None:
    """Make Oban's executor discard the job when the error being raised reaches it.

    Oban discards a failed job once ``attempt >= max_attempts``; the executor reads the
    in-memory value and the ack does not write it back, so the row keeps its own.
    """
    job.max_attempts = job.attempt


def load_settings(
    config: str | None, dsn: str | None, prefix: str | None
) -> tuple[str | None, str]:
    """The DSN and prefix from ``oban.toml`` (or ``config``), ``OBAN_*`` variables and flags.

    Explicit values win over the environment, which wins over the file, as in ``oban``'s CLI.
    """
    from oban._config import Config

    overrides = {key: value for key, value in (("dsn", dsn), ("prefix", prefix)) if value}
    conf = Config.load(config, **overrides)
    return conf.dsn, conf.prefix or "public"


def _ack_order(ack: Any) -> tuple[str, int]:
    return (str(ack.job.meta.get("workflow_id", "")), ack.job.id or 0)


def order_acks() -> None:
    """Have Oban ack each batch in workflow order; idempotent.

    Settling a step locks its workflow's row first (``baton_settle_step``). Two producers
    acking steps of the same two workflows in opposite orders could otherwise deadlock
    at commit; in one global order they queue instead.
    """
    current = get_ext("query.ack_jobs", _ack_jobs)
    if getattr(current, "_baton_ordered", False):
        return

    async def ordered(query: Any, acks: list[Any]) -> list[int]:
        return await current(query, sorted(acks, key=_ack_order))  # type: ignore[no-any-return]

    ordered._baton_ordered = True  # type: ignore[attr-defined]
    put_ext("query.ack_jobs", ordered)
