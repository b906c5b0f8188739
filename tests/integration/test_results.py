"""Reading results: get_result, get_all_results, get_own_result and their errors."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from oban import Job, Oban
from oban.testing import drain_queue

import baton
from baton import Workflow
from baton.errors import NotADependency, NotAWorkflowStep, ResultUnavailable
from tests.support.steps import Echo, Outcome, Reader


async def drain(oban: Oban) -> None:
    await drain_queue(queue="default", oban=oban, with_scheduled=False, with_safety=True)


async def result_of(conn: psycopg.AsyncConnection[Any], wf: Workflow, name: str) -> Any:
    row = await (
        await conn.execute(
            "SELECT s.result, j.state::text FROM baton_steps s "
            "JOIN oban_jobs j ON j.id = s.job_id WHERE s.workflow_id = %s AND s.name = %s",
            (wf.id, name),
        )
    ).fetchone()
    assert row is not None
    result, state = row
    assert state == "completed", f"step {name!r} is {state}"
    return None if result is None else result["value"]


async def job_of(client: Oban, wf: Workflow, name: str) -> Job:
    job = await client.get_job(wf.steps[name].job.id)
    assert job is not None
    return job


async def test_get_result_of_a_declared_dep(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="read")
        .add("fetch", Echo.new({"value": {"text": "hello"}}))
        .add("read", Reader.new({"read": "one", "dep": "fetch"}), deps=["fetch"])
    )
    await wf.insert()
    await drain(client)

    assert await result_of(conn, wf, "read") == {"got": {"text": "hello"}}


async def test_get_result_of_a_group_is_a_list_in_member_order(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    # Members run in the reverse of their order (priority), the list keeps member order.
    members = [Echo.new({"value": letter}, priority=3 - i) for i, letter in enumerate("abc")]
    wf = (
        Workflow(name="group")
        .add_many("fan", members)
        .add("join", Reader.new({"read": "one", "dep": "fan"}), deps=["fan"])
    )
    await wf.insert()
    await drain(client)

    assert await result_of(conn, wf, "join") == {"got": ["a", "b", "c"]}
    finished = await (
        await conn.execute(
            "SELECT name FROM baton_steps WHERE group_name = 'fan' ORDER BY settled_at, job_id"
        )
    ).fetchall()
    assert [name for (name,) in finished] == ["fan[2]", "fan[1]", "fan[0]"]


async def test_get_result_of_a_non_dep_raises_not_a_dependency(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="nodep")
        .add("a", Echo.new({"value": 1}))
        .add("b", Echo.new({"value": 2}))
        .add("c", Reader.new({"read": "one", "dep": "b"}), deps=["a"])
    )
    await wf.insert()
    await drain(client)

    got = await result_of(conn, wf, "c")
    assert got["error"] == "NotADependency"
    assert "step 'c'" in got["message"]
    assert "'b'" in got["message"]
    assert "('a')" in got["message"]

    with pytest.raises(NotADependency, match=r"step 'c' asked for the result of 'b'.*\('a'\)"):
        await baton.get_result(await job_of(client, wf, "c"), "b")


async def test_get_result_of_a_dep_that_returned_none_is_unavailable(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="none")
        .add("quiet", Outcome.new({"outcome": "none"}))
        .add("read", Reader.new({"read": "one", "dep": "quiet"}), deps=["quiet"])
    )
    await wf.insert()
    await drain(client)

    got = await result_of(conn, wf, "read")
    assert got["error"] == "ResultUnavailable"
    assert "'quiet'" in got["message"]
    assert "without returning a value" in got["message"]


async def test_get_result_of_an_unfinished_dep_is_unavailable(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="early")
        .add("a", Echo.new({"value": 1}))
        .add("b", Echo.new({"value": 2}), deps=["a"])
    )
    await wf.insert()  # nothing has run

    with pytest.raises(ResultUnavailable, match=r"dep 'a' has no result"):
        await baton.get_result(await job_of(client, wf, "b"), "a")
    state = await (
        await conn.execute(
            "SELECT state::text FROM oban_jobs WHERE id = %s", (wf.steps["b"].job.id,)
        )
    ).fetchone()
    assert state == ("suspended",)


async def test_get_all_results(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = (
        Workflow(name="all")
        .add("a", Echo.new({"value": {"n": 1}}))
        .add("quiet", Outcome.new({"outcome": "none"}))
        .add_many("fan", [Echo.new({"value": i}) for i in range(3)])
        .add("other", Echo.new({"value": "not a dep"}))
        .add("all", Reader.new({"read": "all"}), deps=["a", "quiet", "fan"])
    )
    await wf.insert()
    await drain(client)

    # "quiet" stored no value and is left out; "other" is not a dep.
    assert await result_of(conn, wf, "all") == {"got": {"a": {"n": 1}, "fan": [0, 1, 2]}}
    job = await job_of(client, wf, "all")
    assert await baton.get_all_results(job) == {"a": {"n": 1}, "fan": [0, 1, 2]}


async def test_get_own_result(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = (
        Workflow(name="own")
        .add("first", Reader.new({"read": "own"}))
        .add("second", Echo.new({"value": "later"}), deps=["first"])
    )
    await wf.insert()

    second = await job_of(client, wf, "second")
    assert await baton.get_own_result(second) is None  # not run yet

    await drain(client)

    # During its only run, "first" had stored nothing yet.
    assert await result_of(conn, wf, "first") == {"got": None}
    assert await baton.get_own_result(await job_of(client, wf, "first")) == {"got": None}
    assert await baton.get_own_result(await job_of(client, wf, "second")) == "later"


async def test_reading_results_of_a_job_outside_a_workflow_raises(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    job = await client.enqueue(Echo.new({"value": 1}))
    fetched = await client.get_job(job.id)
    assert fetched is not None

    with pytest.raises(NotAWorkflowStep, match="is not a workflow step"):
        await baton.get_result(fetched, "a")
    with pytest.raises(NotAWorkflowStep):
        await baton.get_all_results(fetched)
    with pytest.raises(NotAWorkflowStep):
        await baton.get_own_result(fetched)
    with pytest.raises(NotAWorkflowStep):
        await baton.get_result(Echo.new({"value": 1}), "a")  # never inserted

    await drain(client)
    row = await (
        await conn.execute("SELECT state::text FROM oban_jobs WHERE id = %s", (job.id,))
    ).fetchone()
    assert row == ("completed",)


async def test_get_result_of_a_single_group_member(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="member")
        .add_many("fan", [Echo.new({"value": i * 10}) for i in range(3)])
        .add("second", Reader.new({"read": "one", "dep": "fan[1]"}), deps=["fan[1]"])
    )
    await wf.insert()
    await drain(client)

    assert await result_of(conn, wf, "second") == {"got": 10}


async def test_get_result_of_an_ignored_failed_dep_is_unavailable(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="ignored", ignore_discarded=True)
        .add("bad", Outcome.new({"outcome": "discard"}))
        .add("read", Reader.new({"read": "one", "dep": "bad"}), deps=["bad"])
    )
    await wf.insert()
    await drain(client)

    got = await result_of(conn, wf, "read")
    assert got["error"] == "ResultUnavailable"
    assert "dep 'bad' has no result (discarded)" in got["message"]


async def test_get_result_of_one_member_of_a_declared_group(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="whole-group")
        .add_many("fan", [Echo.new({"value": i * 10}) for i in range(3)])
        .add("second", Reader.new({"read": "one", "dep": "fan[2]"}), deps=["fan"])
    )
    await wf.insert()
    await drain(client)

    assert await result_of(conn, wf, "second") == {"got": 20}
