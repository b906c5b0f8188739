"""``baton.status``, ``baton.cancel`` and ``baton.retry`` on stored workflows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from oban import Oban
from oban._executor import Executor

import baton
from baton import StepEvent, Workflow, WorkflowFinished
from baton.errors import UnknownWorkflow, WorkflowError
from tests.support import event_steps as es
from tests.support.event_steps import drain, finished_of, flush, follow, steps_of


async def snapshot(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> list[Any]:
    """Every stored row of a workflow: to prove that nothing changed."""
    rows = []
    for query in (
        "SELECT * FROM baton_workflows WHERE id = %s",
        "SELECT * FROM baton_steps WHERE workflow_id = %s ORDER BY job_id",
        "SELECT * FROM oban_jobs WHERE meta->>'workflow_id' = %s ORDER BY id",
    ):
        rows.append(await (await conn.execute(query, (workflow_id,))).fetchall())
    return rows


# --- status --------------------------------------------------------------------------------


async def test_status_while_running_and_once_completed(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="status")
        .add("a", es.Quick.new({"value": 1}))
        .add_many("g", [es.Quick.new({"value": 2}), es.Quick.new({"value": 3})], deps=["a"])
        .add("b", es.OtherQueue.new(), deps=["a"])
        .add("c", es.Reads.new(), deps=["g", "b"])
    )
    await wf.insert()

    running = await baton.status(wf.id)
    assert (running.id, running.name, running.state) == (wf.id, "status", "running")
    assert running.counts == {"available": 1, "suspended": 4}
    assert [s.name for s in running.steps] == ["a", "g[0]", "g[1]", "b", "c"]
    a = running.step("a")
    assert (a.state, a.worker, a.attempt, a.max_attempts) == (
        "available",
        "tests.support.event_steps.Quick",
        0,
        3,
    )
    assert (a.deps, a.group, a.attempted_at, a.settled_at, a.error) == ((), None, None, None, None)
    assert a.inserted_at is not None and a.inserted_at.tzinfo is not None
    assert a.result_stored is False and a.cost_usd is None
    assert running.step("g[1]").group == "g"
    assert running.step("c").deps == ("g", "b")
    assert running.finished_at is None and running.cost_usd is None
    assert running.duration_ms >= 0
    with pytest.raises(KeyError, match="has no step 'zzz'"):
        running.step("zzz")

    await drain(client)
    partly = await baton.status(wf.id)
    assert partly.state == "running"
    assert partly.counts == {"completed": 3, "available": 1, "suspended": 1}
    await drain(client, "other")
    await drain(client)

    done = await baton.status(wf.id)
    assert done.state == "completed"
    assert done.counts == {"completed": 5}
    for step in done.steps:
        assert step.attempt == 1 and step.error is None and step.result_stored is True
        assert step.inserted_at is not None and step.attempted_at is not None
        assert step.settled_at is not None
        assert step.inserted_at <= step.attempted_at <= step.settled_at
    assert done.finished_at is not None
    assert done.finished_at >= max(s.settled_at for s in done.steps if s.settled_at)
    assert done.duration_ms == pytest.approx(
        (done.finished_at - done.inserted_at) / timedelta(milliseconds=1)
    )
    again = await baton.status(wf.id)
    assert again.duration_ms == done.duration_ms  # fixed once finished


async def test_status_of_a_failed_workflow_shows_errors(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="failed")
        .add("fail", es.Failing.new({"message": "y" * 100_000}))
        .add("after", es.Reads.new(), deps=["fail"])
    )
    await wf.insert()
    await drain(client)

    status = await baton.status(wf.id)
    assert status.state == "failed"
    assert status.counts == {"discarded": 1, "cancelled": 1}
    fail = status.step("fail")
    assert (fail.state, fail.attempt, fail.max_attempts) == ("discarded", 2, 2)
    assert fail.error == "RuntimeError: " + "y" * 100_000  # whole, the type first
    assert fail.traceback is not None and fail.traceback.startswith("Traceback")
    assert fail.traceback.rstrip().endswith(fail.error)
    after = status.step("after")
    assert after.state == "cancelled"
    assert after.error == "dependencies did not complete (discarded: 'fail')"
    assert after.result_stored is False


async def test_status_survives_pruning(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = Workflow(name="pruned").add("a", es.Quick.new({"value": 1}))
    wf.add("b", es.OtherQueue.new(), deps=["a"])
    await wf.insert()
    await drain(client)
    await conn.execute("DELETE FROM oban_jobs WHERE id = %s", (wf.steps["a"].job.id,))  # pruned
    await conn.execute("DELETE FROM oban_jobs WHERE id = %s", (wf.steps["b"].job.id,))  # unsettled

    status = await baton.status(wf.id)
    assert status.state == "failed"
    assert status.counts == {"completed": 1, "deleted": 1}
    a = status.step("a")
    assert (a.state, a.worker, a.result_stored) == (
        "completed",
        "tests.support.event_steps.Quick",
        True,
    )
    assert a.attempt is None and a.settled_at is not None
    assert status.step("b").state == "deleted"


async def test_unknown_ids_raise_unknown_workflow(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    for call in (baton.status, baton.cancel, baton.retry, baton.usage):
        with pytest.raises(UnknownWorkflow, match="no workflow with id 'missing'"):
            await call("missing")
    assert issubclass(UnknownWorkflow, baton.errors.BatonError)
    assert issubclass(UnknownWorkflow, LookupError)


# --- cancel --------------------------------------------------------------------------------


async def test_cancel_stops_waiting_steps_and_suspended_ones_cancel_themselves(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    es.DEP_CALLBACKS.clear()
    wf = (
        Workflow(name="cancel")
        .add("a", es.OtherQueue.new())
        .add("b", es.Reads.new(), deps=["a"])
        .add("d", es.Reads.new(), deps=["a"], ignore_cancelled=True)
        .add("c", es.Plain.new(), deps=["b"])
    )
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        # "a" is available; "c" is a plain Oban job that cannot cancel itself: both now
        assert await baton.cancel(wf.id) == 2
        assert (await baton.status(wf.id)).state == "cancelled"
        await drain(client)
        seen = await follow(events, conn, wf.id)

    states = steps_of(seen)
    assert sorted(states[:2]) == [("a", "cancelled"), ("c", "cancelled")]
    assert sorted(states[2:]) == [
        ("b", "cancelled"),
        ("b", "executing"),
        ("d", "cancelled"),
        ("d", "executing"),
    ]
    reason = f"workflow {wf.id!r} was cancelled"
    # even a step that ignores cancelled deps does not run in a cancelled workflow
    assert sorted(es.DEP_CALLBACKS) == [
        (wf.id, "b", "cancelled", reason),
        (wf.id, "d", "cancelled", reason),
    ]
    for step in ("b", "d"):
        [event] = [
            e
            for e in seen
            if isinstance(e, StepEvent) and e.step == step and e.state == "cancelled"
        ]
        assert event.error == reason
        assert es.calls(wf.id, step) == 0  # perform_workflow never ran
    [finished] = finished_of(seen, wf.id)
    assert finished.outcome == "failed"
    assert finished.failed_count == 4

    status = await baton.status(wf.id)
    assert status.state == "cancelled"
    assert status.counts == {"cancelled": 4}


async def test_cancel_signals_an_executing_step(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    es.DEP_CALLBACKS.clear()
    wf = (
        Workflow(name="cancel-executing")
        .add("long", es.WaitsForCancel.new())
        .add("next", es.Reads.new(), deps=["long"])
    )
    # Oban starts listening for signals in the background (listen(wait=False)); a signal
    # sent before that LISTEN is lost, so make sure it is in place.
    token = await running._notifier.listen("signal", lambda *_: None, wait=True, timeout=10)
    await running._notifier.unlisten(token)
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        started = await es.read_until(events, lambda e: getattr(e, "state", None) == "executing")
        assert steps_of(started) == [("long", "executing")]
        assert await baton.cancel(wf.id) == 1  # signalled
        seen = started + await follow(events, conn, wf.id)

    assert steps_of(seen) == [
        ("long", "executing"),
        ("long", "cancelled"),
        ("next", "executing"),
        ("next", "cancelled"),
    ]
    [long_cancelled] = [e for e in seen if isinstance(e, StepEvent) and e.step == "long"][1:]
    assert long_cancelled.state == "cancelled"
    assert long_cancelled.error == "stopped on request"
    assert es.DEP_CALLBACKS == [(wf.id, "next", "cancelled", f"workflow {wf.id!r} was cancelled")]
    assert (await baton.status(wf.id)).state == "cancelled"


async def test_cancelling_a_finished_workflow_changes_nothing(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="done").add("a", es.Quick.new({"value": 1}))
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        await drain(client)
        await follow(events, conn, wf.id)
        before = await snapshot(conn, wf.id)
        assert await baton.cancel(wf.id) == 0
        assert await flush(events, conn, wf.id) == []  # no event
    assert await snapshot(conn, wf.id) == before
    assert (await baton.status(wf.id)).state == "completed"


# --- retry ---------------------------------------------------------------------------------


async def test_retry_reruns_failed_steps_and_downstream_but_not_completed_ones(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="retry")
        .add("first", es.Quick.new({"value": "kept"}))
        .add("side", es.Quick.new({"value": "side"}))
        .add("flaky", es.Flaky.new(), deps=["first"])
        .add("after", es.Reads.new(), deps=["first", "flaky"])
        .add("plain", es.Plain.new(), deps=["after"])
    )
    es.FAIL_WHILE.add(wf.id)
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        await drain(client)
        failed_run = await follow(events, conn, wf.id)
        assert finished_of(failed_run, wf.id)[0].failed_steps == ("flaky", "after", "plain")
        assert (await baton.status(wf.id)).state == "failed"

        es.FAIL_WHILE.discard(wf.id)  # the upstream API is back
        assert await baton.retry(wf.id) == ["flaky", "after", "plain"]

        retried = await baton.status(wf.id)
        assert retried.state == "running"
        assert retried.finished_at is None
        assert {s.name: s.state for s in retried.steps} == {
            "first": "completed",
            "side": "completed",
            "flaky": "available",
            "after": "suspended",
            "plain": "suspended",
        }
        flaky = retried.step("flaky")
        assert (flaky.attempt, flaky.max_attempts) == (1, 2)  # one more attempt

        await drain(client)
        second_run = await follow(events, conn, wf.id)

    assert steps_of(second_run) == [
        ("flaky", "executing"),
        ("flaky", "completed"),
        ("after", "executing"),
        ("after", "completed"),
        ("plain", "completed"),
    ]
    [finished] = finished_of(second_run, wf.id)
    assert (finished.outcome, finished.failed_steps) == ("completed", ())

    assert (es.calls(wf.id, "first"), es.calls(wf.id, "side")) == (1, 1)  # not run again
    assert es.calls(wf.id, "flaky") == 2
    results = {
        name: value
        for name, value in await (
            await conn.execute(
                "SELECT name, result FROM baton_steps WHERE workflow_id = %s", (wf.id,)
            )
        ).fetchall()
    }
    assert results["first"] == {"value": "kept"}
    assert results["after"] == {"value": {"first": "kept", "flaky": {"ok": True}}}
    done = await baton.status(wf.id)
    assert done.state == "completed"
    assert done.counts == {"completed": 5}


async def test_retry_after_cancel_runs_the_rest(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="resume")
        .add("a", es.Quick.new({"value": 1}))
        .add("b", es.OtherQueue.new({"value": 2}), deps=["a"])
        .add("c", es.Reads.new(), deps=["b"])
    )
    await wf.insert()
    await drain(client)
    assert await baton.cancel(wf.id) == 1  # "b" waits in queue other
    await drain(client)  # "c" cancels itself
    assert (await baton.status(wf.id)).state == "cancelled"

    assert await baton.retry(wf.id) == ["b", "c"]
    assert (await baton.status(wf.id)).state == "running"  # no longer cancelled
    await drain(client, "other")
    await drain(client)
    status = await baton.status(wf.id)
    assert status.state == "completed"
    assert es.calls(wf.id, "a") == 1
    assert (
        await (
            await conn.execute(
                "SELECT result FROM baton_steps WHERE workflow_id = %s AND name = 'c'", (wf.id,)
            )
        ).fetchone()
    ) == ({"value": {"b": 2}},)


async def test_retry_with_nothing_failed_changes_nothing(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="fine").add("a", es.Quick.new({"value": 1}))
    await wf.insert()
    await drain(client)
    before = await snapshot(conn, wf.id)
    assert await baton.retry(wf.id) == []
    assert await snapshot(conn, wf.id) == before


async def test_retry_refuses_when_a_failed_job_was_pruned(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="pruned-failure")
        .add("ok", es.Quick.new({"value": 1}))
        .add("flaky", es.Flaky.new())
        .add("after", es.Reads.new(), deps=["flaky", "ok"])
    )
    es.FAIL_WHILE.add(wf.id)
    await wf.insert()
    await drain(client)
    await conn.execute("DELETE FROM oban_jobs WHERE id = %s", (wf.steps["flaky"].job.id,))
    before = await snapshot(conn, wf.id)

    with pytest.raises(WorkflowError, match=r"'flaky'.*pruned"):
        await baton.retry(wf.id)
    assert await snapshot(conn, wf.id) == before
    assert (await baton.status(wf.id)).state == "failed"


async def test_retry_completes_a_discarded_step_from_its_stored_result(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """A one-attempt step stored its result, lost its ack, and the lifeline discarded it:
    retry completes it from the stored result without running it again."""
    wf = Workflow(name="rescued").add("once", es.Flaky.new({"value": "v"}))
    wf.add("next", es.Reads.new(), deps=["once"])
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        [job] = await client._query.fetch_jobs(demand=1, queue="default", node="n", uuid="u")
        await Executor(job=job, safe=True).execute()  # result stored, never acked
        await client._query.rescue_jobs(0.000001)  # no attempts left: discarded
        await drain(client)
        first = await follow(events, conn, wf.id)
        assert steps_of(first)[-3:] == [
            ("once", "discarded"),
            ("next", "executing"),
            ("next", "cancelled"),
        ]

        assert await baton.retry(wf.id) == ["once", "next"]
        await drain(client)
        second = await follow(events, conn, wf.id)

    assert steps_of(second) == [
        ("once", "executing"),
        ("once", "completed"),
        ("next", "executing"),
        ("next", "completed"),
    ]
    [executing, completed] = [e for e in second if isinstance(e, StepEvent) and e.step == "once"]
    assert (executing.attempt, executing.result_stored) == (2, True)
    assert (completed.state, completed.attempt, completed.cached) == ("completed", 2, True)
    assert es.calls(wf.id, "once") == 1
    assert isinstance(second[-1], WorkflowFinished) and second[-1].outcome == "completed"


async def test_retry_while_other_steps_still_run(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="partial")
        .add("flaky", es.Flaky.new())
        .add("slow", es.OtherQueue.new({"value": 1}))
    )
    es.FAIL_WHILE.add(wf.id)
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        await drain(client)  # flaky discarded; slow (queue other) not run yet
        assert (await baton.status(wf.id)).state == "running"
        es.FAIL_WHILE.discard(wf.id)
        assert await baton.retry(wf.id) == ["flaky"]
        await drain(client)
        await drain(client, "other")
        seen = await follow(events, conn, wf.id)
    assert len(finished_of(seen, wf.id)) == 1
    assert finished_of(seen, wf.id)[0].outcome == "completed"
    assert (await baton.status(wf.id)).counts == {"completed": 2}
