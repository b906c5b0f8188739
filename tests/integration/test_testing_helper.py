"""``baton.testing.run_workflow``: run a whole workflow inside a test, get its results."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from baton.errors import BatonError, EmptyWorkflow, UnknownDependency, WorkflowError, WorkflowFailed
from baton.testing import run_workflow
from tests.support import event_steps as es
from tests.support.dynamic_steps import Graft, Read, Variant


async def test_results_by_step_name_with_groups_as_lists(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="helper")
        .add("fetch", es.Quick.new({"value": {"text": "hello"}}))
        .add_many("double", [es.Quick.new({"value": n * 2}) for n in (1, 2, 3)], deps=["fetch"])
        .add("elsewhere", es.OtherQueue.new({"value": "other queue"}))
        .add("llm", es.ReportsUsage.new({"usage": {"model": "gpt-4o", "input_tokens": 5}}))
        .add("nothing", es.Quick.new())
        .add("plain", es.Plain.new(), deps=["nothing"])
        .add("total", es.Reads.new(), deps=["double", "elsewhere", "llm"])
    )
    results = await run_workflow(wf)

    assert results == {
        "fetch": {"text": "hello"},
        "double[0]": 2,
        "double[1]": 4,
        "double[2]": 6,
        "double": [2, 4, 6],
        "elsewhere": "other queue",
        "llm": {"text": "an answer"},  # usage stripped
        "nothing": None,
        "plain": None,
        "total": {"double": [2, 4, 6], "elsewhere": "other queue", "llm": {"text": "an answer"}},
    }
    # it really ran, through Oban: every step once, all settled, the workflow finished
    assert all(es.calls(wf.id, name) == 1 for name in wf.steps)
    status = await baton.status(wf.id)
    assert status.state == "completed"
    assert status.counts == {"completed": len(wf.steps)}
    assert (await baton.usage(wf.id)).input_tokens == 5


async def test_retries_and_snoozes_run_at_once(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="patience")
        .add("flaky", es.FailOnce.new({"value": "second time"}))
        .add("nap", es.SnoozeOnce.new({"value": "rested"}), deps=["flaky"])
    )
    assert await run_workflow(wf, oban=client) == {"flaky": "second time", "nap": "rested"}
    status = await baton.status(wf.id)
    assert status.step("flaky").attempt == 2
    assert status.step("nap").attempt == 1  # a snooze uses no attempt
    assert es.calls(wf.id, "nap") == 2


async def test_a_failed_step_raises_workflow_failed_with_every_failure(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="broken")
        .add("ok", es.Quick.new({"value": 1}))
        .add("fail", es.Failing.new({"message": "boom"}))
        .add("after", es.Reads.new(), deps=["fail", "ok"])
        .add("bad_value", es.Unstorable.new())
    )
    with pytest.raises(WorkflowFailed) as raised:
        await run_workflow(wf)

    error = raised.value
    assert isinstance(error, BatonError)
    assert wf.id in str(error)
    assert "fail: discarded" in str(error) and "after: cancelled" in str(error)
    assert set(error.failures) == {"fail", "after", "bad_value"}
    state, last = error.failures["fail"]
    assert state == "discarded" and last is not None and "RuntimeError: boom" in last
    assert error.failures["after"] == (
        "cancelled",
        "dependencies did not complete (discarded: 'fail')",
    )
    state, last = error.failures["bad_value"]
    assert state == "discarded"
    assert last is not None and "not JSON-serialisable" in last and "set" in last
    assert es.calls(wf.id, "fail") == 2  # both attempts ran
    assert es.calls(wf.id, "after") == 0
    assert es.calls(wf.id, "bad_value") == 1  # discarded, not retried into a second call


async def test_a_named_oban_instance(conn: psycopg.AsyncConnection[Any], oban_pool: Any) -> None:
    Oban(pool=oban_pool, leadership=False)  # the default instance the workers name
    named = Oban(pool=oban_pool, name="Helper", leadership=False)
    wf = Workflow(name="named").add("a", es.Quick.new({"value": "a"}))
    wf.add("b", es.Reads.new(), deps=["a"])
    assert await run_workflow(wf, oban="Helper") == {"a": "a", "b": {"a": "a"}}
    assert (await baton.status(wf.id, oban=named)).state == "completed"


async def test_invalid_workflows_raise_before_anything_runs(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    with pytest.raises(EmptyWorkflow):
        await run_workflow(Workflow(name="empty"))
    with pytest.raises(UnknownDependency):
        await run_workflow(Workflow(name="bad").add("a", es.Quick.new(), deps=["ghost"]))
    once = Workflow(name="once").add("a", es.Quick.new({"value": 1}))
    assert await run_workflow(once) == {"a": 1}
    with pytest.raises(WorkflowError, match="already inserted"):
        await run_workflow(once)
    count = await (await conn.execute("SELECT count(*) FROM baton_workflows")).fetchone()
    assert count == (1,)


async def test_steps_added_at_run_time_run_and_are_returned(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="dynamic")
        .add("graft", Graft.new())
        .add_models("vote", Variant.new({"prompt": "p"}), ["x", "y"])
        .add("join", Read.new({"names": ["graft/b"]}), deps=["graft"])
    )
    results = await run_workflow(wf)
    item = {"doubled": 2, "plan": "grafted"}
    assert results["graft"] == "grafted"
    assert results["graft/a"] == item
    assert results["graft/ask"] == {
        "m1": {"model": "m1", "text": "q by m1"},
        "m2": {"model": "m2", "text": "q by m2"},
    }
    assert results["vote"] == {
        "x": {"model": "x", "text": "p by x"},
        "y": {"model": "y", "text": "p by y"},
    }
    assert results["join"] == {"graft/b": {"a": item}}
    assert len(results) == 10  # 8 steps, and the groups vote and graft/ask
