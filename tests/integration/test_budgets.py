"""Budgets in one process: a workflow's cost and token caps, and ``max_steps``.

Steps of ``budget_steps`` report usage of ``budget-model``, a token of which costs $0.01;
the queue is drained in this process. The multi-process case is
``test_multiprocess_budgets.py``.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from baton.errors import InvalidBudget
from baton.web import create_app
from tests.integration.test_cli_commands import cli
from tests.integration.test_multiprocess import rows
from tests.integration.test_web import http
from tests.support import budget_steps as bs
from tests.support.event_steps import drain


async def spend(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> tuple[Any, ...]:
    [row] = await rows(
        conn,
        "SELECT spent_usd, spent_tokens, reason, outcome FROM baton_workflows WHERE id = %s",
        (workflow_id,),
    )
    return tuple(row)


def chain(workflow: Workflow, steps: int, tokens: int = 10) -> Workflow:
    previous: list[str] = []
    for index in range(steps):
        name = f"s{index}"
        workflow.add(name, bs.Spends.new({"tokens": tokens}), deps=previous)
        previous = [name]
    return workflow


async def test_cost_budget_stops_the_workflow_once_reached(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    # four steps of $0.10 in a chain, a budget of $0.25: the third reaches it
    wf = await chain(Workflow(name="capped", budget_usd=Decimal("0.25")), 4).insert()
    async with baton.subscribe(wf.id) as events:
        await drain(client)
        finished = [e async for e in _until_finished(events)]
    status = await baton.status(wf.id)
    assert status.state == "failed"
    assert status.reason == "budget"
    assert [status.step(f"s{i}").state for i in range(4)] == [
        "completed",
        "completed",
        "completed",
        "cancelled",
    ]
    assert status.step("s2").result_stored  # the step that reached it keeps its result
    assert status.step("s3").attempt == 0  # it never ran: cancelled while it waited
    assert status.cost_usd == Decimal("0.30")
    assert await spend(conn, wf.id) == (Decimal("0.30"), 30, "budget", "failed")
    assert (status.budget_usd, status.spent_tokens) == (Decimal("0.25"), 30)
    assert finished[-1].outcome == "failed"
    assert finished[-1].reason == "budget"
    assert (await baton.list_workflows(state="failed"))[0].id == wf.id


async def _until_finished(events: baton.Subscription) -> Any:
    async for event in events:
        if isinstance(event, baton.WorkflowFinished):
            yield event
            return


async def test_status_shows_the_reason(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await chain(Workflow(name="shown", budget_usd="0.10"), 2).insert()
    await drain(client)
    code, out, err = await cli("status", wf.id, "--dsn", installed)
    assert code == 0, err
    assert "failed (budget) · 1/2 steps completed" in out
    assert "cost $0.1 of $0.1 budget" in out
    code, out, err = await cli("list", "--state", "failed", "--dsn", installed)
    assert wf.id in out
    async with http(create_app(oban=client)) as web:
        page = (await web.get(f"/workflows/{wf.id}")).text
        detail = (await web.get(f"/api/workflows/{wf.id}")).json()
    assert "2 / 2 steps settled · reason: budget" in page
    assert (detail["state"], detail["reason"]) == ("failed", "budget")


async def test_token_budget_cancels_the_waiting_steps(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="tokens", budget_tokens=15).add("first", bs.Spends.new({"tokens": 20}))
    wf.add_many("fan", [bs.Spends.new({"tokens": 1}) for _ in range(3)], deps=["first"])
    await wf.insert()
    await drain(client)
    status = await baton.status(wf.id)
    assert (status.state, status.reason) == ("failed", "budget")
    assert status.counts == {"completed": 1, "cancelled": 3}
    assert await spend(conn, wf.id) == (Decimal("0.20"), 20, "budget", "failed")


async def test_under_budget_the_workflow_completes(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await chain(Workflow(name="roomy", budget_usd=1, budget_tokens=1000), 3).insert()
    await drain(client)
    status = await baton.status(wf.id)
    assert (status.state, status.reason) == ("completed", None)
    assert await spend(conn, wf.id) == (Decimal("0.30"), 30, None, "completed")


async def test_the_last_step_reaching_the_budget_still_fails_the_workflow(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await chain(Workflow(name="last", budget_usd="0.20"), 2).insert()
    await drain(client)
    status = await baton.status(wf.id)
    assert status.counts == {"completed": 2}
    assert (status.state, status.reason) == ("failed", "budget")


async def test_unpriced_usage_stops_a_workflow_with_a_cost_budget(
    conn: psycopg.AsyncConnection[Any], client: Oban, caplog: pytest.LogCaptureFixture
) -> None:
    wf = Workflow(name="unpriced", budget_usd=5)
    wf.add("mystery", bs.Spends.new({"model": "unknown-model", "tokens": 3}))
    wf.add("next", bs.Spends.new(), deps=["mystery"])
    await wf.insert()
    with caplog.at_level(logging.WARNING, logger="baton"):
        await drain(client)
    status = await baton.status(wf.id)
    assert (status.state, status.reason) == ("failed", "budget")
    assert status.step("next").state == "cancelled"
    assert "model 'unknown-model', which its worker's pricing does not know" in caplog.text
    # against a token budget alone an unknown model is counted like any other
    tokens_only = Workflow(name="unpriced-tokens", budget_tokens=100)
    tokens_only.add("mystery", bs.Spends.new({"model": "unknown-model", "tokens": 3}))
    await tokens_only.insert()
    await drain(client)
    assert (await baton.status(tokens_only.id)).state == "completed"
    assert await spend(conn, tokens_only.id) == (Decimal(0), 3, None, "completed")


async def test_a_workflow_without_budget_is_not_charged(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await chain(Workflow(name="free"), 2).insert()
    await drain(client)
    assert await spend(conn, wf.id) == (Decimal(0), 0, None, "completed")
    assert (await baton.status(wf.id)).cost_usd == Decimal("0.20")


async def test_retry_after_the_budget_keeps_what_was_spent(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await chain(Workflow(name="again", budget_usd="0.15"), 3).insert()
    await drain(client)
    assert (await baton.status(wf.id)).counts == {"completed": 2, "cancelled": 1}
    assert await baton.retry(wf.id) == ["s2"]
    await drain(client)
    status = await baton.status(wf.id)
    # the spend is not reset: the retried step's charge stops the workflow again
    assert (status.state, status.reason) == ("failed", "budget")
    assert await spend(conn, wf.id) == (Decimal("0.30"), 30, "budget", "failed")


async def test_max_steps_discards_a_step_adding_too_many(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="bounded", max_steps=4)
    wf.add("ok", bs.Adds.new({"count": 2}))  # 2 steps, then 4
    wf.add("greedy", bs.Adds.new({"count": 2}), deps=["ok"])  # would make 6
    await wf.insert()
    await drain(client)
    status = await baton.status(wf.id)
    assert status.step("ok/more[0]").state == "completed"
    greedy = status.step("greedy")
    assert greedy.state == "discarded"
    assert greedy.error is not None
    assert greedy.error.startswith("baton.errors.TooManySteps: step 'greedy' of workflow")
    assert "which would make 6 steps, past the workflow's max_steps=4" in greedy.error
    assert not greedy.result_stored  # nothing written: the result neither
    [[count, jobs]] = await rows(
        conn,
        "SELECT step_count, (SELECT count(*) FROM baton_steps WHERE workflow_id = %s) "
        "FROM baton_workflows WHERE id = %s",
        (wf.id, wf.id),
    )
    assert (count, jobs) == (4, 4)


async def test_max_steps_refuses_a_bigger_workflow_at_insert(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = chain(Workflow(name="big", max_steps=2), 3)
    with pytest.raises(InvalidBudget, match=r"has 3 steps, more than its max_steps=2"):
        await wf.insert()
    assert await rows(conn, "SELECT 1 FROM baton_workflows WHERE id = %s", (wf.id,)) == []


async def test_limits_on_steps_to_add_discard_the_adding_step(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await Workflow(name="nested").add("plan", bs.AddsBudgeted.new()).insert()
    await drain(client)
    plan = (await baton.status(wf.id)).step("plan")
    assert plan.state == "discarded"
    assert plan.error is not None
    assert "returned steps to add that are invalid: step 'plan': budget_usd" in plan.error
