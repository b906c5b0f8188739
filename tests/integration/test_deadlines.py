"""Workflow deadlines: an unfinished workflow fails as a whole, with the reason ``deadline``.

The steps run in an Oban instance of this process (``running``, stager every 0.1 s); the
race of a deadline with a step's ack across worker processes is
``test_multiprocess_flow.py``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from oban import Oban, telemetry

import baton
from baton import Workflow, store
from tests.support import cancel_steps as cs
from tests.support import event_steps as es
from tests.support.event_steps import finished_of, follow, steps_of

INTERRUPTED = "was cancelled while it ran: perform_workflow was interrupted"


@pytest.fixture
async def listening(running: Oban) -> Oban:
    """``running``, once it LISTENs for Oban's signals (sent before that, a cancel is lost)."""
    token = await running._notifier.listen("signal", lambda *_: None, wait=True, timeout=10)
    await running._notifier.unlisten(token)
    return running


async def outcomes(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> dict[str, Any]:
    cursor = await conn.execute(
        "SELECT name, outcome, performed_at IS NOT NULL FROM baton_steps WHERE workflow_id = %s",
        (workflow_id,),
    )
    return {name: (outcome, performed) for name, outcome, performed in await cursor.fetchall()}


async def test_a_deadline_interrupts_the_running_step_and_fails_the_workflow(
    conn: psycopg.AsyncConnection[Any], oban_pool: Any, listening: Oban
) -> None:
    """At the deadline the executing step is interrupted, the waiting one is cancelled
    without running, and the workflow finishes failed with the reason deadline, once."""
    await conn.execute(cs.RUNS_TABLE)
    cs.use_pool(oban_pool)
    wf = (
        Workflow(name="late", deadline=1)
        .add("slow", cs.Hangs.new({"seconds": 120}))
        .add("next", es.Reads.new(), deps=["slow"])
    )
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        seen = await follow(events, conn, wf.id)

    assert steps_of(seen) == [
        ("slow", "executing"),
        ("slow", "cancelled"),
        ("next", "executing"),
        ("next", "cancelled"),
    ]
    slow, following = [e for e in seen if isinstance(e, baton.StepEvent) and e.state == "cancelled"]
    assert INTERRUPTED in (slow.error or "")
    # activated to call its on_dep_cancelled, it is told why, and cancels itself
    assert following.error == f"workflow {wf.id!r} failed: its deadline passed"
    assert (wf.id, "next", "cancelled", following.error) in es.DEP_CALLBACKS
    [done] = finished_of(seen, wf.id)
    assert (done.outcome, done.reason, done.failed_steps) == (
        "failed",
        "deadline",
        ("slow", "next"),
    )
    status = await baton.status(wf.id)
    assert (status.state, status.reason) == ("failed", "deadline")
    assert status.deadline_at is not None
    assert status.deadline_at - status.inserted_at == timedelta(seconds=1)
    assert status.finished_at is not None and status.finished_at >= status.deadline_at
    assert await outcomes(conn, wf.id) == {
        "slow": ("cancelled", False),
        "next": ("cancelled", False),
    }
    [summary] = await baton.list_workflows(state="failed")
    assert summary.id == wf.id


async def test_a_deadline_is_enforced_when_no_worker_runs_the_workflow(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    """No node serves the step's queue: the stager's check fails it all the same."""
    wf = Workflow(name="unserved", deadline=timedelta(milliseconds=500)).add(
        "nobody", es.Quick.new(queue="nobody-serves-this")
    )
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        seen = await follow(events, conn, wf.id)
    assert steps_of(seen) == [("nobody", "cancelled")]
    [done] = finished_of(seen, wf.id)
    assert (done.outcome, done.reason) == ("failed", "deadline")
    assert (await baton.status(wf.id)).reason == "deadline"


async def test_a_workflow_that_finishes_in_time_is_not_touched(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = Workflow(name="in-time", deadline=0.5).add("a", es.Quick.new({"value": 1}))
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        seen = await follow(events, conn, wf.id)
    [done] = finished_of(seen, wf.id)
    assert (done.outcome, done.reason) == ("completed", None)
    assert await baton.enforce_deadlines() == []  # its deadline is long enforced by now
    cursor = await conn.execute(
        "SELECT pg_sleep(0.6), reason, outcome FROM baton_workflows WHERE id = %s", (wf.id,)
    )
    assert await baton.enforce_deadlines() == []
    [(_slept, reason, outcome)] = await cursor.fetchall()
    assert (reason, outcome) == (None, "completed")


async def test_enforce_deadlines_fails_only_due_workflows(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """Called by hand (no stager runs in ``client``): due, not due, no deadline, cancelled."""
    due = Workflow(name="due", deadline=60).add("a", es.Quick.new())
    later = Workflow(name="later", deadline=3600).add("a", es.Quick.new())
    none = Workflow(name="none").add("a", es.Quick.new())
    cancelled = Workflow(name="cancelled", deadline=60).add("a", es.Quick.new())
    for wf in (due, later, none, cancelled):
        await wf.insert(oban=client)
    await baton.cancel(cancelled.id, oban=client)
    await conn.execute(
        "UPDATE baton_workflows SET deadline_at = deadline_at - interval '61 seconds' "
        "WHERE id = ANY(%s)",
        ([due.id, cancelled.id],),
    )
    executed: list[tuple[str, dict[str, Any]]] = []
    telemetry.attach(
        "test-deadline",
        ["baton.workflow.deadline"],
        lambda name, meta: executed.append((name, meta)),
    )
    try:
        # [] if another started instance's stager (one a test left running) came first
        assert await baton.enforce_deadlines(oban=client) in ([due.id], [])
        assert await baton.enforce_deadlines(oban=client) == []
    finally:
        telemetry.detach("test-deadline")
    # once, from whichever instance of this process enforced it
    assert executed == [("baton.workflow.deadline", {"workflow_id": due.id, "cancelled": 1})]
    states = {wf.name: (await baton.status(wf.id, oban=client)) for wf in (due, later, none)}
    assert {name: (s.state, s.reason) for name, s in states.items()} == {
        "due": ("failed", "deadline"),
        "later": ("running", None),
        "none": ("running", None),
    }
    assert states["due"].step("a").state == "cancelled"
    cancelled_status = await baton.status(cancelled.id, oban=client)
    assert (cancelled_status.state, cancelled_status.reason) == ("cancelled", None)


async def test_retry_after_a_deadline_gives_the_workflow_its_time_again(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = Workflow(name="again", deadline=0.3).add(
        "nobody", es.Quick.new(queue="nobody-serves-this")
    )
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        await follow(events, conn, wf.id)
    first = await baton.status(wf.id)
    assert (first.state, first.reason) == ("failed", "deadline")
    async with baton.subscribe(wf.id) as events:
        assert await baton.retry(wf.id) == ["nobody"]
        cursor = await conn.execute(
            "SELECT reason, deadline_at - inserted_at > interval '0.3 seconds' "
            "FROM baton_workflows WHERE id = %s",
            (wf.id,),
        )
        assert await cursor.fetchall() == [(None, True)]  # its deadline counts from the retry
        seen = await follow(events, conn, wf.id)
    [done] = finished_of(seen, wf.id)
    assert (done.outcome, done.reason) == ("failed", "deadline")


@pytest.mark.parametrize("limit", [0, -1, 1.5, "10", True])
async def test_enforce_deadlines_refuses_a_bad_limit(client: Oban, limit: Any) -> None:
    with pytest.raises(baton.errors.InvalidOption) as raised:
        await baton.enforce_deadlines(oban=client, limit=limit)
    assert str(raised.value) == f"limit must be a positive integer, got {limit!r}"


async def test_a_deadline_that_took_nothing_away_leaves_the_workflow_completed(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """The deadline is enforced after the last step stored its result but before its ack
    committed: the step completes all the same, so the workflow does, with no reason."""
    wf = Workflow(name="just-in-time", deadline=60).add("a", es.Quick.new())
    await wf.insert(oban=client)
    job_id = wf.steps["a"].job.id
    await conn.execute(
        "UPDATE oban_jobs SET state = 'executing', attempt = 1, "
        "attempted_at = timezone('UTC', now()) WHERE id = %s",
        (job_id,),
    )
    job = await client.get_job(job_id)
    assert job is not None
    assert await store.store_result(client, job, '{"value": 1}', unless_cancelled=True) == "stored"
    await conn.execute(
        "UPDATE baton_workflows SET deadline_at = inserted_at WHERE id = %s", (wf.id,)
    )
    await baton.enforce_deadlines(oban=client)
    marked = await baton.status(wf.id, oban=client)
    assert (marked.state, marked.reason, marked.finished_at) == ("failed", "deadline", None)
    async with baton.subscribe(wf.id, oban=client) as events:
        await conn.execute(  # the ack that was under way
            "UPDATE oban_jobs SET state = 'completed', completed_at = timezone('UTC', now()) "
            "WHERE id = %s",
            (job_id,),
        )
        seen = await follow(events, conn, wf.id)
    [done] = finished_of(seen, wf.id)
    assert (done.outcome, done.reason) == ("completed", None)
    final = await baton.status(wf.id, oban=client)
    assert (final.state, final.reason, final.cancelled_at) == ("completed", None, None)
    assert await baton.results(wf.id, oban=client) == {"a": 1}
