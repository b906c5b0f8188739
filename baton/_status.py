"""What ``baton.status``, ``list_workflows`` and ``usage`` return: read-only snapshots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ._names import namespace


@dataclass(frozen=True, slots=True)
class StepStatus:
    """One step's state as stored now.

    ``state`` is the job's Oban state (``suspended`` while waiting for deps), or
    ``deleted`` once its job row is gone without having settled. ``error`` is its last
    error as the exception's type and message, whole (``"ValueError: bad input"``), or the
    reason given to ``Cancel``, ``Discard`` or ``Error``; ``traceback`` is that error as
    Oban stored it, with the traceback when there is one. ``name`` is a path for the steps of a
    sub-workflow (``research/fetch``) and for steps added at run time
    (``plan/summary[0]``); ``model`` is the model the workflow maps the step to.
    ``queue`` is the Oban queue its job waits in; ``scheduled_at`` is when the job is due
    to run (for a ``retryable`` or ``scheduled`` step, when its next attempt runs);
    ``errored_at`` is when its last error was recorded.

    ``signal`` marks a signal step (``Workflow.add_signal``): its state is
    ``awaiting_signal`` while it is ready and waits for ``baton.signal``; ``signalled_at``
    is when its signal was stored (it may come before the step is ready), and
    ``signal_due_at`` when its wait ends, if it has a timeout.
    """

    name: str
    state: str
    worker: str
    attempt: int | None
    max_attempts: int | None
    deps: tuple[str, ...]
    group: str | None
    inserted_at: datetime | None
    attempted_at: datetime | None
    settled_at: datetime | None
    error: str | None
    result_stored: bool
    cost_usd: Decimal | None
    model: str | None = None
    queue: str = ""
    scheduled_at: datetime | None = None
    errored_at: datetime | None = None
    traceback: str | None = None
    signal: bool = False
    signalled_at: datetime | None = None
    signal_due_at: datetime | None = None

    @property
    def parent(self) -> str | None:
        """The sub-workflow, or the step that added this one, by path; None at the top."""
        return namespace(self.name)


@dataclass(frozen=True, slots=True)
class WorkflowStatus:
    """A workflow's state: ``running``, ``completed``, ``failed`` or ``cancelled``.

    ``cancelled_at`` is when ``baton.cancel`` was called on it. ``unserved_queues`` maps
    each queue that waiting steps need but no running node serves (none runs it, or it is
    paused) to those steps' names: they will not run until a node starts that queue
    (``baton start --queues emails:5``). Empty once the workflow is no longer running.
    ``reason`` says why a workflow failed as a whole (``deadline``, ``budget``); None when
    its steps' own outcomes decided it. A workflow that failed as a whole is ``failed``
    even though its unfinished steps were cancelled (``cancelled_at`` is then when that
    happened). ``deadline_at`` is when the workflow fails unless finished (None: no
    deadline); ``unique_key`` is the key no other unfinished workflow may hold.
    ``budget_usd``, ``budget_tokens`` and ``max_steps`` are its limits
    (``docs/budgets.md``); ``spent_tokens`` the tokens charged to them.
    """

    id: str
    name: str | None
    state: str
    counts: dict[str, int]
    steps: tuple[StepStatus, ...]
    inserted_at: datetime
    finished_at: datetime | None
    duration_ms: float
    cost_usd: Decimal | None
    cancelled_at: datetime | None = None
    unserved_queues: dict[str, tuple[str, ...]] = field(default_factory=dict)
    reason: str | None = None
    deadline_at: datetime | None = None
    unique_key: str | None = None
    budget_usd: Decimal | None = None
    budget_tokens: int | None = None
    spent_tokens: int = 0
    max_steps: int | None = None

    def step(self, name: str) -> StepStatus:
        """The status of one step by name."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"workflow {self.id!r} has no step {name!r}")


@dataclass(frozen=True, slots=True)
class WorkflowSummary:
    """One workflow in :func:`list_workflows`.

    ``settled_steps`` have finished one way or another, ``completed_steps`` successfully;
    ``cost_usd`` sums the steps whose LLM cost is known (None when none is).
    """

    id: str
    name: str | None
    state: str
    step_count: int
    settled_steps: int
    completed_steps: int
    inserted_at: datetime
    finished_at: datetime | None
    duration_ms: float
    cost_usd: Decimal | None


@dataclass(frozen=True, slots=True)
class StepUsage:
    """What one step's LLM calls consumed, with their cost (None for an unknown model)."""

    step: str
    model: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    latency_ms: float | None
    cost_usd: Decimal | None


@dataclass(frozen=True, slots=True)
class WorkflowUsage:
    """Totals over a workflow's steps; ``cost_usd`` sums the steps whose cost is known."""

    workflow_id: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: Decimal
    unpriced_steps: tuple[str, ...]
    steps: tuple[StepUsage, ...]


__all__: Sequence[str] = [
    "StepStatus",
    "StepUsage",
    "WorkflowStatus",
    "WorkflowSummary",
    "WorkflowUsage",
]
