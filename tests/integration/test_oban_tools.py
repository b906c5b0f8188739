"""Oban 0.7's own tools beside Baton: each public operation that touches jobs, on a workflow.

Every test runs the operation the way an Oban user would (with Baton installed and imported)
and asserts the workflow's outcome and Baton's rows. Job ids restart in these tests (the
session's reset truncates with RESTART IDENTITY), so a step whose job is gone shares its
recorded id with a new, unrelated job: Baton must never match the two.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import oban
import psycopg
import pytest
from oban import Oban
from oban.testing import (
    all_enqueued,
    assert_enqueued,
    drain_queue,
    process_job,
    refute_enqueued,
    reset_oban,
)

import baton
from baton import Workflow
from tests.support.db import step_values, wait_settled, wait_until
from tests.support.steps import Echo, Outcome

REPO = Path(__file__).parents[2]
OBAN_CLI = [sys.executable, "-m", "oban"]


async def drain(oban: Oban) -> None:
    await drain_queue(queue="default", oban=oban, with_scheduled=True, with_safety=True)


def chain(name: str, value: Any = 1) -> Workflow:
    return (
        Workflow(name=name)
        .add("a", Echo.new({"value": value}))
        .add("b", Echo.new(), deps=["a"])
        .add("c", Echo.new(), deps=["b"])
    )


async def outcomes(conn: psycopg.AsyncConnection[Any], wf: Workflow) -> dict[str, str | None]:
    rows = await (
        await conn.execute(
            "SELECT name, outcome FROM baton_steps WHERE workflow_id = %s ORDER BY name", (wf.id,)
        )
    ).fetchall()
    return dict(rows)


async def finished_until(events: baton.Subscription, marker: str) -> list[baton.WorkflowFinished]:
    """Every finished event up to and including ``marker``'s. Events come in commit order,
    so a workflow finished a second time before the marker's would show here twice."""
    got: list[baton.WorkflowFinished] = []
    async with asyncio.timeout(10):
        async for event in events:
            if isinstance(event, baton.WorkflowFinished):
                got.append(event)
                if event.workflow_id == marker:
                    return got
    raise AssertionError("the subscription ended")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


async def baton_triggers(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    rows = await (
        await conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass('public.oban_jobs') "
            "AND tgname LIKE 'baton%' ORDER BY tgname"
        )
    ).fetchall()
    return [name for (name,) in rows]


# --- oban.testing ---------------------------------------------------------------------------


