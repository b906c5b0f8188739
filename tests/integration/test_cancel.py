"""A cancel that stops work: ``baton.cancel`` interrupts a running ``perform_workflow``.

The steps run in an Oban instance of this process (``running``); the same through worker
subprocesses, ``baton cancel`` and the web view's button is ``test_multiprocess_cancel.py``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import StepEvent, Workflow, store
from tests.support import cancel_steps as cs
from tests.support import event_steps as es
from tests.support.db import wait_settled, wait_until
from tests.support.event_steps import finished_of, flush, follow, read_until, steps_of

INTERRUPTED = "was cancelled while it ran: perform_workflow was interrupted"


@pytest.fixture
async def runs(conn: psycopg.AsyncConnection[Any], oban_pool: Any) -> psycopg.AsyncConnection[Any]:
    """``conn``, with an empty ``test_cancel_runs`` and the steps recording through the pool."""
    await conn.execute(cs.RUNS_TABLE)
    await conn.execute("TRUNCATE test_cancel_runs")
    cs.use_pool(oban_pool)
    return conn


@pytest.fixture
async def listening(running: Oban) -> Oban:
    """``running``, once it LISTENs for Oban's signals (sent before that, a cancel is lost)."""
    token = await running._notifier.listen("signal", lambda *_: None, wait=True, timeout=10)
    await running._notifier.unlisten(token)
    return running


async def recorded(conn: psycopg.AsyncConnection[Any], job_id: int | None) -> list[str]:
    cursor = await conn.execute(
        "SELECT what FROM test_cancel_runs WHERE job_id = %s ORDER BY at", (job_id,)
    )
    return [what for (what,) in await cursor.fetchall()]


