"""Steps added at run time: ``baton.Complete(add=...)``."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from oban import Job, Oban
from oban.testing import drain_queue
from oban.worker import resolve_worker

import baton
from baton import Workflow, _expansion
from baton.errors import InvalidExpansion
from tests.support.db import wait_settled
from tests.support.dynamic_steps import Graft, Item, Plan, Read
from tests.support.steps import Echo


async def drain(oban: Oban) -> None:
    await drain_queue(queue="default", oban=oban, with_safety=True)


async def steps_of(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> dict[str, Any]:
    """name -> (outcome, pending, result, job state, completed_at, attempted_at)."""
    cursor = await conn.execute(
        "SELECT s.name, s.outcome, s.pending, s.result, j.state::text, j.completed_at, "
        "j.attempted_at FROM baton_steps s LEFT JOIN oban_jobs j ON j.id = s.job_id "
        "WHERE s.workflow_id = %s ORDER BY s.job_id",
        (workflow_id,),
    )
    return {row[0]: row[1:] for row in await cursor.fetchall()}


async def counts(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> tuple[int, int]:
    cursor = await conn.execute(
        "SELECT step_count, unsettled FROM baton_workflows WHERE id = %s", (workflow_id,)
    )
    row = await cursor.fetchone()
    assert row is not None
    return row


async def perform_unacked(
    conn: psycopg.AsyncConnection[Any], client: Oban, wf: Workflow, name: str
) -> Job:
    """Run a step's worker as Oban's executor would, without the ack that follows."""
    await conn.execute(
        "UPDATE oban_jobs SET state = 'executing', attempt = 1 WHERE id = %s",
        (wf.steps[name].job.id,),
    )
    job = await client.get_job(wf.steps[name].job.id)
    assert job is not None
    assert await resolve_worker(job.worker)().process(job) is None  # stored; not acked
    return job


def planned(items: list[Any], **args: Any) -> Workflow:
    return (
        Workflow(name="fan-out")
        .add("plan", Plan.new({"items": items, **args}))
        .add("join", Read.new({"names": ["plan", "plan/item"]}), deps=["plan"])
        .add("last", Echo.new({}), deps=["join"])
    )


async def test_added_steps_run_and_their_dependents_wait_for_them(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = planned([1, 2, 3, 4, 5])
    seen: list[Any] = []
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        async for event in events:
            seen.append(event)
            if isinstance(event, baton.WorkflowFinished):
                break
    steps = await steps_of(conn, wf.id)
    added = [f"plan/item[{index}]" for index in range(5)]
    assert list(steps) == ["plan", "join", "last", *added]
    assert {name: row[0] for name, row in steps.items()} == dict.fromkeys(steps, "completed")
    assert all(steps["join"][5] > steps[name][4] for name in added), "join started early"
    plan_value = {"planned": 5}
    assert steps["join"][2]["value"] == {
        "plan": plan_value,
        "plan/item": [{"doubled": 2 * n, "plan": plan_value} for n in range(1, 6)],
    }
    assert await counts(conn, wf.id) == (8, 0)

    [notice] = [event for event in seen if isinstance(event, baton.StepsAdded)]
    assert (notice.step, notice.count, notice.steps) == ("plan", 5, tuple(added))
    plan_completed = next(
        i
        for i, event in enumerate(seen)
        if isinstance(event, baton.StepEvent) and (event.step, event.state) == ("plan", "completed")
    )
    assert seen.index(notice) < plan_completed  # added with the result, before completing
    finished = seen[-1]
    assert isinstance(finished, baton.WorkflowFinished)
    assert finished.outcome == "completed"
    report = await baton.status(wf.id)
    assert len(report.steps) == 8
    assert report.step("plan/item[2]").parent == "plan"


async def test_the_steps_are_added_with_the_result_before_the_step_completes(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = planned([7, 8])
    await wf.insert()
    job = await perform_unacked(conn, client, wf, "plan")

    steps = await steps_of(conn, wf.id)
    assert {name: (row[0], row[1], row[3]) for name, row in steps.items()} == {
        "plan": (None, 0, "executing"),
        "join": (None, 3, "suspended"),  # plan and both items
        "last": (None, 1, "suspended"),
        "plan/item[0]": (None, 1, "suspended"),  # waits for plan itself
        "plan/item[1]": (None, 1, "suspended"),
    }
    assert steps["plan"][2] == {"value": {"planned": 2}}
    assert await counts(conn, wf.id) == (5, 5)

    # The ack settles plan: the items become available, join still waits for them.
    await conn.execute("UPDATE oban_jobs SET state = 'completed' WHERE id = %s", (job.id,))
    steps = await steps_of(conn, wf.id)
    assert steps["join"][1] == 2
    assert steps["plan/item[0]"][3] == "available"
    await drain(client)
    await wait_settled(conn, wf.id)
    assert (await baton.status(wf.id)).state == "completed"


async def test_a_retried_adding_step_adds_nothing_more(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = planned([1, 2, 3])
    await wf.insert()
    plan = wf.steps["plan"].job
    await drain(client)
    # As after a lost ack and a rescue: the job runs again with its result stored.
    await conn.execute(
        "UPDATE oban_jobs SET state = 'available', completed_at = NULL WHERE id = %s", (plan.id,)
    )
    await drain(client)
    await wait_settled(conn, wf.id)
    steps = await steps_of(conn, wf.id)
    assert len(steps) == 6
    attempt = await (
        await conn.execute("SELECT attempt FROM oban_jobs WHERE id = %s", (plan.id,))
    ).fetchone()
    assert attempt == (2,)
    assert steps["join"][2]["value"]["plan/item"] == [
        {"doubled": 2 * n, "plan": {"planned": 3}} for n in (1, 2, 3)
    ]
    assert await counts(conn, wf.id) == (6, 0)


async def test_steps_added_by_added_steps_hold_back_the_first_dependents(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = planned([1, [2, [3, 4]], 5])
    await wf.insert()
    await wait_settled(conn, wf.id)
    steps = await steps_of(conn, wf.id)
    deepest = "plan/item[1]/item[1]/item[0]"
    assert {name for name in steps if name.startswith("plan/")} == {
        "plan/item[0]",
        "plan/item[1]",
        "plan/item[1]/item[0]",
        "plan/item[1]/item[1]",
        deepest,
        "plan/item[1]/item[1]/item[1]",
        "plan/item[2]",
    }
    assert {row[0] for row in steps.values()} == {"completed"}
    assert steps["join"][5] > max(row[4] for name, row in steps.items() if name.startswith("plan/"))
    assert steps[deepest][2]["value"] == {"doubled": 6, "plan": {"planned": 2}}
    assert steps["join"][2]["value"]["plan/item"][1] == {"planned": 2}


async def test_a_whole_workflow_can_be_added(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = (
        Workflow(name="graft")
        .add("graft", Graft.new({}))
        .add(
            "read", Read.new({"names": ["graft", "graft/b", "graft/ask", "graft"]}), deps=["graft"]
        )
    )
    await wf.insert()
    await wait_settled(conn, wf.id)
    steps = await steps_of(conn, wf.id)
    assert set(steps) == {"graft", "read", "graft/a", "graft/b", "graft/ask[0]", "graft/ask[1]"}
    assert steps["read"][2]["value"] == {
        "graft": "grafted",
        "graft/b": {"a": {"doubled": 2, "plan": "grafted"}},
        "graft/ask": {
            "m1": {"model": "m1", "text": "q by m1"},
            "m2": {"model": "m2", "text": "q by m2"},
        },
    }
    context = await (
        await conn.execute("SELECT context FROM baton_workflows WHERE id = %s", (wf.id,))
    ).fetchone()
    assert context == ({"grafted": True},)


async def test_an_invalid_addition_discards_the_step_and_adds_nothing(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = planned([1], group="bad name!")
    await wf.insert()
    await drain(client)
    await wait_settled(conn, wf.id)
    steps = await steps_of(conn, wf.id)
    assert list(steps) == ["plan", "join", "last"]
    assert steps["plan"][0] == "discarded"
    assert steps["plan"][2] is None  # the result was not stored either
    errors = await (
        await conn.execute(
            "SELECT attempt, errors FROM oban_jobs WHERE id = %s", (wf.steps["plan"].job.id,)
        )
    ).fetchone()
    assert errors is not None
    attempt, [error] = errors  # one attempt: discarded, not retried
    assert attempt == 1
    assert (
        "baton.errors.InvalidExpansion: step 'plan' returned steps to add that are invalid: "
        "step name 'bad name!'"
    ) in error["error"]
    assert (await baton.status(wf.id)).step("join").state == "cancelled"
    assert await counts(conn, wf.id) == (3, 0)


async def test_nothing_is_added_to_a_workflow_cancelled_while_the_step_ran(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """An interruptible step's completion is refused whole; one that opted out of
    interruption (``unless_cancelled=False``) keeps its result, and adds nothing."""
    wf = planned([1, 2])
    await wf.insert()
    job = await client.get_job(wf.steps["plan"].job.id)
    assert job is not None
    job.attempt = 1
    await baton.cancel(wf.id)  # plan's job is cancelled; it finishes its work all the same
    expansion, _context = _expansion.plan({"item": [Item.new({})]}, "plan", wf.id)
    result = '{"value": 1}'
    refused = await _expansion.complete(
        client, job, result, None, expansion, {"k": 1}, unless_cancelled=True
    )
    assert refused.stored == "refused"
    assert (await steps_of(conn, wf.id))["plan"][2] is None
    context = await conn.execute("SELECT context FROM baton_workflows WHERE id = %s", (wf.id,))
    assert await context.fetchone() == ({},)  # the context it returned was not merged
    done = await _expansion.complete(client, job, result, None, expansion, {})
    assert done.stored == "stored"
    steps = await steps_of(conn, wf.id)
    assert list(steps) == ["plan", "join", "last"]
    assert steps["plan"][2] == {"value": 1}  # the result is kept all the same
    assert await counts(conn, wf.id) == (3, 0)  # join and last (no callbacks) cancelled at once


def test_plan_names_the_step_and_the_problem() -> None:
    with pytest.raises(InvalidExpansion, match=r"step 'plan'.*takes a Workflow"):
        _expansion.plan(["not", "a", "dict"], "plan", "wf")
    with pytest.raises(InvalidExpansion, match=r"entry 'x' must be a job or a list of jobs"):
        _expansion.plan({"x": 3}, "plan", "wf")
    bad = Workflow().add("a", Item.new({}), deps=["missing"])
    with pytest.raises(InvalidExpansion, match=r"step 'plan'.*'missing'"):
        _expansion.plan(bad, "plan", "wf")
    expansion, context = _expansion.plan(
        Workflow(context={"k": 1}).add("a", Item.new({})).add("b", Item.new({}), deps=["a"]),
        "research/plan",
        "wf",
    )
    assert (expansion.adder, expansion.count, context) == ("research/plan", 2, {"k": 1})
    assert '"upstream": "research/plan", "downstream": "research/plan/a"' in expansion.edges
    assert '"upstream": "research/plan/a", "downstream": "research/plan/b"' in expansion.edges


async def test_retry_reruns_failed_added_steps_and_what_waits_for_them(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = planned([1, 2])
    await wf.insert()
    job = await perform_unacked(conn, client, wf, "plan")  # adds plan/item[0] and [1]
    await conn.execute("UPDATE oban_jobs SET state = 'completed' WHERE id = %s", (job.id,))
    # One added step is discarded before it runs (as if its attempts ran out).
    await conn.execute(
        "UPDATE oban_jobs SET state = 'discarded' "
        "WHERE meta->>'workflow_step' = 'plan/item[1]' AND meta->>'workflow_id' = %s",
        (wf.id,),
    )
    await drain(client)
    await wait_settled(conn, wf.id)
    failed = await baton.status(wf.id)
    assert (failed.state, failed.step("join").state) == ("failed", "cancelled")

    assert await baton.retry(wf.id) == ["join", "last", "plan/item[1]"]
    await drain(client)
    await wait_settled(conn, wf.id)
    assert (await baton.status(wf.id)).state == "completed"
    steps = await steps_of(conn, wf.id)
    assert steps["join"][2]["value"]["plan/item"] == [
        {"doubled": 2 * n, "plan": {"planned": 2}} for n in (1, 2)
    ]
