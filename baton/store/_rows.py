"""Rows as the store reads them: one frozen dataclass per statement's columns.

Each statement in ``baton/sql`` names its columns after the fields of the class it is read
into (psycopg's ``class_row``), so no caller unpacks a row by position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class InsertedJob:
    """A step's job as ``insert_workflow.sql`` inserted it."""

    step: str
    id: int
    state: str
    queue: str
    inserted_at: datetime
    scheduled_at: datetime


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
        upstream: ``(step, state)`` of every expanded dep, read only when the counters say
            the step is not clear to run; None when every dep completed or is ignored.
        workflow_cancelled: ``baton.cancel`` was called on the workflow, or it failed as
            a whole (a deadline, a budget).
        workflow_reason: why it failed as a whole (``deadline``, ``budget``); None otherwise.
        skipped: Baton skipped the step (branches): its worker acks it without running.
        traceparent: the W3C trace context stored with the workflow at insert, or None.
        budgeted: the workflow has a cost or token budget (its usage is charged to it).
        capture: the workflow captures its steps' calls (``Workflow(capture=True)``).
    """

    workflow_id: str
    name: str
    performed: bool
    deps: Sequence[str]
    ignore_cancelled: bool
    ignore_discarded: bool
    ignore_deleted: bool
    upstream: Sequence[Sequence[str]] | None
    workflow_cancelled: bool = False
    workflow_reason: str | None = None
    skipped: bool = False
    traceparent: str | None = None
    budgeted: bool = False
    capture: bool = False


@dataclass(frozen=True, slots=True)
class StepRow:
    """A step's stored state, as results are read from it."""

    name: str
    group: str | None
    outcome: str | None
    performed: bool
    result: Any
    model: str | None = None
    by_model: bool = False


@dataclass(frozen=True, slots=True)
class DepLookup:
    """The asking step (``workflow_id``, ``step``, ``deps``) beside one dep's row.

    The dep's columns are None when the asking step has no such dep (a left join).
    """

    workflow_id: str
    step: str
    deps: Sequence[str]
    name: str | None
    group: str | None
    outcome: str | None
    performed: bool | None
    result: Any
    model: str | None
    by_model: bool | None


@dataclass(frozen=True, slots=True)
class StoredResult:
    """Whether a step performed, and the JSON it stored (``{"value": ...}``) if any."""

    performed: bool
    result: Any

    @property
    def value(self) -> Any:
        """What the step returned, or None when it stored no value."""
        return None if self.result is None else self.result["value"]


@dataclass(frozen=True, slots=True)
class LockedStep:
    """A step read under its workflow's row lock, before its completion is written."""

    workflow_id: str
    name: str
    outcome: str | None
    workflow_cancelled: bool
    context: dict[str, Any]
    step_count: int = 0
    max_steps: int | None = None
    budgeted: bool = False


@dataclass(frozen=True, slots=True)
class WorkflowRow:
    """A row of ``baton_workflows``, as status readers need it."""

    id: str
    name: str | None
    inserted_at: datetime
    finished_at: datetime | None
    cancelled_at: datetime | None
    outcome: str | None
    reason: str | None
    unsettled: int
    step_count: int
    deadline_at: datetime | None = None
    unique_key: str | None = None
    budget_usd: Decimal | None = None
    budget_tokens: int | None = None
    spent_tokens: int = 0
    max_steps: int | None = None


@dataclass(frozen=True, slots=True)
class StepStatusRow:
    """A step with its job's state, as ``baton.status`` reports it."""

    name: str
    state: str
    worker: str
    attempt: int | None
    max_attempts: int | None
    deps: Sequence[str]
    group: str | None
    inserted_at: datetime | None
    attempted_at: datetime | None
    scheduled_at: datetime | None
    settled_at: datetime | None
    error: str | None
    errored_at: datetime | None
    traceback: str | None
    result_stored: bool
    usage: dict[str, Any] | None
    model: str | None
    queue: str
    signal: bool = False
    signalled_at: datetime | None = None
    signal_due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UsageRow:
    """A step's recorded LLM usage."""

    name: str
    usage: dict[str, Any]


