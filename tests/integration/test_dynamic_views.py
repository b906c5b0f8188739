"""Sub-workflows, model fan-outs and steps added at run time, as every view shows them.

One workflow has all three: ``plan`` adds ``plan/summary[0..1]`` when it runs, ``research``
is a sub-workflow with a group, ``draft`` runs one step per model. The web view's JSON and
stream, ``baton status`` and ``watch``, ``baton.graph`` and the telemetry logger are read
against a real database.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
from oban import Oban
from rich.console import Console

import baton
from baton import Workflow
from baton.cli._terminal import status_view
from baton.cli._watch import watch
from baton.web import create_app
from tests.integration.test_web import http, next_event, sse
from tests.support.dynamic_steps import Plan, Read, Variant
from tests.support.event_steps import drain
from tests.support.steps import Echo
from tests.support.web_steps import live_server

STORED = [
    "plan",
    "research/fetch",
    "research/search[0]",
    "research/search[1]",
    "draft[0]",
    "draft[1]",
    "compile",
]
ADDED = ["plan/summary[0]", "plan/summary[1]"]
# the order every view lists them in: added steps right after the step that added them
NESTED = ["plan", *ADDED, *STORED[1:]]


def dynamic() -> Workflow:
    research = (
        Workflow()
        .add("fetch", Echo.new({"value": "notes"}))
        .add_many("search", [Echo.new({"value": i}) for i in range(2)], deps="fetch")
    )
    return (
        Workflow(name="dynamic", models={"compile": "gpt-4o-mini"})
        .add("plan", Plan.new({"items": [1, 2], "group": "summary"}))
        .add_workflow("research", research, deps="plan")
        .add_models("draft", Variant.new({"prompt": "hi"}), ["gpt-4o", "claude"], deps="research")
        .add("compile", Read.new({"names": ["draft"]}), deps=["draft", "plan"])
    )


async def run(client: Oban, workflow: Workflow) -> Workflow:
    await workflow.insert(oban=client)
    for _ in range(10):
        if not sum((await drain(client)).values()):
            break
    return workflow


async def finished(events: AsyncIterator[Any]) -> list[Any]:
    seen = []
    async with asyncio.timeout(20):
        async for event in events:
            seen.append(event)
            if isinstance(event, baton.WorkflowFinished):
                return seen
    raise AssertionError("the subscription ended")


# --- web: JSON, page and stream ------------------------------------------------------------


async def test_detail_has_paths_models_and_namespaces(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(client, dynamic())
    async with http(create_app(oban=client)) as web:
        detail = (await web.get(f"/api/workflows/{wf.id}")).json()
        page = (await web.get(f"/workflows/{wf.id}")).text
    assert detail["state"] == "completed"
    steps = {step["name"]: step for step in detail["steps"]}
    assert list(steps) == NESTED
    assert {name: step["parent"] for name, step in steps.items()} == {
        "plan": None,
        "plan/summary[0]": "plan",
        "plan/summary[1]": "plan",
        "research/fetch": "research",
        "research/search[0]": "research",
        "research/search[1]": "research",
        "draft[0]": None,
        "draft[1]": None,
        "compile": None,
    }
    models = {name: step["model"] for name, step in steps.items() if step["model"]}
    assert models == {"draft[0]": "gpt-4o", "draft[1]": "claude", "compile": "gpt-4o-mini"}
    assert detail["namespaces"] == {"plan": ADDED, "research": STORED[1:4]}
    assert detail["groups"] == {
        "plan/summary": ADDED,
        "research/search": ["research/search[0]", "research/search[1]"],
        "draft": ["draft[0]", "draft[1]"],
    }
    assert steps["plan/summary[1]"]["layer"] == steps["plan"]["layer"] + 1
    assert json.loads(steps["plan/summary[0]"]["result_preview"]) == {
        "doubled": 2,
        "plan": {"planned": 2},
    }
    # the server-rendered table: the namespace muted, the model under the worker
    assert '<span class="step-name"><span class="ns">plan/</span>summary[0]</span>' in page
    assert '<div class="sub model">model claude</div>' in page
    rows = [page.index(f'<tr data-step="{name}">') for name in NESTED]
    assert rows == sorted(rows)


async def test_the_stream_sends_a_snapshot_with_the_added_steps_at_once(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = dynamic()
    await wf.insert(oban=client)
    async with (
        live_server(create_app(oban=client)) as url,
        httpx.AsyncClient(base_url=url) as web,
        web.stream("GET", f"/api/workflows/{wf.id}/events") as response,
    ):
        events = sse(response)
        first = await next_event(events)
        assert first["event"] == "snapshot"
        assert [step["name"] for step in first["data"]["steps"]] == STORED
        await drain(client)  # runs plan, which adds its steps
        message = await next_event(events)
        while message["event"] != "added":
            assert message["event"] == "step"
            message = await next_event(events)
        assert message["data"]["workflow_id"] == wf.id
        assert (message["data"]["step"], message["data"]["count"]) == ("plan", 2)
        assert message["data"]["steps"] == ADDED
        snapshot = await next_event(events)  # at once, not after the periodic refresh
        assert snapshot["event"] == "snapshot"
        assert int(snapshot["id"]) == int(message["id"]) + 1
        assert [step["name"] for step in snapshot["data"]["steps"]] == NESTED
        assert snapshot["data"]["namespaces"]["plan"] == ADDED


async def test_the_list_stream_does_not_forward_added_steps(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    async with (
        live_server(create_app(oban=client)) as url,
        httpx.AsyncClient(base_url=url) as web,
        web.stream("GET", "/api/events") as response,
    ):
        events = sse(response)
        assert (await next_event(events))["event"] == "snapshot"
        wf = await run(client, dynamic())
        seen = [await next_event(events)]
        while seen[-1]["event"] != "snapshot" or seen[-1]["data"]["workflows"][0]["state"] == (
            "running"
        ):
            seen.append(await next_event(events))
    assert {message["event"] for message in seen} == {"finished", "snapshot"}
    [row] = seen[-1]["data"]["workflows"]
    assert (row["id"], row["steps"], row["settled"]) == (wf.id, 9, 9)  # the grown count


# --- graph, terminal, telemetry ------------------------------------------------------------


async def test_the_stored_graph_boxes_added_steps_next_to_their_step(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(client, dynamic())
    drawn = (await baton.graph(wf.id, oban=client)).splitlines()
    assert drawn[:16] == [
        "flowchart LR",
        '    n0["plan"]',
        '    subgraph s0["added by plan"]',
        '        subgraph g0["summary"]',
        '            n7["summary[0]"]',
        '            n8["summary[1]"]',
        "        end",
        "    end",
        '    subgraph s1["research"]',
        '        n1["fetch"]',
        '        subgraph g1["search"]',
        '            n2["search[0]"]',
        '            n3["search[1]"]',
        "        end",
        "    end",
        '    subgraph g2["draft"]',
    ]
    assert "    class n0,n1,n2,n3,n4,n5,n6,n7,n8 completed" in drawn
    dot = await baton.graph(wf.id, format="dot", oban=client)
    assert 'label="added by plan";' in dot and 'label="research";' in dot


async def test_status_shows_paths_in_nesting_order_and_models(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(client, dynamic())
    out = Console(record=True, width=120, file=io.StringIO(), highlight=False)
    out.print(status_view(await baton.status(wf.id, oban=client)))
    lines = out.export_text().splitlines()
    assert lines[1].startswith("completed · 9/9 steps completed · took ")
    assert lines[2].split() == ["STEP", "STATE", "QUEUE", "MODEL", "ATTEMPT", "DURATION", "COST"]
    rows = [line.split() for line in lines[4:] if line.strip()]
    assert [row[0] for row in rows] == NESTED
    assert {row[0]: row[3] for row in rows if row[3] != "—"} == {
        "draft[0]": "gpt-4o",
        "draft[1]": "claude",
        "compile": "gpt-4o-mini",
    }


class Lines(io.StringIO):
    """A file for a console that tells when a line with ``marker`` was written."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker
        self.seen = asyncio.Event()

    def write(self, text: str) -> int:
        if self.marker in text:
            self.seen.set()
        return super().write(text)


