"""Events are sent only while someone listens: subscribers' presence in baton_listeners."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Reconnected, Workflow, WorkflowFinished
from tests.support import event_steps as es
from tests.support.db import wait_until
from tests.support.event_steps import drain, follow, read_until, send_marker, steps_of

PRESENT = """
SELECT coalesce(array_agg(topic ORDER BY topic), '{}')
  FROM baton_listeners WHERE expires_at > timezone('UTC', now())
"""


async def present(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    row = await (await conn.execute(PRESENT)).fetchone()
    assert row is not None
    return list(row[0])


@contextlib.asynccontextmanager
async def bare_listen(dsn: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A LISTEN on the events channel that registers no presence."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as raw:
        await raw.execute(f'LISTEN "{es.EVENTS_CHANNEL}"')
        yield raw


async def sent_until_marker(
    raw: psycopg.AsyncConnection[Any], conn: psycopg.AsyncConnection[Any]
) -> list[dict[str, Any]]:
    """Every Baton payload the bare listener got, up to a marker sent now (left out)."""
    marker = await send_marker(conn, "marker")
    payloads: list[dict[str, Any]] = []
    async with asyncio.timeout(30):
        async for notify in raw.notifies():
            data = json.loads(notify.payload)
            if data.get("step") == marker:
                return payloads
            payloads.append(data)
    raise AssertionError("unreachable")


async def test_subscriptions_register_their_topics_and_leave(
    installed: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    assert await present(conn) == []
    async with baton.subscribe("w1", dsn=installed):
        assert await present(conn) == ["w1"]
        async with baton.subscribe(dsn=installed), baton.subscribe("w1", dsn=installed):
            assert await present(conn) == ["", "w1"]  # '' is workflow:all
        # the last follower of a topic takes its row when it leaves (at the next sync)
        await wait_until(conn, "SELECT NOT EXISTS (SELECT 1 FROM baton_listeners WHERE topic = '')")
        assert await present(conn) == ["w1"]
    await wait_until(conn, "SELECT NOT EXISTS (SELECT 1 FROM baton_listeners)")


async def test_nothing_is_sent_for_a_workflow_nobody_follows(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    async with bare_listen(installed) as raw:
        quiet = Workflow(name="quiet").add("a", es.Quick.new()).add("b", es.Quick.new(), deps=["a"])
        await quiet.insert(oban=client)
        await drain(client)
        assert await sent_until_marker(raw, conn) == []  # no step event, no finished event

        # a subscriber to another workflow does not make this one's events go out
        async with baton.subscribe("someone-else", dsn=installed):
            other = Workflow(name="quiet").add("a", es.Quick.new())
            await other.insert(oban=client)
            await drain(client)
            assert await sent_until_marker(raw, conn) == []

        # one that follows it does: every event, the finished one once
        followed = Workflow(name="followed").add("a", es.Quick.new())
        async with baton.subscribe(followed.id, dsn=installed):
            await followed.insert(oban=client)
            await drain(client)
            sent = await sent_until_marker(raw, conn)
    assert [(p["type"], p.get("state") or p.get("outcome")) for p in sent] == [
        ("step", "executing"),
        ("step", "completed"),
        ("workflow", "completed"),
    ]
    assert {p["workflow_id"] for p in sent} == {followed.id}
    # the quiet workflows still finished and recorded their outcome
    status = await baton.status(quiet.id, oban=client)
    assert status.state == "completed"


async def test_a_workflow_all_subscriber_gets_every_workflow(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wfs = [Workflow(name="any").add("a", es.Quick.new()) for _ in range(3)]
    async with baton.subscribe(dsn=installed) as events:
        for wf in wfs:
            await wf.insert(oban=client)
        await drain(client)
        seen = await follow(events, conn, wfs[-1].id)
    for wf in wfs:
        assert steps_of(seen, wf.id) == [("a", "executing"), ("a", "completed")]
        assert sum(isinstance(e, WorkflowFinished) and e.workflow_id == wf.id for e in seen) == 1


async def test_a_registration_waits_for_transactions_already_deciding(
    installed: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    """A transaction that found nobody listening and has not committed yet must commit
    before the subscription is ready: its change is then visible to the status read the
    subscriber does next, so nothing falls between the two."""
    async with await psycopg.AsyncConnection.connect(installed) as deciding:
        row = await (await deciding.execute("SELECT baton_listened('w')")).fetchone()
        assert row == (False,)  # nobody yet; the transaction stays open
        stack = contextlib.AsyncExitStack()
        entering = asyncio.create_task(
            stack.enter_async_context(baton.subscribe("w", dsn=installed))
        )
        try:
            await wait_until(
                conn,
                "SELECT EXISTS (SELECT 1 FROM pg_locks"
                " WHERE locktype = 'advisory' AND NOT granted AND mode = 'ExclusiveLock')",
            )
            assert not entering.done()
            await deciding.commit()
            async with asyncio.timeout(10):
                await entering
            # a transaction deciding now sees the subscriber
            row = await (await deciding.execute("SELECT baton_listened('w')")).fetchone()
            assert row == (True,)
            await deciding.commit()
        finally:
            if not entering.done():
                entering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await entering
            await stack.aclose()


async def test_an_expired_lease_does_not_count(
    installed: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    await conn.execute(
        "INSERT INTO baton_listeners (topic, listener, expires_at)"
        " VALUES ('w', 'gone', timezone('UTC', now()) - interval '1 second')"
    )
    try:
        row = await (await conn.execute("SELECT baton_listened('w')")).fetchone()
        assert row == (False,)
        async with baton.subscribe("other", dsn=installed):  # a registration clears it out
            assert await present(conn) == ["other"]
            row = await (await conn.execute("SELECT count(*) FROM baton_listeners")).fetchone()
            assert row == (1,)
    finally:
        await conn.execute("DELETE FROM baton_listeners WHERE listener = 'gone'")


async def test_a_lapsed_lease_registers_again_and_says_events_were_missed(
    installed: str, conn: psycopg.AsyncConnection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(baton._presence, "LEASE_SECONDS", 0.6)  # renewed every 0.1 s
    monkeypatch.setattr(baton._events, "HEALTH_CHECK_SECONDS", 0.1)
    async with baton.subscribe("w", dsn=installed) as events:
        # as if this process had stalled past its lease and another registration removed it
        await conn.execute("DELETE FROM baton_listeners WHERE topic = 'w'")
        await read_until(events, lambda e: isinstance(e, Reconnected), timeout=10)
        assert await present(conn) == ["w"]


async def test_subscribing_to_a_running_workflow_then_reading_status_misses_nothing(
    installed: str, conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    """The documented way to follow a workflow already running: subscribe, read status,
    then events. Each workflow here settles while its subscriber registers; either the
    status read shows it finished or the finished event arrives, exactly once."""
    wfs = [Workflow(name="race").add("a", es.Quick.new()) for _ in range(40)]
    for wf in wfs:
        await wf.insert(oban=running)
    by_status = by_event = 0
    for wf in wfs:
        async with baton.subscribe(wf.id, dsn=installed) as events:
            status = await baton.status(wf.id, oban=running)
            if status.state == "completed":
                by_status += 1
                continue
            finished = await read_until(events, lambda e: isinstance(e, WorkflowFinished))
            assert [e.workflow_id for e in finished if isinstance(e, WorkflowFinished)] == [wf.id]
            by_event += 1
    assert by_status + by_event == len(wfs)
