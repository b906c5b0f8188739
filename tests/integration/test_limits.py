"""Rate limits in one process: admission, snoozes that keep the attempt, the token charge
corrected by reported usage, a 429 pausing the key, limits changed between runs.

Steps run with ``drain_queue(with_scheduled=False)``: each available job once, so a step
that snoozed stays ``scheduled`` where the test can read its row.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from oban import Oban
from oban.testing import drain_queue
from psycopg.rows import dict_row

import baton
from baton import Workflow, _limiter
from baton.errors import InvalidLimit
from tests.support import limit_steps as ls

JOB = """
SELECT j.state::text AS state, j.attempt, j.max_attempts, j.errors,
       coalesce((j.meta->>'snoozed')::int, 0) AS snoozed,
       extract(epoch FROM j.scheduled_at - timezone('UTC', now()))::float AS due_in
  FROM oban_jobs j WHERE j.id = %s
"""


async def job_row(conn: psycopg.AsyncConnection[Any], job_id: int | None) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(JOB, (job_id,))
        row = await cursor.fetchone()
    assert row is not None
    return row


async def insert_calls(client: Oban, *args: dict[str, Any]) -> list[Any]:
    """One single-step workflow per ``args``; the jobs, in order."""
    jobs = []
    for index, arg in enumerate(args):
        job = ls.Call.new(arg)
        await Workflow(name="limited").add(f"call{index}", job).insert(oban=client)
        jobs.append(job)
    return jobs


async def run_once(client: Oban) -> dict[str, int]:
    return await drain_queue(queue=ls.QUEUE, oban=client, with_scheduled=False, with_safety=True)


async def make_due(conn: psycopg.AsyncConnection[Any], job_id: int | None) -> None:
    """Bring a snoozed job's time forward, as if its snooze had passed."""
    await conn.execute(
        "UPDATE oban_jobs SET state = 'available', scheduled_at = timezone('UTC', now()) "
        "WHERE id = %s",
        (job_id,),
    )


async def test_set_get_list_replace_and_remove(conn: Any, client: Oban) -> None:
    made = await baton.set_limit(
        "openai", requests_per_minute=500, tokens_per_minute=200_000, oban=client
    )
    assert (made.key, made.requests_per_minute, made.tokens_per_minute) == ("openai", 500, 200_000)
    assert (made.window_seconds, made.requests_used, made.tokens_used) == (60.0, 0, 0)
    assert made.paused_until is None
    await baton.set_limit("anthropic", requests_per_minute=50, window=10, oban=client)
    assert [limit.key for limit in await baton.limits(oban=client)] == ["anthropic", "openai"]
    ten = await baton.get_limit("anthropic", oban=client)
    assert ten is not None and ten.requests_per_window == 8 and ten.tokens_per_window is None

    # set_limit replaces: the token limit left out is no longer limited
    again = await baton.set_limit("openai", requests_per_minute=100, oban=client)
    assert (again.requests_per_minute, again.tokens_per_minute) == (100, None)

    assert await baton.remove_limit("openai", oban=client) is True
    assert await baton.remove_limit("openai", oban=client) is False
    assert await baton.get_limit("openai", oban=client) is None


