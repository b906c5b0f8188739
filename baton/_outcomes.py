"""What ``perform_workflow`` may return besides a plain value.

``Snooze`` and ``Cancel`` are Oban's own; ``Discard`` and ``Error`` complete the seed's
return forms (``{:discard, reason}`` and ``{:error, reason}``).
"""

from __future__ import annotations

from dataclasses import dataclass

from oban import Cancel, Snooze

__all__ = ["Cancel", "Discard", "Error", "Snooze"]


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
