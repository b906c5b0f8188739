"""Test database plumbing: where the tests' PostgreSQL is, and how to reset it.

Every test session runs on a database of its own, created for it and dropped at its end
(also when tests fail), so concurrent runs never share tables. Where (DESIGN §4): on the
server of ``DATABASE_URL``, same credentials, a new database named after the URL's
(``baton_ci`` → ``baton_ci_<pid>_<random>``); else on ``127.0.0.1:5432`` if it answers
(``baton_test_<pid>_<random>``); else an embedded PostgreSQL started for the session.
While the session runs, ``DATABASE_URL`` names its database, so subprocesses that read it
get the session's database too.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from baton._database import private_database

TEST_DATABASE = "baton_test"

RESET = """
TRUNCATE TABLE oban_jobs, oban_leaders, oban_producers,
               baton_workflows, baton_steps, baton_edges, baton_limits, baton_limit_calls,
               baton_calls
RESTART IDENTITY CASCADE
"""


@contextmanager
def test_dsn() -> Iterator[str]:
    """Yield the DSN of the session's own database; drop it (or the embedded server) after."""
    base = os.environ.get("DATABASE_URL")
    with private_database(TEST_DATABASE, base) as url:
        os.environ["DATABASE_URL"] = url
        try:
            yield url
        finally:
            if base is None:
                os.environ.pop("DATABASE_URL", None)
            else:
                os.environ["DATABASE_URL"] = base


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