@dataclass(frozen=True, slots=True)
class GraphRow:
    """A step as the graph exports draw it: its state and the steps it waits for."""

    name: str
    group: str | None
    state: str
    upstream: Sequence[str]


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """A workflow in the list, with its step counts and cost."""

    id: str
    name: str | None
    state: str
    step_count: int
    settled_steps: int
    completed_steps: int
    cost_usd: Decimal | None
    inserted_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class ResetStep:
    """A failed step ``retry`` reset, and whether its job row still exists."""

    name: str
    job_id: int
    job_exists: bool


@dataclass(frozen=True, slots=True)
class SweptStep:
    """A step the sweep settled or activated, with the state it left it in."""

    workflow_id: str
    name: str
    state: str


@dataclass(frozen=True, slots=True)
class StuckStep:
    """A suspended step whose deps have all settled; ``doomed`` when it must be cancelled."""

    workflow_id: str
    name: str
    job_id: int
    doomed: bool


@dataclass(frozen=True, slots=True)
class ActivatedJob:
    """A job the sweep made available (or scheduled)."""

    job_id: int
    state: str


@dataclass(frozen=True, slots=True)
class Edge:
    """One dependency: ``downstream`` waits for ``upstream``."""

    upstream: str
    downstream: str


@dataclass(frozen=True, slots=True)
class ResultPreview:
    """The start of a step's stored result, as JSON text."""

    name: str
    preview: str


@dataclass(frozen=True, slots=True)
class PruneCandidate:
    """A finished workflow chosen for one batch of the pruning."""

    id: str
    finished_at: datetime
    step_count: int


@dataclass(frozen=True, slots=True)
class PruneCount:
    """The rows pruning a batch of workflows deletes (or, in a dry run, would delete)."""

    steps: int
    edges: int
    jobs: int
    workflows: int


@dataclass(frozen=True, slots=True)
class UsageReportRow:
    """One group of ``usage/report.sql``; ``grouped`` is false for the period's totals."""

    grouped: bool
    key: str | None
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: Decimal
    unpriced_calls: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None


@dataclass(frozen=True, slots=True)
class SignalTarget:
    """The step ``baton.signal`` names and its workflow, read under the workflow's lock."""

    workflow_id: str
    workflow_name: str | None
    outcome: str | None
    cancelled_at: datetime | None
    step: str | None
    signal: bool | None
    signalled_at: datetime | None
    signal_expired_at: datetime | None
    signal_timeout: float | None
    step_outcome: str | None
    pending: int | None
    blocked: int | None
    job_id: int | None
    worker: str | None


@dataclass(frozen=True, slots=True)
class SignalStored:
    """What storing a signal did: when, and whether it completed the waiting step."""

    signalled_at: datetime
    started: bool


@dataclass(frozen=True, slots=True)
class SignalTaken:
    """What the signal worker found on its step: the stored payload, if it was signalled."""

    signalled: bool
    payload: dict[str, Any] | None
    timeout: float | None


@dataclass(frozen=True, slots=True)
class Admission:
    """What ``limits/acquire.sql`` decided for one call under a rate limit.

    Attributes:
        granted: the call may run now.
        call_id: the row recording the admitted call (None when not granted or unknown).
        wait_seconds: when not granted, how long until it would fit (or the pause ends).
        known: whether the key has a row (a limit, or a pause, was ever set).
    """

    granted: bool
    call_id: int | None
    wait_seconds: float
    known: bool


@dataclass(frozen=True, slots=True)
class LimitRow:
    """A rate limit's key, its limits, and what its window holds (``limits/list.sql``)."""

    key: str
    requests_per_minute: int | None
    tokens_per_minute: int | None
    window_seconds: float
    paused_until: datetime | None
    requests_used: int
    tokens_used: int


@dataclass(frozen=True, slots=True)
class Charge:
    """What charging a step's usage to its workflow's budgets did.

    Attributes:
        stops: this charge reached a budget and stopped the workflow (reason ``budget``).
        unpriced: the usage had no cost although the workflow has a cost budget.
    """

    stops: bool
    unpriced: bool


@dataclass(frozen=True, slots=True)
class CallRow:
    """One captured call of a step attempt."""

    step: str
    attempt: int
    seq: int
    captured_at: datetime
    request: Any
    response: Any
    bytes: int
    truncated: bool


@dataclass(frozen=True, slots=True)
class CallCount:
    """How many calls one step captured."""

    step: str
    calls: int
