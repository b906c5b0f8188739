"""Property tests over real executions.

Random DAGs of up to 50 steps are inserted and run in this process through Oban's real
fetch and ack (``drain_queue``), so activation, the worker's gate and the settlement
trigger all take part:

- every step runs exactly once, after every step it depends on, and none is activated
  early (no step ever snoozes waiting for a dep);
- with random outcomes (complete, raise on the only attempt, return ``Cancel``) and random
  workflow-wide and per-step ignore flags, every step ends in the state a small reference
  model of Baton's rules predicts, and so does the workflow.

Deleted deps are covered by tests/integration/test_gating.py, not here.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import oban
import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oban import Oban
from oban.testing import drain_queue

import baton
from baton import Workflow
from tests.support.db import RESET

QUEUES = ("default", "other")
SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# A global, strictly increasing stamp per perform call: (workflow id, step) -> stamps.
SEQUENCE = itertools.count(1)
RUNS: defaultdict[tuple[str, str], list[int]] = defaultdict(list)


def _record(job: Any) -> str:
    step = str(job.meta["workflow_step"])
    RUNS[(job.meta["workflow_id"], step)].append(next(SEQUENCE))
    return step


@baton.worker(queue="default", max_attempts=1)
class Node:
    """Records its run, then completes, raises or cancels as its ``outcome`` arg says."""

    async def perform_workflow(self, job: Any) -> Any:
        step = _record(job)
        match job.args.get("outcome", "complete"):
            case "complete":
                return {"step": step}
            case "raise":
                raise RuntimeError(f"step {step} failed on purpose")
            case "cancel":
                return baton.Cancel(f"step {step} cancelled itself")
        raise AssertionError(job.args)


@oban.worker(queue="default", max_attempts=1)
class PlainNode:
    """The same as a plain Oban worker: no dep check of its own (the trigger cancels it)."""

    async def process(self, job: Any) -> Any:
        step = _record(job)
        match job.args.get("outcome", "complete"):
            case "complete":
                return None
            case "raise":
                raise RuntimeError(f"plain step {step} failed on purpose")
            case "cancel":
                return oban.Cancel(f"plain step {step} cancelled itself")
        raise AssertionError(job.args)


@dataclass(frozen=True)
class Spec:
    """One step of a random workflow."""

    name: str
    deps: tuple[str, ...]
    queue: str = "default"
    priority: int = 0
    outcome: str = "complete"  # complete | raise | cancel
    plain: bool = False
    ignore_cancelled: bool | None = None
    ignore_discarded: bool | None = None


@dataclass(frozen=True)
class Graph:
    specs: tuple[Spec, ...]  # in the order they are added (not a dependency order)
    ignore_cancelled: bool = False
    ignore_discarded: bool = False

    def workflow(self) -> Workflow:
        wf = Workflow(
            name="property",
            ignore_cancelled=self.ignore_cancelled,
            ignore_discarded=self.ignore_discarded,
        )
        for spec in self.specs:
            worker = PlainNode if spec.plain else Node
            job = worker.new({"outcome": spec.outcome}, queue=spec.queue, priority=spec.priority)
            wf.add(
                spec.name,
                job,
                deps=spec.deps,
                ignore_cancelled=spec.ignore_cancelled,
                ignore_discarded=spec.ignore_discarded,
            )
        return wf


def _deps(draw: st.DrawFn, count: int) -> list[tuple[str, ...]]:
    """Step j depends on up to 4 of the steps before it (so the graph is acyclic)."""
    return [
        tuple(f"s{i}" for i in sorted(draw(st.sets(st.integers(0, j - 1), max_size=4))))
        if j
        else ()
        for j in range(count)
    ]


@st.composite
def dags(draw: st.DrawFn) -> Graph:
    """Steps that all complete, over two queues with random priorities."""
    count = draw(st.integers(1, 50))
    deps = _deps(draw, count)
    specs = [
        Spec(
            f"s{j}",
            deps[j],
            queue=draw(st.sampled_from(QUEUES)),
            priority=draw(st.integers(0, 3)),
            plain=draw(st.booleans()),
        )
        for j in range(count)
    ]
    return Graph(tuple(draw(st.permutations(specs))))


FLAG = st.sampled_from([None, True, False])
OUTCOME = st.sampled_from(["complete", "complete", "complete", "raise", "cancel"])


@st.composite
def failing_dags(draw: st.DrawFn) -> Graph:
    """Steps with random outcomes, kinds and ignore flags."""
    count = draw(st.integers(1, 50))
    deps = _deps(draw, count)
    specs = [
        Spec(
            f"s{j}",
            deps[j],
            outcome=draw(OUTCOME),
            plain=draw(st.integers(0, 4)) == 0,
            ignore_cancelled=draw(FLAG),
            ignore_discarded=draw(FLAG),
        )
        for j in range(count)
    ]
    return Graph(
        tuple(draw(st.permutations(specs))),
        ignore_cancelled=draw(st.booleans()),
        ignore_discarded=draw(st.booleans()),
    )


def predict(graph: Graph) -> tuple[dict[str, str], set[str], str]:
    """Baton's rules, as a reference model: each step's outcome, the steps whose code ran,
    and the workflow's outcome.

    A step runs iff every dep completed, or failed in a way the step ignores (its own flag,
    else the workflow's). A step held back by a failed dep ends ``cancelled``, and that
    counts as a cancelled dep for the steps after it. A step that runs ends as its worker
    decides: raising on its only attempt is ``discarded``, ``Cancel`` is ``cancelled``.
    The workflow completed iff every step completed, else it failed.
    """
    by_name = {spec.name: spec for spec in graph.specs}
    outcome: dict[str, str] = {}
    ran: set[str] = set()
    drawn = {"complete": "completed", "raise": "discarded", "cancel": "cancelled"}
    for name in sorted(by_name, key=lambda n: int(n[1:])):  # s0, s1, … is a dependency order
        spec = by_name[name]
        ignore = {
            "cancelled": graph.ignore_cancelled
            if spec.ignore_cancelled is None
            else spec.ignore_cancelled,
            "discarded": graph.ignore_discarded
            if spec.ignore_discarded is None
            else spec.ignore_discarded,
        }
        blocked = any(outcome[dep] != "completed" and not ignore[outcome[dep]] for dep in spec.deps)
        if blocked:
            outcome[name] = "cancelled"
        else:
            ran.add(name)
            outcome[name] = drawn[spec.outcome]
    workflow = "completed" if all(o == "completed" for o in outcome.values()) else "failed"
    return outcome, ran, workflow


async def run_everything(client: Oban) -> None:
    """Drain every queue in this process until a full round runs nothing."""
    async with asyncio.timeout(60):
        while True:
            ran = 0
            for queue in QUEUES:
                summary = await drain_queue(
                    queue=queue, oban=client, with_scheduled=True, with_safety=True
                )
                ran += sum(summary.values())
            if not ran:
                return


async def step_rows(
    conn: psycopg.AsyncConnection[Any], workflow_id: str
) -> dict[str, tuple[str | None, str | None, bool]]:
    """Each step's (stored outcome, job state, whether the job ever snoozed)."""
    rows = await (
        await conn.execute(
            "SELECT s.name, s.outcome, j.state::text, coalesce(j.meta ? 'snoozed', false) "
            "FROM baton_steps s LEFT JOIN oban_jobs j ON j.id = s.job_id "
            "WHERE s.workflow_id = %s",
            (workflow_id,),
        )
    ).fetchall()
    return {name: (outcome, state, snoozed) for name, outcome, state, snoozed in rows}


async def workflow_row(
    conn: psycopg.AsyncConnection[Any], workflow_id: str
) -> tuple[str | None, int, bool]:
    row = await (
        await conn.execute(
            "SELECT outcome, unsettled, finished_at IS NOT NULL FROM baton_workflows WHERE id = %s",
            (workflow_id,),
        )
    ).fetchone()
    assert row is not None
    return row


@SETTINGS
@given(graph=dags())
async def test_random_dags_run_every_step_once_after_all_its_deps(
    conn: psycopg.AsyncConnection[Any], client: Oban, graph: Graph
) -> None:
    await conn.execute(RESET)
    wf = graph.workflow()
    await wf.insert(oban=client)
    await run_everything(client)

    stamps = {name: RUNS.pop((wf.id, name), []) for name in wf.steps}
    assert {name: len(runs) for name, runs in stamps.items() if len(runs) != 1} == {}
    for upstream, downstream in wf.edges():
        assert stamps[upstream][0] < stamps[downstream][0], (
            f"{downstream} ran before its dep {upstream}"
        )
    rows = await step_rows(conn, wf.id)
    assert rows == {name: ("completed", "completed", False) for name in wf.steps}
    assert await workflow_row(conn, wf.id) == ("completed", 0, True)


@SETTINGS
@given(graph=failing_dags())
async def test_random_failures_end_in_the_states_the_model_predicts(
    conn: psycopg.AsyncConnection[Any], client: Oban, graph: Graph
) -> None:
    await conn.execute(RESET)
    wf = graph.workflow()
    await wf.insert(oban=client)
    await run_everything(client)

    expected, expected_ran, expected_workflow = predict(graph)
    rows = await step_rows(conn, wf.id)
    assert {name: outcome for name, (outcome, _state, _snoozed) in rows.items()} == expected
    # the job rows agree with the step rows, and no step was activated early
    assert {name: state for name, (_outcome, state, _snoozed) in rows.items()} == expected
    assert not [name for name, (_o, _s, snoozed) in rows.items() if snoozed]

    stamps = {name: RUNS.pop((wf.id, name), []) for name in wf.steps}
    assert {name for name, runs in stamps.items() if runs} == expected_ran
    assert all(len(runs) <= 1 for runs in stamps.values())
    for upstream, downstream in wf.edges():
        if stamps[downstream] and stamps[upstream]:
            assert stamps[upstream][0] < stamps[downstream][0]

    assert await workflow_row(conn, wf.id) == (expected_workflow, 0, True)
    status = await baton.status(wf.id, oban=client)
    assert status.state == expected_workflow


def test_the_model_on_a_hand_worked_example() -> None:
    """The model itself, on a case worked out by hand from DESIGN §3."""
    graph = Graph(
        (
            Spec("s0", (), outcome="raise"),  # discarded
            Spec("s1", ("s0",)),  # blocked: cancelled
            Spec("s2", ("s0",), ignore_discarded=True),  # runs, completes
            Spec("s3", ("s1",), ignore_cancelled=True),  # runs although s1 was cancelled
            Spec("s4", ("s2", "s3"), outcome="cancel"),  # runs, cancels itself
            Spec("s5", ("s4",), plain=True),  # blocked: cancelled
        ),
        ignore_discarded=False,
    )
    outcome, ran, workflow = predict(graph)
    assert outcome == {
        "s0": "discarded",
        "s1": "cancelled",
        "s2": "completed",
        "s3": "completed",
        "s4": "cancelled",
        "s5": "cancelled",
    }
    assert ran == {"s0", "s2", "s3", "s4"}
    assert workflow == "failed"
