"""baton.install: idempotent, versioned, and honouring Oban's schema prefix."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from oban import Oban
from oban.schema import install_sql as oban_install_sql
from oban.testing import drain_queue
from psycopg import sql

import baton
from baton import Workflow
from baton.errors import SchemaError
from tests.support.steps import ALT_INSTANCE, AltEcho, Echo

ALT = "baton_alt"
BARE = "baton_bare"
MISSING = "baton_missing"


async def drop_schemas(conn: psycopg.AsyncConnection[Any]) -> None:
    for schema in (ALT, BARE, MISSING):
        await conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


@pytest.fixture
async def scratch(
    conn: psycopg.AsyncConnection[Any],
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """The test connection, with the extra schemas dropped before and after the test."""
    await drop_schemas(conn)
    try:
        yield conn
    finally:
        await drop_schemas(conn)


async def versions(conn: psycopg.AsyncConnection[Any], schema: str) -> list[int]:
    rows = await (
        await conn.execute(
            sql.SQL("SELECT version FROM {}.baton_versions ORDER BY version").format(
                sql.Identifier(schema)
            )
        )
    ).fetchall()
    return [version for (version,) in rows]


async def test_install_is_idempotent_and_records_its_version(
    conn: psycopg.AsyncConnection[Any], installed: str, oban_pool: Any, client: Oban
) -> None:
    assert await baton.install(installed) == baton.SCHEMA_VERSION
    assert await baton.install(installed) == baton.SCHEMA_VERSION
    assert await baton.install(oban_pool) == baton.SCHEMA_VERSION
    assert await baton.install(client) == baton.SCHEMA_VERSION

    assert await versions(conn, "public") == list(range(1, baton.SCHEMA_VERSION + 1))
    triggers = await (
        await conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'public.oban_jobs'::regclass "
            "AND tgname LIKE 'baton%' ORDER BY tgname"
        )
    ).fetchall()
    assert triggers == [("baton_step_deleted",), ("baton_step_settled",)]

    # The tables still work after the repeated installs.
    wf = await Workflow().add("a", Echo.new({"value": 1})).insert()
    await drain_queue(queue="default", oban=client, with_scheduled=False, with_safety=True)
    outcome = await (
        await conn.execute("SELECT outcome FROM baton_steps WHERE workflow_id = %s", (wf.id,))
    ).fetchone()
    assert outcome == ("completed",)


async def test_concurrent_installs_take_turns(
    scratch: psycopg.AsyncConnection[Any], installed: str
) -> None:
    results = await asyncio.gather(*(baton.install(installed, prefix=ALT) for _ in range(3)))

    assert results == [baton.SCHEMA_VERSION] * 3
    assert await versions(scratch, ALT) == list(range(1, baton.SCHEMA_VERSION + 1))


async def test_workflow_in_a_custom_prefix(
    scratch: psycopg.AsyncConnection[Any], installed: str, oban_pool: Any
) -> None:
    assert await baton.install(installed, prefix=ALT) == baton.SCHEMA_VERSION
    assert await versions(scratch, ALT) == list(range(1, baton.SCHEMA_VERSION + 1))

    alt = Oban(pool=oban_pool, prefix=ALT, name=ALT_INSTANCE, leadership=False)
    wf = (
        Workflow(name="alt")
        .add("a", AltEcho.new({"value": {"n": 1}}))
        .add("b", AltEcho.new({"value": {"n": 2}}))
        .add("join", AltEcho.new(), deps=["a", "b"])
    )
    await wf.insert()  # the first step's worker names the baton_alt instance
    assert wf.steps["join"].job.state == "suspended"

    summary = await drain_queue(queue="default", oban=alt, with_scheduled=False, with_safety=True)

    assert summary["completed"] == 3
    rows = await (
        await scratch.execute(
            "SELECT s.name, s.outcome, s.result, j.state::text FROM baton_alt.baton_steps s "
            "JOIN baton_alt.oban_jobs j ON j.id = s.job_id ORDER BY s.name"
        )
    ).fetchall()
    assert rows == [
        ("a", "completed", {"value": {"n": 1}}, "completed"),
        ("b", "completed", {"value": {"n": 2}}, "completed"),
        ("join", "completed", {"value": {"a": {"n": 1}, "b": {"n": 2}}}, "completed"),
    ]
    public = await (
        await scratch.execute(
            "SELECT (SELECT count(*) FROM public.oban_jobs), "
            "(SELECT count(*) FROM public.baton_steps)"
        )
    ).fetchone()
    assert public == (0, 0)


async def test_insert_without_baton_installed_raises_schema_error(
    scratch: psycopg.AsyncConnection[Any], oban_pool: Any
) -> None:
    # Oban's tables are there, Baton's are not.
    await scratch.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(BARE)))
    async with scratch.transaction():
        await scratch.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(BARE)))
        await scratch.execute(oban_install_sql(BARE))
    bare = Oban(pool=oban_pool, prefix=BARE, name=BARE, leadership=False)
    wf = Workflow(name="bare").add("a", Echo.new({"value": 1}))

    with pytest.raises(SchemaError, match="baton install") as raised:
        await wf.insert(oban=bare)

    assert BARE in str(raised.value)
    jobs = await (await scratch.execute("SELECT count(*) FROM baton_bare.oban_jobs")).fetchone()
    assert jobs == (0,)
    assert wf.steps["a"].job.id is None


async def test_insert_into_a_missing_schema_raises_schema_error(
    scratch: psycopg.AsyncConnection[Any], oban_pool: Any
) -> None:
    missing = Oban(pool=oban_pool, prefix=MISSING, name=MISSING, leadership=False)
    wf = Workflow(name="missing").add("a", Echo.new({"value": 1}))

    with pytest.raises(SchemaError, match="baton install"):
        await wf.insert(oban=missing)

    assert wf.steps["a"].job.id is None
