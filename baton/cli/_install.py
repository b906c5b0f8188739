"""``baton install``: Oban's and Baton's tables, installed or upgraded."""

from __future__ import annotations

import click

from .. import _schema
from ._connection import settings
from ._exits import run_or_exit
from ._options import connection


@click.command()
@connection
def install(config: str | None, dsn: str | None, prefix: str | None) -> None:
    """Install or upgrade Oban's and Baton's tables (idempotent)."""
    url, schema = settings(config, dsn, prefix)
    version = run_or_exit(_schema.install(url, prefix=schema))
    click.echo(f"Baton schema version {version} installed in schema {schema!r}")
