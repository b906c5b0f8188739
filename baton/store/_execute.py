"""The store's primitives: run one named SQL file, with its rows typed.

Every statement Baton sends goes through these functions, so each one is read from
``baton/sql`` with the schema prefix bound as an identifier, and each one turns a missing
table into the same ``SchemaError`` naming the fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from psycopg import AsyncConnection, errors
from psycopg.rows import class_row, scalar_row

from ..errors import SchemaError
from . import _sql

Params = Mapping[str, Any] | None


@contextmanager
def schema_guard(prefix: str) -> Iterator[None]:
    """Turn "no such table / type / function" into a SchemaError that says what to run."""
    try:
        yield
    except (errors.UndefinedTable, errors.UndefinedObject, errors.UndefinedFunction) as error:
        raise SchemaError(
            f"Baton's tables are missing in schema {prefix!r}: run `baton install` "
            f"(or `await baton.install(...)`) first ({error.diag.message_primary})"
        ) from error


async def rows[T](
    conn: AsyncConnection[Any], name: str, prefix: str, params: Params, shape: type[T]
) -> list[T]:
    """Every row of ``baton/sql/<name>``, each a ``shape`` built from its columns by name."""
    with schema_guard(prefix):
        async with conn.cursor(row_factory=class_row(shape)) as cursor:
            await cursor.execute(_sql.query(name, prefix), params)
            return await cursor.fetchall()


async def row[T](
    conn: AsyncConnection[Any], name: str, prefix: str, params: Params, shape: type[T]
) -> T | None:
    """The first row of ``baton/sql/<name>`` as a ``shape``, or None when it returns none."""
    with schema_guard(prefix):
        async with conn.cursor(row_factory=class_row(shape)) as cursor:
            await cursor.execute(_sql.query(name, prefix), params)
            return await cursor.fetchone()


async def values(conn: AsyncConnection[Any], name: str, prefix: str, params: Params) -> list[Any]:
    """The first column of every row of ``baton/sql/<name>``."""
    with schema_guard(prefix):
        async with conn.cursor(row_factory=scalar_row) as cursor:
            await cursor.execute(_sql.query(name, prefix), params)
            return await cursor.fetchall()


async def run(conn: AsyncConnection[Any], name: str, prefix: str, params: Params = None) -> int:
    """Execute ``baton/sql/<name>`` for its effect; the number of rows it touched."""
    with schema_guard(prefix):
        cursor = await conn.execute(_sql.query(name, prefix), params)
        return cursor.rowcount
