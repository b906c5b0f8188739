"""Live events while several worker processes share one database (DESIGN §3 "Events").

The steps run in ``tests.support.worker_proc`` subprocesses (the harness of
``test_multiprocess.py``); this test process inserts workflows, subscribes with
``baton.subscribe(..., dsn=...)`` (it runs no queues) and reads the database. The
property under test: one ``WorkflowFinished`` per workflow, however many steps settle at
the same moment in however many processes, and whatever path settles the last step.

Reads of the event stream are bounded by ``asyncio.timeout``. To show that no second
finished event follows the first, each test keeps reading for ``QUIET`` seconds after it:
a bounded wait for an absence, which no database state can signal.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Reconnected, StepEvent, Subscription, Workflow, WorkflowFinished
from tests.integration.test_multiprocess import rows, workers
from tests.support.db import wait_until
from tests.support.proc_event_steps import CANCEL_REASON, Parked, Sleeper
from tests.support.proc_steps import Crashy, Node

pytestmark = pytest.mark.slow

QUIET = 1.5  # seconds of reading after a finished event, to catch a duplicate
SIBLINGS = 200
OTHER_SIBLINGS = 50
# Lifeline settings proven by test_multiprocess's crash test: rescue jobs executing for
# over 2 s, every 0.5 s; a 1 s leader lease moves the lifeline quickly off a killed leader.
LIFELINE = ["--rescue-after", "2", "--lifeline-interval", "0.5", "--leader-interval", "1"]

type Seen = list[Any]


async def read_until(
    events: Subscription, seen: Seen, done: Callable[[Seen], bool], timeout: float, what: str
) -> None:
    """Append events to ``seen`` until ``done(seen)``; fail after ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while not done(seen):
                seen.append(await anext(events))
    except TimeoutError:
        raise AssertionError(
            f"{what} not seen within {timeout}s on {events.topic}; {len(seen)} events, "
            f"last ones: {seen[-5:]}"
        ) from None


async def read_more(events: Subscription, seen: Seen, seconds: float = QUIET) -> None:
    """Append whatever arrives in the next ``seconds`` (a bounded wait for an absence)."""
    with suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                seen.append(await anext(events))


def finished(seen: Seen, workflow_id: str | None = None) -> list[WorkflowFinished]:
    return [
        event
        for event in seen
        if isinstance(event, WorkflowFinished)
        and (workflow_id is None or event.workflow_id == workflow_id)
    ]


def has_finished(*workflow_ids: str) -> Callable[[Seen], bool]:
    return lambda seen: all(finished(seen, workflow_id) for workflow_id in workflow_ids)


def step_events(seen: Seen, workflow_id: str, step: str | None = None) -> list[StepEvent]:
    return [
        event
        for event in seen
        if isinstance(event, StepEvent)
        and event.workflow_id == workflow_id
        and (step is None or event.step == step)
    ]


def has_step(workflow_id: str, step: str, state: str) -> Callable[[Seen], bool]:
    return lambda seen: any(e.state == state for e in step_events(seen, workflow_id, step))


def completions(seen: Seen, workflow_id: str) -> Counter[str]:
    return Counter(e.step for e in step_events(seen, workflow_id) if e.state == "completed")


