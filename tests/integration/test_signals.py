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
from tests.support.steps import Echo, Reader


async def drain(oban: Oban, *, scheduled: bool = False) -> dict[str, int]:
    return await drain_queue(queue="default", oban=oban, with_scheduled=scheduled, with_safety=True)


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
    # the waiting step completes in the signal's transaction: no worker run needed
    assert await job_state(conn, wf, "approve") == "completed"
    assert await job_state(conn, wf, "send") == "available"
    await drain(client)
    status = await baton.status(wf.id)
    assert status.state == "completed"
    assert status.step("approve").signalled_at is not None
    results = await baton.results(wf.id)
    assert results["approve"] == {"ok": True, "by": "ana"}
    assert results["send"] == {"got": {"ok": True, "by": "ana"}}


async def test_signal_sent_before_the_deps_finish_is_kept_and_applies_when_they_do(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await approval().insert()
    await baton.signal(wf.id, "approve", ["early", 1])  # draft has not run yet
    status = await baton.status(wf.id)
    assert status.step("approve").state == "suspended"  # not ready: its dep waits
    assert status.step("approve").signalled_at is not None
    assert await job_state(conn, wf, "approve") == "suspended"

    await drain(client)  # draft completes; its settlement makes approve available
    status = await baton.status(wf.id)
    assert status.state == "completed", status
    assert (await baton.results(wf.id))["send"] == {"got": ["early", 1]}


async def test_a_second_signal_raises_signal_error_naming_the_step_and_when(
    client: Oban,
) -> None:
    wf = await approval().insert()
    await baton.signal(wf.id, "approve", {"by": "ana"})
    with pytest.raises(AlreadySignalled) as caught:
        await baton.signal(wf.id, "approve", {"by": "bob"})
    assert isinstance(caught.value, SignalError)
    first = (await baton.status(wf.id)).step("approve").signalled_at
    assert first is not None
    assert caught.value.signalled_at == first
    assert caught.value.step == "approve" and caught.value.workflow_id == wf.id
    assert "'approve'" in str(caught.value)
    assert "already signalled at" in str(caught.value)
    await drain(client)
    assert (await baton.results(wf.id))["approve"] == {"by": "ana"}  # the first one won


@pytest.mark.parametrize("early", [False, True])
async def test_signal_without_payload_completes_without_a_value(client: Oban, early: bool) -> None:
    wf = await approval(ignore_discarded=True).insert()
    if early:  # stored before ready: the signal worker completes the step
        await baton.signal(wf.id, "approve")
    await drain(client)
    if not early:  # sent while it waits: the signal completes the step itself
        await baton.signal(wf.id, "approve")
    await drain(client)
    status = await baton.status(wf.id)
    assert status.step("approve").state == "completed"
    read = (await baton.results(wf.id))["send"]
    assert read["error"] == "ResultUnavailable"
    assert "completed without returning a value" in read["message"]


async def expire(conn: psycopg.AsyncConnection[Any], wf: Workflow, name: str) -> None:
    """Move a waiting signal step's end of wait into the past, as if its timeout passed."""
    await conn.execute(
        "UPDATE baton_steps SET signal_due_at = signal_due_at - interval '2 hours' "
        "WHERE workflow_id = %s AND name = %s",
        (wf.id, name),
    )
    await conn.execute(
        "UPDATE oban_jobs SET scheduled_at = scheduled_at - interval '2 hours' WHERE id = %s",
        (wf.steps[name].job.id,),
    )


async def test_timeout_discards_the_step_and_cancels_its_dependents(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await approval(timeout=3600).insert()
    await drain(client)
    status = await baton.status(wf.id)
    assert status.step("approve").state == "awaiting_signal"
    assert await job_state(conn, wf, "approve") == "scheduled"  # due at the end of its wait
    due = status.step("approve").signal_due_at
    assert due is not None
    ready = status.step("draft").settled_at
    assert ready is not None
    assert abs((due - ready).total_seconds() - 3600) < 5  # the wait runs from ready

    await expire(conn, wf, "approve")
    await drain(client, scheduled=True)
    status = await baton.status(wf.id)
    assert status.step("approve").state == "discarded"
    assert status.step("approve").error == "baton._outcomes.StepFailed: no signal within 3600 s"
    assert status.step("send").state == "cancelled"
    assert status.state == "failed"


async def test_timeout_with_ignore_discarded_runs_the_dependent(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await approval(timeout=60, ignore_discarded=True).insert()
    await drain(client)
    await expire(conn, wf, "approve")
    await drain(client, scheduled=True)
    status = await baton.status(wf.id)
    assert status.step("approve").state == "discarded"
    assert status.step("send").state == "completed"
    assert "has no result (discarded)" in (await baton.results(wf.id))["send"]["message"]


async def test_a_signal_after_the_timeout_is_refused_and_retry_waits_again(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await approval(timeout=60).insert()
    await drain(client)
    await expire(conn, wf, "approve")
    await drain(client, scheduled=True)
    assert (await baton.status(wf.id)).state == "failed"
    with pytest.raises(WorkflowNotRunning, match="failed"):
        await baton.signal(wf.id, "approve", {"late": True})

    assert await baton.retry(wf.id) == ["approve", "send"]
    status = await baton.status(wf.id)
    assert status.step("approve").state == "awaiting_signal"  # a new wait, from now
    assert await job_state(conn, wf, "approve") == "scheduled"
    await baton.signal(wf.id, "approve", {"late": True})
    await drain(client)
    assert (await baton.status(wf.id)).state == "completed"
    assert (await baton.results(wf.id))["approve"] == {"late": True}


async def test_a_step_that_timed_out_in_a_running_workflow_refuses_a_signal(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="two-approvals")
        .add_signal("legal", timeout=60)
        .add_signal("finance")
        .add("go", Echo.new({"value": 1}), deps=["legal", "finance"])
    )
    await wf.insert()
    await expire(conn, wf, "legal")
    await drain(client, scheduled=True)
    assert (await baton.status(wf.id)).state == "running"  # finance still waits
    with pytest.raises(SignalExpired, match=r"waited 60 s for a signal and was discarded"):
        await baton.signal(wf.id, "legal", {})


async def test_a_signal_step_without_deps_waits_from_the_insert(client: Oban) -> None:
    wf = await (
        Workflow(name="gate")
        .add_signal("go")
        .add("after", Reader.new({"read": "one", "dep": "go"}), deps="go")
        .insert()
    )
    assert (await baton.status(wf.id)).step("go").state == "awaiting_signal"
    await drain(client)
    assert (await baton.status(wf.id)).step("go").state == "awaiting_signal"  # not run
    await baton.signal(wf.id, "go", "now")
    await drain(client)
    assert (await baton.results(wf.id))["after"] == {"got": "now"}


async def test_a_waiting_signal_step_needs_its_queue_served(client: Oban) -> None:
    wf = await (
        Workflow(name="queued")
        .add("draft", Echo.new({"value": 1}))
        .add_signal("approve", deps="draft", queue="approvals")
        .insert()
    )
    await drain(client)
    status = await baton.status(wf.id)
    assert status.step("approve").queue == "approvals"
    assert status.unserved_queues == {"approvals": ("approve",)}


async def test_the_sweep_leaves_a_waiting_signal_step_waiting(client: Oban) -> None:
    wf = await approval().insert()
    await drain(client)
    await baton.sweep(oban=client)
    assert (await baton.status(wf.id)).step("approve").state == "awaiting_signal"


async def test_a_signal_in_the_callers_rolled_back_transaction_stores_nothing(
    installed: str, client: Oban
) -> None:
    wf = await approval().insert()
    async with await psycopg.AsyncConnection.connect(installed) as own:
        await baton.signal(wf.id, "approve", {"x": 1}, conn=own)
        await own.rollback()
    assert (await baton.status(wf.id)).step("approve").signalled_at is None
    async with await psycopg.AsyncConnection.connect(installed) as own:
        await baton.signal(wf.id, "approve", {"x": 2}, conn=own)
        await own.commit()
    await drain(client)
    assert (await baton.results(wf.id))["approve"] == {"x": 2}


async def test_signal_steps_emit_step_events(client: Oban) -> None:
    wf = approval()
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        await drain(client)
        await baton.signal(wf.id, "approve", {"ok": True})
        await drain(client)
        seen: list[tuple[str, str]] = []
        async with asyncio.timeout(10):
            async for event in events:
                if isinstance(event, baton.StepEvent):
                    seen.append((event.step, event.state))
                if isinstance(event, baton.WorkflowFinished):
                    break
    approve = [state for step, state in seen if step == "approve"]
    assert approve == ["awaiting_signal", "signalled", "completed"]


async def test_bad_signals_raise_clear_errors_and_store_nothing(client: Oban) -> None:
    wf = await approval().insert()
    with pytest.raises(UnknownWorkflow, match="no workflow with id 'nope'"):
        await baton.signal("nope", "approve")
    with pytest.raises(UnknownWorkflow):
        await baton.signal(42, "approve")  # type: ignore[arg-type]
    with pytest.raises(UnknownStep, match=r"has no step 'approv'"):
        await baton.signal(wf.id, "approv")
    with pytest.raises(UnknownStep, match="non-empty string"):
        await baton.signal(wf.id, None)  # type: ignore[arg-type]
    with pytest.raises(NotASignalStep, match=r"step 'draft' .* is not a signal step"):
        await baton.signal(wf.id, "draft", {})
    with pytest.raises(InvalidSignal, match="not JSON-serialisable"):
        await baton.signal(wf.id, "approve", {"when": object()})
    with pytest.raises(InvalidSignal, match="NUL character"):
        await baton.signal(wf.id, "approve", "a\x00b")
    with pytest.raises(InvalidSignal, match="over the limit"):
        await baton.signal(wf.id, "approve", "x" * 1_100_000)
    with pytest.raises(InvalidSignal, match="'llm_usage' key, which Baton reserves"):
        await baton.signal(wf.id, "approve", {"llm_usage": {"input_tokens": 1}})
    assert (await baton.status(wf.id)).step("approve").signalled_at is None  # nothing stored

    await baton.cancel(wf.id)
    with pytest.raises(WorkflowNotRunning, match="the workflow is cancelled") as caught:
        await baton.signal(wf.id, "approve", {})
    assert caught.value.state == "cancelled"

    done = await approval().insert()
    await baton.signal(done.id, "approve", {})
    await drain(client)
    with pytest.raises(WorkflowNotRunning, match="the workflow is completed"):
        await baton.signal(done.id, "approve", {})


@pytest.mark.parametrize("timeout", [0, -1, "60", True, float("inf"), float("nan")])
def test_add_signal_refuses_a_bad_timeout(timeout: Any) -> None:
    with pytest.raises(InvalidStep, match="timeout must be a positive number of seconds"):
        Workflow(name="w").add_signal("approve", timeout=timeout)


@pytest.mark.parametrize("queue", ["", "  ", None, 3])
def test_add_signal_refuses_a_bad_queue(queue: Any) -> None:
    with pytest.raises(InvalidStep, match="queue must be a non-blank string"):
        Workflow(name="w").add_signal("approve", queue=queue)


def test_add_signal_checks_its_name_and_deps_like_any_step() -> None:
    wf = Workflow(name="w").add("a", Echo.new({"value": 1}))
    with pytest.raises(baton.errors.DuplicateStep):
        wf.add_signal("a")
    with pytest.raises(baton.errors.SelfDependency):
        wf.add_signal("b", deps=["b"])
    with pytest.raises(baton.errors.InvalidStepName):
        wf.add_signal("bad name")
    wf.add_signal("c", deps=["missing"])
    with pytest.raises(baton.errors.UnknownDependency):
        wf.validate()


def test_the_builder_draws_signal_steps_distinctly() -> None:
    wf = approval()
    mermaid = wf.to_mermaid()
    assert "classDef signal " in mermaid and "class n1 signal" in mermaid
    assert 'class="signal"' in wf.to_dot()


async def test_the_stored_graph_draws_a_waiting_signal_step_distinctly(client: Oban) -> None:
    wf = await approval().insert()
    await drain(client)
    assert "class n1 awaiting_signal" in await baton.graph(wf.id)


def template(signal: Any, **extra: Any) -> dict[str, Any]:
    return {
        "name": "reply",
        "params": {"wait": {"default": 60}},
        "steps": [
            {"name": "draft", "worker": "tests.support.steps.Echo", "args": {"value": "hi"}},
            {"name": "approve", "signal": signal, "deps": "draft", **extra},
            {"name": "send", "worker": "tests.support.steps.Echo", "deps": "approve"},
        ],
    }


async def test_a_template_signal_step_waits_for_its_signal(client: Oban) -> None:
    wf = Workflow.from_dict(template({"timeout": "${wait}", "queue": "default"}))
    step = wf.steps["approve"]
    assert (step.signal, step.signal_timeout, step.job.queue) == (True, 60.0, "default")
    await wf.insert()
    await drain(client)
    assert (await baton.status(wf.id)).step("approve").state == "awaiting_signal"
    await baton.signal(wf.id, "approve", {"ok": True})
    await drain(client)
    assert (await baton.status(wf.id)).state == "completed"


@pytest.mark.parametrize(
    ("signal", "extra", "message"),
    [
        (
            {"timeout": 0},
            {},
            "steps[1] ('approve'): signal step 'approve' in workflow 'reply': "
            "timeout must be a positive number",
        ),
        ({"timout": 5}, {}, "steps[1] ('approve').signal: unknown key 'timout'"),
        ([], {}, "steps[1] ('approve').signal: expected a table of timeout and queue"),
        ({}, {"args": {}}, "steps[1] ('approve'): unknown key 'args'"),
        ({}, {"worker": "tests.support.steps.Echo"}, "got 'worker' and 'signal'"),
    ],
)
def test_a_template_signal_step_with_bad_entries_names_them(
    signal: Any, extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(baton.errors.TemplateError) as caught:
        Workflow.from_dict(template(signal, **extra))
    assert message in str(caught.value)


@baton.worker(queue="default")
class AddsApproval:
    """Adds ``check`` (a signal step) → ``use`` under its own path at run time."""

    async def perform_workflow(self, job: Any) -> Any:
        added = (
            Workflow()
            .add_signal("check", timeout=600)
            .add("use", Reader.new({"read": "one", "dep": "check"}), deps="check")
        )
        return baton.Complete("planned", add=added)


async def test_signal_steps_in_a_sub_workflow_and_added_at_run_time(client: Oban) -> None:
    sub = (
        Workflow()
        .add_signal("approve")
        .add("send", Reader.new({"read": "one", "dep": "approve"}), deps="approve")
    )
    wf = await (
        Workflow(name="nested")
        .add("plan", AddsApproval.new())
        .add_workflow("review", sub, deps="plan")
        .insert()
    )
    await drain(client)
    status = await baton.status(wf.id)
    assert status.step("plan/check").state == "awaiting_signal"
    assert status.step("plan/check").signal_due_at is not None
    # review waits for plan, so for the steps plan added too: not ready yet
    assert status.step("review/approve").state == "suspended"
    await baton.signal(wf.id, "review/approve", "yes")  # kept until it is ready
    await baton.signal(wf.id, "plan/check", {"n": 1})
    await drain(client)
    results = await baton.results(wf.id)
    assert (await baton.status(wf.id)).state == "completed"
    assert results["review/send"] == {"got": "yes"}
    assert results["plan/use"] == {"got": {"n": 1}}


async def test_run_workflow_sends_the_signals_it_is_given(client: Oban) -> None:
    from baton.testing import run_workflow

    results = await run_workflow(approval(timeout=60), signals={"approve": {"by": "test"}})
    assert results["send"] == {"got": {"by": "test"}}
    # without its signal, a timed step is discarded as the drain reaches it (time passes)
    with pytest.raises(baton.errors.WorkflowFailed) as caught:
        await run_workflow(approval(timeout=60))
    assert caught.value.failures["approve"] == (
        "discarded",
        "baton._outcomes.StepFailed: no signal within 60 s",
    )
    with pytest.raises(baton.errors.WorkflowFailed) as waiting:
        await run_workflow(approval())  # no timeout: it is left waiting
    assert waiting.value.failures["approve"][0] == "awaiting_signal"
    with pytest.raises(NotASignalStep, match="names 'draft', which is not a signal step"):
        await run_workflow(approval(), signals={"draft": 1})
