"""Branches: ``Complete(value, skip=[...])`` skips some of a step's direct dependents."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from tests.support.branch_steps import PLAIN_RUNS, Join, Leaf, PlainAfter, Route
from tests.support.db import step_results, wait_settled


async def jobs_of(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> dict[str, Any]:
    """Each step's job: (state, attempt, attempted_at is set)."""
    cursor = await conn.execute(
        "SELECT s.name, j.state::text, j.attempt, j.attempted_at IS NOT NULL "
        "FROM baton_steps s JOIN oban_jobs j ON j.id = s.job_id "
        "WHERE s.workflow_id = %s ORDER BY s.job_id",
        (workflow_id,),
    )
    return {name: (state, attempt, ran) for name, state, attempt, ran in await cursor.fetchall()}


def if_else(skip: list[str]) -> Workflow:
    """route → (then | otherwise) → join: route skips one branch, the join runs."""
    return (
        Workflow(name="if-else")
        .add("route", Route.new({"value": {"kind": "refund"}, "skip": skip}))
        .add("then", Leaf.new({}), deps=["route"])
        .add("otherwise", Leaf.new({}), deps=["route"])
        .add("join", Join.new({"names": ["then", "otherwise"]}), deps=["then", "otherwise"])
    )


async def test_if_else_then_join_runs_the_taken_branch_and_the_join(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = if_else(["otherwise"])
    await wf.insert()
    await wait_settled(conn, wf.id)
    found = await step_results(conn, wf.id)
    assert found == {
        "route": ("completed", {"kind": "refund"}),
        "then": ("completed", {"step": "then"}),
        "otherwise": ("skipped", None),
        "join": (
            "completed",
            {
                "all": {"then": {"step": "then"}},
                "read": {"then": {"step": "then"}, "otherwise": "StepSkipped: otherwise"},
            },
        ),
    }
    jobs = await jobs_of(conn, wf.id)
    assert jobs["otherwise"] == ("cancelled", 0, False)  # terminal, never run
    status = await baton.status(wf.id)
    assert status.state == "completed"
    assert status.step("otherwise").state == "skipped"
    assert status.counts == {"completed": 3, "skipped": 1}
    assert await baton.results(wf.id) == {
        "route": {"kind": "refund"},
        "then": {"step": "then"},
        "join": found["join"][1],
    }
