"""Dynamic workflows run by several worker processes sharing one database.

Each worker is a subprocess (``tests.support.worker_proc``) running the steps of
``tests.support.proc_dynamic_steps``; every call leaves a row in ``test_calls``. Steps
added at run time (some adding steps again), sub-workflows, a model fan-out and context
all run at once, and no step downstream of a planner may start before every step the
planner added, at any depth, has completed.
"""

from __future__ import annotations

import random
import signal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban

from baton import Workflow
from tests.integration.test_multiprocess import rows, settle, workers
from tests.support.proc_dynamic_steps import Collect, Model, Planner

pytestmark = pytest.mark.slow

MODELS = ["model-a", "model-b", "model-c"]
LIFELINE = ["--rescue-after", "2", "--lifeline-interval", "0.5", "--leader-interval", "1"]
MODULE = ["--import", "tests.support.proc_dynamic_steps"]


def random_items(rng: random.Random) -> list[Any]:
    """5-25 items; about one in five is a nested list (a planner that plans again)."""
    return [
        [rng.randint(0, 99) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.2
        else rng.randint(0, 99)
        for _ in range(rng.randint(5, 25))
    ]


def dynamic_workflow(index: int, planned: list[Any], *, crash: bool = False) -> Workflow:
    research = (
        Workflow(name="research")
        .add("a", Collect.new({"names": []}))
        .add("b", Collect.new({"names": ["a"]}), deps=["a"])  # a sibling, by its own name
    )
    return (
        Workflow(name=f"dynamic-{index}", context={"index": index})
        .add("plan", Planner.new({"items": planned, "crash": crash}))
        .add("join", Collect.new({"names": ["plan", "plan/item"]}), deps=["plan"])
        .add_workflow("research", research)
        .add_models("draft", Model.new({}), MODELS)
        .add(
            "synth",
            Collect.new({"names": ["draft", "research", "join"], "context": True}),
            deps=["draft", "research", "join"],
        )
    )


def planned_steps(planned: list[Any], planner: str = "plan") -> tuple[set[str], set[str]]:
    """The steps a planner with ``planned`` items adds at any depth, and the planners."""
    added, planners = set(), {planner}
    for index, item in enumerate(planned):
        name = f"{planner}/item[{index}]"
        added.add(name)
        if isinstance(item, list):
            nested, inner = planned_steps(item, name)
            added |= nested
            planners |= inner
    return added, planners


async def check_workflow(
    conn: psycopg.AsyncConnection[Any], wf: Workflow, planned: list[Any], index: int
) -> None:
    added, planners = planned_steps(planned)
    steps = {
        name: (outcome, result, completed_at)
        for name, outcome, result, completed_at in await rows(
            conn,
            "SELECT s.name, s.outcome, s.result, j.completed_at FROM baton_steps s "
            "LEFT JOIN oban_jobs j ON j.id = s.job_id WHERE s.workflow_id = %s",
            (wf.id,),
        )
    }
    assert set(steps) == set(wf.steps) | added
    assert {name for name, (outcome, _, _) in steps.items() if outcome != "completed"} == set()
    [(step_count, unsettled, outcome)] = await rows(
        conn,
        "SELECT step_count, unsettled, outcome FROM baton_workflows WHERE id = %s",
        (wf.id,),
    )
    assert (step_count, unsettled, outcome) == (len(steps), 0, "completed")

    ran = dict(
        await rows(
            conn,
            "SELECT step, count(*) FROM test_calls WHERE workflow_id = %s GROUP BY step",
            (wf.id,),
        )
    )
    assert set(ran) == set(steps)
    assert {step: count for step, count in ran.items() if count != 1} == {}

    # join started only after every added step, at any depth, had completed.
    [(join_started,)] = await rows(
        conn,
        "SELECT started_at FROM test_calls WHERE workflow_id = %s AND step = 'join'",
        (wf.id,),
    )
    early = sorted(name for name in added if not join_started > steps[name][2])
    assert early == [], f"join started before {early} completed"

    join = steps["join"][1]["value"]
    assert join["read"]["plan"] == {"planned": len(planned)}
    assert join["read"]["plan/item"] == [
        {"planned": len(item)}
        if isinstance(item, list)
        else {"value": item, "siblings": len(planned)}
        for item in planned
    ]
    synth = steps["synth"][1]["value"]
    assert synth["read"]["draft"] == {model: {"model": model} for model in MODELS}
    assert synth["read"]["research"] == {"a": {"read": {}}, "b": {"read": {"a": {"read": {}}}}}
    assert synth["read"]["join"] == join
    assert synth["context"] == {
        "index": index,
        **{f"planned:{name}": len(_items(planned, name)) for name in planners},
    }

    [(snoozes,)] = await rows(
        conn,
        "SELECT coalesce(sum((meta->>'snoozed')::int), 0) FROM oban_jobs "
        "WHERE meta->>'workflow_id' = %s",
        (wf.id,),
    )
    assert snoozes == 0


def _items(planned: list[Any], planner: str) -> list[Any]:
    """The items of the planner at path ``planner`` (``plan/item[3]/item[0]``…)."""
    found = planned
    for part in planner.split("/")[1:]:
        found = found[int(part.removeprefix("item[").removesuffix("]"))]
    return found


async def run_and_check(
    dsn: str,
    conn: psycopg.AsyncConnection[Any],
    logs: Path,
    node: str,
    flows: list[tuple[int, list[Any], Workflow]],
) -> tuple[set[int], set[int]]:
    """Insert every workflow, run them on three worker processes, check each one.

    Returns the pids that recorded calls, and the pids of the workers.
    """
    async with workers(dsn, logs) as group:
        await group.start([f"{node}-{n}" for n in range(3)], MODULE)
        for _index, _planned, wf in flows:
            await wf.insert()
        for index, planned, wf in flows:
            await settle(conn, wf.id, timeout=120)
            await check_workflow(conn, wf, planned, index)
        pids = {pid for (pid,) in await rows(conn, "SELECT DISTINCT pid FROM test_calls")}
        return pids, group.pids


@pytest.mark.timeout(240)
async def test_dynamic_workflows_across_three_processes(
    installed: str, calls: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    conn = calls
    rng = random.Random(20_261_129)  # noqa: S311 - reproducible shapes, not a secret
    runs = [(index, random_items(rng)) for index in range(12)]
    flows = [(index, planned, dynamic_workflow(index, planned)) for index, planned in runs]

    pids, worker_pids = await run_and_check(installed, conn, tmp_path, "dyn", flows)
    assert pids <= worker_pids
    assert len(pids) > 1, f"only pids {pids} did work"
    total = sum(len(planned_steps(planned)[0]) for _index, planned in runs)
    print(f"dynamic: {len(flows)} workflows, {total} steps added at run time, pids {pids}")


@pytest.mark.timeout(180)
async def test_planner_killed_after_adding_its_steps_adds_them_once(
    installed: str, calls: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    """The result and the added steps are one write: a rescued retry adds nothing more."""
    conn = calls
    planned: list[Any] = [1, 2, [3, 4], 5]
    wf = dynamic_workflow(0, planned, crash=True)

    async with workers(installed, tmp_path) as group:
        await group.start(["crash-0", "crash-1"], [*LIFELINE, *MODULE])
        await wf.insert()
        victim = await group.first_exit(timeout=60)
        assert victim.proc.returncode == -signal.SIGKILL
        [(added,)] = await rows(
            conn,
            "SELECT count(*) FROM baton_steps WHERE workflow_id = %s AND name LIKE 'plan/%%'",
            (wf.id,),
        )
        assert added == len(planned)  # written with the result, before the kill

        await group.start(["crash-2"], [*LIFELINE, *MODULE])
        await settle(conn, wf.id, timeout=90)
        await check_workflow(conn, wf, planned, 0)
        [(attempt, rescued)] = await rows(
            conn,
            "SELECT j.attempt, j.meta->'rescued' FROM baton_steps s "
            "JOIN oban_jobs j ON j.id = s.job_id WHERE s.workflow_id = %s AND s.name = 'plan'",
            (wf.id,),
        )
        assert (attempt, rescued) == (2, 1)


PROC = "tests.support.proc_dynamic_steps"
TEMPLATE: dict[str, Any] = {
    "name": "dynamic-template",
    "params": {"items": {}, "index": {}},
    "context": {"index": "${index}"},
    "steps": [
        {"name": "plan", "worker": f"{PROC}.Planner", "args": {"items": "${items}"}},
        {
            "name": "join",
            "worker": f"{PROC}.Collect",
            "args": {"names": ["plan", "plan/item"]},
            "deps": "plan",
        },
        {
            "name": "research",
            "workflow": {
                "steps": [
                    {"name": "a", "worker": f"{PROC}.Collect", "args": {"names": []}},
                    {
                        "name": "b",
                        "worker": f"{PROC}.Collect",
                        "args": {"names": ["a"]},
                        "deps": "a",
                    },
                ]
            },
        },
        {"name": "draft", "worker": f"{PROC}.Model", "models": MODELS},
        {
            "name": "synth",
            "worker": f"{PROC}.Collect",
            "args": {"names": ["draft", "research", "join"], "context": True},
            "deps": ["draft", "research", "join"],
        },
    ],
}


@pytest.mark.timeout(240)
async def test_workflows_from_a_template_across_three_processes(
    installed: str, calls: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    """The same dynamic workflow, defined as data: built by Workflow.from_dict."""
    conn = calls
    rng = random.Random(1129)  # noqa: S311 - reproducible shapes, not a secret
    runs = [(index, random_items(rng)) for index in range(6)]
    flows = [
        (index, planned, Workflow.from_dict(TEMPLATE, params={"items": planned, "index": index}))
        for index, planned in runs
    ]
    assert set(flows[0][2].steps) == set(dynamic_workflow(0, []).steps)

    await run_and_check(installed, conn, tmp_path, "tpl", flows)
