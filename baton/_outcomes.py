"""What ``perform_workflow`` may return besides a plain value.

``Snooze`` and ``Cancel`` are Oban's own; ``Discard`` and ``Error`` complete the seed's
return forms (``{:discard, reason}`` and ``{:error, reason}``); ``Complete`` adds steps
and context to the workflow along with the value.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from oban import Cancel, Snooze

__all__ = ["Cancel", "Complete", "Discard", "Error", "Snooze"]


@dataclass(frozen=True, slots=True)
class Discard:
    """Fail the step now, whatever attempts are left.

    Example:
        >>> async def perform_workflow(self, job):
        ...     if not job.args.get("url"):
        ...         return Discard("no url given")
    """

    reason: str


@dataclass(frozen=True, slots=True)
class Error:
    """Fail this attempt: the step is retried, or discarded when no attempts are left.

    Returning ``Error(reason)`` is the same as raising; it reads better when the failure is
    an expected outcome (a rate limit, a refusal) rather than a bug.
    """

    reason: str


class StepFailed(Exception):
    """Raised into Oban for ``Error`` and ``Discard``, so the reason lands in ``errors``."""


@dataclass(frozen=True, slots=True)
class Complete:
    """Complete the step with a value, adding steps to the workflow and context values.

    The value, the added steps and the context are written in one transaction, before
    the step's job completes: the steps that depend on this one wait for every added
    step as well, with no moment in which they could start early, and a retry of this
    step finds everything already written.

    Args:
        value: the step's result, as a plain return value would be.
        add: steps to add: a ``Workflow`` built for them, or a dict of name to a job
            (one step) or a list of jobs (a group). They are stored under this step's
            path (``plan/summary[0]``), start once this step completes, and every step
            downstream of this one waits for them; it reads them as a group with
            ``get_result(job, "plan/summary")``.
        context: workflow context values to add; a key already set keeps its value
            (setting it to another raises ``ContextConflict`` and discards the step).
        skip: names of this step's direct dependents to skip (a branch not taken), or of
            a group of them (its members that depend on this step); inside a
            sub-workflow, names are relative to it first. They settle ``skipped`` without
            running, and so does every step all of whose deps were skipped; a step with
            some deps skipped and the others completed runs. Naming anything else raises
            ``InvalidSkip`` and discards the step, writing nothing. The steps ``add`` adds
            in the same ``Complete`` cannot be named (they run); a skipped dependent is
            skipped at once, without waiting for them.

    Example:
        >>> async def perform_workflow(self, job):
        ...     docs = await baton.get_result(job, "search")
        ...     return baton.Complete(
        ...         {"count": len(docs)},
        ...         add={"summary": [Summarize.new({"doc": doc}) for doc in docs]},
        ...     )
    """

    value: Any = None
    add: Any = field(default=None, kw_only=True)
    context: Mapping[str, Any] | None = field(default=None, kw_only=True)
    skip: Collection[str] | None = field(default=None, kw_only=True)
