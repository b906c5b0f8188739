"""Live events over LISTEN/NOTIFY: step transitions, workflow finished, topics, telemetry."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban, telemetry

import baton
from baton import StepEvent, Workflow, WorkflowFinished
from baton._events import parse
from tests.support import event_steps as es
from tests.support.db import wait_until
from tests.support.event_steps import drain, finished_of, flush, follow, lose_the_ack, steps_of

ROOT = Path(__file__).parents[2]
WORKER = "tests.support.event_steps"


def step_events(events: list[Any], step: str | None = None) -> list[StepEvent]:
    return [e for e in events if isinstance(e, StepEvent) and (step is None or e.step == step)]


async def test_step_events_carry_every_field(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="fields")
        .add("a", es.Quick.new({"value": 1}))
        .add("b", es.Quick.new({"value": 2}), deps=["a"])
    )
    before = datetime.now(UTC) - timedelta(seconds=1)
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        await drain(client)
        seen = await follow(events, conn, wf.id)
    after = datetime.now(UTC) + timedelta(seconds=1)

    assert steps_of(seen) == [
        ("a", "executing"),
        ("a", "completed"),
        ("b", "executing"),
        ("b", "completed"),
    ]
    assert isinstance(seen[-1], WorkflowFinished)
    for event in step_events(seen):
        assert event.workflow_id == wf.id
        assert event.workflow_name == "fields"
        assert event.worker == f"{WORKER}.Quick"
        assert event.job_id == wf.steps[event.step].job.id
        assert event.attempt == 1
        assert event.cached is False
        assert event.error is None
        assert event.result_stored is (event.state == "completed")
        assert event.at.tzinfo is not None
        assert before <= event.at <= after
        assert event.topics == (f"workflow:{wf.id}", "workflow:all")
    times = [event.at for event in seen]
    assert times == sorted(times)

    finished = seen[-1]
    assert finished.workflow_id == wf.id
    assert finished.workflow_name == "fields"
    assert finished.outcome == "completed"
    assert finished.failed_steps == ()
    assert finished.failed_count == 0
    assert finished.duration_ms >= 0
    assert abs(finished.duration_ms - (await baton.status(wf.id)).duration_ms) <= 1
    assert before <= finished.at <= after
    with pytest.raises(AttributeError):
        finished.outcome = "failed"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        seen[0].state = "completed"


async def test_each_topic_gets_its_workflow_and_all_gets_both(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    one = Workflow(name="one").add("a", es.Quick.new()).add("b", es.Quick.new(), deps=["a"])
    two = Workflow(name="two").add("x", es.Quick.new()).add("y", es.Quick.new(), deps=["x"])
    async with (
        baton.subscribe(one.id) as first,
        baton.subscribe(two.id) as second,
        baton.subscribe() as everything,
    ):
        await one.insert()
        await two.insert()
        await drain(client)
        seen_one = await follow(first, conn, one.id)
        seen_two = await follow(second, conn, two.id)
        seen_all = await flush(everything, conn, "nobody")

    assert {e.workflow_id for e in seen_one} == {one.id}
    assert {e.workflow_id for e in seen_two} == {two.id}
    assert steps_of(seen_one) == [
        ("a", "executing"),
        ("a", "completed"),
        ("b", "executing"),
        ("b", "completed"),
    ]
    assert steps_of(seen_two) == [
        ("x", "executing"),
        ("x", "completed"),
        ("y", "executing"),
        ("y", "completed"),
    ]
    # workflow:all saw exactly the union, each event once, in the same per-workflow order
    assert [e for e in seen_all if e.workflow_id == one.id] == seen_one
    assert [e for e in seen_all if e.workflow_id == two.id] == seen_two
    assert len(seen_all) == len(seen_one) + len(seen_two)
    assert len(finished_of(seen_all, one.id)) == len(finished_of(seen_all, two.id)) == 1


async def test_retryable_discarded_and_cancel_caused_by_a_dep(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    es.DEP_CALLBACKS.clear()
    wf = (
        Workflow(name="failing")
        .add("fail", es.Failing.new({"message": "boom"}))
        .add("reader", es.Reads.new(), deps=["fail"])
        .add("plain", es.Plain.new(), deps=["fail"])
    )
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        await drain(client)
        seen = await follow(events, conn, wf.id)

    assert steps_of(seen) == [
        ("fail", "executing"),
        ("fail", "retryable"),
        ("fail", "executing"),
        ("fail", "discarded"),
        ("plain", "cancelled"),  # a plain Oban worker is cancelled by the trigger
        ("reader", "executing"),  # a Baton step is activated and cancels itself
        ("reader", "cancelled"),
    ]
    fail = step_events(seen, "fail")
    assert [e.attempt for e in fail] == [1, 1, 2, 2]
    assert fail[1].error == "RuntimeError: boom"
    assert fail[3].error == "RuntimeError: boom"
    assert fail[0].error is None and fail[2].error is None
    assert not any(e.result_stored for e in fail)

    plain = step_events(seen, "plain")[0]
    assert plain.worker == f"{WORKER}.Plain"
    assert plain.error == "cancelled by Baton: dependencies did not complete: fail (discarded)"
    assert plain.attempt == 0

    reader = step_events(seen, "reader")[-1]
    assert reader.error == "dependencies did not complete (discarded: 'fail')"
    assert es.DEP_CALLBACKS == [
        (wf.id, "reader", "discarded", "dependencies did not complete (discarded: 'fail')")
    ]

    [finished] = finished_of(seen, wf.id)
    assert finished.outcome == "failed"
    assert finished.failed_steps == ("fail", "reader", "plain")  # insert order
    assert finished.failed_count == 3
    assert seen[-1] == finished


async def test_snoozed_step_events(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = Workflow(name="snooze").add("nap", es.SnoozeOnce.new({"value": "rested"}))
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        await drain(client)
        seen = await follow(events, conn, wf.id)

    assert steps_of(seen) == [
        ("nap", "executing"),
        ("nap", "snoozed"),
        ("nap", "executing"),
        ("nap", "completed"),
    ]
    nap = step_events(seen)
    # a snooze gives its attempt back: the next run is attempt 1 again
    assert nap[0].attempt == 1 and nap[2].attempt == 1 and nap[3].attempt == 1
    assert nap[1].error is None and nap[1].result_stored is False
    assert nap[3].result_stored is True and nap[3].cached is False
    assert es.calls(wf.id, "nap") == 2


@pytest.mark.parametrize(
    ("outcome", "state", "error"),
    [
        ("cancel", "cancelled", "not needed"),
        ("discard", "discarded", "baton._outcomes.StepFailed: bad input"),
    ],
)
async def test_cancel_and_discard_returns(
    conn: psycopg.AsyncConnection[Any], client: Oban, outcome: str, state: str, error: str
) -> None:
    reason = "not needed" if outcome == "cancel" else "bad input"
    wf = Workflow(name=outcome).add("s", es.Returns.new({"outcome": outcome, "reason": reason}))
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        await drain(client)
        seen = await follow(events, conn, wf.id)

    assert steps_of(seen) == [("s", "executing"), ("s", state)]
    assert step_events(seen)[-1].error == error
    [finished] = finished_of(seen, wf.id)
    assert (finished.outcome, finished.failed_steps, finished.failed_count) == (
        "failed",
        ("s",),
        1,
    )


async def test_cached_completion_after_a_lost_ack(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="cached").add("once", es.Quick.new({"value": "stored"}))
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        await lose_the_ack(client)
        await wait_until(
            conn,
            "SELECT state = 'available' FROM oban_jobs WHERE id = %s",
            (wf.steps["once"].job.id,),
        )
        await drain(client)
        seen = await follow(events, conn, wf.id)

    assert steps_of(seen) == [("once", "executing"), ("once", "executing"), ("once", "completed")]
    first, second, completed = step_events(seen)
    assert (first.attempt, first.result_stored, first.cached) == (1, False, False)
    assert (second.attempt, second.result_stored, second.cached) == (2, True, False)
    assert (completed.attempt, completed.result_stored, completed.cached) == (2, True, True)
    assert es.calls(wf.id, "once") == 1  # the stored result was returned, not recomputed
    [finished] = finished_of(seen, wf.id)
    assert finished.outcome == "completed"


@contextlib.asynccontextmanager
async def listen_raw(dsn: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A bare LISTEN on the events channel, for the payloads as sent. Events are sent only
    while someone is present, so a ``workflow:all`` subscription is held open meanwhile."""
    async with (
        await psycopg.AsyncConnection.connect(dsn, autocommit=True) as raw,
        baton.subscribe(dsn=dsn),
    ):
        await raw.execute(f'LISTEN "{es.EVENTS_CHANNEL}"')
        yield raw


