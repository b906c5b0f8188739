"""Reads and writes of Baton's step rows: insert, the worker's context, results."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from oban import Job, Oban
from psycopg import AsyncConnection, errors

from . import _oban, _sql, _step_input
from .errors import NotAWorkflowStep, SchemaError, WorkflowError


@dataclass(frozen=True, slots=True)
class StepContext:
    """What the worker needs to know about its step before running it.

    Attributes:
        workflow_id: the workflow the step belongs to.
        name: the step's name.
        performed: a previous attempt already returned (and stored its result).
        deps: the names the step declared.
        ignore_cancelled: the resolved flag for this step.
        ignore_discarded: likewise.
        ignore_deleted: likewise.
        workflow_cancelled: ``baton.cancel`` was called on the workflow.
        upstream: ``(step, state)`` of every expanded dep, read only when the counters say
            the step is not clear to run; None when every dep completed or is ignored.
    """

    workflow_id: str
    name: str
    performed: bool
    deps: tuple[str, ...]
    ignore_cancelled: bool
    ignore_discarded: bool
    ignore_deleted: bool
    upstream: tuple[tuple[str, str], ...] | None
    workflow_cancelled: bool = False


@contextmanager
def schema_guard(prefix: str) -> Iterator[None]:
    try:
        yield
    except (errors.UndefinedTable, errors.UndefinedObject) as error:
        raise SchemaError(
            f"Baton's tables are missing in schema {prefix!r}: run `baton install` "
            f"(or `await baton.install(...)`) first ({error.diag.message_primary})"
        ) from error


async def insert_workflow(
    oban: Oban,
    conn: Any,
    record: Mapping[str, Any],
    steps: str,
    edges: str,
    jobs: Mapping[str, Job],
) -> None:
    """Insert the workflow, its jobs, steps and edges in one statement."""
    prefix = _oban.prefix(oban)
    params = {**record, "steps": steps, "edges": edges, "channel": _oban.insert_channel(prefix)}
    statement = _sql.query("insert_workflow.sql", prefix, step_input=_step_input.COLUMNS)

    async def run(connection: AsyncConnection[Any]) -> list[tuple[Any, ...]]:
        with schema_guard(prefix):
            try:
                cursor = await connection.execute(statement, params)
            except errors.UniqueViolation as error:
                raise WorkflowError(
                    f"a workflow with id {record['id']!r} already exists"
                ) from error
            return await cursor.fetchall()

    if conn is not None:
        rows = await run(await _oban.caller_connection(conn))
    else:
        async with _oban.pooled(oban) as pooled, pooled.transaction():
            rows = await run(pooled)

    for step, job_id, state, queue, inserted_at, scheduled_at, _notified in rows:
        job = jobs[step]
        job.id = job_id
        job.state = state
        job.queue = queue
        job.inserted_at = inserted_at
        job.scheduled_at = scheduled_at


def step_of(job: Job, reading: str) -> tuple[str, str, int]:
    """The job's ``(workflow id, step name, job id)``, for a read-side call.

    Raises:
        NotAWorkflowStep: the job was built but never inserted as a workflow step.
    """
    workflow_id = job.meta.get("workflow_id")
    step = job.meta.get("workflow_step")
    if not workflow_id or not step or job.id is None:
        raise NotAWorkflowStep(
            f"job {job.id} ({job.worker}) is not a workflow step: insert it with "
            f"Workflow.insert() to read {reading}"
        )
    return workflow_id, step, job.id


async def load_context(oban: Oban, job: Job) -> StepContext | None:
    """The step row for ``job``, or None when Baton has no record of it.

    The same statement broadcasts the step's ``executing`` event.
    """
    prefix = _oban.prefix(oban)
    params = {"job_id": job.id, "worker": job.worker, "attempt": job.attempt}
    async with _oban.single(oban) as conn:
        with schema_guard(prefix):
            cursor = await conn.execute(_sql.query("step_context.sql", prefix), params)
            row = await cursor.fetchone()
    if row is None:
        return None
    workflow_id, name, performed, deps, ign_c, ign_x, ign_d, cancelled, upstream, _sent = row
    return StepContext(
        workflow_id=workflow_id,
        name=name,
        performed=performed,
        deps=tuple(deps),
        ignore_cancelled=ign_c,
        ignore_discarded=ign_x,
        ignore_deleted=ign_d,
        workflow_cancelled=cancelled,
        upstream=None if upstream is None else tuple((dep, state) for dep, state in upstream),
    )


async def store_result(oban: Oban, job: Job, encoded: str | None, usage: str | None = None) -> bool:
    """Record that the step performed, with its JSON result and LLM usage.

    Returns False when an earlier attempt already recorded them (nothing is overwritten).
    """
    prefix = _oban.prefix(oban)
    params = {"job_id": job.id, "attempt": job.attempt, "result": encoded, "usage": usage}
    async with _oban.single(oban) as conn:
        with schema_guard(prefix):
            cursor = await conn.execute(_sql.query("store_result.sql", prefix), params)
    return cursor.rowcount == 1


@dataclass(frozen=True, slots=True)
class DepRow:
    """A dep's stored state, as read for ``get_result``."""

    name: str
    group: str | None
    outcome: str | None
    performed: bool
    result: Any
    model: str | None = None
    by_model: bool = False


async def dep_rows(
    oban: Oban, job_id: int, names: list[str] | None
) -> tuple[str, str, tuple[str, ...], list[DepRow]] | None:
    """The asking step's (workflow, name, deps) and the rows of ``names`` (default: deps)."""
    prefix = _oban.prefix(oban)
    async with _oban.single(oban) as conn:
        with schema_guard(prefix):
            cursor = await conn.execute(
                _sql.query("dep_results.sql", prefix), {"job_id": job_id, "names": names}
            )
            rows = await cursor.fetchall()
    if not rows:
        return None
    workflow_id, name, deps = rows[0][:3]
    found = [DepRow(*row[3:]) for row in rows if row[3] is not None]
    return workflow_id, name, tuple(deps), found


async def step_rows(oban: Oban, workflow_id: str, under: str | None = None) -> list[DepRow]:
    """The rows of a workflow's steps in insert order; with ``under``, those under ``under/``
    (a sub-workflow's steps, or the ones a step added)."""
    prefix = _oban.prefix(oban)
    async with _oban.single(oban) as conn:
        with schema_guard(prefix):
            cursor = await conn.execute(
                _sql.query("step_rows.sql", prefix), {"workflow_id": workflow_id, "path": under}
            )
            return [DepRow(*row) for row in await cursor.fetchall()]


async def step_result(oban: Oban, workflow_id: str, name: str) -> tuple[bool, Any] | None:
    """``(performed, value)`` of one step, or None when there is no such step."""
    prefix = _oban.prefix(oban)
    async with _oban.single(oban) as conn:
        with schema_guard(prefix):
            cursor = await conn.execute(
                _sql.query("step_result.sql", prefix), {"workflow_id": workflow_id, "name": name}
            )
            row = await cursor.fetchone()
    if row is None:
        return None
    performed, result = row
    return performed, None if result is None else result["value"]
