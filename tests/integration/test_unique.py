"""Unique workflows: one unfinished workflow per ``unique_key``.

Concurrent inserts from several processes are ``test_multiprocess_flow.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from baton.errors import DuplicateWorkflow
from baton.web import create_app
from baton.web._security import CSRF_HEADER
from tests.integration.test_cli_commands import cli, one_line_error
from tests.integration.test_web import ORIGIN, csrf_of, http
from tests.support import event_steps as es
from tests.support.event_steps import drain

UNSERVED = "nobody-serves-this"


async def counts(conn: psycopg.AsyncConnection[Any]) -> tuple[int, int, int]:
    cursor = await conn.execute(
        "SELECT (SELECT count(*) FROM baton_workflows), (SELECT count(*) FROM baton_steps), "
        "(SELECT count(*) FROM oban_jobs)"
    )
    [row] = await cursor.fetchall()
    return row


def waiting(key: str, name: str = "ticket") -> Workflow:
    """A workflow that stays unfinished: its step's queue is not served."""
    return Workflow(name=name, unique_key=key).add("a", es.Quick.new(queue=UNSERVED))


async def test_a_second_insert_with_the_key_raises_and_writes_nothing(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    first = await waiting("ticket:42").insert(oban=client)
    before = await counts(conn)
    second = waiting("ticket:42", "again")
    with pytest.raises(DuplicateWorkflow) as raised:
        await second.insert(oban=client)
    assert raised.value.workflow_id == first.id
    assert raised.value.unique_key == "ticket:42"
    assert str(raised.value) == (
        f"workflow 'again' (id {second.id!r}) was not inserted: its unique_key 'ticket:42' is "
        f"held by unfinished workflow {first.id!r}, which must finish first; nothing was "
        "written"
    )
    assert await counts(conn) == before
    assert second.steps["a"].job.id is None
    await (
        Workflow(name="other", unique_key="ticket:43").add("a", es.Quick.new()).insert(oban=client)
    )
    status = await baton.status(first.id, oban=client)
    assert status.unique_key == "ticket:42"


@pytest.mark.parametrize("ending", ["completed", "failed", "cancelled", "deadline"])
async def test_the_key_is_free_once_the_workflow_finishes(
    conn: psycopg.AsyncConnection[Any], client: Oban, ending: str
) -> None:
    match ending:
        case "completed":
            job = es.Quick.new()
        case "failed":
            job = es.Failing.new()
        case _:
            job = es.Quick.new(queue=UNSERVED)
    wf = Workflow(name=ending, unique_key="doc:7", deadline=60).add("a", job)
    await wf.insert(oban=client)
    with pytest.raises(DuplicateWorkflow):
        await waiting("doc:7").insert(oban=client)
    match ending:
        case "completed" | "failed":
            await drain(client)
        case "cancelled":
            await baton.cancel(wf.id, oban=client)
        case "deadline":
            await conn.execute(
                "UPDATE baton_workflows SET deadline_at = inserted_at WHERE id = %s", (wf.id,)
            )
            assert await baton.enforce_deadlines(oban=client) in (
                [wf.id],
                [],
            )  # or another started instance's stager did
    status = await baton.status(wf.id, oban=client)
    assert status.finished_at is not None
    assert status.state == ("failed" if ending == "deadline" else ending)
    again = await waiting("doc:7").insert(oban=client)
    assert (await baton.status(again.id, oban=client)).state == "running"


async def test_in_the_callers_transaction_a_duplicate_leaves_it_usable(
    conn: psycopg.AsyncConnection[Any], client: Oban, installed: str
) -> None:
    """The insert runs under a savepoint: the caller's own writes before and after the
    duplicate commit; a holder inserted earlier in the same transaction is named."""
    await conn.execute("CREATE TABLE IF NOT EXISTS test_unique_notes (note text)")
    async with await psycopg.AsyncConnection.connect(installed) as caller:
        async with caller.transaction():
            await caller.execute("INSERT INTO test_unique_notes VALUES ('before')")
            first = await waiting("order:1").insert(caller, oban=client)
            with pytest.raises(DuplicateWorkflow) as raised:
                await waiting("order:1").insert(caller, oban=client)
            assert raised.value.workflow_id == first.id
            assert "the caller's transaction is still usable" in str(raised.value)
            await caller.execute("INSERT INTO test_unique_notes VALUES ('after')")
    cursor = await conn.execute("SELECT note FROM test_unique_notes ORDER BY note")
    assert await cursor.fetchall() == [("after",), ("before",)]
    assert (await baton.status(first.id, oban=client)).unique_key == "order:1"
    with pytest.raises(DuplicateWorkflow) as raised:
        await waiting("order:1").insert(oban=client)
    assert raised.value.workflow_id == first.id


async def test_retry_refuses_when_another_workflow_took_the_key(
    conn: psycopg.AsyncConnection[Any], client: Oban, installed: str
) -> None:
    wf = Workflow(name="first", unique_key="mail:9").add("a", es.Failing.new())
    await wf.insert(oban=client)
    await drain(client)
    assert (await baton.status(wf.id, oban=client)).state == "failed"
    taker = await waiting("mail:9", "taker").insert(oban=client)
    with pytest.raises(DuplicateWorkflow) as raised:
        await baton.retry(wf.id, oban=client)
    assert raised.value.workflow_id == taker.id
    assert str(raised.value) == (
        f"cannot retry workflow {wf.id!r}: its unique_key 'mail:9' is now held by unfinished "
        f"workflow {taker.id!r}, which must finish first; nothing was changed"
    )
    async with http(create_app(oban=client)) as web:  # the web view's button: a 409
        csrf = csrf_of((await web.get(f"/workflows/{wf.id}")).text)
        response = await web.post(
            f"/api/workflows/{wf.id}/retry", headers={"origin": ORIGIN, CSRF_HEADER: csrf}
        )
    assert (response.status_code, response.json()) == (409, {"error": str(raised.value)})
    code, _out, err = await cli("retry", wf.id, "--dsn", installed)
    one_line_error(code, err, f"Error: {raised.value}")
    status = await baton.status(wf.id, oban=client)
    assert (status.state, status.step("a").state) == ("failed", "discarded")
    await baton.cancel(taker.id, oban=client)
    assert await baton.retry(wf.id, oban=client) == ["a"]


async def test_baton_run_of_a_template_whose_key_is_held_is_a_one_line_error(
    tmp_path: Path, installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    template = tmp_path / "reply.toml"
    template.write_text(
        'name = "reply"\n'
        'unique_key = "ticket:${ticket}"\n'
        "deadline = 600\n"
        "[params.ticket]\n"
        "[[steps]]\n"
        'name = "draft"\n'
        'worker = "tests.support.event_steps.Quick"\n'
        f'queue = "{UNSERVED}"\n',
        encoding="utf-8",
    )
    code, out, err = await cli("run", str(template), "--dsn", installed, "--arg", "ticket=42")
    assert code == 0, err
    first = out.strip()
    status = await baton.status(first, oban=client)
    assert (status.unique_key, status.deadline_at is not None) == ("ticket:42", True)
    before = await counts(conn)
    code, out, err = await cli("run", str(template), "--dsn", installed, "--arg", "ticket=42")
    assert out == ""
    one_line_error(code, err, "Error: workflow 'reply' (id ")
    assert f"its unique_key 'ticket:42' is held by unfinished workflow {first!r}" in err
    assert await counts(conn) == before
