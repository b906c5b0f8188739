"""``@baton.llm_worker``: its defaults, enforced timeout and jittered backoff, on real Oban."""

from __future__ import annotations

from typing import Any

import psycopg
from oban import Oban
from oban.testing import drain_queue
from psycopg.rows import dict_row

import baton
from baton import StepEvent, Workflow
from tests.support import event_steps as es
from tests.support.event_steps import drain, follow, steps_of

JOB_SQL = """
SELECT j.state::text AS state, j.attempt, j.max_attempts, j.queue, j.priority, j.tags,
       j.errors, extract(epoch FROM j.scheduled_at - j.attempted_at)::float AS delay,
       s.result
  FROM oban_jobs j JOIN baton_steps s ON s.job_id = j.id
 WHERE j.id = %s
"""


async def job_row(conn: psycopg.AsyncConnection[Any], job_id: int | None) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(JOB_SQL, (job_id,))
        row = await cursor.fetchone()
    assert row is not None
    return row


async def run_once(oban: Oban, queue: str = "llm") -> dict[str, int]:
    """Run what is available now, once: failures stay retryable, at their backoff."""
    return await drain_queue(queue=queue, oban=oban, with_scheduled=False, with_safety=True)


async def test_defaults_queue_llm_five_attempts_and_a_timeout(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    job = es.LLMDefaults.new({"value": "hi"})
    assert (job.queue, job.max_attempts) == ("llm", 5)
    assert es.LLMDefaults().timeout(job) == 120.0

    wf = await Workflow(name="llm").add("ask", job).insert()
    assert await drain(client, "llm") == {
        "cancelled": 0,
        "completed": 1,
        "discarded": 0,
        "retryable": 0,
        "scheduled": 0,
    }
    row = await job_row(conn, job.id)
    assert (row["state"], row["queue"], row["max_attempts"]) == ("completed", "llm", 5)
    assert row["result"] == {"value": "hi"}
    assert es.calls(wf.id, "ask") == 1


async def test_every_oban_option_can_be_overridden(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    job = es.LLMOverridden.new({"value": 7})
    assert (job.queue, job.max_attempts, job.priority, job.tags) == ("other", 2, 3, ["llm"])
    assert es.LLMOverridden().timeout(job) is None

    await Workflow(name="override").add("ask", job).insert()
    assert (await drain(client, "llm"))["completed"] == 0  # not in the llm queue
    await drain(client, "other")
    row = await job_row(conn, job.id)
    assert (row["state"], row["queue"], row["priority"], row["tags"]) == (
        "completed",
        "other",
        3,
        ["llm"],
    )
    assert row["result"] == {"value": 7}


async def test_a_step_past_its_timeout_is_retried_with_a_timeout_error(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="slow").add("slow", es.SlowFirst.new({"sleep": 60}))
    job = wf.steps["slow"].job
    async with baton.subscribe(wf.id) as events:
        await wf.insert()
        assert (await run_once(client))["retryable"] == 1

        row = await job_row(conn, job.id)
        assert (row["state"], row["attempt"]) == ("retryable", 1)
        error = row["errors"][-1]["error"]
        assert "JobTimeoutError" in error
        assert "tests.support.event_steps.SlowFirst timed out after 0.2s" in error
        assert row["result"] is None  # nothing was stored by the cut-off attempt

        await drain(client, "llm")  # the retry is quick and completes
        seen = await follow(events, conn, wf.id)

    assert steps_of(seen) == [
        ("slow", "executing"),
        ("slow", "retryable"),
        ("slow", "executing"),
        ("slow", "completed"),
    ]
    [retryable] = [e for e in seen if isinstance(e, StepEvent) and e.state == "retryable"]
    assert retryable.error == (
        "oban.worker.JobTimeoutError: tests.support.event_steps.SlowFirst timed out after 0.2s"
    )
    row = await job_row(conn, job.id)
    assert (row["state"], row["attempt"], row["result"]) == ("completed", 2, {"value": "done"})
    assert es.calls(wf.id, "slow") == 2

    status = await baton.status(wf.id)
    assert status.state == "completed"
    assert status.step("slow").attempt == 2


async def test_a_timeout_method_decides_per_job(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="per-job")
        .add("tight", es.PerJobTimeout.new({"limit": 0.3, "sleep": 60}))
        .add("loose", es.PerJobTimeout.new({"limit": 30, "sleep": 0.05}))
    )
    await wf.insert()
    summary = await run_once(client)
    assert (summary["retryable"], summary["completed"]) == (1, 1)

    tight = await job_row(conn, wf.steps["tight"].job.id)
    assert tight["state"] == "retryable"
    assert "PerJobTimeout timed out after 0.3s" in tight["errors"][-1]["error"]
    loose = await job_row(conn, wf.steps["loose"].job.id)
    assert (loose["state"], loose["attempt"], loose["errors"]) == ("completed", 1, [])


async def test_backoff_is_jittered_within_its_bounds(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="rate-limited").add_many(
        "ask", [es.AlwaysRateLimited.new() for _ in range(40)]
    )
    await wf.insert()
    assert (await run_once(client))["retryable"] == 40

    delays = []
    for step in wf.steps.values():
        row = await job_row(conn, step.job.id)
        assert (row["state"], row["attempt"], row["max_attempts"]) == ("retryable", 1, 3)
        assert row["errors"][-1]["error"].endswith("StepFailed: 429 rate limited\n")
        delays.append(row["delay"])
    # attempt 1: round(5 * U(0.5, 1.5)) s, plus the few ms the attempt ran
    assert all(2 <= delay < 9 for delay in delays), delays
    # steps that failed together do not all retry together
    assert len({int(delay) for delay in delays}) >= 3, delays


async def test_backoff_grows_to_its_cap_and_a_class_backoff_wins(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="capped")
        .add("first", es.CappedBackoff.new())
        .add("third", es.CappedBackoff.new())
        .add("own", es.OwnBackoff.new())
    )
    await wf.insert()
    # "third" has used two attempts already: this run is its third
    await conn.execute(
        "UPDATE oban_jobs SET attempt = 2 WHERE id = %s", (wf.steps["third"].job.id,)
    )
    assert (await run_once(client))["retryable"] == 3

    first = await job_row(conn, wf.steps["first"].job.id)
    assert 50 <= first["delay"] < 151  # nominal 100 s (the base)
    third = await job_row(conn, wf.steps["third"].job.id)
    assert third["attempt"] == 3
    assert 75 <= third["delay"] < 226  # nominal min(150, 100 * 2**2): the cap
    own = await job_row(conn, wf.steps["own"].job.id)
    assert 42 <= own["delay"] < 43
