"""LLM usage: stripped from results, recorded once per step, priced, totalled."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from oban import Oban
from oban._executor import Executor

import baton
from baton import StepEvent, Workflow
from baton.errors import UnknownWorkflow
from tests.support import event_steps as es
from tests.support.db import wait_until
from tests.support.event_steps import drain, follow, lose_the_ack


async def stored(conn: psycopg.AsyncConnection[Any], wf: Workflow, step: str) -> tuple[Any, Any]:
    row = await (
        await conn.execute(
            "SELECT result, usage FROM baton_steps WHERE workflow_id = %s AND name = %s",
            (wf.id, step),
        )
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def mini(input_tokens: int = 1200, output_tokens: int = 80, **more: Any) -> dict[str, Any]:
    return {
        "model": "gpt-4o-mini",
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "latency_ms": 850,
        **more,
    }


async def test_usage_is_stripped_from_the_result_and_recorded_with_its_cost(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="usage")
        .add("ask", es.ReportsUsage.new({"usage": mini(), "text": "hello"}))
        .add("read", es.Reads.new(), deps=["ask"])
    )
    await wf.insert()
    await drain(client, "llm")
    await drain(client)

    result, usage = await stored(conn, wf, "ask")
    assert result == {"value": {"text": "hello"}}  # llm_usage is not part of the result
    assert usage == {
        "model": "gpt-4o-mini",
        "input_tokens": 1200,
        "output_tokens": 80,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "latency_ms": 850,
        "cost_usd": "0.000228",
    }
    read_result, read_usage = await stored(conn, wf, "read")
    assert read_result == {"value": {"ask": {"text": "hello"}}}  # downstream never sees it
    assert read_usage is None

    spent = await baton.usage(wf.id)
    assert spent.workflow_id == wf.id
    assert spent.cost_usd == Decimal("0.000228")
    assert (spent.input_tokens, spent.output_tokens) == (1200, 80)
    assert (spent.cache_read_tokens, spent.cache_write_tokens) == (0, 0)
    assert spent.unpriced_steps == ()
    assert spent.steps == (
        baton.StepUsage(
            step="ask",
            model="gpt-4o-mini",
            input_tokens=1200,
            output_tokens=80,
            cache_read_tokens=0,
            cache_write_tokens=0,
            latency_ms=850,
            cost_usd=Decimal("0.000228"),
        ),
    )

    status = await baton.status(wf.id)
    assert status.cost_usd == Decimal("0.000228")
    assert status.step("ask").cost_usd == Decimal("0.000228")
    assert status.step("read").cost_usd is None


async def test_totals_per_step_rows_and_unknown_models(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    sonnet = {
        "model": "claude-sonnet-4-5-20250929",
        "input_tokens": 1000,
        "output_tokens": 500,
        "cache_read_tokens": 2000,
        "cache_write_tokens": 400,
    }
    local = {"model": "local-llama-70b", "input_tokens": 7, "output_tokens": 3}
    wf = (
        Workflow(name="totals")
        .add("mini", es.ReportsUsage.new({"usage": mini()}))
        .add("sonnet", es.ReportsUsage.new({"usage": sonnet}))
        .add("local", es.ReportsUsage.new({"usage": local}))
        .add("no_usage", es.Quick.new({"value": 1}))
        .add("rows", es.PlainWithUsage.new({"usage": mini(100, 10)}))
    )
    await wf.insert()
    await drain(client, "llm")
    await drain(client)

    # an unknown model is no error: the step completed and its usage is kept, unpriced
    status = await baton.status(wf.id)
    assert status.state == "completed"
    assert status.step("local").error is None
    assert status.step("local").cost_usd is None
    _result, local_usage = await stored(conn, wf, "local")
    assert local_usage["model"] == "local-llama-70b"
    assert local_usage["cost_usd"] is None

    spent = await baton.usage(wf.id)
    sonnet_cost = Decimal("0.003") + Decimal("0.0075") + Decimal("0.0006") + Decimal("0.0015")
    rows_cost = (100 * Decimal("0.15") + 10 * Decimal("0.60")) / 1_000_000
    assert [s.step for s in spent.steps] == ["mini", "sonnet", "local", "rows"]  # insert order
    assert [s.cost_usd for s in spent.steps] == [
        Decimal("0.000228"),
        sonnet_cost,
        None,
        rows_cost,
    ]
    assert spent.cost_usd == Decimal("0.000228") + sonnet_cost + rows_cost
    assert spent.unpriced_steps == ("local",)
    assert spent.input_tokens == 1200 + 1000 + 7 + 100
    assert spent.output_tokens == 80 + 500 + 3 + 10
    assert spent.cache_read_tokens == 2000
    assert spent.cache_write_tokens == 400
    assert status.cost_usd == spent.cost_usd
    assert status.step("no_usage").cost_usd is None


async def test_custom_price_tables_and_any_pricing(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    large = {
        "model": "house-model-large-v2",
        "input_tokens": 1_000_000,
        "output_tokens": 100_000,
        "cache_read_tokens": 500_000,
    }
    wf = (
        Workflow(name="custom")
        .add("large", es.CustomPriced.new({"usage": large}))
        .add("small", es.CustomPriced.new({"usage": {"model": "house-model", "input_tokens": 10}}))
        .add("listed_elsewhere", es.CustomPriced.new({"usage": mini()}))
        .add("flat", es.FlatPriced.new({"usage": {"output_tokens": 250}}))
    )
    await wf.insert()
    await drain(client, "llm")

    spent = {s.step: s for s in (await baton.usage(wf.id)).steps}
    # longest prefix "house-model-large"; its cache reads are free
    assert spent["large"].cost_usd == Decimal(10) + Decimal(2)
    assert spent["small"].cost_usd == Decimal("0.00001")
    # a custom table replaces the default one: gpt-4o-mini is not in it
    assert spent["listed_elsewhere"].cost_usd is None
    # any object with cost(usage): a model is not even needed
    assert spent["flat"].model is None
    assert spent["flat"].cost_usd == Decimal("0.26")


async def test_usage_fields_of_the_wrong_type_are_dropped_not_fatal(
    conn: psycopg.AsyncConnection[Any], client: Oban, caplog: pytest.LogCaptureFixture
) -> None:
    bad = {"model": "gpt-4o", "input_tokens": "lots", "output_tokens": 10, "latency_ms": -1}
    wf = Workflow(name="bad-usage").add("ask", es.ReportsUsage.new({"usage": bad}))
    await wf.insert()
    with caplog.at_level(logging.WARNING, logger="baton"):
        await drain(client, "llm")

    assert (await baton.status(wf.id)).state == "completed"
    _result, usage = await stored(conn, wf, "ask")
    assert (usage["input_tokens"], usage["output_tokens"], usage["latency_ms"]) == (0, 10, None)
    assert usage["cost_usd"] == "0.0001"
    assert "llm_usage input_tokens should be a count" in caplog.text


async def test_a_plain_baton_worker_reports_usage_too(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="plain-usage").add("ask", es.PlainWithUsage.new({"usage": mini()}))
    await wf.insert()
    await drain(client)
    result, usage = await stored(conn, wf, "ask")
    assert result == {"value": {"rows": 3}}
    assert usage["cost_usd"] == "0.000228"


async def test_a_cached_result_on_retry_never_records_usage_twice(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="cached-usage").add("ask", es.ReportsUsage.new({"usage": mini()}))
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        job_id = wf.steps["ask"].job.id
        await lose_the_ack(client, "llm")  # usage stored with the result, then the ack lost
        await wait_until(conn, "SELECT state = 'available' FROM oban_jobs WHERE id = %s", (job_id,))
        await drain(client, "llm")
        seen = await follow(events, conn, wf.id)

    completed = [e for e in seen if isinstance(e, StepEvent) and e.state == "completed"]
    assert [(e.attempt, e.cached) for e in completed] == [(2, True)]
    assert es.calls(wf.id, "ask") == 1
    spent = await baton.usage(wf.id)
    assert len(spent.steps) == 1
    assert (spent.input_tokens, spent.output_tokens) == (1200, 80)
    assert spent.cost_usd == Decimal("0.000228")


async def test_two_overlapping_attempts_record_one_usage(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """Attempt 1 hangs; the lifeline rescues it and attempt 2 completes; then attempt 1
    returns too. Only the first stored result and its usage count."""
    wf = Workflow(name="overlap").add("ask", es.HeldFirstAttempt.new())
    es.GATES[wf.id] = asyncio.Event()
    es.STARTED[wf.id] = asyncio.Event()
    await wf.insert()
    job_id = wf.steps["ask"].job.id

    [job] = await client._query.fetch_jobs(demand=1, queue="llm", node="slow", uuid="slow")
    first = asyncio.create_task(Executor(job=job, safe=True).execute())
    try:
        async with asyncio.timeout(30):
            await es.STARTED[wf.id].wait()
        assert await client._query.rescue_jobs(0.000001) == 1
        assert (await drain(client, "llm"))["completed"] == 1  # attempt 2
    finally:
        es.GATES[wf.id].set()
        executor = await first
    assert executor.status == "completed"
    assert await client._query.ack_jobs([executor.action]) == []  # superseded: no row acked

    row = await (
        await conn.execute(
            "SELECT s.result, s.usage, s.performed_attempt, j.state::text, j.attempt "
            "FROM baton_steps s JOIN oban_jobs j ON j.id = s.job_id WHERE j.id = %s",
            (job_id,),
        )
    ).fetchone()
    assert row is not None
    result, usage, performed_attempt, state, attempt = row
    assert (state, attempt, performed_attempt) == ("completed", 2, 2)
    assert result == {"value": {"attempt": 2}}
    assert usage["input_tokens"] == 200  # attempt 2's, not 100 + 200
    spent = await baton.usage(wf.id)
    assert len(spent.steps) == 1 and spent.input_tokens == 200
    assert es.calls(wf.id, "ask") == 2


async def test_usage_of_a_workflow_without_llm_steps(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="no-llm").add("a", es.Quick.new({"value": 1}))
    await wf.insert()
    await drain(client)
    spent = await baton.usage(wf.id)
    assert spent == baton.WorkflowUsage(
        workflow_id=wf.id,
        input_tokens=0,
        output_tokens=0,
        cache_read_tokens=0,
        cache_write_tokens=0,
        cost_usd=Decimal(0),
        unpriced_steps=(),
        steps=(),
    )
    assert (await baton.status(wf.id)).cost_usd is None


async def test_usage_of_an_unknown_workflow(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    with pytest.raises(UnknownWorkflow, match="no workflow with id 'nope'"):
        await baton.usage("nope")


async def test_retry_of_a_step_discarded_after_storing_records_no_second_usage(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """One attempt, the result and usage stored, the ack lost: the lifeline discards the
    job. ``baton.retry`` completes it from the stored result, spending nothing again."""
    wf = Workflow(name="discarded-usage").add(
        "ask", es.ReportsUsage.new({"usage": mini()}, max_attempts=1)
    )
    await wf.insert()
    [job] = await client._query.fetch_jobs(demand=1, queue="llm", node="n", uuid="u")
    await Executor(job=job, safe=True).execute()
    await client._query.rescue_jobs(0.000001)
    assert (await baton.status(wf.id)).step("ask").state == "discarded"
    assert (await baton.usage(wf.id)).cost_usd == Decimal("0.000228")  # already spent

    assert await baton.retry(wf.id) == ["ask"]
    await drain(client, "llm")
    assert (await baton.status(wf.id)).state == "completed"
    assert es.calls(wf.id, "ask") == 1
    spent = await baton.usage(wf.id)
    assert len(spent.steps) == 1
    assert (spent.input_tokens, spent.cost_usd) == (1200, Decimal("0.000228"))
