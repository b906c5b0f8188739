"""What a workflow's steps write and read while they run.

Inserting a workflow, the worker's read of its step before it runs, storing a result
(alone, or with steps added at run time and context, in one transaction), and reading
stored results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from oban import Job, Oban
from oban.job import JobState
from psycopg import AsyncConnection, errors

from .. import _oban
from ..errors import DuplicateWorkflow, TooManySteps, WorkflowError
from . import _execute as db
from . import _flow
from ._budget import NO_CHARGE, charge
from ._rows import (
    Charge,
    DepLookup,
    InsertedJob,
    LockedStep,
    StepContext,
    StepRow,
    StoredResult,
)
from ._skips import Skip, skip_targets


async def insert_workflow(
    oban: Oban,
    conn: Any,
    record: Mapping[str, Any],
    steps: str,
    edges: str,
    jobs: Mapping[str, Job],
) -> None:
    """Insert the workflow, its jobs, steps and edges in one statement.

    ``conn`` is the caller's connection, cursor or SQLAlchemy session (the insert joins
    its transaction), or None for a transaction of its own. Each of ``jobs`` gets its
    inserted id, state, queue and timestamps.

    Raises:
        WorkflowError: a workflow with that id already exists, or another unique index
            refused a row (the message names the index, the table and the value).
        DuplicateWorkflow: an unfinished workflow holds the record's ``unique_key``; with
            ``conn``, the insert ran under a savepoint, so the caller's transaction goes on.
    """
    prefix = _oban.prefix(oban)
    params = {**record, "steps": steps, "edges": edges, "channel": _oban.insert_channel(prefix)}
    key = record.get("unique_key")

    async def insert(connection: AsyncConnection[Any]) -> list[InsertedJob]:
        try:
            return await db.rows(connection, "insert_workflow.sql", prefix, params, InsertedJob)
        except errors.UniqueViolation as error:
            if key is not None and _flow.is_unique_key_violation(error):
                raise _KeyTaken from error
            raise _collision(record["id"], error) from error

    for _attempt in range(UNIQUE_ATTEMPTS):
        try:
            if conn is not None:
                caller = await _oban.caller_connection(conn)
                if key is None:
                    inserted = await insert(caller)
                else:  # a savepoint: a duplicate leaves the caller's transaction usable
                    async with caller.transaction():
                        inserted = await insert(caller)
            else:
                async with _oban.pooled(oban) as pooled, pooled.transaction():
                    inserted = await insert(pooled)
            break
        except _KeyTaken:
            holder = await _flow.unique_holder(
                oban, str(key), await _oban.caller_connection(conn) if conn is not None else None
            )
            if holder is not None:
                raise _duplicate(record, str(key), holder, conn is not None) from None
    else:
        raise _duplicate(record, key or "", None, conn is not None)
    for row in inserted:
        job = jobs[row.step]
        job.id = row.id
        job.state = JobState(row.state)
        job.queue = row.queue
        job.inserted_at = row.inserted_at
        job.scheduled_at = row.scheduled_at


#: Inserts tried while the unique key's holder keeps finishing before it can be read.
UNIQUE_ATTEMPTS = 3


class _KeyTaken(Exception):
    """The insert hit the unique index of unfinished workflows' keys."""


def _duplicate(
    record: Mapping[str, Any], key: str, holder: str | None, joined: bool
) -> DuplicateWorkflow:
    held = f"unfinished workflow {holder!r}" if holder else "a workflow that keeps finishing"
    kept = "; the caller's transaction is still usable" if joined else ""
    return DuplicateWorkflow(
        f"workflow {record['name'] or record['id']!r} (id {record['id']!r}) was not inserted: "
        f"its unique_key {key!r} is held by {held}, which must finish first; nothing was "
        f"written{kept}",
        unique_key=key,
        workflow_id=holder,
    )


#: The primary keys that lead with the workflow id. The insert's one statement may hit a
#: step's or an edge's before the workflow's own; either way the id is taken, since the
#: builder gives each step and edge of a workflow its own key.
_WORKFLOW_KEYS = frozenset({"baton_workflows_pkey", "baton_steps_pkey", "baton_edges_pkey"})


def _collision(workflow_id: str, error: errors.UniqueViolation) -> WorkflowError:
    """What a unique violation on insert means: only a workflow key says the id is taken."""
    diag = error.diag
    if diag.constraint_name in _WORKFLOW_KEYS:
        return WorkflowError(f"a workflow with id {workflow_id!r} already exists")
    detail = diag.message_detail or diag.message_primary or "no detail"
    return WorkflowError(
        f"inserting workflow {workflow_id!r} hit the unique index {diag.constraint_name!r} "
        f"on table {diag.schema_name}.{diag.table_name}: {detail}"
    )