async def test_watch_prints_added_steps_and_counts_them(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = dynamic()
    await wf.insert(oban=client)
    lines = Lines("watching")
    out = Console(file=lines, width=160, highlight=False)
    watcher = asyncio.create_task(
        watch(wf.id, oban=client, dsn=installed, prefix="public", out=out, timeout=30)
    )
    async with asyncio.timeout(10):
        await lines.seen.wait()  # subscribed and read the status: nothing is missed now
    for _ in range(10):
        if not sum((await drain(client)).values()):
            break
    final = await watcher
    text = lines.getvalue()
    assert text.splitlines()[0] == f"watching dynamic ({wf.id}): running, 0/7 steps settled"
    assert "  plan  added 2 step(s) under plan/" in text
    assert "  plan/summary[1]  completed  attempt 1" in text
    assert final.state == "completed" and len(final.steps) == 9
    assert "9/9 steps settled" in text


async def test_the_default_logger_logs_added_steps(
    conn: psycopg.AsyncConnection[Any], client: Oban, caplog: pytest.LogCaptureFixture
) -> None:
    assert "baton.workflow.steps_added" in baton.telemetry.EVENTS
    caplog.set_level(logging.INFO, logger="baton")
    baton.telemetry.attach_default_logger()
    try:
        async with baton.subscribe(dynamic().id, oban=client):
            pass  # the listener is up before the run (and torn down again)
        wf = dynamic()
        async with baton.subscribe(wf.id, oban=client) as events:
            await run(client, wf)
            seen = await finished(events)
    finally:
        baton.telemetry.detach_default_logger()
    assert [e for e in seen if isinstance(e, baton.StepsAdded)] == [
        baton.StepsAdded(
            workflow_id=wf.id,
            workflow_name="dynamic",
            step="plan",
            count=2,
            steps=tuple(ADDED),
            at=next(e.at for e in seen if isinstance(e, baton.StepsAdded)),
        )
    ]
    logged = [
        (record.levelno, json.loads(record.getMessage()))
        for record in caplog.records
        if record.name == "baton" and record.getMessage().startswith("{")
    ]
    added = [(level, line) for level, line in logged if line["event"].endswith("steps_added")]
    assert len(added) == 1
    level, line = added[0]
    assert level == logging.INFO
    assert line == {
        "event": "baton.workflow.steps_added",
        "source": "baton",
        "workflow_id": wf.id,
        "workflow_name": "dynamic",
        "step": "plan",
        "count": 2,
        "steps": ADDED,
        "at": line["at"],
    }
    order = [entry["event"] for _level, entry in logged if entry.get("workflow_id") == wf.id]
    assert order.index("baton.workflow.steps_added") < order.index("baton.workflow.finished")
