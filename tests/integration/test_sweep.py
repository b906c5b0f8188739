"""The stuck-workflow sweep settles what no trigger saw and finishes the workflow."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from oban import Oban, telemetry
from oban.testing import drain_queue

import baton
from baton import Workflow
from tests.support.db import wait_until
from tests.support.steps import Echo, Outcome, PlainOban


async def drain(oban: Oban) -> None:
    await drain_queue(queue="default", oban=oban, with_scheduled=True, with_safety=True)


async def without_triggers(
    conn: psycopg.AsyncConnection[Any], statement: str, *params: Any
) -> None:
    """Run ``statement`` the way a replica or a bulk tool would: no row triggers fire."""
    async with conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(statement, params)


async def outcomes(conn: psycopg.AsyncConnection[Any], wf: Workflow) -> dict[str, str | None]:
    rows = await (
        await conn.execute("SELECT name, outcome FROM baton_steps WHERE workflow_id = %s", (wf.id,))
    ).fetchall()
    return dict(rows)


async def finished_events(events: baton.Subscription, count: int) -> list[Any]:
    got: list[Any] = []
    async with asyncio.timeout(10):
        async for event in events:
            if isinstance(event, baton.WorkflowFinished):
                got.append(event)
                if len(got) == count:
                    return got
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("ignore_deleted", "dependent"), [(False, "cancelled"), (True, "completed")]
)
async def test_a_job_deleted_unseen_is_settled_as_deleted_per_the_ignore_flag(
    conn: psycopg.AsyncConnection[Any], client: Oban, ignore_deleted: bool, dependent: str
) -> None:
    wf = (
        Workflow(name="vanished", ignore_deleted=ignore_deleted)
        .add("a", Echo.new({"value": 1}))
        .add("b", Echo.new({"value": 2}), deps=["a"])
    )
    await wf.insert()
    async with baton.subscribe(wf.id) as events:
        await without_triggers(conn, "DELETE FROM oban_jobs WHERE id = %s", wf.steps["a"].job.id)
        assert await outcomes(conn, wf) == {"a": None, "b": None}

        report = await baton.sweep()
        assert report.settled == ((wf.id, "a", "deleted"),)
        await drain(client)
        [finished] = await finished_events(events, 1)

    assert await outcomes(conn, wf) == {"a": "deleted", "b": dependent}
    assert finished.outcome == "failed"
    assert "a" in finished.failed_steps


async def test_a_completion_made_without_triggers_activates_the_dependent(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="unseen")
        .add("a", PlainOban.new())
        .add("b", Echo.new({"value": 2}), deps=["a"])
    )
    await wf.insert()
    await without_triggers(
        conn,
        "UPDATE oban_jobs SET state = 'completed', completed_at = now() WHERE id = %s",
        wf.steps["a"].job.id,
    )
    report = await baton.sweep()
    assert report.settled == ((wf.id, "a", "completed"),)
    state = await (
        await conn.execute(
            "SELECT state::text FROM oban_jobs WHERE id = %s", (wf.steps["b"].job.id,)
        )
    ).fetchone()
    assert state == ("available",)
    await drain(client)
    assert await outcomes(conn, wf) == {"a": "completed", "b": "completed"}
    status = await baton.status(wf.id)
    assert status.state == "completed"


async def test_truncating_oban_jobs_unseen_finishes_every_workflow_in_the_sweep(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """As on a replica, where the TRUNCATE trigger does not fire."""
    workflows = [
        Workflow(name=f"wf{i}").add("a", Echo.new({"value": i})).add("b", Echo.new(), deps=["a"])
        for i in range(3)
    ]
    for wf in workflows:
        await wf.insert()
    async with baton.subscribe() as events:
        await without_triggers(conn, "TRUNCATE oban_jobs")
        report = await baton.sweep(limit=2)  # several batches
        got = await finished_events(events, 3)

    assert len(report.settled) == 6
    assert {event.workflow_id for event in got} == {wf.id for wf in workflows}
    rows = await (
        await conn.execute("SELECT count(*) FROM baton_workflows WHERE finished_at IS NULL")
    ).fetchone()
    assert rows == (0,)


async def test_a_suspended_step_whose_deps_settled_is_activated(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="stuck").add("a", Echo.new({"value": 1})).add("b", Echo.new(), deps=["a"])
    await wf.insert()
    await drain(client)  # runs a; b becomes available and runs too
    await conn.execute("UPDATE baton_steps SET outcome = NULL WHERE name = 'b'")
    await conn.execute(
        "UPDATE baton_workflows SET unsettled = 1, finished_at = NULL, outcome = NULL"
    )
    await without_triggers(
        conn, "UPDATE oban_jobs SET state = 'suspended' WHERE id = %s", wf.steps["b"].job.id
    )

    report = await baton.sweep()
    assert report.activated == ((wf.id, "b", "available"),)
    await drain(client)
    assert (await baton.status(wf.id)).state == "completed"


async def test_a_stuck_plain_worker_whose_dep_failed_is_cancelled_naming_the_dep(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    # The sweep cancels it as the settlement does (baton_cancel_blocked): a plain Oban worker
    # cannot check its deps itself.
    wf = (
        Workflow(name="stuck-plain")
        .add("a", Outcome.new({"outcome": "discard"}))
        .add("b", PlainOban.new(), deps=["a"])
    )
    await wf.insert()
    await drain(client)  # a is discarded; the settlement cancels b
    await conn.execute("UPDATE baton_steps SET outcome = NULL WHERE name = 'b'")
    await conn.execute(
        "UPDATE baton_workflows SET unsettled = 1, finished_at = NULL, outcome = NULL"
    )
    await without_triggers(
        conn,
        "UPDATE oban_jobs SET state = 'suspended', errors = '[]' WHERE id = %s",
        wf.steps["b"].job.id,
    )

    report = await baton.sweep()

    assert report.activated == ((wf.id, "b", "cancelled"),)
    status = await baton.status(wf.id)
    assert status.state == "failed"
    assert status.step("b").error == (
        "cancelled by Baton: dependencies did not complete: a (discarded)"
    )


async def test_a_healthy_workflow_is_left_alone_and_a_second_sweep_finds_nothing(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="fine").add("a", Echo.new({"value": 1})).add("b", Echo.new(), deps=["a"])
    await wf.insert()
    assert not (await baton.sweep()).changed
    await drain(client)
    assert not (await baton.sweep()).changed
    assert await outcomes(conn, wf) == {"a": "completed", "b": "completed"}


async def test_the_sweep_reports_through_telemetry(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    seen: list[baton.SweepReport] = []
    telemetry.attach(
        "test-sweep", ["baton.sweep.stop"], lambda _n, meta: seen.append(meta["report"])
    )
    try:
        wf = Workflow(name="t").add("a", Echo.new({"value": 1}))
        await wf.insert()
        await without_triggers(conn, "DELETE FROM oban_jobs WHERE id = %s", wf.steps["a"].job.id)
        report = await baton.sweep()
    finally:
        telemetry.detach("test-sweep")
    assert seen == [report]
    assert report.settled == ((wf.id, "a", "deleted"),)


async def test_the_sweeper_sweeps_on_the_leader_only(
    conn: psycopg.AsyncConnection[Any], oban_pool: Any
) -> None:
    wf = Workflow(name="lead").add("a", Echo.new({"value": 1}))
    follower = Oban(pool=oban_pool, name="follower", leadership=False)
    await wf.insert(oban=follower)
    await without_triggers(conn, "DELETE FROM oban_jobs WHERE id = %s", wf.steps["a"].job.id)

    async with baton.Sweeper(follower, interval=0.05):
        await asyncio.sleep(0.3)  # several intervals: a follower must not sweep
    assert await outcomes(conn, wf) == {"a": None}

    leader = Oban(pool=oban_pool, name="leader", queues={"unused": 1}, leadership=True)
    async with leader, baton.Sweeper(leader, interval=0.05):
        await wait_for_outcome(conn, wf)
    assert await outcomes(conn, wf) == {"a": "deleted"}


async def wait_for_outcome(conn: psycopg.AsyncConnection[Any], wf: Workflow) -> None:
    await wait_until(
        conn,
        "SELECT bool_and(outcome IS NOT NULL) FROM baton_steps WHERE workflow_id = %s",
        (wf.id,),
        timeout=30,
    )


async def test_the_sweeper_rejects_a_bad_interval(oban_pool: Any) -> None:
    with pytest.raises(
        baton.errors.InvalidOption, match="interval must be a positive number of seconds"
    ):
        baton.Sweeper(Oban(pool=oban_pool, name="bad-interval"), interval=0)
