"""Captured calls: switched on per workflow, per worker or per process; stored per attempt,
redacted and size-capped; read by ``baton.calls``; pruned on their own age."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from baton._capture import CALL_LIMIT
from tests.integration.test_multiprocess import rows
from tests.support import budget_steps as bs
from tests.support.event_steps import drain


@pytest.fixture(autouse=True)
def process_switch(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every test starts with the process switch and the environment variable unset."""
    monkeypatch.delenv("BATON_CAPTURE_CALLS", raising=False)
    baton.capture_calls(None)
    yield
    baton.capture_calls(None)


async def count_calls(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> int:
    [[count]] = await rows(
        conn, "SELECT count(*) FROM baton_calls WHERE workflow_id = %s", (workflow_id,)
    )
    return int(count)


async def test_a_workflow_with_capture_stores_each_call_redacted(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="captured", capture=True).add("ask", bs.Captures.new({"calls": 2}))
    await wf.insert()
    await drain(client)
    calls = await baton.calls(wf.id)
    assert [(c.step, c.attempt, c.seq, c.truncated) for c in calls] == [
        ("ask", 1, 0, False),
        ("ask", 1, 1, False),
    ]
    first = calls[0]
    assert first.request["messages"] == [{"role": "user", "content": "hi"}]
    assert first.request["headers"] == {"Authorization": "***", "X-Trace": "t1"}
    assert first.request["api_key"] == "***"
    assert first.response == {"id": "resp-1-0", "text": "ok"}
    assert first.bytes > 0
    [[stored]] = await rows(
        conn, "SELECT request::text FROM baton_calls WHERE workflow_id = %s LIMIT 1", (wf.id,)
    )
    assert "sk-" not in stored
    assert await baton.calls(wf.id, step="other") == []


async def test_capture_is_off_unless_switched_on(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await Workflow(name="quiet").add("ask", bs.Captures.new({"calls": 3})).insert()
    await drain(client)
    assert (await baton.status(wf.id)).state == "completed"
    assert await count_calls(conn, wf.id) == 0


async def test_a_worker_with_capture_stores_its_calls_in_any_workflow(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="mixed")
    wf.add("always", bs.CapturesAlways.new()).add("plain", bs.Captures.new())
    await wf.insert()
    await drain(client)
    assert [c.step for c in await baton.calls(wf.id)] == ["always"]


@pytest.mark.parametrize("how", ["function", "environment"])
async def test_capture_for_the_whole_process(
    conn: psycopg.AsyncConnection[Any],
    client: Oban,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    if how == "function":
        baton.capture_calls(True)
    else:
        monkeypatch.setenv("BATON_CAPTURE_CALLS", "1")
    wf = await Workflow(name="process").add("ask", bs.Captures.new()).insert()
    await drain(client)
    assert len(await baton.calls(wf.id)) == 1
    # False wins over the environment
    baton.capture_calls(False)
    off = await Workflow(name="off").add("ask", bs.Captures.new()).insert()
    await drain(client)
    assert await count_calls(conn, off.id) == 0


async def test_every_attempt_keeps_its_calls(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="retried", capture=True).add("ask", bs.Captures.new({"fail": 2}))
    await wf.insert()
    await drain(client)
    assert (await baton.status(wf.id)).step("ask").state == "completed"
    calls = await baton.calls(wf.id)
    assert [(c.attempt, c.response["id"]) for c in calls] == [
        (1, "resp-1-0"),
        (2, "resp-2-0"),
        (3, "resp-3-0"),
    ]


async def test_a_call_over_the_cap_is_cut_visibly(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    prompt = "x" * (CALL_LIMIT * 2)
    wf = Workflow(name="big", capture=True).add("ask", bs.Captures.new({"prompt": prompt}))
    await wf.insert()
    await drain(client)
    [call] = await baton.calls(wf.id)
    assert call.truncated
    assert call.bytes > CALL_LIMIT * 2
    assert call.request["baton_truncated"] is True
    assert call.request["bytes"] > CALL_LIMIT * 2
    assert call.request["preview"].startswith('{"model":"gpt-4o-mini"')
    assert call.response == {"id": "resp-1-0", "text": "ok"}  # the small part is kept
    [[size]] = await rows(
        conn,
        "SELECT octet_length(request::text) + octet_length(response::text) FROM baton_calls "
        "WHERE workflow_id = %s",
        (wf.id,),
    )
    assert size <= CALL_LIMIT


async def test_pruning_removes_old_calls_and_calls_with_their_workflow(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    old = await Workflow(name="old", capture=True).add("ask", bs.Captures.new()).insert()
    running = Workflow(name="running", capture=True).add("ask", bs.Captures.new())
    running.add("later", bs.Captures.new({"calls": 0}), deps=["ask"])
    await running.insert()
    await drain(client)
    await conn.execute(
        "UPDATE baton_calls SET captured_at = captured_at - interval '2 days' "
        "WHERE workflow_id = %s",
        (old.id,),
    )
    # the calls' own age: the old calls go, the workflows stay
    dry = await baton.prune(timedelta(days=30), calls_older_than=timedelta(days=1), dry_run=True)
    assert (dry.calls, dry.workflows) == (1, 0)
    report = await baton.prune(timedelta(days=30), calls_older_than=timedelta(days=1))
    assert (report.calls, report.workflows) == (1, 0)
    assert await count_calls(conn, old.id) == 0
    assert await count_calls(conn, running.id) == 1
    # with their workflow
    report = await baton.prune(0)
    assert report.workflows >= 2
    assert await count_calls(conn, running.id) == 0


async def test_bad_capture_arguments(client: Oban) -> None:
    with pytest.raises(baton.errors.InvalidOption, match="takes the job perform_workflow"):
        baton.capture({"id": 1}, request={})  # type: ignore[arg-type]
    with pytest.raises(baton.errors.InvalidOption, match="True, False or None"):
        baton.capture_calls("yes")  # type: ignore[arg-type]
    with pytest.raises(baton.errors.InvalidOption, match="capture must be True or False"):
        baton.worker(capture="yes")  # type: ignore[arg-type]
    with pytest.raises(baton.errors.InvalidBudget, match="capture must be True or False"):
        Workflow(name="bad", capture=1)  # type: ignore[arg-type]
    with pytest.raises(baton.errors.RetentionError, match="calls_older_than must be"):
        await baton.prune(0, calls_older_than="1d")  # type: ignore[arg-type]
    with pytest.raises(baton.errors.UnknownWorkflow):
        await baton.calls("no-such-workflow")
