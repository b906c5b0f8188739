"""Activation by every path that settles a dependency (DESIGN §3), and no snooze polling."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from oban import Oban
from oban.testing import drain_queue
from psycopg.rows import dict_row

from baton import Workflow
from tests.support import steps
from tests.support.db import wait_settled, wait_until
from tests.support.steps import Counted, Echo, Other, PlainOban, Reader, Watcher

STEP_SQL = """
SELECT j.state::text AS state, j.attempt, j.errors, j.meta, j.scheduled_at,
       s.outcome, s.result, s.pending, s.blocked
  FROM baton_steps s
  LEFT JOIN oban_jobs j ON j.id = s.job_id
 WHERE s.workflow_id = %s AND s.name = %s
"""


@pytest.fixture(autouse=True)
def _clear_records() -> None:
    steps.CALLS.clear()
    steps.CALLBACKS.clear()


async def step_row(conn: psycopg.AsyncConnection[Any], wf: Workflow, name: str) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(STEP_SQL, (wf.id, name))
        row = await cursor.fetchone()
    assert row is not None, f"no step {name!r}"
    return row


async def state(conn: psycopg.AsyncConnection[Any], wf: Workflow, name: str) -> tuple[Any, ...]:
    row = await step_row(conn, wf, name)
    return row["state"], row["outcome"], row["pending"]


async def drain(oban: Oban, queue: str = "default") -> dict[str, int]:
    return await drain_queue(queue=queue, oban=oban, with_scheduled=False, with_safety=True)


def job_id(wf: Workflow, name: str) -> int:
    found = wf.steps[name].job.id
    assert found is not None
    return found


async def complete_by_sql(conn: psycopg.AsyncConnection[Any], wf: Workflow, name: str) -> None:
    await conn.execute(
        "UPDATE oban_jobs SET state = 'completed', completed_at = timezone('UTC', now()) "
        "WHERE id = %s",
        (job_id(wf, name),),
    )


# --- every path that settles a dep -------------------------------------------------------


async def test_worker_ack_activates_the_dependent_in_the_same_transaction(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="ack")
        .add("a", Echo.new({"value": "from a"}))
        .add("b", Reader.new({"read": "one", "dep": "a"}, queue="other"), deps=["a"])
    )
    await wf.insert()
    assert await state(conn, wf, "b") == ("suspended", None, 1)

    await drain(client, "default")  # runs a only: b is in another queue

    assert await state(conn, wf, "a") == ("completed", "completed", 0)
    assert await state(conn, wf, "b") == ("available", None, 0)

    await drain(client, "other")
    row = await step_row(conn, wf, "b")
    assert (row["state"], row["outcome"]) == ("completed", "completed")
    assert row["result"] == {"value": {"got": "from a"}}


async def test_manual_sql_completion_activates_at_commit(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="sql")
        .add("a", Echo.new({"value": 1}))
        .add("b", Echo.new({"value": 2}), deps=["a"])
    )
    await wf.insert()

    async with conn.transaction():
        await complete_by_sql(conn, wf, "a")
    # No waiting: the commit that completed a made b available.
    assert await state(conn, wf, "a") == ("completed", "completed", 0)
    assert await state(conn, wf, "b") == ("available", None, 0)

    summary = await drain(client)
    assert summary["completed"] == 1  # only b: a was already completed
    assert await state(conn, wf, "b") == ("completed", "completed", 0)


async def test_cancel_job_of_an_available_dep(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="cancel-available")
        .add("a", Echo.new({"value": 1}))
        .add("watch", Watcher.new(), deps=["a"])
        .add("plain", PlainOban.new(), deps=["a"])
    )
    await wf.insert()

    await client.cancel_job(job_id(wf, "a"))

    assert await state(conn, wf, "a") == ("cancelled", "cancelled", 0)
    # The Baton worker is woken to run its callback; the plain worker is cancelled outright.
    assert await state(conn, wf, "watch") == ("available", None, 0)
    assert await state(conn, wf, "plain") == ("cancelled", "cancelled", 0)

    await drain(client)
    assert await state(conn, wf, "watch") == ("cancelled", "cancelled", 0)
    assert steps.CALLBACKS == [("cancelled", "dependencies did not complete (cancelled: 'a')")]


async def test_cancel_job_of_a_suspended_dep(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="cancel-suspended")
        .add("a", Echo.new({"value": 1}))
        .add("b", Echo.new({"value": 2}), deps=["a"])
        .add("c", Watcher.new(), deps=["b"])
    )
    await wf.insert()

    await client.cancel_job(job_id(wf, "b"))

    assert await state(conn, wf, "b") == ("cancelled", "cancelled", 1)
    assert await state(conn, wf, "c") == ("available", None, 0)

    await drain(client)
    assert await state(conn, wf, "a") == ("completed", "completed", 0)
    assert await state(conn, wf, "b") == ("cancelled", "cancelled", 0)  # not revived by a
    assert await state(conn, wf, "c") == ("cancelled", "cancelled", 0)
    assert steps.CALLBACKS == [("cancelled", "dependencies did not complete (cancelled: 'b')")]


async def test_deleting_a_dep_row_settles_it_as_deleted(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="delete")
        .add("a", Echo.new({"value": 1}))
        .add("strict", Echo.new({"value": 2}), deps=["a"])
        .add("lenient", Echo.new({"value": 3}), deps=["a"], ignore_deleted=True)
    )
    await wf.insert()

    await conn.execute("DELETE FROM oban_jobs WHERE id = %s", (job_id(wf, "a"),))

    assert await state(conn, wf, "a") == (None, "deleted", 0)
    strict = await step_row(conn, wf, "strict")
    # Echo has no on_dep_* callback: cancelled by the settlement, never run.
    assert (strict["state"], strict["pending"], strict["blocked"]) == ("cancelled", 0, 1)
    lenient = await step_row(conn, wf, "lenient")
    assert (lenient["state"], lenient["pending"], lenient["blocked"]) == ("available", 0, 0)

    await drain(client)
    assert await state(conn, wf, "strict") == ("cancelled", "cancelled", 0)
    assert await state(conn, wf, "lenient") == ("completed", "completed", 0)


async def orphan(conn: psycopg.AsyncConnection[Any], wf: Workflow, name: str) -> None:
    """Make the step look like its node died while running its last attempt."""
    await conn.execute(
        "UPDATE oban_jobs SET state = 'executing', attempt = max_attempts, "
        "attempted_at = timezone('UTC', now()) - interval '1 hour' WHERE id = %s",
        (job_id(wf, name),),
    )


async def test_lifeline_discarding_an_orphan_activates_dependents(
    conn: psycopg.AsyncConnection[Any], client: Oban, oban_pool: Any
) -> None:
    wf = (
        Workflow(name="lifeline")
        .add("a", Echo.new({"value": 1}))
        .add("strict", Watcher.new(), deps=["a"])
        .add("lenient", Echo.new({"value": 2}), deps=["a"], ignore_discarded=True)
    )
    await wf.insert()
    await orphan(conn, wf, "a")

    lifeline = Oban(
        pool=oban_pool,
        name="activation-lifeline",
        leadership=True,
        lifeline={"interval": 0.1, "rescue_after": 0.1},
    )
    async with lifeline:
        await wait_until(
            conn, "SELECT state = 'discarded' FROM oban_jobs WHERE id = %s", (job_id(wf, "a"),)
        )

    assert await state(conn, wf, "a") == ("discarded", "discarded", 0)
    assert await state(conn, wf, "strict") == ("available", None, 0)
    assert await state(conn, wf, "lenient") == ("available", None, 0)

    await drain(client)
    assert await state(conn, wf, "strict") == ("cancelled", "cancelled", 0)
    assert await state(conn, wf, "lenient") == ("completed", "completed", 0)
    assert steps.CALLBACKS == [("discarded", "dependencies did not complete (discarded: 'a')")]


async def test_rescue_query_discarding_an_orphan_cancels_plain_dependents(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="rescue")
        .add("a", Echo.new({"value": 1}))
        .add("plain", PlainOban.new(), deps=["a"])
    )
    await wf.insert()
    await orphan(conn, wf, "a")

    assert await client._query.rescue_jobs(0.1) == 1

    assert await state(conn, wf, "a") == ("discarded", "discarded", 0)
    row = await step_row(conn, wf, "plain")
    assert (row["state"], row["outcome"]) == ("cancelled", "cancelled")
    assert "a (discarded)" in row["errors"][-1]["error"]


async def test_pruned_dep_still_counts_and_its_result_stays_readable(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="pruned")
        .add("a", Echo.new({"value": {"kept": True}}))
        .add("x", Other.new({"value": "x"}))
        .add("join", Reader.new({"read": "all"}), deps=["a", "x"])
    )
    await wf.insert()

    await drain(client, "default")  # a completes; join still waits for x
    assert await state(conn, wf, "join") == ("suspended", None, 1)

    # Oban's pruner deletes the completed job row.
    assert await client._query.prune_jobs(max_age=0, limit=100) == 1
    gone = await (
        await conn.execute("SELECT count(*) FROM oban_jobs WHERE id = %s", (job_id(wf, "a"),))
    ).fetchone()
    assert gone == (0,)
    assert await state(conn, wf, "a") == (None, "completed", 0)  # still completed
    join = await step_row(conn, wf, "join")
    assert (join["state"], join["pending"], join["blocked"]) == ("suspended", 1, 0)

    await drain(client, "other")  # x completes: join activates
    assert await state(conn, wf, "join") == ("available", None, 0)

    await drain(client, "default")
    row = await step_row(conn, wf, "join")
    assert (row["state"], row["outcome"]) == ("completed", "completed")
    assert row["result"] == {"value": {"got": {"a": {"kept": True}, "x": "x"}}}


async def test_activated_step_with_a_future_start_becomes_scheduled(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="later")
        .add("a", Echo.new({"value": 1}))
        .add("b", Echo.new({"value": 2}, scheduled_in=3600), deps=["a"])
    )
    await wf.insert()
    assert await state(conn, wf, "b") == ("suspended", None, 1)

    await drain(client)

    assert await state(conn, wf, "b") == ("scheduled", None, 0)
    later = await (
        await conn.execute(
            "SELECT scheduled_at > timezone('UTC', now()) + interval '50 minutes' "
            "FROM oban_jobs WHERE id = %s",
            (job_id(wf, "b"),),
        )
    ).fetchone()
    assert later == (True,)


async def test_a_dep_completed_twice_counts_once(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="twice")
        .add("a", Echo.new({"value": 1}))
        .add("x", Other.new({"value": 2}))
        .add("join", Counted.new({"value": 3}), deps=["a", "x"])
    )
    await wf.insert()

    await complete_by_sql(conn, wf, "a")
    await client.retry_job(job_id(wf, "a"))
    assert await state(conn, wf, "a") == ("available", "completed", 0)
    await complete_by_sql(conn, wf, "a")

    # Had a been counted twice, join would be available (or the CHECK would fail).
    assert await state(conn, wf, "join") == ("suspended", None, 1)

    await drain(client, "other")
    assert await state(conn, wf, "join") == ("available", None, 0)

    await drain(client)
    assert await state(conn, wf, "join") == ("completed", "completed", 0)
    assert steps.CALLS == [job_id(wf, "join")]

    # Retrying a completed dep after its dependent ran does not run the dependent again.
    await client.retry_job(job_id(wf, "a"))
    await drain(client)
    assert await state(conn, wf, "a") == ("completed", "completed", 0)
    assert await state(conn, wf, "join") == ("completed", "completed", 0)
    assert steps.CALLS == [job_id(wf, "join")]
    negative = await (
        await conn.execute("SELECT count(*) FROM baton_steps WHERE pending < 0")
    ).fetchone()
    assert negative == (0,)


# --- real producers: activation without snooze polling ----------------------------------


async def assert_finished_without_snoozes(conn: psycopg.AsyncConnection[Any], wf: Workflow) -> None:
    await wait_settled(conn, wf.id)
    rows = await (
        await conn.execute(
            "SELECT s.outcome, j.state::text, j.meta ? 'snoozed', j.attempt FROM baton_steps s "
            "JOIN oban_jobs j ON j.id = s.job_id WHERE s.workflow_id = %s",
            (wf.id,),
        )
    ).fetchall()
    assert len(rows) == len(wf.steps)
    assert set(rows) == {("completed", "completed", False, 1)}


async def test_long_chain_runs_without_snoozes(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = Workflow(name="chain").add("s0", Echo.new({"value": 0}))
    for index in range(1, 50):
        wf.add(f"s{index}", Echo.new({"value": index}), deps=[f"s{index - 1}"])
    await wf.insert()

    await assert_finished_without_snoozes(conn, wf)
    order = await (
        await conn.execute(
            "SELECT name FROM baton_steps WHERE workflow_id = %s ORDER BY settled_at, job_id",
            (wf.id,),
        )
    ).fetchall()
    assert [name for (name,) in order] == [f"s{index}" for index in range(50)]


async def test_diamond_runs_without_snoozes(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = (
        Workflow(name="diamond")
        .add("a", Echo.new({"value": "a"}))
        .add("b", Echo.new({"value": "b"}), deps=["a"])
        .add("c", Echo.new({"value": "c"}), deps=["a"])
        .add("d", Echo.new(), deps=["b", "c"])
    )
    await wf.insert()

    await assert_finished_without_snoozes(conn, wf)
    row = await step_row(conn, wf, "d")
    assert row["result"] == {"value": {"b": "b", "c": "c"}}


async def test_chain_across_queues_runs_without_snoozes(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = Workflow(name="cross").add("s0", Echo.new({"value": 0}))
    for index in range(1, 12):
        worker = Other if index % 2 else Echo
        wf.add(f"s{index}", worker.new({"value": index}), deps=[f"s{index - 1}"])
    await wf.insert()

    await assert_finished_without_snoozes(conn, wf)
    queues = await (
        await conn.execute(
            "SELECT array_agg(DISTINCT j.queue ORDER BY j.queue) FROM baton_steps s "
            "JOIN oban_jobs j ON j.id = s.job_id WHERE s.workflow_id = %s",
            (wf.id,),
        )
    ).fetchone()
    assert queues == (["default", "other"],)


async def test_fan_out_fan_in_runs_without_snoozes(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = (
        Workflow(name="fan")
        .add("start", Echo.new({"value": "go"}))
        .add_many("work", [Echo.new({"value": i}) for i in range(20)], deps=["start"])
        .add("join", Reader.new({"read": "one", "dep": "work"}), deps=["work"])
    )
    await wf.insert()

    await assert_finished_without_snoozes(conn, wf)
    row = await step_row(conn, wf, "join")
    assert row["result"] == {"value": {"got": list(range(20))}}
