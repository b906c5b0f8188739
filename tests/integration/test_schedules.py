"""``baton.schedule``: one workflow per cron tick of Oban's scheduler (issue 15 §6).

In this process, ticks are fired by Oban's own scheduler evaluation (``_evaluate``, what
its leader runs each minute) for a chosen minute, so no test waits for the clock. The
multi-node test runs three worker processes on the real clock for two ticks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Tick, Workflow
from tests.integration.test_multiprocess import rows, workers
from tests.support import event_steps as es
from tests.support.db import wait_until
from tests.support.event_steps import drain

YEARLY = "0 0 1 1 *"  # never due while a test runs: only the ticks a test fires happen
NEW_YEAR = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)


def build(tick: Tick) -> Workflow:
    return Workflow(name="yearly").add("a", es.Quick.new({"value": tick.at.isoformat()}))


@pytest.fixture
async def ticks(conn: psycopg.AsyncConnection[Any]) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    await conn.execute("TRUNCATE baton_schedule_ticks")
    yield conn
    for registered in baton.schedules():
        baton.unschedule(registered.name)


async def fire(oban: Oban, at: datetime) -> None:
    """Oban's scheduler evaluating the minute ``at``, as its leader does."""
    await oban._scheduler._evaluate(at)


async def workflows(conn: psycopg.AsyncConnection[Any], name: str) -> list[Any]:
    return await rows(
        conn,
        "SELECT t.tick, w.id, w.outcome FROM baton_schedule_ticks t "
        "JOIN baton_workflows w ON w.id = t.workflow_id WHERE t.schedule = %s ORDER BY t.tick",
        (name,),
    )


async def tick_jobs(conn: psycopg.AsyncConnection[Any]) -> list[Any]:
    return await rows(
        conn,
        "SELECT state::text, errors FROM oban_jobs WHERE worker = 'baton._schedule.ScheduleTick'"
        " ORDER BY id",
    )


async def test_a_tick_builds_and_inserts_one_workflow_that_runs(
    ticks: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    baton.schedule("yearly", YEARLY, build)
    await fire(client, NEW_YEAR)
    await drain(client)  # the tick job, then the workflow's step

    [(tick, workflow_id, outcome)] = await workflows(ticks, "yearly")
    assert (tick, outcome) == (NEW_YEAR, "completed")
    assert await baton.results(workflow_id) == {"a": NEW_YEAR.isoformat()}
    assert [state for state, _ in await tick_jobs(ticks)] == ["completed"]


async def test_an_async_build_and_a_timezone(
    ticks: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    async def build_later(tick: Tick) -> Workflow:
        return build(tick)

    # 09:00 in Tokyo is 00:00 UTC: the tick is due at that UTC minute, and only then.
    baton.schedule("tokyo", "0 9 * * *", build_later, timezone="Asia/Tokyo")
    await fire(client, datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    assert await tick_jobs(ticks) == []
    await fire(client, datetime(2027, 3, 1, 0, 0, tzinfo=UTC))
    await drain(client)
    [(tick, _id, outcome)] = await workflows(ticks, "tokyo")
    assert (tick, outcome) == (datetime(2027, 3, 1, 0, 0, tzinfo=UTC), "completed")


async def test_a_tick_fired_twice_still_builds_one_workflow(
    ticks: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """Two leaders for a moment, or a tick job retried after its insert committed: the
    claimed tick makes every other job of it build nothing."""
    baton.schedule("yearly", YEARLY, build)
    await fire(client, NEW_YEAR)
    await fire(client, NEW_YEAR)
    await drain(client)
    assert len(await workflows(ticks, "yearly")) == 1
    assert [state for state, _ in await tick_jobs(ticks)] == ["completed", "completed"]
    assert await rows(ticks, "SELECT count(*) FROM baton_workflows") == [(1,)]

    await fire(client, NEW_YEAR.replace(year=2028))  # the next tick builds the next one
    await drain(client)
    assert await rows(ticks, "SELECT count(*) FROM baton_workflows") == [(2,)]
    # and drops the ticks claimed over a week before it: only a repeat needs its row.
    assert [tick.year for tick, _, _ in await workflows(ticks, "yearly")] == [2028]


async def test_a_node_without_the_schedule_fails_the_tick_job_clearly(
    ticks: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    baton.schedule("yearly", YEARLY, build)
    await fire(client, NEW_YEAR)
    baton.unschedule("yearly")  # this "node" does not know the schedule
    await drain(client)
    [(state, errors)] = await tick_jobs(ticks)
    assert state == "discarded"  # retried up to its 3 attempts, then given up
    assert len(errors) == 3
    assert "schedule 'yearly' is not registered in this process" in errors[-1]["error"]
    assert "on every node that runs queue 'default'" in errors[-1]["error"]
    assert await workflows(ticks, "yearly") == []


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (lambda _tick: {"not": "a workflow"}, "schedule 'bad': build returned dict, not a"),
        (lambda _tick: Workflow(name="empty"), "has no steps"),
    ],
)
async def test_a_build_that_returns_no_valid_workflow_discards_the_tick_at_once(
    ticks: psycopg.AsyncConnection[Any], client: Oban, returned: Any, message: str
) -> None:
    baton.schedule("bad", YEARLY, returned)
    await fire(client, NEW_YEAR)
    await drain(client)
    [(state, errors)] = await tick_jobs(ticks)
    assert (state, len(errors)) == ("discarded", 1)
    assert message in errors[0]["error"]
    assert await rows(ticks, "SELECT count(*) FROM baton_schedule_ticks") == [(0,)]
    assert await rows(ticks, "SELECT count(*) FROM baton_workflows") == [(0,)]


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_three_nodes_build_exactly_one_workflow_per_tick(
    installed: str, calls: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    """Every node registers the schedule; on the real clock, each minute's tick builds
    one workflow, whichever node is the leader and whichever runs the tick job."""
    conn = calls
    await conn.execute("TRUNCATE baton_schedule_ticks")
    extra = ["--import", "tests.support.schedule_steps"]
    async with workers(installed, tmp_path) as group:
        await group.start(["cron-0", "cron-1", "cron-2"], extra)
        await wait_until(
            conn,
            "SELECT count(*) >= 2 FROM baton_workflows w WHERE w.name = 'every-minute' "
            "AND w.outcome = 'completed'",
            timeout=200,
        )
    built = await workflows(conn, "every-minute")
    minutes = [tick for tick, _, _ in built]
    assert len(minutes) >= 2 and len(set(minutes)) == len(minutes)
    assert all(tick.second == 0 and tick.microsecond == 0 for tick in minutes)
    assert await rows(conn, "SELECT count(*) FROM baton_workflows WHERE name = 'every-minute'") == [
        (len(built),)
    ]
    jobs = await rows(
        conn,
        "SELECT meta->>'cron_at', count(*) FROM oban_jobs "
        "WHERE worker = 'baton._schedule.ScheduleTick' GROUP BY 1",
    )
    assert all(count == 1 for _at, count in jobs)  # one leader fired each minute once
    assert len(jobs) == len(built)
    # Each tick's workflow ran its step with that tick.
    results = [await baton.results(workflow_id) for _, workflow_id, _ in built]
    assert all(result.keys() == {"a"} for result in results)