async def raw_payloads(raw: psycopg.AsyncConnection[Any], finished: int) -> list[str]:
    payloads: list[str] = []
    async with asyncio.timeout(30):
        async for notify in raw.notifies():
            payloads.append(notify.payload)
            if sum(json.loads(p)["type"] == "workflow" for p in payloads) == finished:
                return payloads
    raise AssertionError("unreachable")


CUT = "… (cut; the whole error is in the job)"


async def test_payloads_stay_under_8000_bytes_whatever_the_error(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    big_ascii = "x" * 100_000
    long_ascii = "y" * 5_000  # fits: goes whole
    big_wide = "é€😀" * 34_000  # ~300 kB of UTF-8
    big_escaped = "\x01" * 100_000  # 6 bytes each once JSON-escaped
    nasty_name = "\x02" * 500
    wfs = [
        Workflow(name="ascii").add("s", es.Failing.new({"message": big_ascii})),
        Workflow(name="long").add("s", es.Failing.new({"message": long_ascii})),
        Workflow(name="wide").add("s", es.Returns.new({"outcome": "cancel", "reason": big_wide})),
        Workflow(name="escaped").add(
            "s", es.Returns.new({"outcome": "discard", "reason": big_escaped})
        ),
        # the worst case: every name and the id at their limits, all escaped 6-fold
        Workflow(name=nasty_name, id="\x03" * 128).add(
            "s", es.Returns.new({"outcome": "discard", "reason": big_escaped})
        ),
    ]
    async with listen_raw(installed) as raw:
        for wf in wfs:
            await wf.insert()
        await drain(client)
        payloads = await raw_payloads(raw, finished=len(wfs))

    for payload in payloads:
        assert len(payload.encode()) < 8000
    events = [parse(payload) for payload in payloads]
    by_wf = {wf.name: [e for e in events if e and e.workflow_id == wf.id] for wf in wfs}

    ascii_errors = [e.error for e in step_events(by_wf["ascii"]) if e.state != "executing"]
    assert len(ascii_errors) == 2  # retryable, discarded
    for error in ascii_errors:
        assert error is not None
        assert error == ("RuntimeError: " + big_ascii)[:1000] + CUT

    long_errors = [e.error for e in step_events(by_wf["long"]) if e.state != "executing"]
    assert long_errors == ["RuntimeError: " + long_ascii] * 2

    [wide] = [e for e in step_events(by_wf["wide"]) if e.state == "cancelled"]
    assert wide.error == big_wide[:1000] + CUT

    [escaped] = [e for e in step_events(by_wf["escaped"]) if e.state == "discarded"]
    assert escaped.error == ("baton._outcomes.StepFailed: " + big_escaped)[:1000] + CUT

    [worst] = [e for e in step_events(by_wf[nasty_name]) if e.state == "discarded"]
    assert worst.workflow_id == "\x03" * 128
    assert worst.workflow_name == nasty_name[:200]
    # the cut error still did not fit: it is replaced, the full error stays on the job
    assert worst.error == "(error too large for an event; read it from the job)"
    stored = await (
        await conn.execute(
            "SELECT errors -> -1 ->> 'error' FROM oban_jobs WHERE id = %s",
            (wfs[3].steps["s"].job.id,),
        )
    ).fetchone()
    assert stored is not None and big_escaped in stored[0]
    for wf in wfs:
        assert len(finished_of(by_wf[wf.name], wf.id)) == 1


async def test_manual_cancel_job_settles_the_last_step(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="manual").add("a", es.Quick.new()).add("b", es.OtherQueue.new(), deps=["a"])
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        await drain(client, "default")  # "b" (queue other) becomes available, not run
        await client.cancel_job(wf.steps["b"].job.id)
        seen = await follow(events, conn, wf.id)

    assert steps_of(seen) == [("a", "executing"), ("a", "completed"), ("b", "cancelled")]
    cancelled = step_events(seen, "b")[0]
    assert cancelled.worker == f"{WORKER}.OtherQueue"
    assert cancelled.job_id == wf.steps["b"].job.id
    assert cancelled.attempt == 0
    [finished] = finished_of(seen, wf.id)
    assert (finished.outcome, finished.failed_steps) == ("failed", ("b",))
    assert es.calls(wf.id, "b") == 0


async def test_sql_update_settles_the_last_step(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="sql").add("a", es.Quick.new()).add("b", es.OtherQueue.new(), deps=["a"])
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        await drain(client, "default")
        await conn.execute(
            "UPDATE oban_jobs SET state = 'completed', completed_at = now() WHERE id = %s",
            (wf.steps["b"].job.id,),
        )
        seen = await follow(events, conn, wf.id)

    assert steps_of(seen) == [("a", "executing"), ("a", "completed"), ("b", "completed")]
    completed = step_events(seen, "b")[0]
    assert (completed.result_stored, completed.cached) == (False, False)
    [finished] = finished_of(seen, wf.id)
    assert (finished.outcome, finished.failed_steps, finished.failed_count) == ("completed", (), 0)


async def test_deleted_job_and_pruning(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = Workflow(name="deleted").add("a", es.Quick.new()).add("b", es.OtherQueue.new(), deps=["a"])
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        await drain(client, "default")
        # pruning the completed "a" is no transition: no event
        await conn.execute("DELETE FROM oban_jobs WHERE id = %s", (wf.steps["a"].job.id,))
        assert steps_of(await flush(events, conn, wf.id)) == [
            ("a", "executing"),
            ("a", "completed"),
        ]
        await conn.execute("DELETE FROM oban_jobs WHERE id = %s", (wf.steps["b"].job.id,))
        seen = await follow(events, conn, wf.id)

    assert steps_of(seen) == [("b", "deleted")]
    deleted = step_events(seen)[0]
    assert deleted.job_id == wf.steps["b"].job.id
    assert deleted.error is None
    [finished] = finished_of(seen, wf.id)
    assert (finished.outcome, finished.failed_steps) == ("failed", ("b",))


async def test_workflow_finished_exactly_once_when_steps_settle_together(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    workflows = []
    for n in range(4):
        wf = Workflow(name=f"wide-{n}")
        wf.add_many("leaf", [es.Quick.new({"value": i}) for i in range(12)])
        wf.add_many("more", [es.OtherQueue.new({"value": i}) for i in range(6)])
        workflows.append(wf)
    async with baton.subscribe() as events:
        for wf in workflows:
            await wf.insert()
        seen: list[Any] = []
        async with asyncio.timeout(60):
            while len([e for e in seen if isinstance(e, WorkflowFinished)]) < len(workflows):
                seen.append(await anext(events))
        seen += await flush(events, conn, "nobody")

    for wf in workflows:
        [finished] = finished_of(seen, wf.id)
        assert finished.outcome == "completed"
        completed = [s for s, state in steps_of(seen, wf.id) if state == "completed"]
        assert sorted(completed) == sorted(wf.steps)  # each step completed exactly once
        assert steps_of(seen, wf.id).count(("leaf[0]", "executing")) == 1
    assert len([e for e in seen if isinstance(e, WorkflowFinished)]) == len(workflows)


async def test_a_subscriber_in_another_process(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="remote")
        .add("a", es.Quick.new({"value": 1}))
        .add("b", es.FailOnce.new({"value": 2}), deps=["a"])
    )
    other = Workflow(name="unrelated").add("z", es.Quick.new())
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.subscriber_proc",
        "--dsn",
        installed,
        "--workflow",
        wf.id,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            ready = await proc.stdout.readline()
        assert ready == b"READY\n"
        async with baton.subscribe(wf.id) as events:
            await other.insert()
            await drain(client)  # the unrelated workflow finishes first
            await wf.insert()
            await drain(client)
            local = await follow(events, conn, wf.id)
        async with asyncio.timeout(30):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()

    remote = [json.loads(line) for line in out.decode().splitlines()]
    assert {line["workflow_id"] for line in remote} == {wf.id}
    assert [line["type"] for line in remote].count("workflow") == 1
    assert remote[-1]["type"] == "workflow"
    assert remote[-1]["outcome"] == "completed"
    assert [(line["step"], line["state"]) for line in remote[:-1]] == steps_of(local)
    assert steps_of(local) == [
        ("a", "executing"),
        ("a", "completed"),
        ("b", "executing"),
        ("b", "retryable"),
        ("b", "executing"),
        ("b", "completed"),
    ]
    for line, event in zip(remote[:-1], step_events(local), strict=True):
        assert line["job_id"] == event.job_id
        assert line["attempt"] == event.attempt
        assert line["error"] == event.error
        assert datetime.fromisoformat(line["at"]) == event.at


LISTENERS = """
SELECT coalesce(array_agg(pid ORDER BY pid), '{}')
  FROM pg_stat_activity
 WHERE datname = current_database() AND backend_type = 'client backend'
   AND pid <> pg_backend_pid()
"""


async def backends(conn: psycopg.AsyncConnection[Any]) -> set[int]:
    row = await (await conn.execute(LISTENERS)).fetchone()
    assert row is not None
    return set(row[0])


async def test_one_listen_connection_closed_when_the_last_subscriber_leaves(
    installed: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    before = await backends(conn)
    async with baton.subscribe("w1", dsn=installed) as one:
        [listener] = await backends(conn) - before
        row = await (
            await conn.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (listener,))
        ).fetchone()
        # its last statement: the LISTEN, or the registration of its subscribers' topics
        assert row is not None
        assert row[0] == f'LISTEN "{es.EVENTS_CHANNEL}"' or "baton_listeners" in row[0]
        async with baton.subscribe(dsn=installed) as two, baton.subscribe("w1", dsn=installed):
            assert await backends(conn) - before == {listener}  # shared by every subscriber
            assert await flush(two, conn, "w1") == []
        # two left; one is still served by the same connection
        assert await backends(conn) - before == {listener}
        assert await flush(one, conn, "w1") == []
    await wait_until(
        conn, "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)", (listener,)
    )
    assert await backends(conn) - before == set()

    # leaving by an exception, or by cancelling the reading task, releases it too
    with pytest.raises(RuntimeError, match="reader failed"):
        async with baton.subscribe(dsn=installed):
            [listener] = await backends(conn) - before
            raise RuntimeError("reader failed")
    await wait_until(
        conn, "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)", (listener,)
    )

    entered = asyncio.Event()

    async def reader() -> None:
        async with baton.subscribe("w2", dsn=installed) as events:
            entered.set()
            async for _event in events:
                pass

    task = asyncio.create_task(reader())
    async with asyncio.timeout(10):
        await entered.wait()
    [listener] = await backends(conn) - before
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(
        conn, "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)", (listener,)
    )
    assert await backends(conn) - before == set()


async def test_reconnects_after_the_listen_connection_dies(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    before = await backends(conn)
    wf = Workflow(name="after-reconnect").add("a", es.Quick.new())
    async with baton.subscribe(wf.id, dsn=installed) as events:
        [listener] = await backends(conn) - before
        await conn.execute("SELECT pg_terminate_backend(%s)", (listener,))
        async with asyncio.timeout(30):
            reconnected = await anext(events)
        assert isinstance(reconnected, baton.Reconnected)
        assert reconnected.at.tzinfo is not None
        [replacement] = await backends(conn) - before
        assert replacement != listener
        await wf.insert()
        await drain(client)
        seen = await follow(events, conn, wf.id)
    assert steps_of(seen) == [("a", "executing"), ("a", "completed")]
    assert len(finished_of(seen, wf.id)) == 1


@pytest.fixture
def recorded() -> Any:
    calls: list[tuple[str, Any]] = []

    def handler(name: str, metadata: dict[str, Any]) -> None:
        calls.append((name, metadata["event"]))

    telemetry.attach("test-baton-events", baton.telemetry.EVENTS, handler)
    yield calls
    telemetry.detach("test-baton-events")


async def test_each_received_event_is_one_telemetry_event(
    conn: psycopg.AsyncConnection[Any], client: Oban, recorded: list[tuple[str, Any]]
) -> None:
    wf = (
        Workflow(name="telemetry")
        .add("ok", es.Quick.new())
        .add("bad", es.Failing.new({"message": "nope"}))
    )
    async with baton.subscribe(wf.id) as events, baton.subscribe(wf.id), baton.subscribe():
        await wf.insert()
        await drain(client)
        seen = await follow(events, conn, wf.id)

    mine = [(name, event) for name, event in recorded if event.workflow_id == wf.id]
    # three local subscribers, one telemetry event per received event
    assert [event for _name, event in mine] == seen
    for name, event in mine:
        if isinstance(event, StepEvent):
            assert name == f"baton.step.{event.state}"
        else:
            assert name == "baton.workflow.finished"
    names = {name for name, _event in mine}
    assert names == {
        "baton.step.executing",
        "baton.step.completed",
        "baton.step.retryable",
        "baton.step.discarded",
        "baton.workflow.finished",
    }


async def test_relay_turns_events_into_telemetry_without_reading_them(
    conn: psycopg.AsyncConnection[Any], client: Oban, recorded: list[tuple[str, Any]]
) -> None:
    wf = Workflow(name="relayed").add("a", es.Quick.new())
    async with baton.telemetry.relay():
        await wf.insert()
        await drain(client)
        # a marker through the same listening connection: everything before it was received
        async with baton.subscribe(wf.id) as events:
            await flush(events, conn, wf.id)
    assert [(name, e.step) for name, e in recorded if isinstance(e, StepEvent)] == [
        ("baton.step.executing", "a"),
        ("baton.step.completed", "a"),
    ]
    assert [name for name, e in recorded if isinstance(e, WorkflowFinished)] == [
        "baton.workflow.finished"
    ]


async def test_default_logger_writes_json_lines(
    conn: psycopg.AsyncConnection[Any], client: Oban, caplog: pytest.LogCaptureFixture
) -> None:
    wf = (
        Workflow(name="logged")
        .add("ok", es.Quick.new())
        .add("bad", es.Returns.new({"outcome": "discard", "reason": "bad input"}))
    )
    caplog.set_level(logging.INFO, logger="baton")
    baton.telemetry.attach_default_logger()
    try:
        async with baton.subscribe(wf.id) as events:
            await wf.insert()
            await drain(client)
            await follow(events, conn, wf.id)
    finally:
        baton.telemetry.detach_default_logger()

    lines = []
    for record in caplog.records:
        if record.name != "baton" or not record.getMessage().startswith("{"):
            continue
        line = json.loads(record.getMessage())
        if line.get("workflow_id") == wf.id:
            lines.append((record.levelno, line))
    events = [(line["event"], line.get("step")) for _level, line in lines]
    assert events == [
        ("baton.step.executing", "ok"),
        ("baton.step.completed", "ok"),
        ("baton.step.executing", "bad"),
        ("baton.step.discarded", "bad"),
        ("baton.workflow.finished", None),
    ]
    levels = {line["event"]: level for level, line in lines}
    assert levels["baton.step.completed"] == logging.INFO
    assert levels["baton.step.discarded"] == logging.WARNING
    assert levels["baton.workflow.finished"] == logging.WARNING  # the workflow failed
    discarded = next(line for _lvl, line in lines if line["event"] == "baton.step.discarded")
    assert discarded["source"] == "baton"
    assert discarded["workflow_name"] == "logged"
    assert discarded["error"] == "baton._outcomes.StepFailed: bad input"
    assert datetime.fromisoformat(discarded["at"]).tzinfo is not None
    finished = next(line for _lvl, line in lines if line["event"] == "baton.workflow.finished")
    assert finished["outcome"] == "failed"
    assert finished["failed_steps"] == ["bad"]

    # detached: nothing more is logged
    caplog.clear()
    again = Workflow(name="quiet").add("a", es.Quick.new())
    async with baton.subscribe(again.id) as events:
        await again.insert()
        await drain(client)
        await follow(events, conn, again.id)
    assert not [r for r in caplog.records if r.getMessage().startswith("{")]


async def test_a_slow_reader_keeps_maxsize_events_and_counts_the_dropped(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="slow-reader").add("a", es.Quick.new()).add("b", es.Quick.new(), deps=["a"])
    async with baton.subscribe(wf.id, maxsize=2) as small, baton.subscribe(wf.id) as full:
        await wf.insert()
        await drain(client)
        everything = await follow(full, conn, wf.id)  # small got the same, plus the marker
        assert len(everything) == 5
        assert small.dropped == 5 + 1 - 2
        kept = [await anext(small), await anext(small)]
    assert kept == everything[:2]  # the oldest are kept, new ones dropped


async def test_subscribe_gives_up_when_it_cannot_listen(conn: psycopg.AsyncConnection[Any]) -> None:
    nowhere = "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1"
    with pytest.raises(TimeoutError, match=r"could not LISTEN for Baton events within 0\.5 s"):
        async with baton.subscribe("x", dsn=nowhere, timeout=0.5):
            pytest.fail("entered without a listening connection")
    # nothing left running or kept
    assert (id(asyncio.get_running_loop()), nowhere, es.EVENTS_CHANNEL) not in baton._events._hubs


async def test_finished_lists_forty_failed_steps_and_counts_them_all(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    # long names everywhere: the finished payload must still fit in a NOTIFY
    wf = Workflow(name="\x02" * 300, id="\x03" * 128)
    names = [f"{n:03d}" + "s" * 125 for n in range(45)]
    for name in names:
        wf.add(name, es.Returns.new({"outcome": "cancel", "reason": "no"}))
    async with listen_raw(installed) as raw:
        await wf.insert()
        await drain(client)
        payloads = await raw_payloads(raw, finished=1)

    assert max(len(payload.encode()) for payload in payloads) < 8000
    finished = parse(payloads[-1])
    assert isinstance(finished, WorkflowFinished)
    assert finished.workflow_id == wf.id
    assert finished.failed_count == 45
    assert finished.failed_steps == tuple(names[:40])  # the first 40, in insert order
    assert (await baton.status(wf.id)).state == "failed"


async def test_a_workflow_with_id_all_sees_only_its_own_events(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    mine = Workflow(name="mine", id="all").add("m", es.Quick.new())
    other = Workflow(name="other").add("o", es.Quick.new())
    async with baton.subscribe("all") as events:
        await other.insert()
        await mine.insert()
        await drain(client)
        seen = await follow(events, conn, "all")
    assert {event.workflow_id for event in seen} == {"all"}
    assert steps_of(seen) == [("m", "executing"), ("m", "completed")]


@pytest.mark.slow
async def test_workflow_finished_exactly_once_across_worker_processes(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    workflows = [
        Workflow(name=f"spread-{n}").add_many(
            "leaf", [es.Quick.new({"value": i}) for i in range(30)]
        )
        for n in range(3)
    ]
    procs = []
    try:
        for node in ("e1", "e2", "e3"):
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "tests.support.worker_proc",
                    "--dsn",
                    installed,
                    "--queues",
                    "default:10",
                    "--node",
                    node,
                    cwd=ROOT,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            )
        for proc in procs:
            assert proc.stdout is not None
            async with asyncio.timeout(30):
                assert (await proc.stdout.readline()).startswith(b"READY")

        async with baton.subscribe() as events:
            for wf in workflows:
                await wf.insert()
            seen: list[Any] = []
            async with asyncio.timeout(60):
                while sum(isinstance(e, WorkflowFinished) for e in seen) < len(workflows):
                    seen.append(await anext(events))
            seen += await flush(events, conn, "nobody")
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            async with asyncio.timeout(30):
                await proc.wait()

    for wf in workflows:
        assert len(finished_of(seen, wf.id)) == 1
        completed = [step for step, state in steps_of(seen, wf.id) if state == "completed"]
        assert sorted(completed) == sorted(wf.steps)
    assert sum(isinstance(e, WorkflowFinished) for e in seen) == len(workflows)
    ran_in = await (
        await conn.execute("SELECT count(DISTINCT attempted_by[1]) FROM oban_jobs")
    ).fetchone()
    assert ran_in is not None and ran_in[0] >= 2  # really spread over processes


async def test_a_subscriber_joining_while_the_last_one_leaves_is_listening(
    installed: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    """The last subscriber's exit closes the connection (it awaits the listener task);
    one that subscribes meanwhile gets a new connection, and must not enter its body
    before that connection LISTENs: from then on no event may be missed."""
    for _round in range(5):
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(baton.subscribe("w", dsn=installed))
        leaving = asyncio.create_task(stack.aclose())
        await asyncio.sleep(0)  # let the exit start closing the old connection
        async with baton.subscribe("w", dsn=installed) as events:
            # sent at once: the new subscription must already be listening
            assert await flush(events, conn, "w") == []
        await leaving


def test_leaving_releases_the_event_loop_too(installed: str) -> None:
    """Each event loop that subscribed and left keeps nothing behind (a process that runs
    ``asyncio.run`` per request would otherwise keep every loop alive)."""

    async def subscribe_once() -> None:
        async with baton.subscribe("w", dsn=installed):
            pass

    def in_a_new_loop() -> None:
        asyncio.run(subscribe_once())

    before = len(baton._events._hubs)
    for _ in range(3):
        thread = threading.Thread(target=in_a_new_loop)
        thread.start()
        thread.join(30)
        assert not thread.is_alive()
    assert len(baton._events._hubs) == before


async def test_the_event_error_is_the_whole_exception_not_its_last_line(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """Oban stores a traceback; the event carries its exception part. Messages often span
    lines (an API's JSON body, a psycopg DETAIL, a pydantic ValidationError), and the last
    line alone would be "}" or "For further information visit ..."."""
    body = 'API error 429\n{\n  "error": "rate_limited"\n}'
    wf = (
        Workflow(name="errors")
        .add("multiline", es.Failing.new({"message": body}))
        .add("chained", es.Chained.new())
    )
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        await drain(client)
        seen = await follow(events, conn, wf.id)

    errors = {(e.step, e.state): e.error for e in step_events(seen) if e.error is not None}
    assert errors[("multiline", "retryable")] == "RuntimeError: " + body
    assert errors[("multiline", "discarded")] == "RuntimeError: " + body
    assert errors[("chained", "discarded")] == "RuntimeError: outer"  # the final exception