def step_key(job: Job) -> dict[str, Any]:
    """What finds a job's step: the primary key its meta names, and the id the step recorded.

    Job ids alone are no identity: Oban's restart after a truncation while Baton's rows remain.
    """
    return {
        "workflow_id": job.meta.get("workflow_id"),
        "step": job.meta.get("workflow_step"),
        "job_id": job.id,
    }


async def step_context(oban: Oban, job: Job) -> StepContext | None:
    """The step row for ``job``, or None when Baton has no record of it.

    The same statement broadcasts the step's ``executing`` event.
    """
    params = {**step_key(job), "worker": job.worker, "attempt": job.attempt}
    async with _oban.single(oban) as conn:
        return await db.row(conn, "step_context.sql", _oban.prefix(oban), params, StepContext)


#: What a result's write did: ``stored`` it; found it ``already`` stored by an earlier
#: attempt (nothing is overwritten); or ``refused`` it because the workflow was cancelled
#: and the step is interruptible. Only ``stored`` wrote anything.
type Stored = Literal["stored", "already", "refused"]


async def store_result(
    oban: Oban,
    job: Job,
    encoded: str | None,
    usage: str | None = None,
    *,
    unless_cancelled: bool = False,
) -> Stored:
    """Record that the step performed, with its JSON result and LLM usage.

    With ``unless_cancelled``, nothing is written once the workflow's cancel is committed.
    """
    params = result_params(job, encoded, usage, unless_cancelled)
    async with _oban.single(oban) as conn:
        [stored] = await db.values(conn, "store_result.sql", _oban.prefix(oban), params)
        return cast(Stored, stored)


async def store_charged_result(
    oban: Oban, job: Job, encoded: str | None, usage: str, *, unless_cancelled: bool = False
) -> Completion:
    """``store_result``, and the usage charged to the workflow's budgets, in one transaction.

    The workflow's row is locked first (the lock every settlement takes first), so the
    charges of steps finishing together on any number of nodes queue and add up. Nothing
    is charged when the result is not stored.
    """
    prefix = _oban.prefix(oban)
    key = step_key(job)
    async with _oban.pooled(oban) as conn, conn.transaction():
        reason = await db.values(
            conn, "budget/lock.sql", prefix, {"workflow_id": key["workflow_id"]}
        )
        params = result_params(job, encoded, usage, unless_cancelled)
        [stored] = await db.values(conn, "store_result.sql", prefix, params)
        if stored != "stored":
            return Completion(cast(Stored, stored), reason=reason[0] if reason else None)
        return Completion("stored", charged=await charge(conn, prefix, key["workflow_id"], usage))


def result_params(
    job: Job,
    encoded: str | None,
    usage: str | None,
    unless_cancelled: bool,
    skips: list[str] | None = None,
) -> dict[str, Any]:
    return {
        **step_key(job),
        "attempt": job.attempt,
        "result": encoded,
        "usage": usage,
        "unless_cancelled": unless_cancelled,
        "skips": skips,
    }


@dataclass(frozen=True, slots=True)
class Addition:
    """Steps a running step adds under its own path, as the JSON the insert reads."""

    adder: str
    steps: str
    edges: str
    count: int


@dataclass(frozen=True, slots=True)
class Completion:
    """What ``complete`` wrote.

    Attributes:
        stored: ``already`` when an earlier attempt had stored the result, ``refused``
            when the workflow was cancelled (and the step is interruptible); then nothing
            was written.
        skipped: why the addition was not made although the result was stored (the
            workflow was cancelled or reached its budget, or the step already settled);
            None when it was made or there was none.
        charged: what charging the usage to the workflow's budgets did.
        reason: why the workflow was stopped as a whole (``budget``), when a budgeted
            step's write found it so.
    """

    stored: Stored
    skipped: str | None = None
    charged: Charge = NO_CHARGE
    reason: str | None = None


class _NotStored(Exception):
    """The result was not stored (see ``Stored``); roll back what this one wrote."""

    def __init__(self, stored: Stored) -> None:
        super().__init__(stored)
        self.stored = stored


