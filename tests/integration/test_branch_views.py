"""Skipped steps (``Complete(skip=...)``) as every view shows them: status, watch, graph,
the web view's JSON, page and stream, step events and the telemetry logger."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import psycopg
import pytest
from oban import Oban
from rich.console import Console

import baton
from baton.cli._terminal import STATE_STYLES, status_view
from baton.cli._watch import watch
from baton.web import create_app
from tests.integration.test_branches import if_else
from tests.integration.test_dynamic_views import Lines, finished, run
from tests.integration.test_web import http
from tests.support.branch_steps import Leaf
from tests.support.event_steps import drain


async def test_status_counts_and_shows_skipped_steps_in_their_own_style(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(client, if_else(["otherwise"]))
    current = await baton.status(wf.id, oban=client)
    assert current.counts == {"completed": 3, "skipped": 1}
    assert current.step("otherwise").state == "skipped"
    assert current.step("otherwise").error is None
    out = Console(record=True, width=120, file=io.StringIO(), highlight=False)
    out.print(status_view(current))
    lines = out.export_text().splitlines()
    assert lines[1].startswith("completed · 3/4 steps completed · 1 skipped · took ")
    rows = {line.split()[0]: line.split()[1] for line in lines[4:] if line.strip()}
    assert rows == {
        "route": "completed",
        "then": "completed",
        "otherwise": "skipped",
        "join": "completed",
    }
    assert STATE_STYLES["skipped"] not in {
        style for state, style in STATE_STYLES.items() if state != "skipped"
    }


async def test_the_graph_draws_skipped_steps_dashed(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(client, if_else(["otherwise"]))
    mermaid = (await baton.graph(wf.id, oban=client)).splitlines()
    assert (
        "    classDef skipped fill:#f8fafc,stroke:#94a3b8,color:#64748b,stroke-dasharray:5 3"
        in mermaid
    )
    assert "    class n2 skipped" in mermaid
    assert '    n2["otherwise"]' in mermaid
    dot = await baton.graph(wf.id, format="dot", oban=client)
    assert 'class="skipped"' in dot and 'style="rounded,filled,dashed"' in dot
    assert dot.count("dashed") == 1  # only the skipped step


async def test_the_web_view_shows_skipped_steps(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(client, if_else(["then"]))
    async with http(create_app(oban=client)) as web:
        detail = (await web.get(f"/api/workflows/{wf.id}")).json()
        page = (await web.get(f"/workflows/{wf.id}")).text
    assert detail["state"] == "completed"
    assert {step["name"]: step["state"] for step in detail["steps"]}["then"] == "skipped"
    assert detail["counts"] == {"completed": 3, "skipped": 1}
    assert '<span class="swatch state-skipped"></span>skipped' in page  # the legend
    assert "state-skipped" in page.split('<tr data-step="then">', 1)[1].split("</tr>", 1)[0]


async def test_each_skipped_step_sends_one_skipped_event_and_the_logger_logs_it(
    conn: psycopg.AsyncConnection[Any], client: Oban, caplog: pytest.LogCaptureFixture
) -> None:
    assert "baton.step.skipped" in baton.telemetry.EVENTS
    caplog.set_level(logging.INFO, logger="baton")
    baton.telemetry.attach_default_logger()
    try:
        wf = if_else(["otherwise"])
        wf.add("after", Leaf.new({}), deps=["otherwise"])
        async with baton.subscribe(wf.id, oban=client) as events:
            await run(client, wf)
            seen = await finished(events)
    finally:
        baton.telemetry.detach_default_logger()
    skipped = [e for e in seen if isinstance(e, baton.StepEvent) and e.state == "skipped"]
    assert sorted(e.step for e in skipped) == ["after", "otherwise"]
    assert all(e.attempt == 0 and not e.result_stored for e in skipped)
    states = [(e.step, e.state) for e in seen if isinstance(e, baton.StepEvent)]
    assert ("otherwise", "executing") not in states and ("after", "executing") not in states
    assert seen[-1] == baton.WorkflowFinished(
        workflow_id=wf.id,
        workflow_name="if-else",
        outcome="completed",
        failed_steps=(),
        failed_count=0,
        duration_ms=seen[-1].duration_ms,
        at=seen[-1].at,
        reason=None,
    )
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "baton"]
    assert sorted(line["step"] for line in logged if line["event"] == "baton.step.skipped") == [
        "after",
        "otherwise",
    ]
    assert all(
        r.levelno == logging.INFO for r in caplog.records if "baton.step.skipped" in r.getMessage()
    )


async def test_watch_prints_a_line_per_skipped_step(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = if_else(["otherwise"])
    await wf.insert(oban=client)
    lines = Lines("watching")
    out = Console(file=lines, width=160, highlight=False)
    watcher = asyncio.create_task(
        watch(wf.id, oban=client, dsn=installed, prefix="public", out=out, timeout=30)
    )
    async with asyncio.timeout(10):
        await lines.seen.wait()
    for _ in range(10):
        if not sum((await drain(client)).values()):
            break
    final = await watcher
    text = lines.getvalue()
    assert "  otherwise  skipped  attempt 0" in text
    assert final.state == "completed"
    assert "4/4 steps settled" in text
