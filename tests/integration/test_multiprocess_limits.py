"""Rate limits shared by worker processes: the window holds across them, and a 429 one
process got pauses the key for the others.

The workers are subprocesses (``tests.support.worker_proc`` with
``tests.support.limit_steps``); every call records its start in ``test_limit_calls``.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from tests.integration.test_multiprocess import rows, settle, workers
from tests.support import limit_steps as ls
from tests.support.db import wait_until
from tests.support.limit_window import WORKER_ARGS, measure

pytestmark = pytest.mark.slow


async def test_three_processes_never_exceed_the_window_and_use_it(
    installed: str, conn: psycopg.AsyncConnection[Any], tmp_path: Path
) -> None:
    # The measurement of docs/rate-limits.md (3 workers, 120 s, 120/min over 60 s),
    # shortened: 120/min counted over 10 s windows (20 per window), for 20 s.
    result = await measure(
        installed, workers=3, seconds=20, requests_per_minute=120, window=10, logs=tmp_path
    )
    assert result.limit_per_window == 20
    assert result.max_in_window <= result.limit_per_window + 1, result
    assert result.utilisation >= 0.9, result
    assert result.waiting_at_end > 0, result  # work waited all along
    assert len(result.calls_by_process) == 3, result  # every process took part


async def test_a_429_in_one_process_pauses_the_key_for_another(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    await conn.execute(ls.CALLS_TABLE)
    await conn.execute("TRUNCATE test_limit_calls")
    await baton.set_limit(ls.KEY, requests_per_minute=1_000, oban=client)
    async with workers(installed, tmp_path) as group:
        [first] = await group.start(["w1"], WORKER_ARGS)
        limited = ls.Call.new({"status": 429, "retry_after": "60", "once": True})
        await Workflow(name="provider-429").add("limited", limited).insert(oban=client)
        await wait_until(
            conn, "SELECT paused_until IS NOT NULL FROM baton_limits WHERE key = %s", (ls.KEY,)
        )
        first.proc.send_signal(signal.SIGTERM)  # w1 got the 429; only w2 runs from here
        await asyncio.to_thread(first.proc.wait, 20)

        [second] = await group.start(["w2"], WORKER_ARGS)
        wf = Workflow(name="after-429")
        for index in range(3):
            wf.add(f"call{index}", ls.Call.new({}))
        await wf.insert(oban=client)
        # w2 fetched each step and snoozed it to the pause's end, without calling it
        await wait_until(
            conn,
            "SELECT bool_and(coalesce((j.meta->>'snoozed')::int, 0) >= 1) FROM baton_steps s "
            "JOIN oban_jobs j ON j.id = s.job_id WHERE s.workflow_id = %s",
            (wf.id,),
        )
        snoozed = await rows(
            conn,
            "SELECT j.attempt, j.attempted_by[1], j.state::text, "
            "abs(extract(epoch FROM j.scheduled_at - l.paused_until)) < 2 "
            "FROM baton_steps s JOIN oban_jobs j ON j.id = s.job_id, baton_limits l "
            "WHERE s.workflow_id = %s AND l.key = %s",
            (wf.id, ls.KEY),
        )
        assert snoozed == [(0, "w2", "scheduled", True)] * 3, await rows(
            conn,
            "SELECT j.id, j.state::text, j.attempt, j.meta, j.errors, j.scheduled_at, "
            "l.paused_until FROM oban_jobs j, baton_limits l ORDER BY j.id",
        )
        called = "SELECT count(*) FROM test_limit_calls WHERE workflow_id = %s"
        assert await rows(conn, called, (wf.id,)) == [(0,)]

        # resumed, every step runs once, in w2, its attempt not spent on the waiting
        assert await baton.resume_limit(ls.KEY, oban=client)
        await conn.execute(
            "UPDATE oban_jobs SET scheduled_at = timezone('UTC', now()) "
            "WHERE state = 'scheduled' AND queue = %s",
            (ls.QUEUE,),
        )
        await settle(conn, wf.id, timeout=60)
        done = await rows(
            conn,
            "SELECT j.state::text, j.attempt FROM baton_steps s JOIN oban_jobs j "
            "ON j.id = s.job_id WHERE s.workflow_id = %s",
            (wf.id,),
        )
        assert done == [("completed", 1)] * 3
        by_pid = await rows(
            conn,
            "SELECT pid, count(*) FROM test_limit_calls WHERE workflow_id = %s GROUP BY pid",
            (wf.id,),
        )
        assert by_pid == [(second.pid, 3)]


async def test_a_limit_raised_while_steps_wait_holds_at_their_next_admission(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    await conn.execute(ls.CALLS_TABLE)
    await conn.execute("TRUNCATE test_limit_calls")
    # 5 calls per 10 s window: of 40 steps, 5 run and 35 wait
    await baton.set_limit(ls.KEY, requests_per_minute=30, window=10, oban=client)
    async with workers(installed, tmp_path) as group:
        await group.start(["w1", "w2"], WORKER_ARGS)
        wf = Workflow(name="raised")
        for index in range(40):
            wf.add(f"call{index}", ls.Call.new({}))
        await wf.insert(oban=client)
        count = "SELECT count(*) FROM test_limit_calls WHERE workflow_id = %s"
        await wait_until(conn, count.replace("count(*)", "count(*) >= 5"), (wf.id,))
        await wait_until(
            conn,
            "SELECT count(*) = 35 FROM oban_jobs WHERE state = 'scheduled' AND queue = %s",
            (ls.QUEUE,),
        )
        assert await rows(conn, count, (wf.id,)) == [(5,)]

        # Raised to 240 per window: when the 35 wake (their snooze was computed under the
        # old limit), they all fit at once, where 5 a window would take 7 more windows.
        await baton.set_limit(ls.KEY, requests_per_minute=1_440, window=10, oban=client)
        await settle(conn, wf.id, timeout=40)
        later = await rows(
            conn,
            "SELECT count(*), extract(epoch FROM max(at) - min(at)) FROM ("
            "  SELECT at FROM test_limit_calls WHERE workflow_id = %s ORDER BY at OFFSET 5"
            ") later",
            (wf.id,),
        )
    assert later[0][0] == 35
    assert later[0][1] < 10  # within one window: the old limit no longer held
