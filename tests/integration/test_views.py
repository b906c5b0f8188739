"""Readable output and visible stalls, through the real CLI: ``baton result``,
``status --json`` results, each step's queue, queues no running node serves, the next run
of a retry, a cancelled workflow's header, and pools that fail fast on a wrong DSN."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import psycopg
import pytest
from oban import Oban
from oban.testing import drain_queue

import baton
from baton import Workflow
from baton.web import create_app
from tests.integration.test_cli_commands import UNREACHABLE, brief, cli, one_line_error, run
from tests.support import event_steps as es


async def test_results_are_read_from_outside_a_step(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    done = await run(client, brief())
    values = await baton.results(done.id, oban=client)
    assert values["fetch"] == {"text": "hello"}
    assert (values["search[0]"], values["search[1]"], values["search"]) == (0, 1, [0, 1])
    assert values["compile"] == {"fetch": {"text": "hello"}, "search": [0, 1]}

    code, out, err = await cli("result", done.id, "--dsn", installed)
    assert code == 0, err
    assert json.loads(out) == values
    code, out, err = await cli("result", done.id, "search", "--dsn", installed)
    assert (code, json.loads(out)) == (0, [0, 1]), err
    code, out, err = await cli("status", done.id, "--json", "--dsn", installed)
    assert code == 0, err
    assert json.loads(out)["results"] == values

    code, _out, err = await cli("result", done.id, "fetc", "--dsn", installed)
    one_line_error(
        code,
        err,
        f"Error: workflow {done.id!r} has no step 'fetc'; did you mean 'fetch'? "
        "(steps: fetch, search[0], search[1], compile, search)",
    )
    code, _out, err = await cli("result", "no-such-id", "--dsn", installed)
    one_line_error(code, err, "Error: no workflow with id 'no-such-id'")


async def test_results_leave_out_steps_that_did_not_complete(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(
        client,
        Workflow(name="partial")
        .add("a", es.Quick.new({"value": 1}))
        .add("quiet", es.Quick.new())
        .add("boom", es.Failing.new(), deps="a")
        .add("after", es.Quick.new(), deps="boom"),
    )
    assert await baton.results(wf.id, oban=client) == {"a": 1, "quiet": None}
    code, out, err = await cli("result", wf.id, "quiet", "--dsn", installed)
    assert (code, out) == (0, "null\n"), err
    code, _out, err = await cli("result", wf.id, "boom", "--dsn", installed)
    one_line_error(
        code,
        err,
        f"Error: step 'boom' of workflow {wf.id!r} has no result: it is discarded, not completed",
    )
    with pytest.raises(baton.errors.UnknownWorkflow):
        await baton.results("nope", oban=client)


async def test_a_queue_no_running_node_serves_is_named(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban, oban_pool: Any
) -> None:
    wf = (
        Workflow(name="mail")
        .add("fetch", es.Quick.new({"value": 1}))
        .add("send", es.Quick.new({"value": 2}, queue="emails"), deps="fetch")
        .add("log", es.Quick.new({"value": 3}, queue="emails"), deps="send")
    )
    await run(client, wf)  # fetch completes; send is available on "emails"
    # a node that died a while ago left its producer row behind: it serves nothing now
    await conn.execute(
        "INSERT INTO oban_producers (uuid, node, queue, updated_at) VALUES "
        "(gen_random_uuid(), 'gone', 'emails', timezone('UTC', now()) - interval '5 minutes')"
    )
    async with Oban(pool=oban_pool, name="node-default", queues={"default": 2}):
        current = await baton.status(wf.id, oban=client)
        assert current.unserved_queues == {"emails": ("send", "log")}
        assert [(s.name, s.queue) for s in current.steps] == [
            ("fetch", "default"),
            ("send", "emails"),
            ("log", "emails"),
        ]
        hint = (
            "no running node serves queue 'emails', which steps send, log wait for: "
            "start one with `baton start --queues emails:10` (or unpause it)"
        )
        code, out, err = await cli("status", wf.id, "--dsn", installed)
        assert code == 0, err
        lines = out.splitlines()
        assert lines[2].split()[:3] == ["STEP", "STATE", "QUEUE"]
        assert lines[5].split()[:3] == ["send", "available", "emails"]
        assert hint in out.replace("\n", " ")
        code, out, err = await cli("status", wf.id, "--json", "--dsn", installed)
        assert json.loads(out)["unserved_queues"] == {"emails": ["send", "log"]}

        code, out, err = await cli("watch", wf.id, "--timeout", "1", "--dsn", installed)
        assert code == 124, err
        assert f"Hint: {hint}" in err
        assert hint in out.replace("\n", " ")  # piped: said when watching starts

        async with Oban(pool=oban_pool, name="node-emails", queues={"emails": 1}):
            assert (await baton.status(wf.id, oban=client)).unserved_queues == {}
            code, out, err = await cli("watch", wf.id, "--timeout", "30", "--dsn", installed)
            assert code == 0, out + err
            assert "no running node serves" not in out


async def test_a_retry_says_when_it_runs_and_a_cancel_ends_the_clock(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="later").add("boom", es.Failing.new()).add("b", es.Quick.new(), deps="boom")
    await wf.insert(oban=client)
    await drain_queue(queue="default", oban=client, with_safety=True, with_scheduled=False)
    current = await baton.status(wf.id, oban=client)
    boom = current.step("boom")
    assert boom.state == "retryable"
    assert boom.scheduled_at is not None and boom.errored_at is not None
    code, out, err = await cli("status", wf.id, "--dsn", installed)
    assert code == 0, err
    lines = out.splitlines()
    assert "NEXT RUN" in lines[2]
    assert " in " in lines[4]
    assert boom.scheduled_at.strftime("%H:%M:%S UTC") in lines[4]

    code, out, err = await cli("cancel", wf.id, "--dsn", installed)
    assert code == 0, err
    code, out, err = await cli("status", wf.id, "--dsn", installed)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith("cancelled · 0/2 steps completed · cancelled after ")
    row = next(line for line in lines if line.startswith("boom"))
    assert row.split()[1] == "cancelled"
    # the attempt ran for milliseconds; the cancel came later (after two CLI runs)
    cancelled = (await baton.status(wf.id, oban=client)).step("boom")
    assert cancelled.settled_at is not None and cancelled.attempted_at is not None
    assert (cancelled.settled_at - cancelled.attempted_at).total_seconds() > 0.5
    assert row.split()[3:6] == ["1/2", row.split()[4], "ms"], row


async def test_a_wrong_dsn_fails_at_once_with_the_servers_reason(installed: str) -> None:
    missing = installed.rsplit("/", 1)[0] + "/baton_no_such_database"
    async with asyncio.timeout(10):  # psycopg's pool would wait 30 s, then say PoolTimeout
        with pytest.raises(psycopg.OperationalError, match='"baton_no_such_database" does not'):
            await baton.install(missing)
        with pytest.raises(psycopg.OperationalError, match=r"Connection refused|connection failed"):
            await baton.install(UNREACHABLE)
        app = create_app(dsn=missing)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as http:
            response = await http.get("/api/workflows")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error.startswith("cannot reach the database: connection failed"), error
    assert error.endswith('database "baton_no_such_database" does not exist'), error
