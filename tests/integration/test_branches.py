"""Branches: ``Complete(value, skip=[...])`` skips some of a step's direct dependents."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from oban import Oban
from oban.testing import drain_queue

import baton
from baton import Workflow
from baton.testing import run_workflow
from tests.support.branch_steps import PLAIN_RUNS, Join, Leaf, PlainAfter, Route
from tests.support.db import step_results, wait_settled, wait_until


async def jobs_of(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> dict[str, Any]:
    """Each step's job: (state, attempt, attempted_at is set)."""
    cursor = await conn.execute(
        "SELECT s.name, j.state::text, j.attempt, j.attempted_at IS NOT NULL "
        "FROM baton_steps s JOIN oban_jobs j ON j.id = s.job_id "
        "WHERE s.workflow_id = %s ORDER BY s.job_id",
        (workflow_id,),
    )
    return {name: (state, attempt, ran) for name, state, attempt, ran in await cursor.fetchall()}


def if_else(skip: list[str]) -> Workflow:
    """route → (then | otherwise) → join: route skips one branch, the join runs."""
    return (
        Workflow(name="if-else")
        .add("route", Route.new({"value": {"kind": "refund"}, "skip": skip}))
        .add("then", Leaf.new({}), deps=["route"])
        .add("otherwise", Leaf.new({}), deps=["route"])
        .add("join", Join.new({"names": ["then", "otherwise"]}), deps=["then", "otherwise"])
    )