async def complete(
    oban: Oban,
    job: Job,
    encoded: str | None,
    usage: str | None,
    addition: Addition | None,
    context: Callable[[dict[str, Any], str], str] | None,
    *,
    unless_cancelled: bool = False,
    skip: Skip | None = None,
    shown: int = 20,
) -> Completion:
    """Store the result, the new context and the ``addition``'s steps in one transaction.

    The transaction first locks the workflow's row, the lock every settlement of the
    workflow takes first. ``context``, given the current context and the step's name,
    returns the merged context as JSON; an exception it raises rolls everything back.
    ``skip``'s dependents are checked against the step's edges and stored with the result;
    an exception its ``resolve`` raises (a name that is no direct dependent) rolls back.
    A budgeted workflow is charged the usage; an addition past its ``max_steps`` raises
    ``TooManySteps`` and rolls everything back.
    """
    prefix = _oban.prefix(oban)
    ids = step_key(job)
    skipped = None
    charged = NO_CHARGE
    try:
        async with _oban.pooled(oban) as conn, conn.transaction():
            if addition is not None:  # its StepsAdded event asks for presence: ask first
                await db.run(conn, "listened.sql", prefix, {"workflow_id": ids["workflow_id"]})
            step = await db.row(conn, "lock_step_workflow.sql", prefix, ids, LockedStep)
            skips = None
            if skip is not None and step is not None:
                targets = await skip_targets(conn, prefix, step.workflow_id, step.name, skip, shown)
                skips = skip.resolve(targets)
            result = result_params(job, encoded, usage, unless_cancelled, skips)
            [stored] = await db.values(conn, "store_result.sql", prefix, result)
            if stored != "stored" or step is None:
                raise _NotStored("already" if step is None else stored)
            if addition is not None:
                _check_max_steps(step, addition)
            if context is not None:
                merged = {
                    "workflow_id": step.workflow_id,
                    "context": context(step.context, step.name),
                }
                await db.run(conn, "set_context.sql", prefix, merged)
            if step.budgeted and usage is not None:
                charged = await charge(conn, prefix, step.workflow_id, usage)
            if addition is not None and charged.stops:
                skipped = "workflow reached its budget"
            elif addition is not None and step.workflow_cancelled:
                skipped = "workflow was cancelled"
            elif addition is not None and step.outcome is not None:
                skipped = f"step is {step.outcome}"
            elif addition is not None:
                added: dict[str, Any] = {
                    "workflow_id": step.workflow_id,
                    "adder": addition.adder,
                    "steps": addition.steps,
                    "edges": addition.edges,
                    "count": addition.count,
                    "events": _oban.events_channel(prefix),
                }
                await db.run(conn, "expand_workflow.sql", prefix, added)
    except _NotStored as refused:
        return Completion(stored=refused.stored)
    return Completion(stored="stored", skipped=skipped, charged=charged)


def _check_max_steps(step: LockedStep, addition: Addition) -> None:
    total = step.step_count + addition.count
    if step.max_steps is not None and total > step.max_steps:
        raise TooManySteps(
            f"step {step.name!r} of workflow {step.workflow_id!r} returned {addition.count} "
            f"steps to add, which would make {total} steps, past the workflow's "
            f"max_steps={step.max_steps}; nothing was written"
        )


async def dep_rows(
    oban: Oban, job: Job, names: list[str] | None
) -> tuple[tuple[str, ...], list[StepRow]] | None:
    """The asking step's declared deps and the rows of ``names`` (default: its deps).

    None when Baton has no step for the job.
    """
    params = {**step_key(job), "names": names}
    async with _oban.single(oban) as conn:
        found = await db.rows(conn, "dep_results.sql", _oban.prefix(oban), params, DepLookup)
    if not found:
        return None
    return tuple(found[0].deps), [
        StepRow(
            name=row.name,
            group=row.group,
            outcome=row.outcome,
            performed=bool(row.performed),
            result=row.result,
            model=row.model,
            by_model=bool(row.by_model),
        )
        for row in found
        if row.name is not None
    ]


async def step_rows(oban: Oban, workflow_id: str, under: str | None = None) -> list[StepRow]:
    """The rows of a workflow's steps in insert order; with ``under``, those under ``under/``
    (a sub-workflow's steps, or the ones a step added)."""
    params = {"workflow_id": workflow_id, "path": under}
    async with _oban.single(oban) as conn:
        return await db.rows(conn, "step_rows.sql", _oban.prefix(oban), params, StepRow)


async def step_result(oban: Oban, workflow_id: str, name: str) -> StoredResult | None:
    """Whether one step performed and what it stored, or None when there is no such step."""
    params = {"workflow_id": workflow_id, "name": name}
    async with _oban.single(oban) as conn:
        return await db.row(conn, "step_result.sql", _oban.prefix(oban), params, StoredResult)


async def workflow_context(oban: Oban, workflow_id: str) -> dict[str, Any] | None:
    """The workflow's context, or None when there is no such workflow."""
    params = {"workflow_id": workflow_id}
    async with _oban.single(oban) as conn:
        found = await db.values(conn, "workflow_context.sql", _oban.prefix(oban), params)
    return dict(found[0]) if found else None
