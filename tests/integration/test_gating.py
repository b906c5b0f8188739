"""Dependency gating: failed deps, the callbacks, cascades, and the ignore flags."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from oban import Oban
from oban.testing import drain_queue

from baton import Workflow
from tests.support import steps
from tests.support.steps import Echo, Outcome, PlainOban, Reader, Watcher


@pytest.fixture(autouse=True)
def _clear_callbacks() -> None:
    steps.CALLBACKS.clear()


async def drain(oban: Oban) -> dict[str, int]:
    return await drain_queue(queue="default", oban=oban, with_scheduled=False, with_safety=True)


async def states(conn: psycopg.AsyncConnection[Any], wf: Workflow) -> dict[str, tuple[Any, ...]]:
    """Each step's (job state, step outcome)."""
    rows = await (
        await conn.execute(
            "SELECT s.name, j.state::text, s.outcome FROM baton_steps s "
            "LEFT JOIN oban_jobs j ON j.id = s.job_id WHERE s.workflow_id = %s",
            (wf.id,),
        )
    ).fetchall()
    return {name: (state, outcome) for name, state, outcome in rows}


async def errors_of(conn: psycopg.AsyncConnection[Any], wf: Workflow, name: str) -> list[str]:
    row = await (
        await conn.execute("SELECT errors FROM oban_jobs WHERE id = %s", (wf.steps[name].job.id,))
    ).fetchone()
    assert row is not None
    return [str(error["error"]) for error in row[0]]


async def test_cancelled_dep_calls_async_callback_and_cancels(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="cancelled")
        .add("up", Outcome.new({"outcome": "cancel"}))
        .add("watch", Watcher.new(), deps=["up"])
    )
    await wf.insert()
    await drain(client)

    assert await states(conn, wf) == {
        "up": ("cancelled", "cancelled"),
        "watch": ("cancelled", "cancelled"),
    }
    assert steps.CALLBACKS == [("cancelled", "dependencies did not complete (cancelled: 'up')")]
    assert any("cancelled: 'up'" in error for error in await errors_of(conn, wf, "watch"))


async def test_discarded_dep_calls_sync_callback_and_cancels(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="discarded")
        .add("up", Outcome.new({"outcome": "discard"}))
        .add("watch", Watcher.new(), deps=["up"])
    )
    await wf.insert()
    await drain(client)

    assert await states(conn, wf) == {
        "up": ("discarded", "discarded"),
        "watch": ("cancelled", "cancelled"),
    }
    assert steps.CALLBACKS == [("discarded", "dependencies did not complete (discarded: 'up')")]
    result = await (
        await conn.execute("SELECT result, performed_at FROM baton_steps WHERE name = 'watch'")
    ).fetchone()
    assert result == (None, None)  # perform_workflow never ran


async def test_cancellation_cascades_down_a_chain(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="cascade")
        .add("a", Outcome.new({"outcome": "cancel"}))
        .add("b", Echo.new({"value": 1}), deps=["a"])
        .add("c", Watcher.new(), deps=["b"])
        .add("d", PlainOban.new(), deps=["c"])
        .add("side", Echo.new({"value": 2}))
    )
    await wf.insert()
    await drain(client)

    assert await states(conn, wf) == {
        "a": ("cancelled", "cancelled"),
        "b": ("cancelled", "cancelled"),
        "c": ("cancelled", "cancelled"),
        "d": ("cancelled", "cancelled"),
        "side": ("completed", "completed"),
    }
    assert steps.CALLBACKS == [("cancelled", "dependencies did not complete (cancelled: 'b')")]
    assert await errors_of(conn, wf, "d") == [
        "cancelled by Baton: dependencies did not complete: c (cancelled)"
    ]


@pytest.mark.parametrize(
    ("outcome", "flag"),
    [("cancel", "ignore_cancelled"), ("discard", "ignore_discarded")],
)
async def test_workflow_wide_ignore_lets_dependents_run(
    conn: psycopg.AsyncConnection[Any], client: Oban, outcome: str, flag: str
) -> None:
    wf = (
        Workflow(name="ignore", **{flag: True})
        .add("up", Outcome.new({"outcome": outcome}))
        .add("ok", Echo.new({"value": "fine"}))
        .add("down", Reader.new({"read": "all"}), deps=["up", "ok"])
        .add("plain", PlainOban.new(), deps=["up"])
    )
    await wf.insert()
    await drain(client)

    found = await states(conn, wf)
    assert found["down"] == ("completed", "completed")
    assert found["plain"] == ("completed", "completed")
    assert steps.CALLBACKS == []
    result = await (
        await conn.execute("SELECT result FROM baton_steps WHERE name = 'down'")
    ).fetchone()
    assert result == ({"value": {"got": {"ok": "fine"}}},)  # the failed dep has no value


@pytest.mark.parametrize(
    ("outcome", "flag"),
    [("cancel", "ignore_cancelled"), ("discard", "ignore_discarded")],
)
async def test_per_step_ignore_overrides_the_workflow(
    conn: psycopg.AsyncConnection[Any], client: Oban, outcome: str, flag: str
) -> None:
    wf = (
        Workflow(name="override", **{flag: True})
        .add("up", Outcome.new({"outcome": outcome}))
        .add("strict", Watcher.new(), deps=["up"], **{flag: False})
        .add("lenient", Watcher.new(), deps=["up"])
        .add("strict_plain", PlainOban.new(), deps=["up"], **{flag: False})
    )
    await wf.insert()
    await drain(client)

    found = await states(conn, wf)
    assert found["strict"] == ("cancelled", "cancelled")
    assert found["strict_plain"] == ("cancelled", "cancelled")
    assert found["lenient"] == ("completed", "completed")
    assert len(steps.CALLBACKS) == 1
    assert "'up'" in steps.CALLBACKS[0][1]


