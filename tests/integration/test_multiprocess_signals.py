"""Signals racing the settlements of their deps, across worker processes.

Three worker subprocesses (``tests.support.worker_proc``) run ``draft → approve (signal) →
send`` workflows while this process signals each ``approve`` twice, concurrently, at
random moments around ``draft``'s ack: before it runs, while it acks, after. The workflow
lock serialises a signal with the settlement that makes its step ready, so each workflow
must complete with exactly one of the two payloads, the other signal refused (already
signalled, or the workflow already finished), and
``send`` run exactly once. A second test lets a real timeout pass on the workers' stager.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from baton.errors import AlreadySignalled, SignalExpired, WorkflowNotRunning
from tests.integration.test_multiprocess import rows, settle, workers
from tests.support.proc_steps import Node

pytestmark = pytest.mark.slow

NODES = ["signal-a", "signal-b", "signal-c"]
WORKFLOWS = 100


def approval(index: int, timeout: float | None = None) -> Workflow:
    return (
        Workflow(name=f"race-{index}")
        .add("draft", Node.new({}))
        .add_signal("approve", deps=["draft"], timeout=timeout)
        .add("send", Node.new({}), deps=["approve"])
    )


async def send_twice(wf: Workflow, rng: random.Random) -> list[str]:
    """Two signals for ``approve`` at random moments; the senders whose signal was stored."""

    async def send(sender: str, delay: float) -> str | None:
        await asyncio.sleep(delay)
        try:
            await baton.signal(wf.id, "approve", {"step": "approve", "by": sender})
        except (AlreadySignalled, WorkflowNotRunning):  # the other one came first
            return None
        return sender

    # at once (usually before draft runs), or within the few ms draft takes to run and ack
    delays = [rng.uniform(0, 0.05) for _sender in range(2)]
    won = await asyncio.gather(send("first", delays[0]), send("second", delays[1]))
    return [sender for sender in won if sender is not None]


@pytest.mark.timeout(240)
async def test_signals_racing_their_deps_settlement_apply_once_across_processes(
    installed: str, calls: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    conn = calls
    rng = random.Random(20_261_204)  # noqa: S311 - reproducible timings, not a secret
    flows = [await approval(index).insert() for index in range(WORKFLOWS)]
    # half signalled before any worker runs (stored, applied when draft settles); the
    # others while the workers run the drafts: before, during or after each one's ack
    early = [await send_twice(wf, rng) for wf in flows[::2]]
    async with workers(installed, tmp_path) as group:
        await group.start(NODES)
        late = await asyncio.gather(*(send_twice(wf, rng) for wf in flows[1::2]))
        for wf in flows:
            await settle(conn, wf.id, timeout=60)
    winners = [None] * WORKFLOWS
    winners[::2], winners[1::2] = early, late

    before_ready = 0
    for wf, won in zip(flows, winners, strict=True):
        assert won is not None and len(won) == 1, (wf.id, won)  # exactly one signal stored
        status = await baton.status(wf.id)
        assert status.state == "completed", status
        assert (await baton.results(wf.id))["approve"] == {"step": "approve", "by": won[0]}
        signalled = status.step("approve").signalled_at
        ready = status.step("draft").settled_at
        assert signalled is not None and ready is not None
        before_ready += signalled < ready
    ran = await rows(
        conn,
        "SELECT workflow_id, step, count(*) FROM test_calls GROUP BY 1, 2 HAVING count(*) <> 1",
    )
    assert ran == []  # draft and send each ran exactly once per workflow
    sends = await rows(conn, "SELECT count(*) FROM test_calls WHERE step = 'send'")
    assert sends == [(WORKFLOWS,)]
    # the race was exercised both ways: some signals came before draft settled, some after
    assert WORKFLOWS // 2 <= before_ready < WORKFLOWS, before_ready


@pytest.mark.timeout(120)
async def test_a_timeout_passes_on_the_workers_and_cancels_the_dependent(
    installed: str, calls: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    conn = calls
    async with workers(installed, tmp_path) as group:
        await group.start(NODES[:2])
        wf = await approval(0, timeout=1).insert()
        await settle(conn, wf.id, timeout=60)
    status = await baton.status(wf.id)
    assert status.step("approve").state == "discarded"
    assert status.step("approve").error == "baton._outcomes.StepFailed: no signal within 1 s"
    assert status.step("send").state == "cancelled"
    assert status.state == "failed"
    assert await rows(conn, "SELECT step FROM test_calls WHERE workflow_id = %s", (wf.id,)) == [
        ("draft",)
    ]


@pytest.mark.timeout(180)
async def test_signals_racing_the_end_of_the_wait_are_applied_or_refused_never_both(
    installed: str, calls: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    conn = calls
    rng = random.Random(20_261_205)  # noqa: S311 - reproducible timings, not a secret
    flows = [
        Workflow(name=f"deadline-{index}")
        .add_signal("approve", timeout=1)
        .add("send", Node.new({}), deps="approve", ignore_discarded=True)
        for index in range(30)
    ]

    async def late(wf: Workflow, delay: float) -> bool:
        await wf.insert()  # a step without deps waits from its insert
        await asyncio.sleep(delay)  # around the end of its 1 s wait
        try:
            await baton.signal(wf.id, "approve", {"step": "approve"})
        except (SignalExpired, WorkflowNotRunning):
            return False
        return True

    async with workers(installed, tmp_path) as group:
        await group.start(NODES[:2], ["--stager-interval", "0.05"])
        delays = [rng.uniform(0.85, 1.25) for _wf in flows]
        accepted = await asyncio.gather(*(late(wf, d) for wf, d in zip(flows, delays, strict=True)))
        for wf in flows:
            await settle(conn, wf.id, timeout=60)
    for wf, ok in zip(flows, accepted, strict=True):
        status = await baton.status(wf.id)
        approve = status.step("approve")
        if ok:  # the signal got in before the wait ended: it is the step's result
            assert approve.state == "completed", (wf.id, approve)
            assert (await baton.results(wf.id))["approve"] == {"step": "approve"}
        else:  # refused: the wait had ended, the step was discarded
            assert approve.state == "discarded", (wf.id, approve)
            assert approve.error == "baton._outcomes.StepFailed: no signal within 1 s"
        assert status.step("send").state == "completed"  # ignore_discarded
    assert 0 < sum(accepted) < len(flows), accepted  # both sides of the race were seen
