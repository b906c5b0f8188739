"""A cancel stops work on whichever node runs it: through ``baton.cancel``, ``baton cancel``
(a CLI subprocess) and the web view's cancel button (an HTTP POST).

Two worker subprocesses (``tests.support.worker_proc``, two slots each) run four steps
of one workflow, so each runs two: three wait for a reply that never comes
(``cancel_steps.Hangs``), one opted out of interruption (``MustFinish``). This process
cancels the workflow and follows its events from a subscription of its own.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import StepEvent, Workflow
from baton.web import create_app
from baton.web._security import CSRF_HEADER
from tests.integration.test_cli_commands import cli
from tests.integration.test_multiprocess import rows, workers
from tests.integration.test_multiprocess_events import (
    Seen,
    finished,
    has_finished,
    read_more,
    read_until,
)
from tests.integration.test_web import ORIGIN, csrf_of, http
from tests.support import cancel_steps as cs
from tests.support.db import wait_until

pytestmark = pytest.mark.slow

NODES = ["cancel-a", "cancel-b"]
# Two slots per node for four steps: each node runs two. READY waits for the LISTEN on
# Oban's signal channel: a cancel signalled before it would be lost (an Oban 0.7 race).
EXTRA = ["--queues", "default:2", "--await-signals", "--import", "tests.support.cancel_steps"]
INTERRUPTED = "was cancelled while it ran: perform_workflow was interrupted"


async def cancel_through(path: str, workflow_id: str, dsn: str, client: Oban) -> None:
    # 5 jobs: the four executing steps are signalled, and `join`, waiting for them, is
    # cancelled at once without running.
    match path:
        case "api":
            assert await baton.cancel(workflow_id, oban=client) == 5
        case "cli":
            code, out, err = await cli("cancel", workflow_id, "--dsn", dsn)
            assert code == 0, err
            assert out.startswith(f"Cancelled workflow {workflow_id!r}: 5 jobs cancelled")
        case "web":
            async with http(create_app(oban=client)) as web:
                csrf = csrf_of((await web.get(f"/workflows/{workflow_id}")).text)
                response = await web.post(
                    f"/api/workflows/{workflow_id}/cancel",
                    headers={"origin": ORIGIN, CSRF_HEADER: csrf},
                )
            assert response.json() == {"workflow_id": workflow_id, "cancelled_jobs": 5}


@pytest.mark.parametrize("path", ["api", "cli", "web"])
@pytest.mark.timeout(180)
async def test_cancel_interrupts_steps_on_every_node(
    installed: str,
    conn: psycopg.AsyncConnection[Any],
    client: Oban,
    tmp_path: Path,
    path: str,
) -> None:
    await conn.execute(cs.RUNS_TABLE)
    await conn.execute("TRUNCATE test_cancel_runs")
    wf = (
        Workflow(name="cancel-everywhere")
        .add_many("slow", [cs.Hangs.new({"seconds": 120}) for _ in range(3)])
        .add("kept", cs.MustFinish.new())
        .add("join", cs.Hangs.new({"seconds": 0}), deps=["slow", "kept"])
    )
    async with (
        workers(installed, tmp_path) as group,
        baton.subscribe(wf.id, dsn=installed) as events,
    ):
        await group.start(NODES, EXTRA)
        seen: Seen = []
        await wf.insert(oban=client)
        await wait_until(conn, "SELECT count(*) = 4 FROM test_cancel_runs WHERE what = 'started'")
        [(pids,)] = await rows(conn, "SELECT count(DISTINCT pid) FROM test_cancel_runs")
        assert pids == 2  # each node runs two of the steps

        # The cancel runs beside the reading, so each step's settlement is timed as it
        # arrives, also while the CLI process is still exiting.
        begun = time.monotonic()
        cancelling = asyncio.create_task(cancel_through(path, wf.id, installed, client))
        settled: dict[str, float] = {}

        def all_settled(seen: Seen) -> bool:
            for event in seen:
                if isinstance(event, StepEvent) and event.state in ("cancelled", "completed"):
                    settled.setdefault(event.step, time.monotonic() - begun)
            return {"slow[0]", "slow[1]", "slow[2]", "kept"} <= set(settled)

        await read_until(events, seen, all_settled, 60, "the four steps settled")
        await cancelling
        await read_until(events, seen, has_finished(wf.id), 60, "the finished event")
        await read_more(events, seen)

    [done] = finished(seen, wf.id)
    assert (done.outcome, done.failed_count) == ("failed", 4)
    outcomes = {
        name: (outcome, performed)
        for name, outcome, performed in await rows(
            conn,
            "SELECT name, outcome, performed_at IS NOT NULL FROM baton_steps "
            "WHERE workflow_id = %s",
            (wf.id,),
        )
    }
    assert outcomes == {
        "slow[0]": ("cancelled", False),
        "slow[1]": ("cancelled", False),
        "slow[2]": ("cancelled", False),
        "kept": ("completed", True),
        "join": ("cancelled", False),
    }
    for name in ("slow[0]", "slow[1]", "slow[2]"):
        [event] = [e for e in seen if isinstance(e, StepEvent) and e.step == name][1:]
        assert INTERRUPTED in (event.error or ""), event
    what = await rows(
        conn, "SELECT what, count(*), count(DISTINCT pid) FROM test_cancel_runs GROUP BY what"
    )
    assert sorted(what) == [("finished", 1, 1), ("interrupted", 3, 2), ("started", 4, 2)]
    [(after_commit,)] = await rows(
        conn,
        "SELECT max(s.settled_at - w.cancelled_at) FROM baton_steps s "
        "JOIN baton_workflows w ON w.id = s.workflow_id "
        "WHERE s.workflow_id = %s AND s.name LIKE 'slow%%'",
        (wf.id,),
    )
    interrupted = max(settled[name] for name in ("slow[0]", "slow[1]", "slow[2]"))
    print(
        f"\ncancel through {path}: the three waiting steps, on 2 nodes, settled cancelled "
        f"{after_commit.total_seconds() * 1000:.0f} ms after the cancel committed, "
        f"{interrupted * 1000:.0f} ms after the {path} call began; the opted-out step "
        f"completed {settled['kept'] * 1000:.0f} ms after it began"
    )
