"""``baton.wait``: a workflow's final status, on its finished event (issue 15 §5)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
import baton._wait as wait_module
from baton import Workflow
from baton.errors import InvalidOption, UnknownWorkflow
from tests.integration.test_multiprocess import workers
from tests.support import event_steps as es
from tests.support.event_steps import drain
from tests.support.proc_steps import Node


def two_steps(name: str) -> Workflow:
    return (
        Workflow(name=name)
        .add("a", es.Quick.new({"value": 1}))
        .add("b", es.Quick.new({"value": 2}), deps=["a"])
    )


async def test_wait_returns_when_a_running_workflow_finishes(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await two_steps("wait-running").insert()
    waiting = asyncio.create_task(baton.wait(wf.id, timeout=30))
    await asyncio.sleep(0)  # let the wait subscribe and read the running status
    assert not waiting.done()
    await drain(client)

    final = await waiting
    assert (final.id, final.state, final.counts) == (wf.id, "completed", {"completed": 2})
    assert final.finished_at is not None
    assert await baton.results(wf.id) == {"a": 1, "b": 2}


async def test_wait_on_a_workflow_finished_long_ago_returns_at_once(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await Workflow(name="done").add("a", es.Failing.new()).insert()
    await drain(client)

    final = await baton.wait(wf.id)
    assert (final.state, final.step("a").state) == ("failed", "discarded")
    assert final.finished_at is not None


async def test_wait_on_an_unknown_workflow_raises_what_status_raises(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    with pytest.raises(UnknownWorkflow) as from_status:
        await baton.status("no-such-workflow")
    with pytest.raises(UnknownWorkflow) as from_wait:
        await baton.wait("no-such-workflow", timeout=5)
    assert str(from_wait.value) == str(from_status.value)
    assert "no-such-workflow" in str(from_wait.value)
    with pytest.raises(UnknownWorkflow, match="workflow ids are strings"):
        await baton.wait(42)  # type: ignore[arg-type]


async def test_wait_times_out_naming_the_workflow_and_its_state(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await two_steps("never-run").insert()
    with pytest.raises(TimeoutError) as raised:
        await baton.wait(wf.id, timeout=0.2)
    assert str(raised.value) == (
        f"workflow {wf.id!r} did not finish within 0.2 s (state 'running')"
    )


@pytest.mark.parametrize("timeout", [0, -1, "10", True, float("nan")])
async def test_wait_refuses_a_bad_timeout(
    conn: psycopg.AsyncConnection[Any], client: Oban, timeout: Any
) -> None:
    with pytest.raises(InvalidOption, match="timeout must be a positive number of seconds"):
        await baton.wait("any", timeout=timeout)


async def test_a_finish_right_after_the_status_read_is_not_missed(
    conn: psycopg.AsyncConnection[Any], client: Oban, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workflow finishes after wait read it as running: the event, already subscribed
    to, wakes it. A wait that read the status before subscribing would sleep forever."""
    wf = await two_steps("race").insert()
    real_status = wait_module.status
    reads: list[str] = []

    async def status_then_finish(workflow_id: str, **options: Any) -> baton.WorkflowStatus:
        current = await real_status(workflow_id, **options)
        reads.append(current.state)
        if len(reads) == 1:
            await drain(client)  # the whole workflow finishes now, after this read
        return current

    monkeypatch.setattr("baton._wait.status", status_then_finish)
    final = await baton.wait(wf.id, timeout=30)
    assert reads == ["running", "completed"]
    assert (final.state, final.finished_at is not None) == ("completed", True)


async def test_wait_resynchronises_after_a_reconnect(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """A lost listener means missed events: the wait reads the status again at once."""
    wf = await two_steps("reconnect").insert()
    waiting = asyncio.create_task(baton.wait(wf.id, timeout=60))
    await asyncio.sleep(0.5)  # subscribed and waiting
    # Finish the workflow while the wait's listener is cut off, so its event is lost.
    listeners = await (
        await conn.execute(
            # the listener's last statement: its LISTEN, or its subscribers' presence
            "SELECT pid FROM pg_stat_activity"
            " WHERE (query ~ '^LISTEN' OR query ~ 'baton_listeners')"
            " AND pid <> pg_backend_pid() AND datname = current_database()"
        )
    ).fetchall()
    assert listeners
    for (pid,) in listeners:
        await conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    await drain(client)
    final = await waiting
    assert final.state == "completed"


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_wait_in_a_process_that_runs_no_queues(
    installed: str, calls: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    """The steps run in a worker process; this one only inserts and waits."""
    wf = (
        Workflow(name="elsewhere")
        .add("a", Node.new({}))
        .add("b", Node.new({}), deps=["a"])
        .add("c", Node.new({}), deps=["a"])
    )
    async with workers(installed, tmp_path) as group:
        await group.start(["wait-worker"])
        await wf.insert()
        final = await baton.wait(wf.id, timeout=60)
    assert (final.state, final.counts) == ("completed", {"completed": 3})
    pids = await (
        await calls.execute("SELECT DISTINCT pid FROM test_calls WHERE workflow_id = %s", (wf.id,))
    ).fetchall()
    assert pids and all(pid != os.getpid() for (pid,) in pids)
