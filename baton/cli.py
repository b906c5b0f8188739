"""The ``baton`` command line: ``baton install`` and ``baton demo``.

Connection settings follow the ``oban`` CLI: ``--dsn``, else ``DATABASE_URL``, else
``OBAN_DSN``, else ``dsn`` in ``oban.toml`` (or the file given with ``--config``).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import Any

import click
import psycopg

from . import _oban, _schema
from ._database import embedded_postgres
from .errors import BatonError

CONFIG = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False),
    help="TOML configuration file (default: oban.toml when present).",
)
DSN = click.option("--dsn", help="PostgreSQL connection string (default: DATABASE_URL, OBAN_DSN).")


def _run[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; turn connection and Baton errors into one line and exit 1."""
    try:
        return asyncio.run(coroutine)
    except psycopg.OperationalError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise click.ClickException(f"cannot reach the database: {first}") from None
    except (BatonError, psycopg.Error) as error:
        raise click.ClickException(str(error).strip().splitlines()[0]) from None


def _settings(config: str | None, dsn: str | None, prefix: str | None) -> tuple[str | None, str]:
    return _oban.load_settings(config, dsn or os.environ.get("DATABASE_URL"), prefix)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="baton-workflows", prog_name="baton")
def main() -> None:
    """Baton: DAG workflows for Oban for Python."""


@main.command()
@CONFIG
@DSN
@click.option("--prefix", envvar="OBAN_PREFIX", help="Schema for the tables (default: public).")
def install(config: str | None, dsn: str | None, prefix: str | None) -> None:
    """Install or upgrade Oban's and Baton's tables (idempotent)."""
    url, schema = _settings(config, dsn, prefix)
    if not url:
        raise click.UsageError("no database given: pass --dsn or set DATABASE_URL or OBAN_DSN")
    version = _run(_schema.install(url, prefix=schema))
    click.echo(f"Baton schema version {version} installed in schema {schema!r}")


@main.command()
@DSN
@click.option("--topic", default="Baton", show_default=True, help="What the brief is about.")
def demo(dsn: str | None, topic: str) -> None:
    """Run a sample research-brief workflow and print its steps as they change.

    Uses --dsn or DATABASE_URL when given; otherwise starts an embedded PostgreSQL in a
    temporary directory and deletes it afterwards.
    """
    from . import _demo

    url = dsn or os.environ.get("DATABASE_URL")
    if url:
        click.echo("Using the database from " + ("--dsn" if dsn else "DATABASE_URL"))
        completed = _run(_demo.run(url, click.echo, topic))
    else:
        click.echo("No DATABASE_URL: starting an embedded PostgreSQL…")
        with embedded_postgres("baton-demo") as url:
            completed = _run(_demo.run(url, click.echo, topic))
    sys.exit(0 if completed else 1)