async def workflow_row(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> tuple[Any, ...]:
    [row] = await rows(
        conn,
        "SELECT outcome, unsettled, finished_at IS NOT NULL FROM baton_workflows WHERE id = %s",
        (workflow_id,),
    )
    return tuple(row)


def siblings(name: str, count: int) -> Workflow:
    """A root step and ``count`` steps that all depend only on it."""
    wf = Workflow(name=name).add("root", Node.new({}))
    for index in range(count):
        wf.add(f"s{index:03d}", Node.new({}), deps=["root"])
    return wf


@pytest.mark.timeout(240)
async def test_two_hundred_siblings_across_three_processes_finish_exactly_once(
    installed: str, calls: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    conn = calls
    wf = siblings("siblings", SIBLINGS)
    other = siblings("other", OTHER_SIBLINGS)
    steps = {"root", *(f"s{index:03d}" for index in range(SIBLINGS))}
    other_steps = {"root", *(f"s{index:03d}" for index in range(OTHER_SIBLINGS))}

    async with (
        workers(installed, tmp_path) as group,
        baton.subscribe(wf.id, dsn=installed) as mine,
        baton.subscribe(dsn=installed) as every,
    ):
        await group.start(["sib-0", "sib-1", "sib-2"], ["--queues", "default:20"])
        mine_seen: Seen = []
        every_seen: Seen = []

        started = time.monotonic()
        await asyncio.gather(wf.insert(), other.insert())
        await read_until(mine, mine_seen, has_finished(wf.id), 120, f"{wf.id} finished")
        mine_at = time.monotonic() - started
        await read_until(
            every, every_seen, has_finished(wf.id, other.id), 120, "both finished on all"
        )
        every_at = time.monotonic() - started
        await asyncio.gather(read_more(mine, mine_seen), read_more(every, every_seen))

        # One finished event per workflow on each topic, and nothing of the other
        # workflow on this workflow's topic.
        assert len(finished(mine_seen)) == 1, finished(mine_seen)
        assert Counter(e.workflow_id for e in finished(every_seen)) == {wf.id: 1, other.id: 1}
        assert {event.workflow_id for event in mine_seen if not isinstance(event, Reconnected)} == {
            wf.id
        }
        assert [
            event for event in (*mine_seen, *every_seen) if isinstance(event, Reconnected)
        ] == []
        assert (mine.dropped, every.dropped) == (0, 0)

        [done] = finished(mine_seen)
        assert (done.outcome, done.failed_count, done.failed_steps) == ("completed", 0, ())
        assert done.workflow_name == "siblings"
        assert finished(every_seen, wf.id) == [done]
        [other_done] = finished(every_seen, other.id)
        assert (other_done.outcome, other_done.failed_count) == ("completed", 0)

        # Every step's completion arrived exactly once on each topic, and before the
        # finished event: the settlement that emits it waits for the workflow row's lock,
        # so every other settlement of the workflow has committed (and notified) first.
        once = dict.fromkeys(steps, 1)
        assert completions(mine_seen, wf.id) == once
        assert completions(every_seen, wf.id) == once
        assert completions(every_seen, other.id) == dict.fromkeys(other_steps, 1)
        assert completions(mine_seen[: mine_seen.index(done)], wf.id) == once
        assert not [e for e in step_events(mine_seen, wf.id) if e.cached or e.attempt != 1]
        assert not [
            e for e in step_events(mine_seen, wf.id) if e.state not in {"executing", "completed"}
        ]

        assert await workflow_row(conn, wf.id) == ("completed", 0, True)
        assert await workflow_row(conn, other.id) == ("completed", 0, True)

        by_pid = dict(
            await rows(
                conn,
                "SELECT pid, count(*) FROM test_calls WHERE workflow_id = %s GROUP BY pid",
                (wf.id,),
            )
        )
        assert sum(by_pid.values()) == len(steps)  # each step ran once
        assert set(by_pid) <= group.pids
        assert len(by_pid) > 1, f"only pids {by_pid} did work"

        print(
            f"\nsiblings: {len(mine_seen)} events on workflow:{wf.id[:8]}…, "
            f"{len(every_seen)} on workflow:all; {sum(completions(mine_seen, wf.id).values())} "
            f"completions, 1 finished each; finished after {mine_at:.2f}s "
            f"(both on workflow:all after {every_at:.2f}s, duration_ms {done.duration_ms}); "
            f"steps per pid {sorted(by_pid.values())}"
        )


@pytest.mark.timeout(180)
async def test_hard_killed_last_step_still_finishes_exactly_once(
    installed: str, calls: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    conn = calls
    wf = (
        Workflow(name="killed-last")
        .add("a", Node.new({}))
        .add("crashy", Crashy.new({"crash": True}), deps=["a"])
    )

    async with (
        workers(installed, tmp_path) as group,
        baton.subscribe(wf.id, dsn=installed) as events,
    ):
        await group.start(["kill-0", "kill-1"], LIFELINE)
        seen: Seen = []
        await wf.insert()

        victim = await group.first_exit(timeout=60)
        killed = time.monotonic()
        assert victim.proc.returncode == -signal.SIGKILL, (
            f"{victim.node} exited with {victim.proc.returncode}, not by SIGKILL"
        )
        await read_until(events, seen, has_finished(wf.id), 90, "finished after the rescue")
        finished_after = time.monotonic() - killed
        await read_more(events, seen)

        assert len(finished(seen)) == 1, finished(seen)
        [done] = finished(seen)
        assert (done.outcome, done.failed_count, done.failed_steps) == ("completed", 0, ())
        assert (events.dropped, [e for e in seen if isinstance(e, Reconnected)]) == (0, [])

        # Attempt 1 ran and was killed before its ack (no event for it); the rescued
        # attempt 2 returned the stored result: a cached completion, sent once.
        crashy = [
            (e.state, e.attempt, e.result_stored, e.cached)
            for e in step_events(seen, wf.id, "crashy")
        ]
        assert crashy == [
            ("executing", 1, False, False),
            ("executing", 2, True, False),
            ("completed", 2, True, True),
        ]
        assert [(e.state, e.cached) for e in step_events(seen, wf.id, "a")] == [
            ("executing", False),
            ("completed", False),
        ]
        assert seen[-1] == done

        assert await workflow_row(conn, wf.id) == ("completed", 0, True)
        [(state, attempt, rescued)] = await rows(
            conn,
            "SELECT j.state::text, j.attempt, (j.meta->>'rescued')::int "
            "FROM baton_steps s JOIN oban_jobs j ON j.id = s.job_id "
            "WHERE s.workflow_id = %s AND s.name = 'crashy'",
            (wf.id,),
        )
        assert (state, attempt, rescued) == ("completed", 2, 1)
        ran = await rows(
            conn,
            "SELECT step, pid FROM test_calls WHERE workflow_id = %s ORDER BY step",
            (wf.id,),
        )
        assert [step for step, _ in ran] == ["a", "crashy"]  # crashy ran once, in the victim
        assert dict(ran)["crashy"] == victim.pid

        print(
            f"\nkilled last step: {victim.node} SIGKILLed; the one finished event came "
            f"{finished_after:.2f}s later; {len(seen)} events"
        )


@pytest.mark.parametrize("path", ["oban-cancel-executing", "sql-cancel-available"])
@pytest.mark.timeout(180)
async def test_last_step_settled_by_manual_cancel_finishes_failed_exactly_once(
    installed: str,
    calls: psycopg.AsyncConnection[Any],
    client: Oban,
    tmp_path: Path,
    path: str,
) -> None:
    """The stuck last step is either executing in a worker process and cancelled through
    ``Oban.cancel_job`` from this process (the worker's producer gets the signal and acks
    it cancelled), or activated into a queue no process runs and cancelled by plain SQL."""
    conn = calls
    stuck = Sleeper.new({"seconds": 120}) if path == "oban-cancel-executing" else Parked.new({})
    wf = (
        Workflow(name="cancelled-last")
        .add("a", Node.new({}))
        .add("b", Node.new({}), deps=["a"])
        .add("stuck", stuck, deps=["a"])
    )

    async with (
        workers(installed, tmp_path) as group,
        baton.subscribe(wf.id, dsn=installed) as events,
    ):
        # The default lifeline (rescue after 300 s) leaves the sleeping step alone. Oban
        # cancels an executing job only by a signal, so READY waits for its LISTEN.
        await group.start(["cancel-0", "cancel-1"], ["--await-signals"])
        seen: Seen = []
        await wf.insert()
        job_id = wf.steps["stuck"].job.id
        assert job_id is not None

        await read_until(events, seen, has_step(wf.id, "b", "completed"), 60, "b completed")
        if path == "oban-cancel-executing":
            # Sent by the step's own process once it is running the step.
            await read_until(
                events, seen, has_step(wf.id, "stuck", "executing"), 60, "stuck executing"
            )
        else:
            await wait_until(
                conn, "SELECT state = 'available' FROM oban_jobs WHERE id = %s", (job_id,)
            )
        assert finished(seen) == []

        cancelled_at = time.monotonic()
        if path == "oban-cancel-executing":
            await client.cancel_job(job_id)
        else:
            await conn.execute(
                "UPDATE oban_jobs SET state = 'cancelled', cancelled_at = timezone('UTC', now()) "
                "WHERE id = %s",
                (job_id,),
            )
        await read_until(events, seen, has_finished(wf.id), 60, "finished after the cancel")
        finished_after = time.monotonic() - cancelled_at
        await read_more(events, seen)

        assert len(finished(seen)) == 1, finished(seen)
        [done] = finished(seen)
        assert (done.outcome, done.failed_count, done.failed_steps) == ("failed", 1, ("stuck",))
        assert (events.dropped, [e for e in seen if isinstance(e, Reconnected)]) == (0, [])

        stuck_events = [(e.state, e.error) for e in step_events(seen, wf.id, "stuck")]
        if path == "oban-cancel-executing":
            assert [state for state, _ in stuck_events] == ["executing", "cancelled"]
            assert CANCEL_REASON in (stuck_events[-1][1] or "")
        else:
            assert stuck_events == [("cancelled", None)]
        # The cancellation's own settlement sent the finished event, right after its
        # step event.
        assert seen[-2:] == [step_events(seen, wf.id, "stuck")[-1], done]
        assert completions(seen, wf.id) == {"a": 1, "b": 1}

        assert await workflow_row(conn, wf.id) == ("failed", 0, True)
        outcomes = dict(
            await rows(
                conn, "SELECT name, outcome FROM baton_steps WHERE workflow_id = %s", (wf.id,)
            )
        )
        assert outcomes == {"a": "completed", "b": "completed", "stuck": "cancelled"}
        [(state,)] = await rows(conn, "SELECT state::text FROM oban_jobs WHERE id = %s", (job_id,))
        assert state == "cancelled"

        print(
            f"\ncancelled last step ({path}): the one finished event (failed) came "
            f"{finished_after * 1000:.0f}ms after the cancel; {len(seen)} events"
        )
