"""``Workflow.insert``: the checked workflow's rows and jobs, written in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from oban import Oban

from .. import _oban, _tracing, store
from .._budget import Limits
from . import _encoding
from ._step import StepGraph


async def insert(workflow: StepGraph, conn: Any, oban: Oban | str | None, limits: Limits) -> None:
    """Write ``workflow``, already validated (see ``Workflow.insert``)."""
    first = next(iter(workflow.steps.values())).job
    instance = _oban.instance_for_job(first, oban)
    steps, edges = _encoding.encode(workflow)
    jobs = {name: step.job for name, step in workflow.steps.items()}
    with _tracing.inserting(workflow.id, workflow.name, len(jobs)) as traceparent:
        record = {**_encoding.record(workflow, limits), "traceparent": traceparent}
        await store.insert_workflow(instance, conn, record, steps, edges, jobs)


__all__: Sequence[str] = ["insert"]
