"""Branches run by several worker processes sharing one database.

Each worker is a subprocess (``tests.support.worker_proc``) running the steps of
``tests.support.branch_steps``; every call leaves a row in ``test_calls``. Many if/else
workflows with joins and skipped chains run at once: a skipped step never runs anywhere,
every join runs exactly once, and each workflow finishes completed. A router killed after
storing its result (before Oban's ack) is rescued, and its retry skips the same dependents
without running again.
"""

from __future__ import annotations

import random
import signal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from tests.integration.test_multiprocess import rows, settle, workers
from tests.support.branch_steps import Join, Leaf, Route

pytestmark = pytest.mark.slow

MODULE = ["--import", "tests.support.branch_steps"]
LIFELINE = ["--rescue-after", "2", "--lifeline-interval", "0.5", "--leader-interval", "1"]
BRANCHES = ["a", "b", "c"]


def branching(index: int, skip: list[str]) -> Workflow:
    """route → a | b | c (each a chain of two) → join; route skips the ``skip`` branches.

    Every other workflow also has a root ``side`` running beside ``route``, and ``meet``
    waiting for ``a`` and ``side``: the skip and the other dep settle at the same moment on
    different nodes, and ``meet`` runs whether ``a`` was skipped or not.
    """
    rec = {"record": True}
    wf = Workflow(name=f"branches-{index}").add("route", Route.new({**rec, "skip": skip}))
    for branch in BRANCHES:
        wf.add(branch, Leaf.new(rec), deps=["route"])
        wf.add(f"{branch}2", Leaf.new(rec), deps=[branch])
    wf.add("join", Join.new(rec), deps=[f"{b}2" for b in BRANCHES])
    if index % 2:
        wf.add("side", Leaf.new(rec)).add("meet", Join.new(rec), deps=["a", "side"])
    return wf.add("after", Leaf.new(rec), deps=["join"])


@pytest.mark.timeout(180)
async def test_many_branching_workflows_across_processes_skip_exactly_what_they_should(
    installed: str, calls: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    conn = calls
    rng = random.Random(15)  # noqa: S311 - reproducible plans, not a secret
    plans = [rng.sample(BRANCHES, rng.randint(0, 3)) for _ in range(24)]
    flows = [branching(index, skip) for index, skip in enumerate(plans)]
    async with workers(installed, tmp_path) as group:
        await group.start(["br-0", "br-1", "br-2"], MODULE)
        for wf in flows:
            await wf.insert(oban=client)
        for wf in flows:
            await settle(conn, wf.id, timeout=90)

    ran = await rows(conn, "SELECT workflow_id, step, pid FROM test_calls")
    by_workflow: dict[str, list[str]] = {}
    for workflow_id, step, _pid in ran:
        by_workflow.setdefault(workflow_id, []).append(step)
    assert len({pid for _w, _s, pid in ran}) > 1  # the work was shared
    for wf, skip in zip(flows, plans, strict=True):
        skipped = {name for branch in skip for name in (branch, f"{branch}2")}
        if len(skip) == len(BRANCHES):
            skipped |= {"join", "after"}  # every dep of the join was skipped
        outcomes = dict(
            await rows(
                conn, "SELECT name, outcome FROM baton_steps WHERE workflow_id = %s", (wf.id,)
            )
        )
        assert {n for n, o in outcomes.items() if o == "skipped"} == skipped, wf.name
        assert {n for n, o in outcomes.items() if o != "skipped"} == set(outcomes) - skipped
        assert all(o in ("completed", "skipped") for o in outcomes.values())
        # each step that was not skipped ran exactly once, and no skipped step ran
        assert sorted(by_workflow.get(wf.id, [])) == sorted(set(outcomes) - skipped), wf.name
        final = await baton.status(wf.id, oban=client)
        assert final.state == "completed", wf.name
        if "join" not in skipped:
            [(result,)] = await rows(
                conn,
                "SELECT result FROM baton_steps WHERE workflow_id = %s AND name = 'join'",
                (wf.id,),
            )
            assert set(result["value"]["all"]) == {f"{b}2" for b in BRANCHES if b not in skip}


@pytest.mark.timeout(180)
async def test_a_router_killed_after_storing_its_result_skips_the_same_dependents_on_retry(
    installed: str, calls: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    conn = calls
    wf = (
        Workflow(name="crash-route")
        .add("route", Route.new({"record": True, "crash": True, "value": 1, "skip": ["no"]}))
        .add("no", Leaf.new({"record": True}), deps=["route"])
        .add("yes", Leaf.new({"record": True}), deps=["route"])
        .add("join", Join.new({"record": True}), deps=["no", "yes"])
    )
    async with workers(installed, tmp_path) as group:
        await group.start(["crash-0", "crash-1"], [*MODULE, *LIFELINE])
        await wf.insert(oban=client)
        victim = await group.first_exit(timeout=60)
        assert victim.proc.returncode == -signal.SIGKILL
        [(skips, performed)] = await rows(
            conn,
            "SELECT skips, performed_at IS NOT NULL FROM baton_steps "
            "WHERE workflow_id = %s AND name = 'route'",
            (wf.id,),
        )
        assert (skips, performed) == (["no"], True)  # stored with the result, before the ack
        await group.start(["crash-2"], [*MODULE, *LIFELINE])
        await settle(conn, wf.id, timeout=90)

    outcomes = dict(
        await rows(conn, "SELECT name, outcome FROM baton_steps WHERE workflow_id = %s", (wf.id,))
    )
    assert outcomes == {
        "route": "completed",
        "no": "skipped",
        "yes": "completed",
        "join": "completed",
    }
    ran = await rows(
        conn, "SELECT step, pid FROM test_calls WHERE workflow_id = %s ORDER BY step", (wf.id,)
    )
    assert [step for step, _pid in ran] == ["join", "route", "yes"]  # route ran once
    assert dict(ran)["route"] == victim.pid
    [(state, attempt)] = await rows(
        conn,
        "SELECT j.state::text, j.attempt FROM baton_steps s JOIN oban_jobs j ON j.id = s.job_id "
        "WHERE s.workflow_id = %s AND s.name = 'route'",
        (wf.id,),
    )
    assert (state, attempt) == ("completed", 2)  # rescued, and completed from the stored result
    assert (await baton.status(wf.id, oban=client)).state == "completed"