async def test_a_step_without_room_snoozes_keeping_its_attempt(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    await baton.set_limit(ls.KEY, requests_per_minute=2, oban=client)
    jobs = await insert_calls(client, {}, {}, {})
    assert await run_once(client) == {
        "cancelled": 0,
        "completed": 2,
        "discarded": 0,
        "retryable": 0,
        "scheduled": 1,
    }
    waiting = [await job_row(conn, job.id) for job in jobs]
    snoozed = [row for row in waiting if row["state"] == "scheduled"]
    assert len(snoozed) == 1
    row = snoozed[0]
    # no attempt consumed, so every attempt is still there; no error recorded
    assert (row["attempt"], row["max_attempts"], row["errors"], row["snoozed"]) == (0, 3, [], 1)
    # until the first call leaves the 60 s window, not a fixed delay
    assert 50 < row["due_in"] <= 61
    limit = await baton.get_limit(ls.KEY, oban=client)
    assert limit is not None and limit.requests_used == 2


async def test_the_estimate_is_charged_then_corrected_by_reported_usage(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    await baton.set_limit(ls.KEY, tokens_per_minute=1_000, oban=client)
    [first] = await insert_calls(client, {"estimate": 900, "used": 100})
    await run_once(client)
    assert (await job_row(conn, first.id))["state"] == "completed"
    limit = await baton.get_limit(ls.KEY, oban=client)
    assert limit is not None and limit.tokens_used == 100  # 900 estimated, 100 reported

    # 100 + 800 fits only because the estimate was corrected; 900 + 200 does not
    second, third = await insert_calls(client, {"estimate": 800}, {"estimate": 200})
    await run_once(client)
    assert (await job_row(conn, second.id))["state"] == "completed"
    waiting = await job_row(conn, third.id)
    assert (waiting["state"], waiting["attempt"]) == ("scheduled", 0)
    limit = await baton.get_limit(ls.KEY, oban=client)
    assert limit is not None and limit.tokens_used == 900  # no usage reported: estimate kept


async def test_a_call_weighing_more_than_the_limit_runs_in_an_empty_window(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    await baton.set_limit(ls.KEY, tokens_per_minute=100, oban=client)
    [big] = await insert_calls(client, {"estimate": 5_000})
    await run_once(client)
    assert (await job_row(conn, big.id))["state"] == "completed"


async def test_a_429_pauses_the_key_and_snoozes_without_an_attempt(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    await baton.set_limit(ls.KEY, requests_per_minute=100, tokens_per_minute=10_000, oban=client)
    [limited] = await insert_calls(client, {"status": 429, "retry_after": "30", "estimate": 500})
    before = datetime.now(UTC)
    assert (await run_once(client))["scheduled"] == 1
    row = await job_row(conn, limited.id)
    assert (row["state"], row["attempt"], row["errors"]) == ("scheduled", 0, [])
    assert 28 < row["due_in"] <= 31
    meta = await (
        await conn.execute(
            "SELECT meta->>'rate_limited' FROM oban_jobs WHERE id = %s", (limited.id,)
        )
    ).fetchone()
    assert meta == ("1",)
    limit = await baton.get_limit(ls.KEY, oban=client)
    assert limit is not None and limit.paused_until is not None
    assert before + timedelta(seconds=29) < limit.paused_until <= before + timedelta(seconds=32)
    # the refused call used no tokens: its estimate is taken back
    assert (limit.requests_used, limit.tokens_used) == (1, 0)

    # while paused, another step is not called: it snoozes until the pause ends
    ls.CALLS.clear()
    [other] = await insert_calls(client, {})
    await run_once(client)
    row = await job_row(conn, other.id)
    assert (row["state"], row["attempt"]) == ("scheduled", 0)
    assert 27 < row["due_in"] <= 31
    assert ls.CALLS["call0"] == 0

    # resumed, it runs
    assert await baton.resume_limit(ls.KEY, oban=client) is True
    await make_due(conn, other.id)
    await run_once(client)
    assert (await job_row(conn, other.id))["state"] == "completed"


async def test_a_429_of_a_key_without_a_limit_still_pauses_it(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    [limited] = await insert_calls(client, {"status": 429})  # no Retry-After: 10 s
    await run_once(client)
    row = await job_row(conn, limited.id)
    assert (row["state"], row["attempt"]) == ("scheduled", 0)
    assert 8 < row["due_in"] <= 11
    [limit] = await baton.limits(oban=client)
    assert (limit.key, limit.requests_per_minute, limit.tokens_per_minute) == (ls.KEY, None, None)
    assert limit.paused_until is not None


async def test_a_limit_changed_while_steps_wait_applies_at_their_next_admission(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    await baton.set_limit(ls.KEY, requests_per_minute=1, oban=client)
    first, second, third = await insert_calls(client, {}, {}, {})
    await run_once(client)
    assert [(await job_row(conn, job.id))["state"] for job in (first, second, third)] == [
        "completed",
        "scheduled",
        "scheduled",
    ]
    await baton.set_limit(ls.KEY, requests_per_minute=2, oban=client)  # raised: one more fits
    await make_due(conn, second.id)
    await make_due(conn, third.id)
    await run_once(client)
    states = sorted([(await job_row(conn, job.id))["state"] for job in (second, third)])
    assert states == ["completed", "scheduled"]

    await baton.set_limit(ls.KEY, requests_per_minute=1, oban=client)  # lowered: none fits
    waiting = second if (await job_row(conn, second.id))["state"] == "scheduled" else third
    await make_due(conn, waiting.id)
    await run_once(client)
    assert (await job_row(conn, waiting.id))["state"] == "scheduled"


async def test_a_key_nobody_set_runs_unlimited_with_a_warning(
    conn: psycopg.AsyncConnection[Any], client: Oban, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = [ls.Unset.new() for _ in range(3)]
    for index, job in enumerate(jobs):
        await Workflow(name="unset").add(f"u{index}", job).insert(oban=client)
    _limiter._warned.discard("test-unset")  # as in a fresh process
    with caplog.at_level(logging.WARNING, logger="baton"):
        await run_once(client)
    assert [(await job_row(conn, job.id))["state"] for job in jobs] == ["completed"] * 3
    warnings = [r.getMessage() for r in caplog.records if "test-unset" in r.getMessage()]
    assert warnings == [  # once per process, not once per step
        "rate limit 'test-unset' is not set (baton.set_limit); "
        "tests.support.limit_steps.Unset runs unlimited"
    ]
    assert await baton.limits(oban=client) == []


@pytest.mark.parametrize("estimate", [-5, 1.5, "many", None])
async def test_a_bad_token_estimate_discards_the_step_naming_it(
    conn: psycopg.AsyncConnection[Any], client: Oban, estimate: Any
) -> None:
    await baton.set_limit(ls.KEY, requests_per_minute=10, oban=client)
    ls.CALLS.clear()
    [bad] = await insert_calls(client, {"estimate": estimate})
    await run_once(client)
    row = await job_row(conn, bad.id)
    assert row["state"] == "discarded"
    assert (
        f"Call.estimate_tokens returned {estimate!r}; it must return a whole number of "
        "tokens >= 0" in row["errors"][-1]["error"]
    )
    assert ls.CALLS["call0"] == 0  # the step itself was never called
    limit = await baton.get_limit(ls.KEY, oban=client)
    assert limit is not None and limit.requests_used == 0


async def test_bad_limits_name_what_was_wrong(client: Oban) -> None:
    with pytest.raises(InvalidLimit, match="requests_per_minute must be above 0, got 0"):
        await baton.set_limit(ls.KEY, requests_per_minute=0, oban=client)
    assert await baton.limits(oban=client) == []


async def test_the_web_view_serves_the_limits_as_json(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    import httpx

    from baton.web import create_app

    await baton.set_limit("openai", requests_per_minute=500, tokens_per_minute=200_000, oban=client)
    await baton.set_limit("slow", requests_per_minute=12, window=10, oban=client)
    await insert_calls(client, {"status": 429, "retry_after": "30"})
    await run_once(client)  # pauses the key of limit_steps
    transport = httpx.ASGITransport(app=create_app(oban=client))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as web:
        response = await web.get("/api/limits")
    assert response.status_code == 200
    found = {item["key"]: item for item in response.json()["limits"]}
    assert list(found) == ["openai", "slow", ls.KEY]
    assert found["openai"] == {
        "key": "openai",
        "requests_per_minute": 500,
        "tokens_per_minute": 200_000,
        "window_seconds": 60.0,
        "requests_per_window": 500,
        "tokens_per_window": 200_000,
        "requests_used": 0,
        "tokens_used": 0,
        "paused_until": None,
    }
    assert found["slow"]["requests_per_window"] == 2
    # no limit was set for it: the 429 made its row, to hold the pause
    assert found[ls.KEY]["paused_until"] is not None
    assert (found[ls.KEY]["requests_per_minute"], found[ls.KEY]["requests_used"]) == (None, 0)


async def test_a_step_refused_by_429_too_often_fails_as_an_ordinary_error(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    [limited] = await insert_calls(client, {"status": 429, "retry_after": "1"})
    await conn.execute(
        "UPDATE oban_jobs SET meta = meta || jsonb_build_object('rate_limited', 20) WHERE id = %s",
        (limited.id,),
    )
    assert (await run_once(client))["retryable"] == 1
    row = await job_row(conn, limited.id)
    assert (row["state"], row["attempt"]) == ("retryable", 1)  # this time an attempt is used
    assert "429 Too Many Requests" in row["errors"][-1]["error"]


async def test_the_web_view_has_a_limits_page(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    import httpx

    from baton.web import create_app

    await baton.set_limit("openai", requests_per_minute=500, tokens_per_minute=200_000, oban=client)
    await baton.set_limit("<b>x</b>", requests_per_minute=12, window=10, oban=client)
    await insert_calls(client, {"status": 429, "retry_after": "30"})
    await run_once(client)  # pauses the key of limit_steps
    transport = httpx.ASGITransport(app=create_app(oban=client))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as web:
        page = await web.get("/limits")
        one = await web.get("/limits", params={"key": "openai"})
        blank = await web.get("/limits", params={"key": " "})
        unknown = await web.get("/limits", params={"key": "nope"})
        odd = [await web.get("/limits", params={"key": key}) for key in ("a\x1bb", "k" * 201)]
    assert page.status_code == 200
    assert '<a class="nav" href="/limits">Limits</a>' in page.text
    assert "<h1>Rate limits</h1>" in page.text
    assert (
        '<tr><td><a href="/limits?key=openai">openai</a></td><td class="num">500</td>'
        '<td class="num">200,000</td><td class="num">60 s</td><td class="num">0 / 500</td>'
        '<td class="num">0 / 200,000</td><td></td></tr>'
    ) in page.text
    # a key is text, never markup, in the link and in the cell
    assert "<b>x</b>" not in page.text
    assert 'href="/limits?key=%3Cb%3Ex%3C%2Fb%3E">&lt;b&gt;x&lt;/b&gt;</a>' in page.text
    assert '<td class="num">0 / 2</td>' in page.text  # 12/min scaled to a 10 s window
    # the key a 429 paused: its row says for how long, and it holds no limit of its own
    paused = page.text.split(f">{ls.KEY}</a>")[1].split("</tr>")[0]
    assert '<td class="num">not limited</td>' in paused
    assert re.search(r'~(2[0-9]|30) s \(until <time datetime="[^"]+">', paused)
    assert f'<tr class="paused"><td><a href="/limits?key={ls.KEY}">' in page.text

    assert one.status_code == 200
    assert "<h1>Rate limit openai</h1>" in one.text and ls.KEY not in one.text.split("<main>")[1]
    assert blank.status_code == 400
    assert "key must not be empty or blank, got &#x27; &#x27;" in blank.text
    assert [response.status_code for response in odd] == [400, 400]
    assert "key must not hold control or invisible characters" in odd[0].text
    assert "key is 201 characters long; at most 200" in odd[1].text
    assert unknown.status_code == 404
    assert "no rate limit &#x27;nope&#x27;" in unknown.text


async def test_the_limits_page_without_limits(client: Oban) -> None:
    import httpx

    from baton.web import create_app

    transport = httpx.ASGITransport(app=create_app(oban=client))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as web:
        page = await web.get("/limits")
    assert page.status_code == 200
    assert "No rate limits are set" in page.text
    # behind a token like every page: nothing is shown without it
    guarded = httpx.ASGITransport(app=create_app(oban=client, token="t" * 32))
    async with httpx.AsyncClient(transport=guarded, base_url="http://127.0.0.1") as web:
        refused = await web.get("/limits")
        shown = await web.get("/limits", headers={"Authorization": f"Bearer {'t' * 32}"})
    assert refused.status_code == 401 and "Rate limits" not in refused.text
    assert shown.status_code == 200 and "<h1>Rate limits</h1>" in shown.text
