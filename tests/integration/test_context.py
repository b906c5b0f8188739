"""Workflow context: set at insert, added by completing steps, read by every step."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from baton.errors import InvalidContext, NotAWorkflowStep
from tests.support.db import step_results, wait_settled
from tests.support.dynamic_steps import Context
from tests.support.steps import Echo


async def context_of(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> Any:
    cursor = await conn.execute("SELECT context FROM baton_workflows WHERE id = %s", (workflow_id,))
    row = await cursor.fetchone()
    assert row is not None
    return row[0]


async def test_every_step_reads_the_context_and_later_steps_see_what_earlier_ones_added(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = (
        Workflow(name="ctx", context={"tenant": "acme", "limits": {"tokens": 1000}})
        .add("first", Context.new({"set": {"lang": "fr"}}))
        .add("second", Context.new({"set": {"lang": "fr", "tone": "dry"}}), deps=["first"])
        .add("third", Context.new({}), deps=["second"])
    )
    await wf.insert()
    await wait_settled(conn, wf.id)
    found = await step_results(conn, wf.id)
    base = {"tenant": "acme", "limits": {"tokens": 1000}}
    assert found == {
        "first": ("completed", base),
        "second": ("completed", {**base, "lang": "fr"}),  # setting the same value again is fine
        "third": ("completed", {**base, "lang": "fr", "tone": "dry"}),
    }
    assert await context_of(conn, wf.id) == {**base, "lang": "fr", "tone": "dry"}


async def test_a_step_changing_a_context_value_is_discarded_and_writes_nothing(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = (
        Workflow(name="conflict", context={"lang": "en"})
        .add("changer", Context.new({"set": {"lang": "de", "extra": 1}}))
        .add("after", Echo.new({}), deps=["changer"])
    )
    await wf.insert()
    await wait_settled(conn, wf.id)
    found = await step_results(conn, wf.id)
    assert found == {"changer": ("discarded", None), "after": ("cancelled", None)}
    assert await context_of(conn, wf.id) == {"lang": "en"}
    row = await (
        await conn.execute(
            "SELECT attempt, errors FROM oban_jobs WHERE id = %s", (wf.steps["changer"].job.id,)
        )
    ).fetchone()
    assert row is not None
    attempt, [error] = row  # one attempt: discarded, not retried
    assert attempt == 1
    assert (
        "ContextConflict: step 'changer' tried to change context 'lang' (is 'en')" in error["error"]
    )


def test_context_must_be_a_small_json_object_with_string_keys() -> None:
    with pytest.raises(InvalidContext, match=r"context must be a dict with string keys, got list"):
        Workflow(name="w", context=["a"])  # type: ignore[arg-type]
    with pytest.raises(InvalidContext, match=r"context keys must be strings, got 1"):
        Workflow(name="w", context={1: "a"})  # type: ignore[dict-item]
    with pytest.raises(InvalidContext, match=r"not JSON-serialisable"):
        Workflow(name="w", context={"when": {1, 2}})
    with pytest.raises(InvalidContext, match=r"NUL character"):
        Workflow(name="w", context={"bad": "a\x00b"})
    with pytest.raises(InvalidContext, match=r"over the limit of 65,536"):
        Workflow(name="w", context={"big": "x" * 70_000})


def test_sub_workflow_context_merges_and_conflicts_are_errors() -> None:
    sub = Workflow(context={"a": 1, "b": 2}).add("x", Echo.new({}))
    wf = Workflow(name="w", context={"a": 1}).add_workflow("sub", sub)
    assert wf.context == {"a": 1, "b": 2}
    with pytest.raises(InvalidContext, match=r"sub-workflow 'sub'.*context 'a' is already set"):
        Workflow(name="w", context={"a": 0}).add_workflow("sub", sub)


async def test_get_context_needs_a_workflow_step(client: Oban) -> None:
    with pytest.raises(NotAWorkflowStep, match=r"not a workflow step"):
        await baton.get_context(Echo.new({}))