async def test_per_step_ignore_true_on_a_strict_workflow(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="per-step")
        .add("up", Outcome.new({"outcome": "discard"}))
        .add("lenient", Echo.new({"value": 1}), deps=["up"], ignore_discarded=True)
        .add("strict", Echo.new({"value": 2}), deps=["up"])
    )
    await wf.insert()
    await drain(client)

    found = await states(conn, wf)
    assert found["lenient"] == ("completed", "completed")
    assert found["strict"] == ("cancelled", "cancelled")


async def test_deleted_dep_blocks_unless_ignored(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="deleted")
        .add("up", Echo.new({"value": 1}))
        .add("strict", Watcher.new(), deps=["up"])
        .add("lenient", Watcher.new(), deps=["up"], ignore_deleted=True)
        .add("plain", PlainOban.new(), deps=["up"])
    )
    await wf.insert()
    await conn.execute("DELETE FROM oban_jobs WHERE id = %s", (wf.steps["up"].job.id,))
    await drain(client)

    found = await states(conn, wf)
    assert found["up"] == (None, "deleted")
    assert found["strict"] == ("cancelled", "cancelled")
    assert found["lenient"] == ("completed", "completed")
    assert found["plain"] == ("cancelled", "cancelled")
    assert steps.CALLBACKS == [("cancelled", "dependencies did not complete (deleted: 'up')")]
    assert await errors_of(conn, wf, "plain") == [
        "cancelled by Baton: dependencies did not complete: up (deleted)"
    ]


async def test_workflow_wide_ignore_deleted(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="deleted-ok", ignore_deleted=True)
        .add("up", Echo.new({"value": 1}))
        .add("down", Echo.new({"value": 2}), deps=["up"])
        .add("plain", PlainOban.new(), deps=["up"])
    )
    await wf.insert()
    await conn.execute("DELETE FROM oban_jobs WHERE id = %s", (wf.steps["up"].job.id,))
    await drain(client)

    found = await states(conn, wf)
    assert found == {
        "up": (None, "deleted"),
        "down": ("completed", "completed"),
        "plain": ("completed", "completed"),
    }


async def test_plain_oban_step_with_failed_dep_is_cancelled_by_the_trigger(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="plain")
        .add("up", Outcome.new({"outcome": "discard"}))
        .add("plain", PlainOban.new(), deps=["up"])
    )
    await wf.insert()
    await drain(client)

    row = await (
        await conn.execute(
            "SELECT state::text, attempt, cancelled_at IS NOT NULL FROM oban_jobs WHERE id = %s",
            (wf.steps["plain"].job.id,),
        )
    ).fetchone()
    assert row == ("cancelled", 0, True)  # never fetched
    assert await errors_of(conn, wf, "plain") == [
        "cancelled by Baton: dependencies did not complete: up (discarded)"
    ]
    assert (await states(conn, wf))["plain"] == ("cancelled", "cancelled")


async def test_plain_oban_step_with_completed_dep_runs(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="plain-ok")
        .add("up", Echo.new({"value": 1}))
        .add("plain", PlainOban.new(), deps=["up"])
        .add("after", Echo.new({"value": 2}), deps=["plain"])
    )
    await wf.insert()
    await drain(client)

    assert await states(conn, wf) == {
        "up": ("completed", "completed"),
        "plain": ("completed", "completed"),
        "after": ("completed", "completed"),
    }


async def test_a_raising_callback_still_cancels(
    conn: psycopg.AsyncConnection[Any], client: Oban, caplog: pytest.LogCaptureFixture
) -> None:
    wf = (
        Workflow(name="grumpy")
        .add("up", Outcome.new({"outcome": "cancel"}))
        .add("watch", steps.GrumpyWatcher.new(), deps=["up"])
    )
    await wf.insert()
    await drain(client)

    assert (await states(conn, wf))["watch"] == ("cancelled", "cancelled")
    assert steps.CALLBACKS == [("grumpy", "dependencies did not complete (cancelled: 'up')")]
    assert "on_dep_cancelled raised" in caplog.text


async def test_step_made_available_before_its_deps_snoozes_without_an_attempt(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    steps.CALLS.clear()
    wf = (
        Workflow(name="early")
        .add("up", Echo.new({"value": 1}, queue="other"))
        .add("down", steps.Counted.new({"value": 2}), deps=["up"])
    )
    await wf.insert()
    down = wf.steps["down"].job.id
    await client.retry_job(down)  # Oban's retry makes a suspended job available

    await drain(client)

    row = await (
        await conn.execute(
            "SELECT state::text, attempt, meta FROM oban_jobs WHERE id = %s", (down,)
        )
    ).fetchone()
    assert row is not None
    assert row[:2] == ("scheduled", 0)
    assert row[2]["snoozed"] == 1
    assert steps.CALLS == []

    await drain_queue(queue="other", oban=client, with_scheduled=False, with_safety=True)
    await drain_queue(queue="default", oban=client, with_scheduled=True, with_safety=True)

    assert await states(conn, wf) == {
        "up": ("completed", "completed"),
        "down": ("completed", "completed"),
    }
    assert steps.CALLS == [down]
