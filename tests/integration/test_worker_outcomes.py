"""What each return form of ``perform_workflow`` does to the job and the step (DESIGN §2)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from oban import Oban
from oban.testing import drain_queue
from psycopg.rows import dict_row

import baton
from baton import Workflow
from tests.support import steps
from tests.support.dynamic_steps import Context, Plan
from tests.support.steps import Counted, Echo, Outcome, Returns

STEP_SQL = """
SELECT j.state::text AS state, j.attempt, j.max_attempts, j.errors, j.meta,
       s.outcome, s.result, s.pending, s.performed_at
  FROM baton_steps s
  LEFT JOIN oban_jobs j ON j.id = s.job_id
 WHERE s.workflow_id = %s AND s.name = %s
"""


async def step_row(conn: psycopg.AsyncConnection[Any], wf: Workflow, name: str) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(STEP_SQL, (wf.id, name))
        row = await cursor.fetchone()
    assert row is not None, f"no step {name!r}"
    return row


async def drain(oban: Oban, *, with_scheduled: bool = False) -> dict[str, int]:
    return await drain_queue(
        queue="default", oban=oban, with_scheduled=with_scheduled, with_safety=True
    )


async def run_one(client: Oban, outcome: str) -> Workflow:
    wf = await Workflow(name=outcome).add("step", Outcome.new({"outcome": outcome})).insert()
    await drain(client)
    return wf


def last_error(row: dict[str, Any]) -> str:
    assert row["errors"], "expected an error to be recorded"
    return str(row["errors"][-1]["error"])


async def test_none_completes_without_a_result(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run_one(client, "none")

    row = await step_row(conn, wf, "step")
    assert (row["state"], row["attempt"], row["errors"]) == ("completed", 1, [])
    assert row["outcome"] == "completed"
    assert row["performed_at"] is not None
    assert row["result"] is None


@pytest.mark.parametrize(
    ("outcome", "value"),
    [("scalar", 42), ("list", [1, "two", None])],
)
async def test_value_is_stored_wrapped_and_round_trips(
    conn: psycopg.AsyncConnection[Any], client: Oban, outcome: str, value: Any
) -> None:
    wf = (
        Workflow(name=outcome)
        .add("step", Outcome.new({"outcome": outcome}))
        .add("reader", steps.Reader.new({"read": "one", "dep": "step"}), deps=["step"])
    )
    await wf.insert()
    await drain(client)

    row = await step_row(conn, wf, "step")
    assert (row["state"], row["outcome"]) == ("completed", "completed")
    assert row["result"] == {"value": value}
    reader = await step_row(conn, wf, "reader")
    assert reader["result"] == {"value": {"got": value}}
    job = await client.get_job(wf.steps["reader"].job.id)
    assert job is not None
    assert await baton.get_result(job, "step") == value


async def test_dict_value_is_stored_wrapped(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await Workflow().add("step", Echo.new({"value": {"text": "hi"}})).insert()
    await drain(client)

    row = await step_row(conn, wf, "step")
    assert row["result"] == {"value": {"text": "hi"}}
    assert row["state"] == "completed"


@pytest.mark.parametrize(("outcome", "reason"), [("raise", "boom"), ("error", "rate limited")])
async def test_failure_is_retryable_then_discarded(
    conn: psycopg.AsyncConnection[Any], client: Oban, outcome: str, reason: str
) -> None:
    wf = await run_one(client, outcome)

    row = await step_row(conn, wf, "step")
    assert (row["state"], row["attempt"], row["max_attempts"]) == ("retryable", 1, 2)
    assert reason in last_error(row)
    assert row["outcome"] is None  # not settled: it will run again
    assert row["result"] is None

    await drain(client, with_scheduled=True)  # stages the retry: the last attempt

    row = await step_row(conn, wf, "step")
    assert (row["state"], row["attempt"]) == ("discarded", 2)
    assert len(row["errors"]) == 2
    assert all(reason in str(error["error"]) for error in row["errors"])
    assert row["outcome"] == "discarded"
    assert row["performed_at"] is None


async def test_snooze_reschedules_without_consuming_an_attempt(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run_one(client, "snooze")

    row = await step_row(conn, wf, "step")
    assert (row["state"], row["attempt"], row["errors"]) == ("scheduled", 0, [])
    assert row["meta"]["snoozed"] == 1
    assert row["outcome"] is None
    scheduled = await (
        await conn.execute(
            "SELECT scheduled_at > timezone('UTC', now()) + interval '50 seconds' "
            "FROM oban_jobs WHERE id = %s",
            (wf.steps["step"].job.id,),
        )
    ).fetchone()
    assert scheduled == (True,)


async def test_discard_is_final_even_with_attempts_left(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run_one(client, "discard")

    row = await step_row(conn, wf, "step")
    assert (row["state"], row["attempt"], row["max_attempts"]) == ("discarded", 1, 2)
    assert "bad input" in last_error(row)
    assert row["outcome"] == "discarded"
    assert row["result"] is None


async def test_cancel_cancels(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = await run_one(client, "cancel")

    row = await step_row(conn, wf, "step")
    assert (row["state"], row["attempt"]) == ("cancelled", 1)
    assert "not needed" in last_error(row)
    assert row["outcome"] == "cancelled"
    assert row["result"] is None


async def test_non_json_result_is_discarded_at_once(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run_one(client, "unjson")

    row = await step_row(conn, wf, "step")
    assert (row["state"], row["attempt"], row["max_attempts"]) == ("discarded", 1, 2)
    error = last_error(row)
    assert "UnstorableResult" in error
    assert "type dict is not JSON-serialisable" in error
    assert "set" in error
    assert "'step'" in error
    assert row["result"] is None
    assert row["performed_at"] is None
    assert row["outcome"] == "discarded"


async def test_oversized_result_is_discarded_at_once(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run_one(client, "huge")

    row = await step_row(conn, wf, "step")
    assert (row["state"], row["attempt"], row["max_attempts"]) == ("discarded", 1, 2)
    error = last_error(row)
    assert "UnstorableResult" in error
    assert "2,000,013 bytes" in error
    assert "limit of 1,000,000" in error
    assert row["result"] is None
    assert row["performed_at"] is None


async def test_retry_of_a_stored_step_does_not_perform_again(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    steps.CALLS.clear()
    wf = await Workflow().add("step", Counted.new({"value": {"tokens": 7}})).insert()
    job_id = wf.steps["step"].job.id
    await drain(client)
    assert steps.CALLS == [job_id]

    # As if the ack was lost and the job came back: available again, result already stored.
    await conn.execute(
        "UPDATE oban_jobs SET state = 'available', completed_at = NULL WHERE id = %s", (job_id,)
    )
    summary = await drain(client)

    assert summary["completed"] == 1
    assert steps.CALLS == [job_id]
    row = await step_row(conn, wf, "step")
    assert (row["state"], row["attempt"]) == ("completed", 2)
    assert row["result"] == {"value": {"tokens": 7}}


async def test_rescued_orphan_with_a_stored_result_does_not_perform_again(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    steps.CALLS.clear()
    wf = await Workflow().add("step", Counted.new({"value": "once"})).insert()
    job_id = wf.steps["step"].job.id
    await drain(client)

    # The result was stored but the node died before the ack: the lifeline rescues it.
    await conn.execute(
        "UPDATE oban_jobs SET state = 'executing', completed_at = NULL, "
        "attempted_at = timezone('UTC', now()) - interval '1 hour' WHERE id = %s",
        (job_id,),
    )
    assert await client._query.rescue_jobs(60) == 1
    await drain(client)

    assert steps.CALLS == [job_id]
    row = await step_row(conn, wf, "step")
    assert (row["state"], row["attempt"], row["meta"]["rescued"]) == ("completed", 2, 1)
    assert row["result"] == {"value": "once"}


async def test_plain_enqueued_baton_worker_runs(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    steps.PLAIN_READS.clear()
    job = await client.enqueue(steps.PlainReader.new({"value": "plain"}))
    await drain(client)

    row = await (
        await conn.execute(
            "SELECT state::text, attempt, errors FROM oban_jobs WHERE id = %s", (job.id,)
        )
    ).fetchone()
    assert row == ("completed", 1, [])
    assert steps.PLAIN_READS == ["NotAWorkflowStep"]
    count = await (await conn.execute("SELECT count(*) FROM baton_steps")).fetchone()
    assert count == (0,)


@pytest.mark.parametrize(("length", "stored"), [(51, True), (52, False)])
async def test_result_limit_is_inclusive_and_per_worker(
    conn: psycopg.AsyncConnection[Any], client: Oban, length: int, stored: bool
) -> None:
    wf = await Workflow().add("step", Returns.new({"kind": "sized", "length": length})).insert()
    await drain(client)

    row = await step_row(conn, wf, "step")
    if stored:  # 13 + 51 = 64 bytes: exactly the limit
        assert (row["state"], row["attempt"]) == ("completed", 1)
        assert row["result"] == {"value": "x" * length}
    else:
        assert (row["state"], row["attempt"], row["max_attempts"]) == ("discarded", 1, 3)
        assert "65 bytes of JSON, over the limit of 64" in last_error(row)
        assert row["result"] is None


@pytest.mark.parametrize(
    ("kind", "message"),
    [("nul", "NUL character"), ("nan", "type float is not JSON-serialisable")],
)
async def test_unstorable_values_are_discarded_at_once(
    conn: psycopg.AsyncConnection[Any], client: Oban, kind: str, message: str
) -> None:
    wf = await Workflow().add("step", Returns.new({"kind": kind})).insert()
    await drain(client)

    row = await step_row(conn, wf, "step")
    assert (row["state"], row["attempt"], row["max_attempts"]) == ("discarded", 1, 3)
    assert message in last_error(row)
    assert (row["result"], row["performed_at"]) == (None, None)


async def test_retry_of_a_step_that_returned_none_does_not_perform_again(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    steps.CALLS.clear()
    wf = await Workflow().add("step", Counted.new({})).insert()
    job_id = wf.steps["step"].job.id
    await drain(client)
    await client.retry_job(job_id)  # Oban's own retry of a completed job
    await drain(client)

    assert steps.CALLS == [job_id]
    row = await step_row(conn, wf, "step")
    assert (row["state"], row["attempt"], row["result"]) == ("completed", 2, None)
    assert row["performed_at"] is not None


async def test_complete_with_a_value_only_is_a_plain_value(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await Workflow(name="complete").add("step", Context.new({})).insert()
    await drain(client)
    row = await step_row(conn, wf, "step")
    assert (row["state"], row["result"]) == ("completed", {"value": {}})


async def test_complete_adding_steps_outside_a_workflow_is_discarded(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    job = await client.enqueue(Plan.new({"items": [1]}))
    await drain(client)
    row = await (
        await conn.execute(
            "SELECT state::text, attempt, errors FROM oban_jobs WHERE id = %s", (job.id,)
        )
    ).fetchone()
    assert row is not None
    state, attempt, errors = row
    assert (state, attempt) == ("discarded", 1)
    assert (
        f"InvalidExpansion: job {job.id} (tests.support.dynamic_steps.Plan) returned "
        "Complete(add=..., context=...), but it is not a workflow step"
    ) in errors[-1]["error"]
    assert await (await conn.execute("SELECT count(*) FROM baton_steps")).fetchone() == (0,)