async def test_if_else_then_join_runs_the_taken_branch_and_the_join(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = if_else(["otherwise"])
    await wf.insert()
    await wait_settled(conn, wf.id)
    found = await step_results(conn, wf.id)
    assert found == {
        "route": ("completed", {"kind": "refund"}),
        "then": ("completed", {"step": "then"}),
        "otherwise": ("skipped", None),
        "join": (
            "completed",
            {
                "all": {"then": {"step": "then"}},
                "read": {"then": {"step": "then"}, "otherwise": "StepSkipped: otherwise"},
            },
        ),
    }
    jobs = await jobs_of(conn, wf.id)
    assert jobs["otherwise"] == ("cancelled", 0, False)  # terminal, never run
    status = await baton.status(wf.id)
    assert status.state == "completed"
    assert status.step("otherwise").state == "skipped"
    assert status.counts == {"completed": 3, "skipped": 1}
    assert await baton.results(wf.id) == {
        "route": {"kind": "refund"},
        "then": {"step": "then"},
        "join": found["join"][1],
    }


async def test_skipping_propagates_down_a_chain_and_stops_at_a_step_with_a_live_dep(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = (
        Workflow(name="chain")
        .add("route", Route.new({"skip": ["a"]}))
        .add("a", Leaf.new({}), deps=["route"])
        .add("b", Leaf.new({}), deps=["a"])
        .add("c", Leaf.new({}), deps=["b"])
        .add("other", Leaf.new({}), deps=["route"])
        .add("d", Join.new({"names": ["c", "other"]}), deps=["c", "other"])
        .add("e", Leaf.new({}), deps=["c"])
    )
    await wf.insert()
    await wait_settled(conn, wf.id)
    outcomes = {name: outcome for name, (outcome, _v) in (await step_results(conn, wf.id)).items()}
    assert outcomes == {
        "route": "completed",
        "a": "skipped",
        "b": "skipped",  # its only dep was skipped
        "c": "skipped",
        "other": "completed",
        "d": "completed",  # one dep skipped, the other completed: it runs
        "e": "skipped",
    }
    jobs = await jobs_of(conn, wf.id)
    assert all(jobs[name] == ("cancelled", 0, False) for name in ("a", "b", "c", "e"))
    final = await baton.status(wf.id)
    assert (final.state, final.counts) == ("completed", {"completed": 3, "skipped": 4})
    [(result,)] = await (
        await conn.execute(
            "SELECT result FROM baton_steps WHERE workflow_id = %s AND name = 'd'", (wf.id,)
        )
    ).fetchall()
    assert result["value"]["read"] == {"c": "StepSkipped: c", "other": {"step": "other"}}


async def test_a_fan_in_of_many_runs_when_some_are_skipped_and_is_skipped_when_all_are(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    width = 60
    names = [f"leaf{i}" for i in range(width)]
    some = Workflow(name="fan-in-some").add("route", Route.new({"skip": names[: width - 1]}))
    every = Workflow(name="fan-in-all").add("route", Route.new({"skip": names}))
    for wf in (some, every):
        for name in names:
            wf.add(name, Leaf.new({}), deps=["route"])
        wf.add("join", Join.new({}), deps=names)
        wf.add("after", Leaf.new({}), deps=["join"])
        await wf.insert()
    for wf in (some, every):
        await wait_settled(conn, wf.id)
    kept = await step_results(conn, some.id)
    assert kept["join"] == ("completed", {"all": {names[-1]: {"step": names[-1]}}, "read": {}})
    assert kept["after"][0] == "completed"
    assert [name for name, (o, _v) in kept.items() if o == "skipped"] == names[: width - 1]
    gone = await step_results(conn, every.id)
    assert {name: o for name, (o, _v) in gone.items()} == {
        "route": "completed",
        **dict.fromkeys(names, "skipped"),
        "join": "skipped",
        "after": "skipped",
    }
    assert (await baton.status(every.id)).state == "completed"


async def test_a_plain_oban_worker_downstream_of_a_skipped_step_is_skipped_without_running(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    PLAIN_RUNS.clear()
    wf = (
        Workflow(name="plain")
        .add("route", Route.new({"skip": ["plain"]}))
        .add("plain", PlainAfter.new({}), deps=["route"])
        .add("after", PlainAfter.new({}), deps=["plain"])
    )
    await wf.insert()
    await wait_settled(conn, wf.id)
    outcomes = {name: o for name, (o, _v) in (await step_results(conn, wf.id)).items()}
    assert outcomes == {"route": "completed", "plain": "skipped", "after": "skipped"}
    assert PLAIN_RUNS == []
    assert (await baton.status(wf.id)).state == "completed"


async def test_skip_with_add_and_context_skips_at_once_and_runs_what_was_added(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = (
        Workflow(name="with-add")
        .add("route", Route.new({"skip": ["no"], "add": 2, "context": {"lang": "fr"}}))
        .add("no", Leaf.new({}), deps=["route"])
        .add("yes", Join.new({"names": ["route/extra"]}), deps=["route"])
    )
    await wf.insert()
    await wait_settled(conn, wf.id)
    found = await step_results(conn, wf.id)
    assert {name: o for name, (o, _v) in found.items()} == {
        "route": "completed",
        "no": "skipped",
        "yes": "completed",
        "route/extra[0]": "completed",
        "route/extra[1]": "completed",
    }
    assert found["yes"][1]["read"] == {
        "route/extra": [{"step": "route/extra[0]"}, {"step": "route/extra[1]"}]
    }
    assert (await baton.status(wf.id)).state == "completed"
    [(context,)] = await (
        await conn.execute("SELECT context FROM baton_workflows WHERE id = %s", (wf.id,))
    ).fetchall()
    assert context == {"lang": "fr"}


async def test_a_step_failing_with_skips_stored_does_not_skip(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    # Skipped dependents and a failure: a discarded dep cancels the join as before.
    wf = (
        Workflow(name="mixed")
        .add("route", Route.new({"skip": ["b"]}))
        .add("a", Route.new({"skip": "not-a-list"}))
        .add("b", Leaf.new({}), deps=["route"])
        .add("join", Join.new({}), deps=["a", "b"])
    )
    await wf.insert()
    await wait_settled(conn, wf.id)
    outcomes = {name: o for name, (o, _v) in (await step_results(conn, wf.id)).items()}
    assert outcomes == {"route": "completed", "a": "discarded", "b": "skipped", "join": "cancelled"}
    final = await baton.status(wf.id)
    assert final.state == "failed"
    assert "a (discarded)" in (final.step("join").error or "")
    assert "b (" not in (final.step("join").error or "")


async def what_was_written(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> Any:
    """Results, skips, the step count and the context: what a bad skip must leave
    untouched."""
    steps = await (
        await conn.execute(
            "SELECT name, performed_at IS NOT NULL, result, skips FROM baton_steps "
            "WHERE workflow_id = %s ORDER BY job_id",
            (workflow_id,),
        )
    ).fetchall()
    [workflow] = await (
        await conn.execute(
            "SELECT step_count, context FROM baton_workflows WHERE id = %s", (workflow_id,)
        )
    ).fetchall()
    return steps, workflow


@pytest.mark.parametrize(
    ("skip", "message"),
    [
        (
            ["grandchild"],
            "step 'route' returned Complete(skip=...) naming 'grandchild', which is not a direct "
            "dependent of 'route' (its direct dependents: 'child'); the step is discarded and "
            "nothing it returned was stored",
        ),
        (["nope"], "naming 'nope', which is not a direct dependent of 'route'"),
        (["child", "route"], "naming 'route', which is not a direct dependent"),
        (["childe"], "did you mean 'child'?"),
        ([7], "naming 7 (int); skip takes step names (strings)"),
        ("child", "with 'child'; skip takes a list of step names, such as skip=['child']"),
        ({"child": True}, "with a dict; skip takes a list of step names"),
        (3, "with int 3; skip takes a list of step names"),
        (["bad name!"], "naming 'bad name!', which is not a step name"),
        (["route/extra[0]"], "naming 'route/extra[0]', which is not a direct dependent"),
    ],
)
async def test_a_bad_skip_discards_the_step_and_writes_nothing(
    conn: psycopg.AsyncConnection[Any], running: Oban, skip: Any, message: str
) -> None:
    wf = (
        Workflow(name="bad-skip", context={"keep": 1})
        .add("route", Route.new({"value": 1, "skip": skip, "add": 1, "context": {"new": 2}}))
        .add("child", Leaf.new({}), deps=["route"])
        .add("grandchild", Leaf.new({}), deps=["child"])
    )
    await wf.insert()
    before = await what_was_written(conn, wf.id)
    await wait_settled(conn, wf.id)
    outcomes = {name: o for name, (o, _v) in (await step_results(conn, wf.id)).items()}
    assert outcomes == {"route": "discarded", "child": "cancelled", "grandchild": "cancelled"}
    steps, workflow = await what_was_written(conn, wf.id)
    assert [row[1:] for row in steps] == [(False, None, None)] * 3  # nothing stored
    assert workflow == before[1] == (3, {"keep": 1})  # no added steps, no context
    [(attempt, errors)] = await (
        await conn.execute(
            "SELECT attempt, errors FROM oban_jobs WHERE id = %s", (wf.steps["route"].job.id,)
        )
    ).fetchall()
    assert attempt == 1  # discarded at once, not retried
    assert "InvalidSkip: " in errors[-1]["error"]
    assert message in errors[-1]["error"]


async def test_a_job_that_is_not_a_workflow_step_cannot_skip(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    job = await running.enqueue(Route.new({"skip": ["x"]}))
    await wait_until_state(conn, job.id, "discarded")
    [(errors,)] = await (
        await conn.execute("SELECT errors FROM oban_jobs WHERE id = %s", (job.id,))
    ).fetchall()
    assert "InvalidSkip: " in errors[-1]["error"]
    assert "returned Complete(skip=...), but it is not a workflow step" in errors[-1]["error"]


async def wait_until_state(conn: psycopg.AsyncConnection[Any], job_id: int, state: str) -> None:
    await wait_until(conn, "SELECT state::text = %s FROM oban_jobs WHERE id = %s", (state, job_id))


async def test_obans_retry_of_a_skipped_steps_job_is_refused_and_baton_retry_keeps_it_skipped(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    PLAIN_RUNS.clear()
    wf = (
        Workflow(name="retry-skipped")
        .add("route", Route.new({"skip": ["leaf", "plain"]}))
        .add("leaf", Leaf.new({}), deps=["route"])
        .add("plain", PlainAfter.new({}), deps=["route"])
        .add("after", Leaf.new({}), deps=["leaf"])
    )
    await wf.insert(oban=client)
    await drain_queue(queue="default", oban=client, with_safety=True)
    assert (await baton.status(wf.id, oban=client)).counts == {"completed": 1, "skipped": 3}
    ids = [wf.steps[name].job.id for name in ("leaf", "plain", "after")]
    assert await client.retry_many_jobs(ids) == 0  # refused: the rows stay cancelled
    await client.retry_job(wf.steps["plain"].job.id)
    await conn.execute("UPDATE oban_jobs SET state = 'available' WHERE id = ANY(%s)", (ids,))
    await drain_queue(queue="default", oban=client, with_safety=True)
    assert PLAIN_RUNS == []
    assert await jobs_of(conn, wf.id) == {
        "route": ("completed", 1, True),
        "leaf": ("cancelled", 0, False),
        "plain": ("cancelled", 0, False),
        "after": ("cancelled", 0, False),
    }
    assert await baton.retry(wf.id, oban=client) == []  # nothing failed: nothing to re-run
    final = await baton.status(wf.id, oban=client)
    assert (final.state, final.counts) == ("completed", {"completed": 1, "skipped": 3})
    # Oban's pruning (here delete_job) of a skipped step's job leaves the step skipped
    await client.delete_job(wf.steps["leaf"].job.id)
    pruned = await baton.status(wf.id, oban=client)
    assert (pruned.state, pruned.step("leaf").state) == ("completed", "skipped")


async def test_a_skipped_steps_job_made_available_without_triggers_is_acked_without_running(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="replica")
        .add("route", Route.new({"skip": ["leaf"]}))
        .add("leaf", Leaf.new({}), deps=["route"])
    )
    await wf.insert(oban=client)
    await drain_queue(queue="default", oban=client, with_safety=True)
    async with conn.transaction():  # no trigger fires: the job is made available anyway
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(
            "UPDATE oban_jobs SET state = 'available' WHERE id = %s", (wf.steps["leaf"].job.id,)
        )
    async with baton.subscribe(oban=client) as events:
        await drain_queue(queue="default", oban=client, with_safety=True)
        marker = Workflow(name="marker").add("m", Leaf.new({}))  # its events come after wf's
        await marker.insert(oban=client)
        await drain_queue(queue="default", oban=client, with_safety=True)
        seen = []
        async with asyncio.timeout(10):
            async for event in events:
                seen.append(event)
                if isinstance(event, baton.WorkflowFinished) and event.workflow_id == marker.id:
                    break
    assert [e for e in seen if e.workflow_id == wf.id] == []  # it stays skipped, silently
    assert (await baton.status(wf.id, oban=client)).step("leaf").state == "skipped"
    [(state, result, errors)] = await (
        await conn.execute(
            "SELECT j.state::text, s.result, j.errors FROM baton_steps s "
            "JOIN oban_jobs j ON j.id = s.job_id WHERE s.workflow_id = %s AND s.name = 'leaf'",
            (wf.id,),
        )
    ).fetchall()
    assert (state, result) == ("cancelled", None)  # perform_workflow never ran
    assert "step 'leaf' was skipped (a branch not taken); a skipped step never runs" in str(errors)


async def test_baton_retry_of_a_failed_router_skips_on_the_rerun_and_recounts_the_join(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    # p fails first, so a is cancelled and join (a, b) too; b was skipped by q. On retry, p
    # skips a: join then has every dep skipped, so it is skipped, not run.
    wf = (
        Workflow(name="retry-router")
        .add("p", Route.new({"skip": ["a"], "discard_first": True}))
        .add("q", Route.new({"skip": ["b"]}))
        .add("a", Leaf.new({}), deps=["p"])
        .add("b", Leaf.new({}), deps=["q"])
        .add("join", Join.new({}), deps=["a", "b"])
    )
    await wf.insert(oban=client)
    await drain_queue(queue="default", oban=client, with_safety=True)
    first = await baton.status(wf.id, oban=client)
    assert {s.name: s.state for s in first.steps} == {
        "p": "discarded",
        "q": "completed",
        "a": "cancelled",
        "b": "skipped",
        "join": "cancelled",
    }
    assert await baton.retry(wf.id, oban=client) == ["p", "a", "join"]
    await drain_queue(queue="default", oban=client, with_safety=True)
    final = await baton.status(wf.id, oban=client)
    assert {s.name: s.state for s in final.steps} == {
        "p": "completed",
        "q": "completed",
        "a": "skipped",
        "b": "skipped",
        "join": "skipped",
    }
    assert final.state == "completed"


async def test_the_sweep_applies_the_stored_skips_of_a_completion_no_trigger_saw(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="swept")
        .add("route", Route.new({"skip": ["no"]}))
        .add("no", Leaf.new({}), deps=["route"])
        .add("then", Leaf.new({}), deps=["no"])
        .add("yes", Leaf.new({}), deps=["route"])
    )
    await wf.insert(oban=client)
    # route's worker stored its result and skips, and its ack ran where no trigger fires
    await conn.execute(
        "UPDATE baton_steps SET performed_at = now(), performed_attempt = 1, "
        "result = '{\"value\": 1}', skips = '{no}' WHERE workflow_id = %s AND name = 'route'",
        (wf.id,),
    )
    async with conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(
            "UPDATE oban_jobs SET state = 'completed', completed_at = now() WHERE id = %s",
            (wf.steps["route"].job.id,),
        )
    report = await baton.sweep(oban=client)
    assert report.settled == ((wf.id, "route", "completed"),)
    await drain_queue(queue="default", oban=client, with_safety=True)
    outcomes = {name: o for name, (o, _v) in (await step_results(conn, wf.id)).items()}
    assert outcomes == {
        "route": "completed",
        "no": "skipped",
        "then": "skipped",
        "yes": "completed",
    }
    assert (await baton.status(wf.id, oban=client)).state == "completed"


async def test_a_router_inside_a_sub_workflow_skips_by_relative_name_and_by_group(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    triage = (
        Workflow()
        .add("route", Route.new({"skip": ["escalate", "notify"]}))
        .add("escalate", Leaf.new({}), deps=["route"])
        .add_many("notify", [Leaf.new({}) for _ in range(3)], deps="route")
        .add("reply", Leaf.new({}), deps=["route"])
    )
    wf = (
        Workflow(name="nested-skip")
        .add_workflow("triage", triage)
        .add("done", Join.new({}), deps=["triage"])
    )
    await wf.insert()
    await wait_settled(conn, wf.id)
    outcomes = {name: o for name, (o, _v) in (await step_results(conn, wf.id)).items()}
    assert outcomes == {
        "triage/route": "completed",
        "triage/escalate": "skipped",
        "triage/notify[0]": "skipped",
        "triage/notify[1]": "skipped",
        "triage/notify[2]": "skipped",
        "triage/reply": "completed",
        "done": "completed",
    }
    [(skips,)] = await (
        await conn.execute(
            "SELECT skips FROM baton_steps WHERE workflow_id = %s AND name = 'triage/route'",
            (wf.id,),
        )
    ).fetchall()
    assert skips == [
        "triage/escalate",
        "triage/notify[0]",
        "triage/notify[1]",
        "triage/notify[2]",
    ]


async def test_run_workflow_returns_what_ran_and_counts_skipped_steps_as_no_failure(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    results = await run_workflow(if_else(["then"]), oban=client)
    assert results == {
        "route": {"kind": "refund"},
        "otherwise": {"step": "otherwise"},
        "join": {
            "all": {"otherwise": {"step": "otherwise"}},
            "read": {"then": "StepSkipped: then", "otherwise": {"step": "otherwise"}},
        },
    }
