"""Every entry point that reads or writes Baton's tables says "run baton install" when they are
missing, instead of leaking PostgreSQL's "relation does not exist".

The schema here has Oban's tables and not Baton's: the state of a database where someone ran
``oban install`` and forgot ``baton install``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
import pytest
from oban import Job, Oban
from oban.schema import install_sql as oban_install_sql
from oban.testing import drain_queue
from psycopg import sql

import baton
from baton.errors import SchemaError
from tests.support.steps import Echo

BARE = "baton_no_tables"


@pytest.fixture
async def bare(conn: psycopg.AsyncConnection[Any], oban_pool: Any) -> AsyncIterator[Oban]:
    """An Oban instance (the default one, which workers use) on a schema holding Oban's
    tables only."""
    drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(BARE))
    await conn.execute(drop)
    await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(BARE)))
    async with conn.transaction():
        await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(BARE)))
        await conn.execute(oban_install_sql(BARE))
    try:
        yield Oban(pool=oban_pool, prefix=BARE, leadership=False)
    finally:
        await conn.execute(drop)


def step_job() -> Job:
    """A job as a workflow step's job looks, as if Baton had inserted it."""
    job = Echo.new({"value": 1}, meta={"workflow_id": "wf-1", "workflow_step": "a"})
    job.id = 1
    return job


ENTRY_POINTS: dict[str, Callable[[Oban], Awaitable[Any]]] = {
    "insert": lambda oban: baton.Workflow(name="w").add("a", Echo.new()).insert(oban=oban),
    "status": lambda oban: baton.status("wf-1", oban=oban),
    "usage": lambda oban: baton.usage("wf-1", oban=oban),
    "list_workflows": lambda oban: baton.list_workflows(oban=oban),
    "cancel": lambda oban: baton.cancel("wf-1", oban=oban),
    "retry": lambda oban: baton.retry("wf-1", oban=oban),
    "graph": lambda oban: baton.graph("wf-1", oban=oban),
    "sweep": lambda oban: baton.sweep(oban=oban),
    "get_result": lambda oban: baton.get_result(step_job(), "x", oban=oban),
    "get_all_results": lambda oban: baton.get_all_results(step_job(), oban=oban),
    "get_own_result": lambda oban: baton.get_own_result(step_job(), oban=oban),
    "get_context": lambda oban: baton.get_context(step_job(), oban=oban),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
async def test_each_entry_point_names_the_missing_install(bare: Oban, entry: str) -> None:
    with pytest.raises(SchemaError, match=r"Baton's tables are missing in schema") as raised:
        await ENTRY_POINTS[entry](bare)

    assert "baton install" in str(raised.value)
    assert repr(BARE) in str(raised.value)


async def test_a_step_run_on_the_schema_fails_naming_the_missing_install(
    bare: Oban, conn: psycopg.AsyncConnection[Any]
) -> None:
    # A step's job inserted by hand (Baton's insert would already refuse): its worker's own
    # read of the step row fails, and the job's error tells the operator what to run.
    await bare.enqueue(Echo.new({"value": 1}, meta={"workflow_id": "wf-1", "workflow_step": "a"}))

    await drain_queue(queue="default", oban=bare, with_scheduled=False, with_safety=True)

    found = await conn.execute(
        sql.SQL("SELECT state::text, errors -> -1 ->> 'error' FROM {}.oban_jobs").format(
            sql.Identifier(BARE)
        )
    )
    state, error = await found.fetchone() or (None, None)
    assert state == "retryable"
    assert "Baton's tables are missing in schema 'baton_no_tables'" in (error or "")
    assert "baton install" in (error or "")
