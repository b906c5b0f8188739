"""Workers for the multi-process dynamic-workflow tests (``test_multiprocess_dynamic``).

Each records its call in ``test_calls`` (see ``proc_steps``) before doing anything else.
``Planner`` adds steps at run time: one ``Leaf`` per item, or a nested ``Planner`` for an
item that is a list, and adds how many it planned to the workflow's context.
"""

from __future__ import annotations

from typing import Any

from oban import Job

import baton
from tests.support.proc_steps import _record_call


@baton.worker(queue="default", max_attempts=3)
class Planner:
    """Adds ``item[i]`` per element of ``items``: a Leaf, or a Planner for a nested list."""

    async def perform_workflow(self, job: Job) -> Any:
        await _record_call(job)
        items = job.args["items"]
        added = [
            Planner.new({"items": item}) if isinstance(item, list) else Leaf.new({"value": item})
            for item in items
        ]
        step = job.meta["workflow_step"]
        return baton.Complete(
            {"planned": len(items)},
            add={"item": added},
            context={f"planned:{step}": len(items)},
        )


@baton.worker(queue="default", max_attempts=3)
class Leaf:
    """Returns its value; reads the result of the planner that added it."""

    async def perform_workflow(self, job: Job) -> Any:
        await _record_call(job)
        planner = job.meta["workflow_step"].rsplit("/", 1)[0]
        planned = await baton.get_result(job, planner)
        return {"value": job.args["value"], "siblings": planned["planned"]}


@baton.worker(queue="default", max_attempts=3)
class Collect:
    """Reads each name in ``names`` with get_result; with ``context`` set, the context too."""

    async def perform_workflow(self, job: Job) -> Any:
        await _record_call(job)
        read = {name: await baton.get_result(job, name) for name in job.args["names"]}
        if job.args.get("context"):
            return {"read": read, "context": await baton.get_context(job)}
        return {"read": read}


@baton.worker(queue="default", max_attempts=3)
class Model:
    """Answers with its model."""

    async def perform_workflow(self, job: Job) -> Any:
        await _record_call(job)
        return {"model": baton.model(job)}
