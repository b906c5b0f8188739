"""Operations on stored workflows: list, status, usage, cancel and retry."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from oban import Job, Oban
from psycopg.errors import DeadlockDetected

from . import _oban, store
from ._status import StepStatus, StepUsage, WorkflowStatus, WorkflowSummary, WorkflowUsage
from ._usage import TOKEN_FIELDS
from .errors import InvalidOption, UnknownWorkflow

#: Tries of Oban's cancel of a workflow's jobs when it deadlocks with a settlement.
CANCEL_ATTEMPTS = 3


def _cost(usage: dict[str, Any] | None) -> Decimal | None:
    if not usage or usage.get("cost_usd") is None:
        return None
    return Decimal(usage["cost_usd"])


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def check_id(workflow_id: object) -> str:
    """The id itself, or UnknownWorkflow for a value no workflow can have as its id.

    Ids are stored as text: a non-string, or a string with a NUL character (which
    PostgreSQL text cannot hold), names no workflow. Raising UnknownWorkflow for them, as
    for any other unknown id, keeps callers to one error (a web handler's 404, say).
    """
    if not isinstance(workflow_id, str):
        raise UnknownWorkflow(
            f"no workflow with id {workflow_id!r}: workflow ids are strings, "
            f"got {type(workflow_id).__name__}"
        )
    if "\x00" in workflow_id:
        raise UnknownWorkflow(
            f"no workflow with id {workflow_id[:200]!r}: it contains a NUL character, "
            "which no stored id can"
        )
    return workflow_id


WORKFLOW_STATES = ("running", "completed", "failed", "cancelled")


async def list_workflows(
    *, limit: int = 20, state: str | None = None, oban: Oban | str | None = None
) -> list[WorkflowSummary]:
    """The most recently inserted workflows, newest first.

    Args:
        limit: at most this many.
        state: only workflows in this state: ``running``, ``completed``, ``failed`` or
            ``cancelled``.
        oban: the Oban instance (or its name) whose database to read; default ``"Oban"``.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidOption(f"limit must be a positive integer, got {limit!r}")
    if state is not None and state not in WORKFLOW_STATES:
        raise InvalidOption(f"state must be one of {', '.join(WORKFLOW_STATES)}, got {state!r}")
    now = datetime.now(UTC)
    summaries = []
    for row in await store.list_workflows(_oban.instance(oban), limit, state):
        started = row.inserted_at.replace(tzinfo=UTC)
        ended = _utc(row.finished_at)
        summaries.append(
            WorkflowSummary(
                id=row.id,
                name=row.name,
                state=row.state,
                step_count=row.step_count,
                settled_steps=row.settled_steps,
                completed_steps=row.completed_steps,
                inserted_at=started,
                finished_at=ended,
                duration_ms=((ended or now) - started).total_seconds() * 1000,
                cost_usd=row.cost_usd,
            )
        )
    return summaries


async def status(workflow_id: str, *, oban: Oban | str | None = None) -> WorkflowStatus:
    """The workflow's state, counts per step state, and every step's details.

    Raises:
        UnknownWorkflow: no workflow has that id.
    """
    workflow_id = check_id(workflow_id)
    instance = _oban.instance(oban)
    workflow, rows = await store.workflow_steps(instance, workflow_id)
    steps = tuple(
        StepStatus(
            name=row.name,
            state=row.state,
            worker=row.worker,
            attempt=row.attempt,
            max_attempts=row.max_attempts,
            deps=tuple(row.deps),
            group=row.group,
            inserted_at=_utc(row.inserted_at),
            attempted_at=_utc(row.attempted_at),
            settled_at=_utc(row.settled_at),
            error=row.error,
            result_stored=row.result_stored,
            cost_usd=_cost(row.usage),
            model=row.model,
            queue=row.queue,
            scheduled_at=_utc(row.scheduled_at),
            errored_at=_utc(row.errored_at),
            traceback=row.traceback,
            signal=row.signal,
            signalled_at=_utc(row.signalled_at),
            signal_due_at=_utc(row.signal_due_at),
        )
        for row in rows
    )
    counts: dict[str, int] = {}
    for step_status in steps:
        counts[step_status.state] = counts.get(step_status.state, 0) + 1
    started = workflow.inserted_at.replace(tzinfo=UTC)
    ended = _utc(workflow.finished_at) or datetime.now(UTC)
    costs = [s.cost_usd for s in steps if s.cost_usd is not None]
    state = "cancelled" if workflow.cancelled_at else (workflow.outcome or "running")
    if workflow.reason is not None:  # failed as a whole (deadline, budget), even if cancelled
        state = "failed"
    unserved = await _unserved(instance, steps) if state == "running" else {}
    return WorkflowStatus(
        id=workflow.id,
        name=workflow.name,
        state=state,
        counts=counts,
        steps=steps,
        inserted_at=started,
        finished_at=_utc(workflow.finished_at),
        duration_ms=(ended - started).total_seconds() * 1000,
        cost_usd=sum(costs, Decimal(0)) if costs else None,
        cancelled_at=_utc(workflow.cancelled_at),
        unserved_queues=unserved,
        reason=workflow.reason,
        deadline_at=_utc(workflow.deadline_at),
        unique_key=workflow.unique_key,
        budget_usd=workflow.budget_usd,
        budget_tokens=workflow.budget_tokens,
        spent_tokens=workflow.spent_tokens,
        max_steps=workflow.max_steps,
    )


WAITING = frozenset(
    ("suspended", "available", "scheduled", "snoozed", "retryable", "awaiting_signal")
)


async def _unserved(oban: Oban, steps: tuple[StepStatus, ...]) -> dict[str, tuple[str, ...]]:
    """The queues waiting steps need that no running node serves, with those steps."""
    waiting: dict[str, list[str]] = {}
    for step in steps:
        if step.state in WAITING and step.queue:
            waiting.setdefault(step.queue, []).append(step.name)
    served = await store.served_queues(oban, waiting)
    return {queue: tuple(names) for queue, names in waiting.items() if queue not in served}


async def usage(workflow_id: str, *, oban: Oban | str | None = None) -> WorkflowUsage:
    """Token and cost totals of a workflow, with one row per step that reported usage.

    Raises:
        UnknownWorkflow: no workflow has that id.
    """
    workflow_id = check_id(workflow_id)
    _workflow, rows = await store.workflow_usage(_oban.instance(oban), workflow_id)
    steps = tuple(
        StepUsage(
            step=row.name,
            model=row.usage.get("model"),
            latency_ms=row.usage.get("latency_ms"),
            cost_usd=_cost(row.usage),
            **{name: int(row.usage.get(name) or 0) for name in TOKEN_FIELDS},
        )
        for row in rows
    )
    return WorkflowUsage(
        workflow_id=workflow_id,
        cost_usd=sum((s.cost_usd for s in steps if s.cost_usd is not None), Decimal(0)),
        unpriced_steps=tuple(s.step for s in steps if s.cost_usd is None),
        steps=steps,
        **{name: sum(getattr(s, name) for s in steps) for name in TOKEN_FIELDS},
    )


async def cancel(workflow_id: str, *, oban: Oban | str | None = None) -> int:
    """Cancel every unfinished step of a workflow.

    Steps that are available, scheduled or retryable are cancelled at once, and so are
    steps still waiting for deps, without running; executing ones get Oban's cancellation
    signal, on whichever node runs them, which interrupts their ``perform_workflow``
    (unless the worker is ``interruptible=False``; then ``job.cancelled()`` turns true)
    and stores nothing it returns. A waiting step whose worker defines
    ``on_dep_cancelled`` or ``on_dep_discarded`` is instead activated as its deps settle,
    calls ``on_dep_cancelled`` and cancels itself. Cancelling a finished workflow changes
    nothing.

    Returns:
        The number of jobs Oban cancelled or signalled now.

    Raises:
        UnknownWorkflow: no workflow has that id.
    """
    workflow_id = check_id(workflow_id)
    instance = _oban.instance(oban)
    await store.cancel(instance, workflow_id)
    return await cancel_workflow_jobs(instance, workflow_id)


async def cancel_workflow_jobs(
    instance: Oban, workflow_id: str, *, sparing: int | None = None
) -> int:
    """Cancel (or signal) the jobs of a workflow marked cancelled, but the job ``sparing``."""
    return await cancel_jobs(
        instance, list(await store.cancellable_jobs(instance, workflow_id, sparing))
    )


async def cancel_jobs(instance: Oban, job_ids: list[Job | int]) -> int:
    """Cancel jobs through Oban (signalling the executing ones); how many it cancelled."""
    # Oban cancels the jobs in one statement, in its own order, while acks of the same
    # workflow's steps settle them (and lock their dependents) at commit: PostgreSQL may
    # then abort one side as a deadlock. Cancelling again is safe (settled jobs are left
    # as they are), so the cancel is retried rather than surfaced.
    attempt = 1
    while True:
        try:
            return await _oban.cancel_jobs(instance, job_ids)
        except DeadlockDetected:
            if attempt == CANCEL_ATTEMPTS:
                raise
            attempt += 1


async def retry(workflow_id: str, *, oban: Oban | str | None = None) -> list[str]:
    """Re-run a workflow's cancelled, discarded and deleted steps, and so what follows.

    Completed steps keep their stored results and are not run again. Steps whose deps
    are all completed become available; the others wait, suspended, as on insert. A
    workflow with a deadline gets as long again, counted from the retry.

    Returns:
        The names of the steps that will run again (empty when nothing had failed).

    Raises:
        UnknownWorkflow: no workflow has that id.
        WorkflowError: a failed step's job row was deleted (pruned), so it cannot re-run;
            nothing is changed.
        DuplicateWorkflow: another unfinished workflow now holds its ``unique_key``;
            nothing is changed.
    """
    workflow_id = check_id(workflow_id)
    return await store.retry(_oban.instance(oban), workflow_id)
