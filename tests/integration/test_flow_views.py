"""A deadline and a unique key in every view: ``baton status`` (table and ``--json``),
``baton list``, ``baton watch`` piped, the web page and its JSON."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from oban import Oban

import baton
from baton import Workflow
from baton.web import create_app
from tests.integration.test_cli_commands import cli
from tests.integration.test_web import http
from tests.support import event_steps as es


async def test_every_view_shows_the_deadline_and_the_key(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="late", deadline=60, unique_key="ticket:7").add(
        "a", es.Quick.new(queue="nobody-serves-this")
    )
    await wf.insert(oban=client)
    code, out, err = await cli("status", wf.id, "--dsn", installed)
    assert code == 0, err
    assert "(in 60 s) · unique key 'ticket:7'" in out or "(in 59 s) · unique key 'ticket:7'" in out

    await conn.execute(
        "UPDATE baton_workflows SET deadline_at = inserted_at WHERE id = %s",
        (wf.id,),
    )
    assert await baton.enforce_deadlines(oban=client) in (
        [wf.id],
        [],
    )  # or another started instance's stager did
    current = await baton.status(wf.id, oban=client)
    at = f"{current.deadline_at:%H:%M:%S} UTC"

    code, out, err = await cli("status", wf.id, "--dsn", installed)
    assert code == 0, err
    assert f"failed: its deadline passed at {at} · unique key 'ticket:7'" in out
    code, out, err = await cli("status", wf.id, "--json", "--dsn", installed)
    shown = json.loads(out)
    assert (shown["state"], shown["reason"], shown["unique_key"]) == (
        "failed",
        "deadline",
        "ticket:7",
    )
    assert shown["deadline_at"].startswith(current.deadline_at.isoformat()[:19])
    code, out, err = await cli("list", "--state", "failed", "--dsn", installed)
    assert wf.id in out
    code, out, err = await cli("watch", wf.id, "--dsn", installed)
    assert code == 1, err
    assert f"failed: its deadline passed at {at}" in out  # a finished one: its final view

    async with http(create_app(oban=client)) as web:
        page = await web.get(f"/workflows/{wf.id}")
        detail = (await web.get(f"/api/workflows/{wf.id}")).json()
    assert (
        f'<p id="wf-flow" class="flow">failed: its deadline passed at {at} · unique key '
        "&#x27;ticket:7&#x27;</p>"
    ) in page.text
    assert (detail["state"], detail["reason"], detail["unique_key"]) == (
        "failed",
        "deadline",
        "ticket:7",
    )
    assert detail["flow"] == f"failed: its deadline passed at {at} · unique key 'ticket:7'"
