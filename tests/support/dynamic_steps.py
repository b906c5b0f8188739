"""Workers for the dynamic-workflow tests. Importable by worker subprocesses too."""

from __future__ import annotations

from typing import Any

import baton


@baton.worker(queue="default", max_attempts=3)
class Plan:
    """Adds one ``Item`` per element of its ``items`` arg, or a ``Plan`` for a nested list."""

    async def perform_workflow(self, job: Any) -> Any:
        items = job.args["items"]
        group = job.args.get("group", "item")
        added = [
            Plan.new({"items": item}) if isinstance(item, list) else Item.new({"value": item})
            for item in items
        ]
        return baton.Complete(
            {"planned": len(items)}, add={group: added}, context=job.args.get("context")
        )


@baton.worker(queue="default", max_attempts=3)
class Graft:
    """Adds a small workflow: a chain, and a model fan-out reading the chain."""

    async def perform_workflow(self, job: Any) -> Any:
        added = (
            baton.Workflow(context={"grafted": True})
            .add("a", Item.new({"value": 1}))
            .add("b", Read.new({"names": ["a"]}), deps=["a"])
            .add_models("ask", Variant.new({"prompt": "q"}), ["m1", "m2"], deps=["b"])
        )
        return baton.Complete("grafted", add=added)


@baton.worker(queue="default", max_attempts=3)
class Item:
    """Returns its value doubled, with what the step that added it returned."""

    async def perform_workflow(self, job: Any) -> Any:
        parent = baton.get_result(job, job.meta["workflow_step"].rsplit("/", 1)[0])
        return {"doubled": job.args["value"] * 2, "plan": await parent}


@baton.worker(queue="default", max_attempts=3)
class Read:
    """Returns ``get_result`` of each name in its ``names`` arg."""

    async def perform_workflow(self, job: Any) -> Any:
        return {name: await baton.get_result(job, name) for name in job.args["names"]}


@baton.worker(queue="default", max_attempts=3)
class Variant:
    """Answers with the model the workflow gave it."""

    async def perform_workflow(self, job: Any) -> Any:
        model = baton.model(job)
        return {
            "model": model,
            "text": f"{job.args.get('prompt', '')} by {model}",
            "llm_usage": {"input_tokens": 10, "output_tokens": 5},
        }


@baton.worker(queue="default", max_attempts=3)
class Context:
    """Returns the workflow's context, and adds its ``set`` arg to it."""

    async def perform_workflow(self, job: Any) -> Any:
        seen = await baton.get_context(job)
        return baton.Complete(seen, context=job.args.get("set"))