async def stored(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> dict[str, Any]:
    """Each step's ``(outcome, performed, result)``."""
    cursor = await conn.execute(
        "SELECT name, outcome, performed_at IS NOT NULL, result FROM baton_steps "
        "WHERE workflow_id = %s",
        (workflow_id,),
    )
    return {name: rest for name, *rest in await cursor.fetchall()}


def step_event(events: list[Any], step: str, state: str) -> StepEvent:
    [event] = [e for e in events if isinstance(e, StepEvent) and (e.step, e.state) == (step, state)]
    return event


async def start_and_cancel(
    conn: psycopg.AsyncConnection[Any], wf: Workflow, events: Any
) -> tuple[list[Any], float]:
    """Insert ``wf``, cancel it once ``slow`` is waiting; every event, and the seconds from
    the cancel to ``slow``'s settlement."""
    await wf.insert()
    job_id = wf.steps["slow"].job.id
    await wait_until(conn, "SELECT count(*) > 0 FROM test_cancel_runs WHERE job_id = %s", (job_id,))
    begun = time.monotonic()
    assert await baton.cancel(wf.id) == 1  # signalled: it is executing
    seen = await read_until(
        events, lambda e: isinstance(e, StepEvent) and e.step == "slow" and e.state != "executing"
    )
    latency = time.monotonic() - begun
    return seen + await follow(events, conn, wf.id), latency


@pytest.mark.parametrize("worker", [cs.Hangs, cs.Catches], ids=["reraises", "catches"])
async def test_cancel_interrupts_an_executing_step_and_stores_nothing(
    runs: psycopg.AsyncConnection[Any], listening: Oban, worker: Any
) -> None:
    """A step waiting on a reply that never comes is interrupted at its ``await``: it
    settles cancelled, no result is stored (also when it catches the interruption and
    returns a value), its dependents are cancelled, and the workflow finishes once."""
    wf = (
        Workflow(name="interrupt")
        .add("slow", worker.new({"seconds": 120}))
        .add("next", es.Reads.new(), deps=["slow"])
    )
    async with baton.subscribe(wf.id) as events:
        seen, latency = await start_and_cancel(runs, wf, events)

    assert steps_of(seen) == [
        ("slow", "executing"),
        ("slow", "cancelled"),
        ("next", "executing"),
        ("next", "cancelled"),
    ]
    error = step_event(seen, "slow", "cancelled").error or ""
    assert f"step 'slow' of workflow {wf.id!r} {INTERRUPTED}" in error
    expected = "interrupted" if worker is cs.Hangs else "caught"
    assert await recorded(runs, wf.steps["slow"].job.id) == ["started", expected]
    assert await stored(runs, wf.id) == {
        "slow": ["cancelled", False, None],
        "next": ["cancelled", False, None],
    }
    [done] = finished_of(seen, wf.id)
    assert (done.outcome, done.failed_steps) == ("failed", ("slow", "next"))
    assert (await baton.status(wf.id)).state == "cancelled"
    print(f"\ninterrupted ({worker.__name__}): settled {latency * 1000:.0f} ms after the cancel")


async def test_a_step_that_opted_out_runs_to_the_end_and_keeps_its_result(
    runs: psycopg.AsyncConnection[Any], listening: Oban
) -> None:
    """``interruptible=False``: the step sees the cancel through ``job.cancelled()``,
    finishes, and its result is stored; the workflow is cancelled all the same."""
    wf = (
        Workflow(name="opted-out")
        .add("slow", cs.MustFinish.new())
        .add("next", es.Reads.new(), deps=["slow"])
    )
    async with baton.subscribe(wf.id) as events:
        seen, _latency = await start_and_cancel(runs, wf, events)

    assert steps_of(seen) == [
        ("slow", "executing"),
        ("slow", "completed"),
        ("next", "executing"),
        ("next", "cancelled"),
    ]
    assert await recorded(runs, wf.steps["slow"].job.id) == ["started", "finished"]
    assert await stored(runs, wf.id) == {
        "slow": ["completed", True, {"value": {"finished": True}}],
        "next": ["cancelled", False, None],
    }
    assert len(finished_of(seen, wf.id)) == 1
    assert (await baton.status(wf.id)).state == "cancelled"


@pytest.mark.parametrize(
    ("worker", "outcome"),
    [(cs.ReturnsAfterCancel, "cancelled"), (cs.ReturnsAfterCancelMustFinish, "completed")],
    ids=["interruptible", "opted-out"],
)
async def test_a_result_returned_after_a_cancel_the_node_missed(
    conn: psycopg.AsyncConnection[Any], oban_pool: Any, running: Oban, worker: Any, outcome: str
) -> None:
    """The workflow's cancel commits while the step runs, but its node never gets the
    signal: the store refuses the result of an interruptible step (cancelled, nothing
    stored); an opted-out step's result is stored and it completes."""
    cs.use_pool(oban_pool)
    wf = Workflow(name="unsignalled").add("a", worker.new()).add("b", es.Reads.new(), deps="a")
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        seen = await follow(events, conn, wf.id)

    assert steps_of(seen) == [
        ("a", "executing"),
        ("a", outcome),
        ("b", "executing"),
        ("b", "cancelled"),
    ]
    a = await stored(conn, wf.id)
    if outcome == "cancelled":
        assert a["a"] == ["cancelled", False, None]
        assert step_event(seen, "a", "cancelled").error == (
            f"workflow {wf.id!r} was cancelled: the result was not stored"
        )
    else:
        assert a["a"] == ["completed", True, {"value": {"after": "the cancel"}}]
    assert len(finished_of(seen, wf.id)) == 1


async def test_store_result_refuses_once_the_workflow_is_cancelled(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="refuse").add("a", es.Quick.new())
    await wf.insert()
    job = await client.get_job(wf.steps["a"].job.id)
    assert job is not None
    job.attempt = 1
    await baton.cancel(wf.id)
    result = '{"value": 1}'
    assert await store.store_result(client, job, result, unless_cancelled=True) == "refused"
    assert (await stored(conn, wf.id))["a"][1:] == [False, None]
    assert await store.store_result(client, job, result) == "stored"
    assert await store.store_result(client, job, '{"value": 2}') == "already"
    assert (await stored(conn, wf.id))["a"][1:] == [True, {"value": 1}]


RACES = 40


@pytest.mark.timeout(120)
async def test_a_cancel_racing_the_result_either_keeps_it_or_stores_nothing(
    runs: psycopg.AsyncConnection[Any], listening: Oban
) -> None:
    """Cancels land at random moments around the end of a step's work: before it starts,
    while it works, while its result is being stored, after it completed. Each step ends
    either completed with its result, or cancelled with none; each workflow finishes once."""
    workflows = [
        Workflow(name="race")
        .add("r", cs.Racer.new({"n": n, "spread": 0.3}))
        .add("next", es.Quick.new(), deps="r")
        for n in range(RACES)
    ]
    rng = random.Random(12)  # noqa: S311 - reproducible timings, not a secret
    async with baton.subscribe() as events:

        async def cancel_later(wf: Workflow) -> None:
            await asyncio.sleep(rng.uniform(0, 0.5))  # a random moment, not a wait for a state
            await baton.cancel(wf.id)

        cancels = []
        for wf in workflows:
            await wf.insert()
            cancels.append(asyncio.create_task(cancel_later(wf)))
        await asyncio.gather(*cancels)
        for wf in workflows:
            await wait_settled(runs, wf.id)
        # every step has settled, so every finished event was sent: read up to a marker
        seen = await flush(events, runs, workflows[-1].id)

    finished = Counter(e.workflow_id for e in seen if isinstance(e, baton.WorkflowFinished))
    assert finished == dict.fromkeys((wf.id for wf in workflows), 1)

    kinds: dict[str, int] = {}
    for wf in workflows:
        r = (await stored(runs, wf.id))["r"]
        assert (r[0], r[1]) in {("completed", True), ("cancelled", False)}, (wf.id, r)
        assert (r[2] is None) == (r[0] == "cancelled")
        runs_of = await recorded(runs, wf.steps["r"].job.id)
        kind = f"{r[0]}{' after starting' if runs_of else ' before starting'}"
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"\ncancel races: {kinds}")