async def test_reset_oban_settles_what_it_truncated_and_the_next_insert_works(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    old = chain("before-reset")
    await old.insert(oban=client)
    new = chain("after-reset", value=2)
    async with baton.subscribe(oban=client) as events:
        await reset_oban(client)  # TRUNCATE ... RESTART IDENTITY
        assert await outcomes(conn, old) == {"a": "deleted", "b": "deleted", "c": "deleted"}
        await new.insert(oban=client)  # its job ids are old's again
        assert [new.steps[n].job.id for n in "abc"] == [old.steps[n].job.id for n in "abc"]
        await drain(client)
        got = await finished_until(events, new.id)
    assert [(e.workflow_id, e.outcome) for e in got] == [
        (old.id, "failed"),  # once, at the reset
        (new.id, "completed"),
    ]
    assert await outcomes(conn, new) == {"a": "completed", "b": "completed", "c": "completed"}
    assert (await baton.status(new.id, oban=client)).state == "completed"
    assert (await baton.status(old.id, oban=client)).state == "failed"  # untouched by new
    assert await outcomes(conn, old) == {"a": "deleted", "b": "deleted", "c": "deleted"}


async def test_a_truncation_no_trigger_saw_never_lends_old_steps_the_new_jobs(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """As on a replica (no trigger fires): the old steps' ids go to a new workflow's jobs."""
    old = chain("truncated-unseen")
    await old.insert(oban=client)
    async with conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute("TRUNCATE oban_jobs RESTART IDENTITY")
    new = chain("reuses-the-ids")
    await new.insert(oban=client)
    assert new.steps["a"].job.id == old.steps["a"].job.id
    await drain(client)

    assert await outcomes(conn, new) == {"a": "completed", "b": "completed", "c": "completed"}
    assert await outcomes(conn, old) == {"a": None, "b": None, "c": None}  # nothing ran
    status = await baton.status(old.id, oban=client)
    assert status.state == "running"
    assert {step.name: step.state for step in status.steps} == {
        "a": "deleted",  # its id now names new's job, which is not its own
        "b": "deleted",
        "c": "deleted",
    }
    report = await baton.sweep(oban=client)
    assert sorted(report.settled) == [(old.id, n, "deleted") for n in "abc"]
    assert (await baton.status(old.id, oban=client)).state == "failed"


async def test_drain_queue_runs_a_workflow_to_the_end(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = chain("drained", value="x")
    await wf.insert(oban=client)
    result = await drain_queue(queue="default", oban=client)
    assert result["completed"] == 3
    assert await outcomes(conn, wf) == {"a": "completed", "b": "completed", "c": "completed"}
    assert (await step_values(conn, wf.id))["a"] == "x"


async def test_enqueued_assertions_see_the_steps_that_can_run(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = chain("asserted", value=7)
    await wf.insert(oban=client)
    await assert_enqueued(oban=client, worker=Echo, args={"value": 7})
    jobs = await all_enqueued(oban=client, worker=Echo)  # suspended ones included
    assert {job.id: job.state for job in jobs} == {
        wf.steps["a"].job.id: "available",
        wf.steps["b"].job.id: "suspended",
        wf.steps["c"].job.id: "suspended",
    }
    await drain(client)
    await refute_enqueued(oban=client, worker=Echo)
    assert await outcomes(conn, wf) == {"a": "completed", "b": "completed", "c": "completed"}


async def test_process_job_runs_a_baton_worker_outside_a_workflow() -> None:
    """No database: a job built but never inserted as a step runs as a plain Oban job."""
    assert await process_job(Echo.new({"value": "plain"})) is None  # Oban's "completed"
    assert await process_job(Outcome.new({"outcome": "snooze"})) == oban.Snooze(60)
    assert await process_job(Outcome.new({"outcome": "cancel"})) == oban.Cancel("not needed")
    with pytest.raises(Exception, match=r"^bad input$"):  # Oban records it as the error
        await process_job(Outcome.new({"outcome": "discard"}))


# --- cancel, retry, delete, update -----------------------------------------------------------


async def test_cancel_job_cancels_the_step_and_its_dependents(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = chain("cancel-one")
    await wf.insert(oban=client)
    await client.cancel_job(wf.steps["a"].job.id)
    await drain(client)
    assert await outcomes(conn, wf) == {"a": "cancelled", "b": "cancelled", "c": "cancelled"}
    assert (await baton.status(wf.id, oban=client)).state == "failed"


async def test_cancel_many_jobs_settles_each_step_once(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = chain("cancel-many")
    await wf.insert(oban=client)
    marker = Workflow(name="marker").add("only", Echo.new({"value": 0}))
    async with baton.subscribe(oban=client) as events:
        count = await client.cancel_many_jobs([wf.steps[n].job.id for n in "abc"])
        await marker.insert(oban=client)
        await drain(client)
        got = await finished_until(events, marker.id)
    assert count == 3
    assert [(e.workflow_id, e.outcome) for e in got] == [
        (wf.id, "failed"),
        (marker.id, "completed"),
    ]
    assert await outcomes(conn, wf) == {"a": "cancelled", "b": "cancelled", "c": "cancelled"}


async def test_retry_job_reruns_the_job_but_the_step_keeps_its_first_settlement(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """A settled step stays settled: Oban's retry runs the job again (the worker then sees
    the stored result or settles nothing new); ``baton.retry`` is what reopens a workflow."""
    wf = Workflow(name="retry-one").add("a", Outcome.new({"outcome": "discard"}))
    wf.add("b", Echo.new(), deps=["a"])
    await wf.insert(oban=client)
    await drain(client)
    assert await outcomes(conn, wf) == {"a": "discarded", "b": "cancelled"}

    await client.retry_job(wf.steps["a"].job.id)
    await drain(client)
    assert await outcomes(conn, wf) == {"a": "discarded", "b": "cancelled"}
    assert (await baton.status(wf.id, oban=client)).state == "failed"


async def test_retry_many_jobs_leaves_the_finished_workflow_finished_once(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = chain("retry-many")
    await wf.insert(oban=client)
    await drain(client)
    async with baton.subscribe(oban=client) as events:
        assert await client.retry_many_jobs([wf.steps[n].job.id for n in "abc"]) == 3
        await drain(client)
        other = chain("after-retry")  # a marker: its event comes after any from wf
        await other.insert(oban=client)
        await drain(client)
        got = await finished_until(events, other.id)
    assert [e.workflow_id for e in got] == [other.id]  # wf finished no second time
    assert await outcomes(conn, wf) == {"a": "completed", "b": "completed", "c": "completed"}
    assert (await step_values(conn, wf.id))["a"] == 1


async def test_delete_job_settles_the_step_deleted(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = chain("delete-one")
    await wf.insert(oban=client)
    await client.delete_job(wf.steps["b"].job.id)  # suspended: deleted before it ran
    await drain(client)
    assert await outcomes(conn, wf) == {"a": "completed", "b": "deleted", "c": "cancelled"}
    assert (await baton.status(wf.id, oban=client)).state == "failed"


async def test_delete_many_jobs_of_a_finished_workflow_changes_nothing(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = chain("delete-many", value="kept")
    await wf.insert(oban=client)
    await drain(client)
    assert await client.delete_many_jobs([wf.steps[n].job.id for n in "abc"]) == 3
    assert await outcomes(conn, wf) == {"a": "completed", "b": "completed", "c": "completed"}
    assert (await step_values(conn, wf.id))["a"] == "kept"
    assert (await baton.status(wf.id, oban=client)).state == "completed"


async def test_update_job_keeps_the_step_when_meta_is_merged(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = chain("updated")
    await wf.insert(oban=client)
    job = wf.steps["b"].job
    updated = await client.update_job(
        job.id,
        lambda j: {"tags": ["urgent"], "priority": 1, "meta": {**j.meta, "note": "mine"}},
    )
    assert updated.meta["workflow_step"] == "b" and updated.meta["note"] == "mine"
    await drain(client)
    assert await outcomes(conn, wf) == {"a": "completed", "b": "completed", "c": "completed"}
    assert (await step_values(conn, wf.id))["c"] == {"b": {"a": 1}}


async def test_update_job_replacing_meta_takes_the_job_from_its_step(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """Oban's ``update_job`` replaces meta; without Baton's keys the job is no step's, and
    the sweep settles the step it lost as ``deleted`` (docs/reliability.md: merge meta)."""
    wf = chain("meta-replaced")
    await wf.insert(oban=client)
    await client.update_job(wf.steps["a"].job.id, {"meta": {"batch_id": 456}})
    await drain(client)
    assert await outcomes(conn, wf) == {"a": None, "b": None, "c": None}
    report = await baton.sweep(oban=client)
    assert report.settled == ((wf.id, "a", "deleted"),)
    await drain(client)
    assert await outcomes(conn, wf) == {"a": "deleted", "b": "cancelled", "c": "cancelled"}


# --- the pruner and the lifeline ---------------------------------------------------------------


async def test_the_pruner_removes_finished_jobs_and_baton_keeps_the_workflow(
    conn: psycopg.AsyncConnection[Any], oban_pool: Any, client: Oban
) -> None:
    wf = chain("pruned", value="old")
    await wf.insert(oban=client)
    await drain(client)
    await conn.execute("UPDATE oban_jobs SET completed_at = completed_at - interval '1 hour'")
    pruning = Oban(pool=oban_pool, leadership=True, pruner={"max_age": 60, "interval": 0.05})
    async with pruning:
        await wait_until(conn, "SELECT count(*) = 0 FROM oban_jobs")
    assert await outcomes(conn, wf) == {"a": "completed", "b": "completed", "c": "completed"}
    status = await baton.status(wf.id, oban=client)
    assert status.state == "completed"
    assert [step.state for step in status.steps] == ["completed"] * 3
    assert (await step_values(conn, wf.id))["a"] == "old"


async def test_the_lifeline_rescues_an_orphaned_step_and_the_workflow_finishes(
    conn: psycopg.AsyncConnection[Any], oban_pool: Any, client: Oban
) -> None:
    wf = chain("orphaned")
    await wf.insert(oban=client)
    # As if a node died while running "a": executing, attempted long ago, no result stored.
    await conn.execute(
        "UPDATE oban_jobs SET state = 'executing', attempt = 1, attempted_by = ARRAY['gone'], "
        "attempted_at = timezone('UTC', now()) - interval '1 hour' WHERE id = %s",
        (wf.steps["a"].job.id,),
    )
    rescuing = Oban(
        pool=oban_pool,
        leadership=True,
        lifeline={"interval": 0.05, "rescue_after": 60},
        queues={"default": 5},
        stager={"interval": 0.05},
    )
    async with rescuing:
        await wait_settled(conn, wf.id)
    assert await outcomes(conn, wf) == {"a": "completed", "b": "completed", "c": "completed"}
    meta = await (
        await conn.execute("SELECT meta FROM oban_jobs WHERE id = %s", (wf.steps["a"].job.id,))
    ).fetchone()
    assert meta is not None and meta[0]["rescued"] == 1


# --- oban install / uninstall and the oban CLI -------------------------------------------------


@pytest.fixture
async def reinstalled(installed: str) -> AsyncIterator[str]:
    """The session database; Oban's and Baton's schema installed again after the test."""
    yield installed
    await baton.install(installed)


async def test_oban_uninstall_and_install_then_baton_install_restores_the_triggers(
    conn: psycopg.AsyncConnection[Any], reinstalled: str, oban_pool: Any, client: Oban
) -> None:
    old = chain("before-uninstall")
    await old.insert(oban=client)

    uninstall = run_cli(*OBAN_CLI, "uninstall", "--dsn", reinstalled)
    assert uninstall.returncode == 0, uninstall.stderr
    install = run_cli(*OBAN_CLI, "install", "--dsn", reinstalled)
    assert install.returncode == 0, install.stderr
    assert await baton_triggers(conn) == []  # dropped with the table
    again = run_cli(sys.executable, "-m", "baton", "install", "--dsn", reinstalled)
    assert again.returncode == 0, again.stderr
    assert await baton_triggers(conn) == [
        "baton_jobs_truncated",
        "baton_step_deleted",
        "baton_step_settled",
        "baton_step_skipped",
    ]

    # A plain Oban instance, no sweep: only the triggers can advance the workflow.
    new = chain("after-reinstall", value="again")
    await new.insert(oban=client)
    assert new.steps["a"].job.id == old.steps["a"].job.id  # the new table restarted its ids
    plain = Oban(pool=oban_pool, queues={"default": 5}, stager={"interval": 0.05})
    async with baton.subscribe(oban=client) as events, plain:
        [event] = await finished_until(events, new.id)
    assert event.outcome == "completed"
    assert (await step_values(conn, new.id))["c"] == {"b": {"a": "again"}}
    # The old workflow lost its jobs with the table: the sweep settles it, never as new's.
    assert await outcomes(conn, old) == {"a": None, "b": None, "c": None}
    await baton.sweep(oban=client)
    assert (await baton.status(old.id, oban=client)).state == "failed"
    assert await outcomes(conn, old) == {"a": "deleted", "b": "deleted", "c": "deleted"}


async def test_oban_start_runs_a_workflow_s_steps(
    conn: psycopg.AsyncConnection[Any], installed: str, client: Oban
) -> None:
    wf = chain("oban-start", value="cli")
    await wf.insert(oban=client)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [*OBAN_CLI, "start", "--dsn", installed, "--queues", "default:5"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await wait_settled(conn, wf.id)
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert await outcomes(conn, wf) == {"a": "completed", "b": "completed", "c": "completed"}, err
    assert (await step_values(conn, wf.id))["c"] == {"b": {"a": "cli"}}
