"""Reading and changing stored workflows: status, list, usage, graph, cancel and retry."""

from __future__ import annotations

from typing import Any

from oban import Oban
from psycopg import errors

from .. import _oban
from ..errors import DuplicateWorkflow, UnknownWorkflow, WorkflowError
from . import _execute as db
from . import _flow
from ._rows import (
    CallRow,
    Edge,
    GraphRow,
    ResetStep,
    ResultPreview,
    StepRow,
    StepStatusRow,
    SummaryRow,
    UsageRow,
    WorkflowRow,
)
from ._signals import retry_signals


async def _read[T](
    oban: Oban, workflow_id: str, name: str, shape: type[T], **extra: Any
) -> tuple[WorkflowRow, list[T]]:
    """The workflow's row and the rows of ``name``, read in one transaction.

    Raises:
        UnknownWorkflow: no workflow has that id.
    """
    prefix = _oban.prefix(oban)
    params = {"workflow_id": workflow_id, **extra}
    async with _oban.pooled(oban) as conn, conn.transaction():
        workflow = await db.row(conn, "workflow_row.sql", prefix, params, WorkflowRow)
        if workflow is None:
            raise UnknownWorkflow(f"no workflow with id {workflow_id!r}")
        return workflow, await db.rows(conn, name, prefix, params, shape)


async def workflow_steps(oban: Oban, workflow_id: str) -> tuple[WorkflowRow, list[StepStatusRow]]:
    """The workflow and each of its steps with its job's state, in insert order."""
    return await _read(oban, workflow_id, "workflow_steps.sql", StepStatusRow)


async def workflow_results(oban: Oban, workflow_id: str) -> tuple[WorkflowRow, list[StepRow]]:
    """The workflow and each of its steps with its stored result, in insert order."""
    return await _read(oban, workflow_id, "step_rows.sql", StepRow, path=None)


async def workflow_usage(oban: Oban, workflow_id: str) -> tuple[WorkflowRow, list[UsageRow]]:
    """The workflow and the usage of each step that reported some, in insert order."""
    return await _read(oban, workflow_id, "step_usage.sql", UsageRow)


async def workflow_calls(oban: Oban, workflow_id: str, step: str | None) -> list[CallRow]:
    """The calls the workflow's steps captured (only ``step``'s if given), in step order."""
    return (await _read(oban, workflow_id, "calls/workflow_calls.sql", CallRow, step=step))[1]


async def workflow_graph(oban: Oban, workflow_id: str) -> tuple[WorkflowRow, list[GraphRow]]:
    """The workflow and each step with its state and the steps it waits for."""
    return await _read(oban, workflow_id, "workflow_graph.sql", GraphRow)


async def list_workflows(oban: Oban, limit: int, state: str | None) -> list[SummaryRow]:
    """At most ``limit`` workflows, newest first, only those in ``state`` if given."""
    params = {"limit": limit, "state": state}
    async with _oban.pooled(oban) as conn:
        return await db.rows(conn, "list_workflows.sql", _oban.prefix(oban), params, SummaryRow)


async def workflow_exists(oban: Oban, workflow_id: str) -> bool:
    """Whether a workflow has that id (one index lookup)."""
    params = {"workflow_id": workflow_id}
    async with _oban.pooled(oban) as conn:
        return bool(await db.values(conn, "web/workflow_exists.sql", _oban.prefix(oban), params))


async def edges_and_previews(
    oban: Oban, workflow_id: str, chars: int
) -> tuple[list[Edge], list[ResultPreview]]:
    """The workflow's edges, and the first ``chars`` + 1 characters of each stored result."""
    prefix = _oban.prefix(oban)
    params = {"workflow_id": workflow_id, "chars": chars}
    async with _oban.pooled(oban) as conn:
        edges = await db.rows(conn, "web/workflow_edges.sql", prefix, params, Edge)
        previews = await db.rows(conn, "web/result_previews.sql", prefix, params, ResultPreview)
    return edges, previews


async def cancel(oban: Oban, workflow_id: str) -> None:
    """Mark the workflow cancelled.

    Raises:
        UnknownWorkflow: no workflow has that id.
    """
    params = {"workflow_id": workflow_id}
    async with _oban.pooled(oban) as conn, conn.transaction():
        if not await db.values(conn, "cancel_workflow.sql", _oban.prefix(oban), params):
            raise UnknownWorkflow(f"no workflow with id {workflow_id!r}")


async def cancellable_jobs(oban: Oban, workflow_id: str, sparing: int | None = None) -> list[int]:
    """The ids of a cancelled workflow's jobs to cancel now, but the job ``sparing``.

    Those are the unsettled steps' jobs that are not waiting for deps (plain Oban workers'
    jobs are included even then: they have no gate that would cancel them).
    """
    params = {"workflow_id": workflow_id, "sparing": sparing}
    async with _oban.pooled(oban) as conn:
        return await db.values(conn, "cancellable_jobs.sql", _oban.prefix(oban), params)


async def retry(oban: Oban, workflow_id: str) -> list[str]:
    """Reset the workflow's failed steps and re-count what waits; their names, in order.

    Raises:
        UnknownWorkflow: no workflow has that id.
        WorkflowError: a failed step's job row was deleted (pruned); nothing is changed.
        DuplicateWorkflow: another unfinished workflow now holds its unique key; nothing
            is changed.
    """
    try:
        return await _retry(oban, workflow_id)
    except errors.UniqueViolation as error:
        if not _flow.is_unique_key_violation(error):
            raise
        raise await _key_taken(oban, workflow_id) from None


async def _key_taken(oban: Oban, workflow_id: str) -> DuplicateWorkflow:
    """The error of a retry refused because another unfinished workflow took the key."""
    prefix = _oban.prefix(oban)
    async with _oban.pooled(oban) as conn:
        row = await db.row(
            conn, "workflow_row.sql", prefix, {"workflow_id": workflow_id}, WorkflowRow
        )
    key = row.unique_key if row is not None and row.unique_key is not None else ""
    holder = await _flow.unique_holder(oban, key)
    return DuplicateWorkflow(
        f"cannot retry workflow {workflow_id!r}: its unique_key {key!r} is now held by "
        f"unfinished workflow {holder!r}, which must finish first; nothing was changed",
        unique_key=key,
        workflow_id=holder,
    )


async def _retry(oban: Oban, workflow_id: str) -> list[str]:
    prefix = _oban.prefix(oban)
    params: dict[str, Any] = {"workflow_id": workflow_id}
    async with _oban.pooled(oban) as conn, conn.transaction():
        if not await db.values(conn, "lock_workflow.sql", prefix, params):
            raise UnknownWorkflow(f"no workflow with id {workflow_id!r}")
        reset = await db.rows(conn, "retry_reset_steps.sql", prefix, params, ResetStep)
        reset.sort(key=lambda step: step.job_id)  # insert order
        missing = [step.name for step in reset if not step.job_exists]
        if missing:
            raise WorkflowError(
                f"cannot retry workflow {workflow_id!r}: the jobs of steps "
                f"{', '.join(map(repr, missing))} were deleted (pruned); nothing was changed"
            )
        names = [step.name for step in reset]
        if names:
            await db.run(conn, "retry_recount.sql", prefix, params)
            channel = _oban.insert_channel(prefix)
            await db.run(
                conn, "retry_jobs.sql", prefix, {**params, "names": names, "channel": channel}
            )
            await retry_signals(conn, prefix, workflow_id, names)
            await db.run(conn, "retry_workflow_row.sql", prefix, params)
    return names
