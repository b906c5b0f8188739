"""Signal steps: durable signals, first wins, timeouts, bad inputs, status and events."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from oban import Oban
from oban.testing import drain_queue

import baton
from baton import Workflow
from baton.errors import (
    AlreadySignalled,
    InvalidSignal,
    InvalidStep,
    NotASignalStep,
    SignalError,
    SignalExpired,
    UnknownStep,
    UnknownWorkflow,
    WorkflowNotRunning,
)
from tests.support.steps import Echo, Outcome, Reader


async def drain(oban: Oban, *, scheduled: bool = False) -> dict[str, int]:
    return await drain_queue(
        queue="default", oban=oban, with_scheduled=scheduled, with_safety=True
    )


async def job_state(conn: psycopg.AsyncConnection[Any], wf: Workflow, name: str) -> str:
    row = await (
        await conn.execute(
            "SELECT state::text FROM oban_jobs WHERE id = %s", (wf.steps[name].job.id,)
        )
    ).fetchone()
    assert row is not None
    return str(row[0])


def approval(timeout: float | None = None, **flags: Any) -> Workflow:
    return (
        Workflow(name="reply")
        .add("draft", Echo.new({"value": {"text": "hello"}}))
        .add_signal("approve", deps=["draft"], timeout=timeout)
        .add("send", Reader.new({"read": "one", "dep": "approve"}), deps=["approve"], **flags)
    )


async def test_signal_after_ready_completes_the_step_and_its_dependent(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await approval().insert()
    await drain(client)
    status = await baton.status(wf.id)
    assert status.step("draft").state == "completed"
    assert status.step("approve").state == "awaiting_signal"
    assert status.step("approve").signal is True
    assert status.step("approve").signalled_at is None
    assert status.step("send").state == "suspended"
    assert await job_state(conn, wf, "approve") == "suspended"  # no queue slot taken

    await baton.signal(wf.id, "approve", {"ok": True, "by": "ana"})
    assert await job_state(conn, wf, "approve") == "available"
    await drain(client)
    status = await baton.status(wf.id)
    assert status.state == "completed"
    assert status.step("approve").signalled_at is not None
    results = await baton.results(wf.id)
    assert results["approve"] == {"ok": True, "by": "ana"}
    assert results["send"] == {"got": {"ok": True, "by": "ana"}}
