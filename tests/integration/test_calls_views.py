"""Captured calls on display: ``baton status ID --calls`` and the web view's step rows."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from baton.web import create_app
from tests.integration.test_cli_commands import cli
from tests.integration.test_web import http
from tests.support import budget_steps as bs
from tests.support.event_steps import drain


@pytest.fixture
async def captured(conn: psycopg.AsyncConnection[Any], client: Oban) -> Workflow:
    wf = Workflow(name="shown", capture=True)
    wf.add("ask", bs.Captures.new({"calls": 2, "reply": "\x1b[31mred\x1b[0m"}))
    wf.add("quiet", bs.Captures.new({"calls": 0}))
    await wf.insert()
    await drain(client)
    return wf


async def test_status_calls_prints_each_call_cleaned(installed: str, captured: Workflow) -> None:
    code, out, err = await cli("status", captured.id, "--calls", "--dsn", installed)
    assert code == 0, err
    assert "Captured calls (2)" in out
    assert out.count("ask  attempt 1  #") == 2
    assert '"Authorization": "***"' in out
    assert "sk-" not in out
    assert "\\u001b[31mred" in out  # escaped, never sent to the terminal
    assert "\x1b[31m" not in out


async def test_status_calls_as_json(installed: str, captured: Workflow) -> None:
    code, out, err = await cli("status", captured.id, "--calls", "--json", "--dsn", installed)
    assert code == 0, err
    calls = json.loads(out)["calls"]
    assert [(c["step"], c["attempt"], c["seq"]) for c in calls] == [("ask", 1, 0), ("ask", 1, 1)]
    assert calls[0]["request"]["api_key"] == "***"
    code, out, _err = await cli("status", captured.id, "--json", "--dsn", installed)
    assert "calls" not in json.loads(out)  # only when asked for


async def test_status_calls_says_when_there_are_none(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await Workflow(name="none").add("ask", bs.Captures.new()).insert()
    await drain(client)
    code, out, err = await cli("status", wf.id, "--calls", "--dsn", installed)
    assert code == 0, err
    assert "No captured calls. Capture is on with Workflow(capture=True)" in out


async def test_the_web_view_shows_the_calls_of_each_step(client: Oban, captured: Workflow) -> None:
    async with http(create_app(oban=client)) as web:
        page = (await web.get(f"/workflows/{captured.id}")).text
        detail = (await web.get(f"/api/workflows/{captured.id}")).json()
        calls = await web.get(f"/api/workflows/{captured.id}/calls", params={"step": "ask"})
        everything = await web.get(f"/api/workflows/{captured.id}/calls")
        nul = await web.get(f"/api/workflows/{captured.id}/calls", params={"step": "a\x00b"})
        unknown = await web.get("/api/workflows/no-such-id/calls")
    assert '<details class="sub calls" data-calls="ask"><summary>2 captured calls</summary>' in page
    assert 'data-calls="quiet"' not in page
    assert {step["name"]: step["calls"] for step in detail["steps"]} == {"ask": 2, "quiet": 0}
    assert calls.status_code == 200
    assert [call["seq"] for call in calls.json()] == [0, 1]
    assert calls.json()[0]["request"]["headers"]["Authorization"] == "***"
    assert (
        calls.json()[0]["captured_at"].endswith("Z") or "+00:00" in calls.json()[0]["captured_at"]
    )
    assert len(everything.json()) == 2
    assert (nul.status_code, nul.json()) == (200, [])
    assert unknown.status_code == 404
    # the Python API reads the same
    assert [c.seq for c in await baton.calls(captured.id, step="ask", oban=client)] == [0, 1]


async def test_baton_prune_deletes_old_calls(
    installed: str, conn: psycopg.AsyncConnection[Any], captured: Workflow
) -> None:
    await conn.execute("UPDATE baton_calls SET captured_at = captured_at - interval '3 hours'")
    args = ("prune", "--older-than", "7d", "--calls-older-than", "2h", "--dsn", installed)
    code, out, err = await cli(*args, "--dry-run")
    assert (code, out) == (
        0,
        "Would prune 2 captured calls; no workflow finished more than 7d ago.\n",
    ), err
    code, out, err = await cli(*args)
    assert (code, out) == (0, "Pruned 2 captured calls; no workflow finished more than 7d ago.\n")
    assert await baton.calls(captured.id) == []
    code, _out, err = await cli("prune", "--older-than", "7d", "--calls-older-than", "soon")
    assert code == 2
    assert "expected a duration such as 7d" in err


async def test_bad_inputs_to_the_calls_readers(installed: str, client: Oban) -> None:
    code, _out, err = await cli("status", "no-such-id", "--calls", "--dsn", installed)
    assert code == 1
    assert err.startswith("Error: no workflow with id 'no-such-id'")
    assert "Traceback" not in err
    with pytest.raises(baton.errors.UnknownWorkflow):
        await baton.calls(123, oban=client)  # type: ignore[arg-type]
    wf = await Workflow(name="w").add("ask", bs.Captures.new()).insert(oban=client)
    with pytest.raises(baton.errors.InvalidOption, match="step must be a step name, got 5"):
        await baton.calls(wf.id, step=5, oban=client)  # type: ignore[arg-type]
    assert await baton.calls(wf.id, step="a\x00b", oban=client) == []
