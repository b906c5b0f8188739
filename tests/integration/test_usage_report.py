"""``baton.usage_report``: usage over a period by model, workflow and day, from real runs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from baton.errors import InvalidOption
from baton.web import create_app
from tests.integration.test_cli_commands import cli
from tests.integration.test_web import XSS_NAME as XSS
from tests.integration.test_web import http
from tests.support import event_steps as es
from tests.support.event_steps import drain


def usage(model: str | None, latency: float | None, **tokens: int) -> dict[str, Any]:
    return {"model": model, "latency_ms": latency, **tokens}


async def run(client: Oban, name: str, *usages: dict[str, Any]) -> Workflow:
    wf = Workflow(name=name)
    for index, spent in enumerate(usages):
        wf.add(f"ask{index}", es.ReportsUsage.new({"usage": spent}))
    await wf.insert()
    await drain(client, "llm")
    return wf


async def seed(client: Oban) -> None:
    await run(
        client,
        "brief",
        usage("gpt-4o-mini", 100, input_tokens=1000, output_tokens=100),
        usage("gpt-4o-mini", 200, input_tokens=1000, output_tokens=100, cache_read_tokens=500),
        usage("claude-sonnet-4-5-20250929", 1000, input_tokens=10, cache_write_tokens=2000),
    )
    await run(
        client,
        "triage",
        usage("gpt-4o-mini", 300, input_tokens=2000, output_tokens=0),
        usage("my-llama", None, input_tokens=7, output_tokens=3),
    )


async def test_by_model_sums_tokens_and_cost_with_latency_percentiles(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    await seed(client)
    report = await baton.usage_report(since=timedelta(hours=1), by="model")

    assert report.by == "model"
    assert [group.key for group in report.groups] == [
        "claude-sonnet-4-5-20250929",  # costliest first
        "gpt-4o-mini",
        "my-llama",
    ]
    mini = report.group("gpt-4o-mini")
    assert (mini.calls, mini.input_tokens, mini.output_tokens) == (3, 4000, 200)
    assert (mini.cache_read_tokens, mini.cache_write_tokens) == (500, 0)
    # 4000 x 0.15 + 200 x 0.60 + 500 x 0.075, per million
    assert mini.cost_usd == Decimal("0.0007575")
    assert mini.unpriced_calls == 0
    assert mini.latency_p50_ms == 200
    assert mini.latency_p95_ms == pytest.approx(290)  # interpolated between 200 and 300

    sonnet = report.group("claude-sonnet-4-5-20250929")
    assert sonnet.cache_write_tokens == 2000
    assert sonnet.cost_usd == Decimal("0.00753")  # 10 x 3 + 2000 x 3.75, per million

    llama = report.group("my-llama")
    assert (llama.calls, llama.cost_usd, llama.unpriced_calls) == (1, Decimal(0), 1)
    assert llama.latency_p50_ms is None and llama.latency_p95_ms is None

    total = report.total
    assert total.key is None
    assert (total.calls, total.input_tokens, total.output_tokens) == (5, 4017, 203)
    assert total.cost_usd == mini.cost_usd + sonnet.cost_usd
    assert total.unpriced_calls == 1
    assert total.latency_p50_ms == 250  # over the four calls that gave a latency


async def test_by_workflow_and_by_day(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    await seed(client)
    by_workflow = await baton.usage_report(since=timedelta(hours=1), by="workflow")
    assert {group.key: group.calls for group in by_workflow.groups} == {"brief": 3, "triage": 2}
    assert by_workflow.group("brief").input_tokens == 2010

    # move one workflow's usage two days back: by day splits it out, in day order
    moved = await conn.execute(
        "UPDATE baton_usage SET recorded_at = recorded_at - interval '2 days' "
        "WHERE workflow_name = 'triage'"
    )
    assert moved.rowcount == 2
    by_day = await baton.usage_report(since=timedelta(days=7), by="day")
    today = datetime.now(UTC).date()
    assert [(group.key, group.calls) for group in by_day.groups] == [
        ((today - timedelta(days=2)).isoformat(), 2),
        (today.isoformat(), 3),
    ]
    assert by_day.total.calls == 5

    # a period that leaves the moved rows out
    recent = await baton.usage_report(since=timedelta(days=1), by="workflow")
    assert [group.key for group in recent.groups] == ["brief"]
    older = await baton.usage_report(
        since=datetime.now(UTC) - timedelta(days=3), until=timedelta(days=1), by="workflow"
    )
    assert [group.key for group in older.groups] == ["triage"]


async def test_an_empty_period_has_zero_totals(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    report = await baton.usage_report(since=timedelta(days=1))
    assert report.groups == ()
    assert (report.total.calls, report.total.cost_usd) == (0, Decimal(0))
    with pytest.raises(KeyError, match="no usage by model 'gpt-4o'"):
        report.group("gpt-4o")


async def test_every_stored_usage_is_recorded_once_and_goes_with_its_workflow(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(client, "brief", usage("gpt-4o", 10, input_tokens=1, output_tokens=1))
    await drain(client, "llm")  # nothing left to run: no second record
    rows = await (await conn.execute("SELECT workflow_id, step, model FROM baton_usage")).fetchall()
    assert rows == [(wf.id, "ask0", "gpt-4o")]

    await conn.execute("DELETE FROM baton_workflows WHERE id = %s", (wf.id,))
    assert await (await conn.execute("SELECT count(*) FROM baton_usage")).fetchone() == (0,)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"since": timedelta(days=1), "by": "cost"}, "by must be one of model, workflow, day"),
        ({"since": datetime(2026, 1, 1)}, "since must be timezone-aware"),
        ({"since": timedelta(0)}, "since must be a positive timedelta"),
        ({"since": "7d"}, "since must be a datetime or a timedelta"),
        ({"since": timedelta(days=1), "until": timedelta(days=2)}, "the period is empty"),
    ],
)
async def test_bad_arguments_are_refused(
    conn: psycopg.AsyncConnection[Any], client: Oban, options: dict[str, Any], says: str
) -> None:
    with pytest.raises(InvalidOption, match=says):
        await baton.usage_report(**options)


async def test_the_cli_prints_a_table_and_json(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    await seed(client)
    code, out, err = await cli("usage", "--dsn", installed, "--since", "1d", "--by", "model")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["MODEL", "CALLS", "INPUT"]
    mini = next(line for line in lines if line.startswith("gpt-4o-mini"))
    assert mini.split()[:7] == ["gpt-4o-mini", "3", "4,000", "200", "500", "0", "$0.000758"]
    assert lines[-1].split()[:2] == ["total", "5"]

    code, out, err = await cli("usage", "--dsn", installed, "--by", "workflow", "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["by"] == "workflow"
    assert {group["key"]: group["calls"] for group in data["groups"]} == {"brief": 3, "triage": 2}
    assert data["total"]["calls"] == 5
    assert Decimal(data["total"]["cost_usd"]) > 0


async def test_the_cli_says_when_there_is_no_usage_and_refuses_bad_options(
    installed: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    code, out, err = await cli("usage", "--dsn", installed, "--since", "12h")
    assert (code, out, err) == (0, "No LLM usage recorded in the last 12h.\n", "")
    code, out, err = await cli("usage", "--dsn", installed, "--by", "cost")
    assert code == 2 and "Invalid value for '--by'" in err and "Traceback" not in err
    code, out, err = await cli("usage", "--dsn", installed, "--since", "0")
    assert code == 2 and "'--since': must be longer than 0s" in err
    code, out, err = await cli("usage", "--dsn", installed, "--since", "7w")
    assert code == 2 and "expected a duration such as 7d" in err


async def test_the_web_page_and_its_json(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    await seed(client)
    await run(client, XSS, usage("<b>m</b>", 5, input_tokens=1, output_tokens=1))
    async with http(create_app(oban=client)) as web:
        page = await web.get("/usage?since=24h&by=model")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "<h1>LLM usage, last 24h</h1>" in page.text
        row = re.search(r"<tr><td>gpt-4o-mini</td>(.*?)</tr>", page.text)
        assert row is not None
        cells = re.findall(r'<td class="num">(.*?)</td>', row[1])
        assert cells == ["3", "4,000", "200", "500", "0", "$0.0007575", "0.20 s", "0.29 s"]
        assert "&lt;b&gt;m&lt;/b&gt;" in page.text and "<b>m</b>" not in page.text
        assert '<tr class="total"><td>total</td><td class="num">6</td>' in page.text
        assert 'href="/usage?since=30d&amp;by=model"' in page.text  # the other periods

        by_workflow = await web.get("/api/usage", params={"since": "7d", "by": "workflow"})
        assert by_workflow.status_code == 200
        data = by_workflow.json()
        assert {group["key"]: group["calls"] for group in data["groups"]} == {
            "brief": 3,
            "triage": 2,
            XSS: 1,
        }
        assert data["total"]["cost_usd"] == str(
            sum(Decimal(group["cost_usd"]) for group in data["groups"])
        )

        by_day = await web.get("/usage?by=day")
        assert f"<tr><td>{datetime.now(UTC).date().isoformat()}</td>" in by_day.text


async def test_the_web_page_without_usage(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    async with http(create_app(oban=client)) as web:
        page = await web.get("/usage")
        assert page.status_code == 200
        assert "<h1>LLM usage, last 7d</h1>" in page.text
        assert "No LLM usage recorded in this period." in page.text


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("since=7w", "since must be a duration such as 24h, 7d or 30m"),
        ("since=0d", "since must be a duration"),
        ("since=%C2%B2d", "since must be a duration"),
        ("since=9999d", "since must be at most 3650 days"),
        ("by=cost", "by must be one of model, workflow, day"),
    ],
)
async def test_bad_web_parameters_are_a_400_naming_them(
    conn: psycopg.AsyncConnection[Any], client: Oban, query: str, says: str
) -> None:
    async with http(create_app(oban=client)) as web:
        api = await web.get(f"/api/usage?{query}")
        assert api.status_code == 400 and says in api.json()["error"]
        page = await web.get(f"/usage?{query}")
        assert page.status_code == 400 and says in page.text
