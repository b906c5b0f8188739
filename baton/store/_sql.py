"""Loads Baton's SQL files (package data under ``baton/sql``) and binds their placeholders.

A statement's ``{prefix}`` becomes the schema as an identifier and ``{step_input}`` the
column definitions of :class:`~baton.store.StepInput`; values are always parameters.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from psycopg import sql

from ._step_input import COLUMNS

_PACKAGE = "baton.sql"


def text(name: str | Traversable) -> str:
    """The raw text of ``baton/sql/<name>``, or of the file a ``Traversable`` names."""
    if isinstance(name, str):
        return _packaged(name)
    return name.read_text(encoding="utf-8")


@cache
def _packaged(name: str) -> str:
    return files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")


@cache
def query(name: str, prefix: str) -> sql.Composed:
    """The statement in ``baton/sql/<name>`` with its placeholders bound for ``prefix``."""
    return sql.SQL(text(name)).format(prefix=sql.Identifier(prefix), step_input=COLUMNS)


def migrations(directory: Traversable | None = None) -> list[tuple[int, Traversable]]:
    """The table migrations ``NNN_<what>.sql`` as ``(version, file)``, oldest first.

    Args:
        directory: where to look; Baton's own ``baton/sql/schema/migrations`` by default.
    """
    if directory is None:
        directory = files(_PACKAGE).joinpath("schema", "migrations")
    if not directory.is_dir():  # a wheel ships the directory only once it holds a migration
        return []
    found = []
    for entry in directory.iterdir():
        number, _, rest = entry.name.partition("_")
        if number.isdigit() and rest.endswith(".sql"):
            found.append((int(number), entry))
    return sorted(found, key=lambda item: item[0])


def script(name: str | Traversable, prefix: str, channel: str, events: str) -> sql.Composed:
    """A DDL script with its prefix, Oban's insert channel and Baton's event channel bound."""
    return sql.SQL(text(name)).format(
        prefix=sql.Identifier(prefix), channel=sql.Literal(channel), events=sql.Literal(events)
    )
