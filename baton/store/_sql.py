"""Loads Baton's SQL files (package data under ``baton/sql``) and binds their placeholders.

A statement's ``{prefix}`` becomes the schema as an identifier and ``{step_input}`` the
column definitions of :class:`~baton.store.StepInput`; values are always parameters.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from psycopg import sql

from ._step_input import COLUMNS

_PACKAGE = "baton.sql"


@cache
def text(name: str) -> str:
    """The raw text of ``baton/sql/<name>``."""
    return files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")


@cache
def query(name: str, prefix: str) -> sql.Composed:
    """The statement in ``baton/sql/<name>`` with its placeholders bound for ``prefix``."""
    return sql.SQL(text(name)).format(prefix=sql.Identifier(prefix), step_input=COLUMNS)


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
