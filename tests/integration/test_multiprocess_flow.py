"""Deadlines and unique keys across processes.

A deadline racing steps' acks: two worker subprocesses (``tests.support.worker_proc``)
run the steps and enforce the deadlines (their stagers); this process only inserts and
listens. Concurrent unique inserts: four subprocesses (``tests.support.flow_steps``)
insert workflows with the same keys at the same moments.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from tests.integration.test_multiprocess import PROJECT, rows, workers
from tests.support import event_steps as es
from tests.support import flow_steps as fs
from tests.support.db import wait_settled
from tests.support.event_steps import flush

pytestmark = pytest.mark.slow

NODES = ["flow-a", "flow-b"]
EXTRA = ["--queues", "default:8", "--await-signals", "--import", "tests.support.flow_steps"]
RACES = 30
DEADLINE = 0.4


@pytest.mark.timeout(240)
async def test_a_deadline_racing_acks_gives_one_consistent_outcome(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    """Each step works for a random time around the deadline, so the deadline lands before
    it starts, while it works, while its result is stored and acked, or after. Every
    workflow finishes exactly once; a step is completed with its result or cancelled with
    none; a workflow failed by its deadline says so everywhere; one whose steps all
    completed (in time, or with acks under way when the deadline was enforced) is
    completed with no reason."""
    workflows = [
        Workflow(name="race", deadline=DEADLINE)
        .add(
            "r",
            (fs.RacerOptedOut if n % 3 == 0 else fs.Racer).new({"n": n, "spread": 2 * DEADLINE}),
        )
        .add("next", es.Quick.new(), deps="r")
        for n in range(RACES)
    ]
    async with workers(installed, tmp_path) as group, baton.subscribe(dsn=installed) as events:
        await group.start(NODES, EXTRA)
        for wf in workflows:
            await wf.insert(oban=client)
        for wf in workflows:
            await wait_settled(conn, wf.id, timeout=60)
        seen = await flush(events, conn, workflows[-1].id)

    finished = Counter(e.workflow_id for e in seen if isinstance(e, baton.WorkflowFinished))
    assert finished == dict.fromkeys((wf.id for wf in workflows), 1)
    by_id = {e.workflow_id: e for e in seen if isinstance(e, baton.WorkflowFinished)}
    kinds: Counter[str] = Counter()
    for wf in workflows:
        status = await baton.status(wf.id, oban=client)
        event = by_id[wf.id]
        assert (event.outcome, event.reason) == (status.state, status.reason)
        steps = {
            name: (outcome, performed, result)
            for name, outcome, performed, result in await rows(
                conn,
                "SELECT name, outcome, performed_at IS NOT NULL, result FROM baton_steps "
                "WHERE workflow_id = %s",
                (wf.id,),
            )
        }
        for name, (outcome, performed, result) in steps.items():
            assert (outcome, performed) in {("completed", True), ("cancelled", False)}, (
                wf.id,
                name,
                steps,
            )
            assert (result is None) == (outcome == "cancelled") or name == "next"
        if status.reason is None:
            assert status.state == "completed"
            assert {outcome for outcome, _p, _r in steps.values()} == {"completed"}
        else:
            # The deadline was enforced before the last settlement committed and some step
            # did not complete (a deadline that took nothing away leaves it completed).
            assert (status.state, status.reason) == ("failed", "deadline")
            assert steps["next"][0] == "cancelled"
        kinds[f"{status.state}: r {steps['r'][0]}, next {steps['next'][0]}"] += 1
    [(enforced,)] = await rows(
        conn,
        "SELECT array_agg(extract(epoch FROM cancelled_at - deadline_at) * 1000) "
        "FROM baton_workflows WHERE reason = 'deadline' AND id = ANY(%s)",
        ([wf.id for wf in workflows],),
    )
    lags = sorted(enforced or [])
    print(f"\ndeadline races across 2 nodes: {dict(kinds)}")
    if lags:
        print(
            f"deadline enforced after the deadline: p50 {statistics.median(lags):.0f} ms, "
            f"max {lags[-1]:.0f} ms (stager interval 100 ms)"
        )


ROUNDS = 8
INSERTERS = 4


@pytest.mark.timeout(120)
async def test_exactly_one_of_concurrent_unique_inserts_wins(
    installed: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(PROJECT), env.get("PYTHONPATH")) if part
    )
    start_at = time.time() + 3.0  # time for every process to import and connect
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.flow_steps",
            "--dsn",
            installed,
            "--rounds",
            str(ROUNDS),
            "--start-at",
            str(start_at),
            cwd=PROJECT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(INSERTERS)
    ]
    outputs = await asyncio.gather(*(proc.communicate() for proc in procs))
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
    lines = [json.loads(line) for out, _err in outputs for line in out.decode().splitlines()]
    assert len(lines) == ROUNDS * INSERTERS
    for round_ in range(ROUNDS):
        mine = [line for line in lines if line["round"] == round_]
        [winner] = [line["won"] for line in mine if "won" in line]
        assert [line["duplicate"] for line in mine if "duplicate" in line] == [winner] * (
            INSERTERS - 1
        )
        stored = await rows(
            conn,
            "SELECT id FROM baton_workflows WHERE unique_key = %s",
            (f"race:{round_}",),
        )
        assert stored == [(winner,)]
        losers = [line["mine"] for line in mine if "mine" in line]
        assert await rows(
            conn, "SELECT count(*) FROM baton_workflows WHERE id = ANY(%s)", (losers,)
        ) == [(0,)]
