"""Steps mapped to models, and a step fanned out across several models."""

from __future__ import annotations

from typing import Any

import psycopg
from oban import Oban

import baton
from baton import Workflow
from tests.support.db import step_values, wait_settled
from tests.support.dynamic_steps import Read, Variant


async def test_a_synthesis_step_reads_every_variant_keyed_by_model(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    models = ["gpt-4o", "claude-sonnet-4", "openrouter/llama-3"]
    wf = (
        Workflow(name="compare")
        .add_models("draft", Variant.new({"prompt": "haiku"}), models)
        .add("synth", Read.new({"names": ["draft", "draft[1]"]}), deps=["draft"])
    )
    await wf.insert()
    await wait_settled(conn, wf.id)
    found = await step_values(conn, wf.id)
    drafts = {model: {"model": model, "text": f"haiku by {model}"} for model in models}
    assert found["synth"] == {"draft": drafts, "draft[1]": drafts["claude-sonnet-4"]}
    report = await baton.status(wf.id)
    assert [(step.name, step.model) for step in report.steps] == [
        ("draft[0]", "gpt-4o"),
        ("draft[1]", "claude-sonnet-4"),
        ("draft[2]", "openrouter/llama-3"),
        ("synth", None),
    ]
    # Each variant's usage is recorded under the model it ran with.
    spent = await baton.usage(wf.id)
    assert {(row.step, row.model, row.input_tokens) for row in spent.steps} == {
        (f"draft[{index}]", model, 10) for index, model in enumerate(models)
    }


async def test_a_workflow_maps_steps_groups_and_sub_workflows_to_models(
    conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    sub = (
        Workflow(models={"inner": "sub-own"})
        .add("inner", Variant.new({}))
        .add("plain", Variant.new({}))
    )
    wf = (
        Workflow(
            name="mapped",
            models={
                "solo": "by-step",
                "many": "by-group",
                "many[1]": "by-member",
                "sub": "by-sub",
                "sub/plain": "by-path",
            },
        )
        .add("solo", Variant.new({}))
        .add("own", Variant.new({}), model="its-own")
        .add_many("many", [Variant.new({}), Variant.new({})])
        .add_workflow("sub", sub)
        .add("none", Variant.new({}))
    )
    await wf.insert()
    await wait_settled(conn, wf.id)
    found = await step_values(conn, wf.id)
    assert {name: value["model"] for name, value in found.items()} == {
        "solo": "by-step",
        "own": "its-own",
        "many[0]": "by-group",
        "many[1]": "by-member",
        "sub/inner": "sub-own",  # the sub-workflow's own mapping comes along
        "sub/plain": "by-path",
        "none": None,
    }
    job = await running.get_job(wf.steps["own"].job.id)
    assert job is not None
    assert baton.model(job) == "its-own"
