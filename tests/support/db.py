"""Test database plumbing: where the tests' PostgreSQL is, and how to reset it.

DSN order (DESIGN §4): ``DATABASE_URL``; else ``127.0.0.1:5432`` if it answers (a database
``baton_test`` is created there); else an embedded PostgreSQL started for the session.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from baton._database import LOCAL_HOST, LOCAL_PORT, embedded_postgres, local_server_answers

TEST_DATABASE = "baton_test"

RESET = """
TRUNCATE TABLE oban_jobs, oban_leaders, oban_producers,
               baton_workflows, baton_steps, baton_edges
RESTART IDENTITY CASCADE
"""


@contextmanager
def test_dsn() -> Iterator[str]:
    """Yield the DSN the test session uses, starting an embedded server if needed."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
    elif local_server_answers():
        admin = f"postgresql://postgres@{LOCAL_HOST}:{LOCAL_PORT}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (TEST_DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEST_DATABASE)))
        yield f"postgresql://postgres@{LOCAL_HOST}:{LOCAL_PORT}/{TEST_DATABASE}"
    else:
        with embedded_postgres("baton-test") as dsn:
            yield dsn


async def wait_until(
    conn: psycopg.AsyncConnection[Any], query: str, params: Any = None, *, timeout: float = 30.0
) -> None:
    """Re-run ``query`` until its first column is true, or fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            row = await (await conn.execute(query, params)).fetchone()
            if row and row[0]:
                return
            await asyncio.sleep(0.02)


async def wait_settled(
    conn: psycopg.AsyncConnection[Any], workflow_id: str, *, timeout: float = 30.0
) -> None:
    """Wait until every step of the workflow has an outcome."""
    await wait_until(
        conn,
        "SELECT count(*) > 0 AND bool_and(outcome IS NOT NULL) "
        "FROM baton_steps WHERE workflow_id = %s",
        (workflow_id,),
        timeout=timeout,
    )


async def step_results(
    conn: psycopg.AsyncConnection[Any], workflow_id: str
) -> dict[str, tuple[str | None, Any]]:
    """Each step's ``(outcome, stored value)`` by name, in insert order (None: no value)."""
    cursor = await conn.execute(
        "SELECT name, outcome, result FROM baton_steps WHERE workflow_id = %s ORDER BY job_id",
        (workflow_id,),
    )
    return {
        name: (outcome, None if result is None else result["value"])
        for name, outcome, result in await cursor.fetchall()
    }


async def step_values(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> dict[str, Any]:
    """Each step's stored value by name, in insert order (None: no value)."""
    return {
        name: value for name, (_outcome, value) in (await step_results(conn, workflow_id)).items()
    }
