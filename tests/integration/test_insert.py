"""Workflow.insert(): atomic, all-or-nothing, and what it writes."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from oban import Oban

from baton import Workflow
from baton.errors import DependencyCycle, UnknownDependency, WorkflowError
from tests.support.steps import Echo, Other, PlainOban


async def counts(conn: psycopg.AsyncConnection[Any]) -> tuple[int, int, int, int]:
    row = await (
        await conn.execute(
            "SELECT (SELECT count(*) FROM oban_jobs), (SELECT count(*) FROM baton_workflows), "
            "(SELECT count(*) FROM baton_steps), (SELECT count(*) FROM baton_edges)"
        )
    ).fetchone()
    assert row is not None
    return row


def diamond(**options: Any) -> Workflow:
    return (
        Workflow(name="diamond", **options)
        .add("a", Echo.new({"value": "a"}))
        .add("b", Echo.new({"value": "b"}), deps=["a"])
        .add("c", Other.new({"value": "c"}), deps=["a"])
        .add("d", Echo.new(), deps=["b", "c"])
    )


async def test_cycle_writes_nothing(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = (
        Workflow(name="loop")
        .add("root", Echo.new({"value": 0}))
        .add("a", Echo.new({"value": 1}), deps=["root", "c"])
        .add("b", Echo.new({"value": 2}), deps=["a"])
        .add("c", Echo.new({"value": 3}), deps=["b"])
    )

    with pytest.raises(DependencyCycle) as raised:
        await wf.insert()

    assert isinstance(raised.value, WorkflowError)
    assert set(raised.value.path) == {"a", "b", "c"}
    assert raised.value.path[0] == raised.value.path[-1]
    assert await counts(conn) == (0, 0, 0, 0)
    assert all(step.job.id is None for step in wf.steps.values())


async def test_unknown_dep_writes_nothing(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = (
        Workflow(name="typo")
        .add("fetch", Echo.new({"value": 1}))
        .add("summarize", Echo.new(), deps=["fetc"])
    )

    with pytest.raises(UnknownDependency, match=r"step 'summarize' depends on 'fetc'"):
        await wf.insert()

    assert await counts(conn) == (0, 0, 0, 0)


async def test_insert_in_a_rolled_back_transaction_leaves_nothing(
    conn: psycopg.AsyncConnection[Any], client: Oban, installed: str
) -> None:
    wf = diamond()
    async with await psycopg.AsyncConnection.connect(installed) as caller:
        async with caller.transaction():
            await wf.insert(conn=caller, oban=client)
            inside = await (
                await caller.execute(
                    "SELECT count(*) FROM baton_steps WHERE workflow_id = %s", (wf.id,)
                )
            ).fetchone()
            assert inside == (4,)  # visible to the caller's transaction
            assert await counts(conn) == (0, 0, 0, 0)  # and to no one else
            raise psycopg.Rollback

    assert await counts(conn) == (0, 0, 0, 0)


async def test_insert_in_a_committed_transaction_is_visible_at_commit(
    conn: psycopg.AsyncConnection[Any], client: Oban, installed: str
) -> None:
    wf = diamond()
    async with await psycopg.AsyncConnection.connect(installed) as caller:
        async with caller.transaction():
            await wf.insert(conn=caller, oban=client)
            assert await counts(conn) == (0, 0, 0, 0)

    assert await counts(conn) == (4, 1, 4, 4)


async def test_duplicate_workflow_id_raises_and_writes_nothing_new(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    await Workflow(name="first", id="same-id").add("only", Echo.new({"value": 1})).insert()
    before = await counts(conn)
    assert before == (1, 1, 1, 0)

    again = diamond(id="same-id")
    with pytest.raises(WorkflowError, match="'same-id' already exists"):
        await again.insert()

    assert await counts(conn) == before
    assert all(step.job.id is None for step in again.steps.values())
    name = await (
        await conn.execute("SELECT name FROM baton_workflows WHERE id = 'same-id'")
    ).fetchone()
    assert name == ("first",)


async def test_inserting_the_same_workflow_twice_raises(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = diamond()
    await wf.insert()
    before = await counts(conn)

    with pytest.raises(WorkflowError, match="already inserted"):
        await wf.insert()
    with pytest.raises(WorkflowError, match="already inserted"):
        wf.add("late", Echo.new({"value": 1}))

    assert await counts(conn) == before == (4, 1, 4, 4)


async def test_jobs_get_ids_and_states(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = diamond()
    wf.add("later", Echo.new({"value": 1}, scheduled_in=3600))
    returned = await wf.insert()

    assert returned is wf
    rows = await (
        await conn.execute(
            "SELECT s.name, j.id, j.state::text, j.queue, s.pending FROM baton_steps s "
            "JOIN oban_jobs j ON j.id = s.job_id WHERE s.workflow_id = %s",
            (wf.id,),
        )
    ).fetchall()
    stored = {name: (job_id, state, queue, pending) for name, job_id, state, queue, pending in rows}
    expected_states = {
        "a": ("available", 0),
        "b": ("suspended", 1),
        "c": ("suspended", 1),
        "d": ("suspended", 2),
        "later": ("scheduled", 0),
    }
    assert {name: (row[1], row[3]) for name, row in stored.items()} == expected_states
    for name, step in wf.steps.items():
        job_id, state, queue, _pending = stored[name]
        assert step.job.id == job_id
        assert step.job.state == state
        assert step.job.queue == queue
        assert step.job.inserted_at is not None
    assert stored["c"][2] == "other"
    assert len({row[0] for row in stored.values()}) == 5


async def test_meta_holds_only_the_workflow_identifiers(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="meta")
        .add("a", Echo.new({"value": 1}, meta={"trace": "t-1"}))
        .add("b", PlainOban.new(), deps=["a"])
        .add_many("g", [Echo.new({"value": 2}), Echo.new({"value": 3})], deps=["a"])
    )
    await wf.insert()

    rows = await (await conn.execute("SELECT meta FROM oban_jobs ORDER BY id")).fetchall()
    assert [meta for (meta,) in rows] == [
        {"workflow_id": wf.id, "workflow_step": "a", "trace": "t-1"},
        {"workflow_id": wf.id, "workflow_step": "b"},
        {"workflow_id": wf.id, "workflow_step": "g[0]"},
        {"workflow_id": wf.id, "workflow_step": "g[1]"},
    ]
    edges = await (
        await conn.execute(
            "SELECT upstream, downstream FROM baton_edges WHERE workflow_id = %s ORDER BY 2",
            (wf.id,),
        )
    ).fetchall()
    assert edges == [("a", "b"), ("a", "g[0]"), ("a", "g[1]")]


async def test_job_options_are_kept(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = (
        Workflow(name="options")
        .add("a", Echo.new({"value": 1}, tags=["x", "y"], priority=2, max_attempts=7))
        .add("b", Echo.new({"value": 2}, queue="other"), deps=["a"])
    )
    await wf.insert()

    rows = await (
        await conn.execute(
            "SELECT queue, worker, args, tags, priority, max_attempts, attempt FROM oban_jobs "
            "ORDER BY id"
        )
    ).fetchall()
    assert rows == [
        ("default", "tests.support.steps.Echo", {"value": 1}, ["x", "y"], 2, 7, 0),
        ("other", "tests.support.steps.Echo", {"value": 2}, [], 0, 3, 0),
    ]


async def test_a_collision_on_another_unique_index_names_the_index_table_and_value(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """Only the workflow id's keys say "already exists": here a user's own unique index on
    oban_jobs refuses a step's job, and the error says so (nothing of the workflow is kept)."""
    await conn.execute("CREATE UNIQUE INDEX test_one_order_index ON oban_jobs ((args->>'order'))")
    try:
        await client.enqueue(Echo.new({"order": "o-1"}))
        wf = Workflow(name="dup-order").add("a", Echo.new({"order": "o-1"}))
        with pytest.raises(WorkflowError) as raised:
            await wf.insert(oban=client)
    finally:
        await conn.execute("DROP INDEX test_one_order_index")
    assert str(raised.value) == (
        f"inserting workflow {wf.id!r} hit the unique index 'test_one_order_index' on table "
        "public.oban_jobs: Key ((args ->> 'order'::text))=(o-1) already exists."
    )
    found = await (
        await conn.execute("SELECT count(*) FROM baton_workflows WHERE id = %s", (wf.id,))
    ).fetchone()
    assert found == (0,)
