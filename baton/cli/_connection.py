"""The database a command talks to: its settings, a first probe, and a client-only Oban.

Connection settings follow the ``oban`` CLI: ``--dsn``, else ``DATABASE_URL``, else
``OBAN_DSN``, else ``dsn`` in ``oban.toml`` (or the file given with ``--config``); the
schema is ``--prefix``, else ``OBAN_PREFIX``, else ``prefix`` in the file, else ``public``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import click
import psycopg
from click.core import ParameterSource
from oban import Oban
from psycopg_pool import AsyncConnectionPool

from .. import _oban, _schema
from .._redact import check_dsn
from ..errors import InvalidDSN, SchemaError
from ._exits import run_or_exit

CLI_INSTANCE = "baton-cli"


def settings(config: str | None, dsn: str | None, prefix: str | None) -> tuple[str, str]:
    """The database URL and the schema the options, variables and config file give.

    Raises:
        click.UsageError: no database is given anywhere (exit code 2).
        click.ClickException: the connection string cannot be parsed, or the schema is
            not a name Oban can use (one line naming where it came from, a password
            hidden; exit code 1).
    """
    env = os.environ.get("DATABASE_URL")
    url, schema = _oban.load_settings(config, dsn or env, prefix)
    if not url:
        raise click.UsageError(
            "no database given: pass --dsn or set DATABASE_URL or OBAN_DSN (or dsn in oban.toml)"
        )
    origin = "--dsn" if dsn else "DATABASE_URL" if env else "dsn (OBAN_DSN or oban.toml)"
    return parsed(url, origin), _schema_name(schema, prefix)


def _schema_name(schema: str, prefix: str | None) -> str:
    try:
        _schema.check_prefix(schema)
    except SchemaError as error:
        context = click.get_current_context(silent=True)
        source = context.get_parameter_source("prefix") if context else None
        origin = (
            "prefix (oban.toml)"
            if prefix is None
            else "OBAN_PREFIX"
            if source is ParameterSource.ENVIRONMENT
            else "--prefix"
        )
        raise click.ClickException(f"invalid {origin}: {error}") from None
    return schema


def parsed(url: str, origin: str) -> str:
    """``url`` if libpq can parse it.

    Raises:
        click.ClickException: it cannot; one line naming ``origin`` (``--dsn``…), its
            password hidden (exit code 1).
    """
    try:
        return check_dsn(url, origin)
    except InvalidDSN as error:
        raise click.ClickException(str(error)) from None


async def probe(url: str, prefix: str) -> None:
    """Fail fast, in one line, when the database is unreachable or lacks Baton's tables."""
    async with await psycopg.AsyncConnection.connect(url, connect_timeout=10) as conn:
        version = await _schema.installed_version(conn, prefix)
    if version is None:
        raise SchemaError(f"Baton is not installed in schema {prefix!r}: run baton install")
    if version < _schema.SCHEMA_VERSION:
        raise SchemaError(
            f"Baton's tables in schema {prefix!r} are at version {version}, this Baton needs "
            f"{_schema.SCHEMA_VERSION}: run baton install"
        )


@asynccontextmanager
async def client(url: str, prefix: str) -> AsyncIterator[Oban]:
    """A client-only Oban instance (no queues, no leadership) on the database."""
    await probe(url, prefix)
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(url, min_size=1, max_size=4, open=False)
    await pool.open(wait=True, timeout=10)
    try:
        yield Oban(pool=pool, name=CLI_INSTANCE, prefix=prefix, leadership=False)
    finally:
        await pool.close()


def call[T](database: tuple[str, str], action: Callable[[Oban], Awaitable[T]]) -> T:
    """Run ``action`` with a client on the database ``(url, schema)``, errors as one line."""

    async def run_action() -> T:
        async with client(*database) as oban:
            return await action(oban)

    return run_or_exit(run_action())
