"""Workers for the branch tests (``Complete(skip=...)``). Importable by worker subprocesses.

With the ``record`` arg set, each run first records its call in ``test_calls`` (see
``proc_steps``; worker subprocesses only), so a test can check that a skipped step never ran.
"""

from __future__ import annotations

from typing import Any

import oban
from oban import Job

import baton
from baton.errors import StepSkipped
from tests.support.proc_steps import _record_call


async def _note(job: Job) -> None:
    if job.args.get("record"):
        await _record_call(job)


@baton.worker(queue="default", max_attempts=3)
class Route:
    """Completes with its ``value`` arg, skipping what its ``skip`` arg names.

    ``add`` (a number) also adds that many ``Leaf`` steps as the group ``extra``;
    ``context`` adds context values; ``discard_first`` discards its first attempt.
    """

    async def perform_workflow(self, job: Job) -> Any:
        await _note(job)
        if job.args.get("discard_first") and job.attempt == 1:
            return baton.Discard("the first attempt is discarded")
        count = job.args.get("add")
        add = {"extra": [Leaf.new({}) for _ in range(count)]} if count else None
        return baton.Complete(
            job.args.get("value"), skip=job.args["skip"], add=add, context=job.args.get("context")
        )


@baton.worker(queue="default", max_attempts=3)
class Leaf:
    """Returns its own step name."""

    async def perform_workflow(self, job: Job) -> Any:
        await _note(job)
        return {"step": job.meta["workflow_step"]}


@baton.worker(queue="default", max_attempts=3)
class Join:
    """Returns ``get_all_results`` and, for each name in its ``names`` arg, what
    ``get_result`` gave: the value, or ``"StepSkipped: <step>"``."""

    async def perform_workflow(self, job: Job) -> Any:
        await _note(job)
        read: dict[str, Any] = {}
        for name in job.args.get("names", []):
            try:
                read[name] = await baton.get_result(job, name)
            except StepSkipped as error:
                read[name] = f"StepSkipped: {error.step}"
        return {"all": await baton.get_all_results(job), "read": read}


PLAIN_RUNS: list[int] = []


@oban.worker(queue="default")
class PlainAfter:
    """A plain Oban worker used as a step; records each run by job id."""

    async def process(self, job: Job) -> None:
        PLAIN_RUNS.append(job.id)
