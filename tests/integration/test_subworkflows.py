"""Sub-workflows: ``Workflow.add_workflow(name, sub)``."""

from __future__ import annotations

from typing import Any

import psycopg
from oban import Oban

import baton
from baton import Workflow
from tests.support.db import step_results, wait_settled
from tests.support.dynamic_steps import Read
from tests.support.steps import Echo, Outcome


def research(topic: str) -> Workflow:
    """A reusable sub-workflow: its steps name each other without any path."""
    return (
        Workflow(name="research")
        .add("search", Echo.new({"value": f"results for {topic}"}))
        .add_many("read", [Echo.new({"value": n}) for n in range(2)], deps=["search"])
        .add("summarize", Read.new({"names": ["search", "read"]}), deps=["search", "read"])
    )


async def test_steps_of_a_sub_workflow_run_under_its_path(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    sub = research("baton")
    wf = (
        Workflow(name="brief")
        .add("fetch", Echo.new({"value": "page"}))
        .add_workflow("one", sub, deps=["fetch"])
        .add_workflow("two", sub)  # the same definition, twice
        .add(
            "report",
            Read.new({"names": ["one", "two/summarize", "fetch"]}),
            deps=["one", "two", "fetch"],
        )
    )
    await wf.insert()
    await wait_settled(conn, wf.id)
    found = await step_results(conn, wf.id)
    assert list(found) == [
        "fetch",
        "one/search",
        "one/read[0]",
        "one/read[1]",
        "one/summarize",
        "two/search",
        "two/read[0]",
        "two/read[1]",
        "two/summarize",
        "report",
    ]
    assert {outcome for outcome, _value in found.values()} == {"completed"}
    summary = {"search": "results for baton", "read": [0, 1]}
    assert found["one/summarize"][1] == summary
    assert found["report"][1] == {
        "one": {
            "search": "results for baton",
            "read[0]": 0,
            "read[1]": 1,
            "summarize": summary,
        },
        "two/summarize": summary,
        "fetch": "page",
    }
    assert len(sub.steps) == 4  # the definition itself is unchanged


async def test_the_sub_workflow_waits_for_its_deps_and_its_dependents_wait_for_all_of_it(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = (
        Workflow(name="order")
        .add("fetch", Echo.new({"value": 1}))
        .add_workflow("sub", research("x"), deps=["fetch"])
        .add("after", Echo.new({}), deps=["sub"])
    )
    await wf.insert()
    await wait_settled(conn, wf.id)
    cursor = await conn.execute(
        "SELECT s.name, j.attempted_at, j.completed_at FROM baton_steps s JOIN oban_jobs j "
        "ON j.id = s.job_id WHERE s.workflow_id = %s",
        (wf.id,),
    )
    times = {name: (started, ended) for name, started, ended in await cursor.fetchall()}
    inner = [name for name in times if name.startswith("sub/")]
    assert times["sub/search"][0] > times["fetch"][1]
    assert all(times["after"][0] > times[name][1] for name in inner)
    edges = await (
        await conn.execute(
            "SELECT upstream FROM baton_edges WHERE workflow_id = %s AND downstream = 'after' "
            "ORDER BY upstream",
            (wf.id,),
        )
    ).fetchall()
    assert [edge for (edge,) in edges] == sorted(inner)


async def test_a_failure_inside_blocks_the_dependents_of_the_sub_workflow(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    failing = (
        Workflow().add("bad", Outcome.new({"outcome": "discard"})).add("ok", Echo.new({"value": 1}))
    )
    lenient = Workflow(ignore_discarded=True).add("bad", Outcome.new({"outcome": "discard"}))
    lenient.add("next", Echo.new({"value": 2}), deps=["bad"])
    wf = (
        Workflow(name="failing")
        .add_workflow("strict", failing)
        .add_workflow("lenient", lenient)
        .add("after", Echo.new({}), deps=["strict"])
    )
    await wf.insert()
    await wait_settled(conn, wf.id)
    report = await baton.status(wf.id)
    states = {step.name: step.state for step in report.steps}
    assert states == {
        "strict/bad": "discarded",
        "strict/ok": "completed",
        "lenient/bad": "discarded",
        "lenient/next": "completed",  # the sub-workflow's own ignore flag came along
        "after": "cancelled",
    }
    assert report.state == "failed"
    assert report.step("lenient/next").parent == "lenient"


async def test_nested_sub_workflows(conn: psycopg.AsyncConnection[Any], running: Oban) -> None:
    inner = Workflow().add("leaf", Echo.new({"value": "deep"}))
    middle = (
        Workflow()
        .add_workflow("inner", inner)
        .add("use", Read.new({"names": ["inner/leaf"]}), deps=["inner"])
    )
    wf = (
        Workflow(name="nested")
        .add_workflow("outer", middle)
        .add("top", Read.new({"names": ["outer"]}), deps=["outer"])
    )
    await wf.insert()
    await wait_settled(conn, wf.id)
    found = await step_results(conn, wf.id)
    assert found["outer/use"] == ("completed", {"inner/leaf": "deep"})
    assert found["top"] == (
        "completed",
        {"outer": {"inner/leaf": "deep", "use": {"inner/leaf": "deep"}}},
    )
