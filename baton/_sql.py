"""Loads Baton's SQL files and binds the schema prefix as an identifier, and fragments."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from psycopg import sql

_PACKAGE = "baton.sql"


@cache
def text(name: str) -> str:
    """The raw text of ``baton/sql/<name>``."""
    return files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def query(name: str, prefix: str, **fragments: sql.Composable) -> sql.Composed:
    """The statement in ``baton/sql/<name>`` with ``{prefix}`` bound to the schema.

    Args:
        name: the file, relative to ``baton/sql``.
        prefix: the schema.
        fragments: SQL composed with ``psycopg.sql`` for the file's other placeholders,
            such as ``step_input=_step_input.COLUMNS`` for ``{step_input}``.
    """
    if not fragments:
        return _query(name, prefix)
    return sql.SQL(text(name)).format(prefix=sql.Identifier(prefix), **fragments)


@cache
def _query(name: str, prefix: str) -> sql.Composed:
    return sql.SQL(text(name)).format(prefix=sql.Identifier(prefix))


def migrations() -> list[tuple[int, str]]:
    """Every ``migrations/vNNN.sql`` file as ``(version, file name)``, oldest first."""
    found = []
    for entry in files(_PACKAGE).joinpath("migrations").iterdir():
        name = entry.name
        if name.startswith("v") and name.endswith(".sql"):
            found.append((int(name[1:-4]), f"migrations/{name}"))
    return sorted(found)


def migration(name: str, prefix: str, channel: str, events: str) -> sql.Composed:
    """A migration with its prefix, Oban's insert channel and Baton's event channel bound."""
    return sql.SQL(text(name)).format(
        prefix=sql.Identifier(prefix), channel=sql.Literal(channel), events=sql.Literal(events)
    )
