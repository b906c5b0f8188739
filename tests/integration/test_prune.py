"""Retention: ``baton.prune`` and ``baton.Pruner`` delete old finished workflows, nothing else."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from oban import Oban, telemetry
from oban.testing import drain_queue

import baton
from baton import Workflow
from baton.errors import BatonError, RetentionError
from tests.support.steps import Echo, Outcome, Watcher

# Per workflow id: its rows in every table pruning empties.
ROWS = """
SELECT (SELECT count(*) FROM baton_workflows WHERE id = %(id)s),
       (SELECT count(*) FROM baton_steps WHERE workflow_id = %(id)s),
       (SELECT count(*) FROM baton_edges WHERE workflow_id = %(id)s),
       (SELECT count(*) FROM oban_jobs WHERE meta ->> 'workflow_id' = %(id)s)
"""


async def drain(oban: Oban) -> None:
    await drain_queue(queue="default", oban=oban, with_scheduled=True, with_safety=True)


def diamond(name: str) -> Workflow:
    """Four steps, four edges."""
    return (
        Workflow(name=name)
        .add("a", Echo.new({"value": 1}))
        .add("b", Echo.new(), deps=["a"])
        .add("c", Echo.new(), deps=["a"])
        .add("d", Echo.new(), deps=["b", "c"])
    )


async def rows(conn: psycopg.AsyncConnection[Any], wf: Workflow) -> tuple[int, int, int, int]:
    found = await (await conn.execute(ROWS, {"id": wf.id})).fetchone()
    assert found is not None
    return (found[0], found[1], found[2], found[3])


async def age(conn: psycopg.AsyncConnection[Any], wf: Workflow, days: float) -> None:
    """Make the workflow look finished ``days`` ago."""
    await conn.execute(
        "UPDATE baton_workflows SET finished_at = timezone('UTC', now()) - %s WHERE id = %s",
        (timedelta(days=days), wf.id),
    )


async def finished(client: Oban, *workflows: Workflow) -> None:
    for wf in workflows:
        await wf.insert(oban=client)
    await drain(client)


async def test_prune_deletes_old_finished_workflows_with_all_their_rows_and_nothing_else(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    old, failed, recent = diamond("old"), Workflow(name="failed"), diamond("recent")
    failed.add("boom", Outcome.new({"outcome": "discard"}))
    running = diamond("running")
    await finished(client, old, failed, recent)
    await running.insert(oban=client)  # never drained: unfinished
    # every step settled, but the row was not finished (a sweep still due, say)
    settled = diamond("settled")
    await finished(client, settled)
    await conn.execute(
        "UPDATE baton_workflows SET finished_at = NULL, inserted_at = inserted_at - "
        "interval '30 days' WHERE id = %s",
        (settled.id,),
    )
    for wf in (old, failed):
        await age(conn, wf, 10)
    assert (await baton.status(failed.id, oban=client)).state == "failed"

    report = await baton.prune(timedelta(days=7), oban=client)

    assert report == baton.PruneReport(workflows=2, steps=5, edges=4, jobs=5, batches=1)
    assert await rows(conn, old) == (0, 0, 0, 0)
    assert await rows(conn, failed) == (0, 0, 0, 0)
    for kept in (recent, running, settled):
        assert await rows(conn, kept) == (1, 4, 4, 4)
    assert (await baton.status(recent.id, oban=client)).state == "completed"
    with pytest.raises(baton.errors.UnknownWorkflow):
        await baton.status(old.id, oban=client)


async def test_zero_prunes_every_finished_workflow_and_a_cancelled_one_once_finished(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    done, running = diamond("done"), diamond("running")
    # Watchers define on_dep_* callbacks, so a cancel leaves them waiting to run once, call
    # the callback and cancel themselves (steps without callbacks are cancelled at once).
    cancelled = (
        Workflow(name="cancelled")
        .add("a", Echo.new({"value": 1}))
        .add("b", Watcher.new(), deps=["a"])
        .add("c", Watcher.new(), deps=["a"])
        .add("d", Watcher.new(), deps=["b", "c"])
    )
    await finished(client, done)
    await cancelled.insert(oban=client)
    await baton.cancel(cancelled.id, oban=client)
    # cancelled, but its watchers have yet to run and cancel: not finished, kept
    assert (await baton.status(cancelled.id, oban=client)).finished_at is None
    assert (await baton.prune(0, oban=client)).workflows == 1
    assert await rows(conn, cancelled) == (1, 4, 4, 4)
    await drain(client)
    assert (await baton.status(cancelled.id, oban=client)).finished_at is not None
    await running.insert(oban=client)

    report = await baton.prune(0, oban=client)

    assert (report.workflows, report.steps, report.jobs) == (1, 4, 4)
    assert await rows(conn, done) == (0, 0, 0, 0)
    assert await rows(conn, cancelled) == (0, 0, 0, 0)
    assert await rows(conn, running) == (1, 4, 4, 4)


async def test_a_limit_smaller_than_the_work_deletes_everything_in_several_batches(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    small = [Workflow(name=f"s{i}").add("a", Echo.new({"value": i})) for i in range(5)]
    big = diamond("big")  # more steps than the limit: a batch of its own
    await finished(client, *small, big)

    report = await baton.prune(0, oban=client, limit=3, pause=0.01)

    # 3 one-step workflows, then 2 (the diamond does not fit with them), then the diamond
    assert report == baton.PruneReport(workflows=6, steps=9, edges=4, jobs=9, batches=3)
    left = await (await conn.execute("SELECT count(*) FROM baton_steps")).fetchone()
    assert left == (0,)


async def test_a_dry_run_counts_the_same_and_changes_nothing(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    first, second = diamond("first"), diamond("second")
    await finished(client, first, second)

    dry = await baton.prune(0, oban=client, dry_run=True, limit=4)
    assert await rows(conn, first) == (1, 4, 4, 4)
    assert await rows(conn, second) == (1, 4, 4, 4)

    real = await baton.prune(0, oban=client, limit=4)
    assert dry == baton.PruneReport(workflows=2, steps=8, edges=8, jobs=8, batches=2, dry_run=True)
    assert real == baton.PruneReport(workflows=2, steps=8, edges=8, jobs=8, batches=2)


async def test_jobs_oban_pruned_first_change_nothing_and_the_workflow_is_still_pruned(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = diamond("pruned-by-oban")
    await finished(client, wf)
    before = await (
        await conn.execute(
            "SELECT name, outcome, settled_at FROM baton_steps WHERE workflow_id = %s "
            "ORDER BY name",
            (wf.id,),
        )
    ).fetchall()
    async with baton.subscribe(wf.id, oban=client) as events:
        # what Oban's pruner does: Baton's delete trigger fires for each settled step
        await conn.execute("DELETE FROM oban_jobs WHERE meta ->> 'workflow_id' = %s", (wf.id,))
        after = await (
            await conn.execute(
                "SELECT name, outcome, settled_at FROM baton_steps WHERE workflow_id = %s "
                "ORDER BY name",
                (wf.id,),
            )
        ).fetchall()
        assert after == before
        assert (await baton.status(wf.id, oban=client)).state == "completed"
        with pytest.raises(TimeoutError):  # no step event, no second "finished"
            async with asyncio.timeout(0.5):
                await anext(aiter(events))

    report = await baton.prune(0, oban=client)
    assert (report.workflows, report.steps, report.edges, report.jobs) == (1, 4, 4, 0)
    assert await rows(conn, wf) == (0, 0, 0, 0)


async def test_a_job_that_reuses_a_pruned_steps_id_is_not_deleted(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="reused").add("a", Echo.new({"value": 1}))
    await finished(client, wf)
    job_id = wf.steps["a"].job.id
    await conn.execute("DELETE FROM oban_jobs WHERE id = %s", (job_id,))
    # Oban's tables reset with RESTART IDENTITY: an unrelated job gets the same id
    await conn.execute(
        "INSERT INTO oban_jobs (id, state, queue, worker, args, meta) OVERRIDING SYSTEM VALUE "
        "VALUES (%s, 'completed', 'default', 'Unrelated', '{}', '{}')",
        (job_id,),
    )

    report = await baton.prune(0, oban=client)

    assert (report.workflows, report.jobs) == (1, 0)
    kept = await conn.execute("SELECT worker FROM oban_jobs WHERE id = %s", (job_id,))
    assert await kept.fetchall() == [("Unrelated",)]


async def test_a_finished_workflow_with_a_job_retried_by_hand_is_not_pruned(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = diamond("retried")
    await finished(client, wf)
    await conn.execute(
        "UPDATE oban_jobs SET state = 'available' WHERE id = %s", (wf.steps["d"].job.id,)
    )

    report = await baton.prune(0, oban=client)

    assert report.workflows == 0
    assert await rows(conn, wf) == (1, 4, 4, 4)


async def test_prune_is_a_telemetry_span_with_its_report(client: Oban) -> None:
    await finished(client, diamond("seen"))
    seen: list[tuple[str, dict[str, Any]]] = []
    telemetry.attach(
        "test-prune",
        ["baton.prune.start", "baton.prune.stop"],
        lambda name, meta: seen.append((name, meta)),
    )
    try:
        report = await baton.prune(timedelta(0), oban=client, dry_run=True)
    finally:
        telemetry.detach("test-prune")
    assert [name for name, _meta in seen] == ["baton.prune.start", "baton.prune.stop"]
    stop = seen[1][1]
    assert stop["report"] == report and report.workflows == 1
    assert stop["older_than"] == timedelta(0) and stop["dry_run"] is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"older_than": -1}, "older_than must be zero or more seconds, got -1"),
        ({"older_than": timedelta(days=-1)}, "older_than must be zero or more seconds"),
        ({"older_than": "7d"}, "older_than must be a timedelta or a number of seconds, got str"),
        ({"older_than": True}, "older_than must be a timedelta or a number of seconds"),
        ({"older_than": float("nan")}, "older_than must be zero or more seconds, got nan"),
        ({"older_than": 0, "limit": 0}, "limit must be a positive number of steps, got 0"),
        ({"older_than": 0, "limit": 2.5}, "limit must be a positive number of steps, got 2.5"),
        ({"older_than": 0, "pause": -0.1}, "pause must be zero or more seconds, got -0.1"),
    ],
)
async def test_bad_prune_arguments_are_baton_errors(
    client: Oban, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(RetentionError, match=message) as raised:
        await baton.prune(oban=client, **kwargs)
    assert isinstance(raised.value, BatonError) and isinstance(raised.value, ValueError)


async def test_a_huge_age_prunes_nothing(client: Oban) -> None:
    await finished(client, diamond("kept"))
    assert (await baton.prune(timedelta.max, oban=client)).workflows == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval": 0}, "interval must be a positive number of seconds, got 0"),
        ({"interval": float("inf")}, "interval must be a positive number of seconds"),
        ({"max_age": -5}, "max_age must be zero or more seconds, got -5"),
        ({"limit": -1}, "limit must be a positive number of steps"),
        ({"pause": float("nan")}, "pause must be zero or more seconds, got nan"),
    ],
)
async def test_bad_pruner_arguments_are_baton_errors(
    oban_pool: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(RetentionError, match=message):
        baton.Pruner(Oban(pool=oban_pool, name="bad-pruner"), **kwargs)


async def test_the_pruner_prunes_on_the_leader_only_and_can_be_switched_off(
    conn: psycopg.AsyncConnection[Any], oban_pool: Any
) -> None:
    follower = Oban(pool=oban_pool, name="follower", leadership=False)
    wf = diamond("lead")
    await wf.insert(oban=follower)
    await drain(follower)

    async with baton.Pruner(follower, max_age=0, interval=0.05):
        await asyncio.sleep(0.3)  # several intervals: a follower must not prune
    assert await rows(conn, wf) == (1, 4, 4, 4)

    leader = Oban(pool=oban_pool, name="leader", queues={"unused": 1}, leadership=True)
    async with leader:
        async with baton.Pruner(leader, max_age=None, interval=0.05) as off:
            assert off.max_age is None
            await asyncio.sleep(0.3)  # switched off: several intervals, nothing pruned
        assert await rows(conn, wf) == (1, 4, 4, 4)

        pruned = asyncio.Event()
        reports: list[baton.PruneReport] = []

        def on_stop(_name: str, meta: dict[str, Any]) -> None:
            if meta["report"].workflows:
                reports.append(meta["report"])
                pruned.set()

        telemetry.attach("test-pruner", ["baton.prune.stop"], on_stop)
        try:
            async with baton.Pruner(leader, max_age=0, interval=0.05):
                async with asyncio.timeout(30):
                    await pruned.wait()
        finally:
            telemetry.detach("test-pruner")
    assert reports[0].workflows == 1
    assert await rows(conn, wf) == (0, 0, 0, 0)
