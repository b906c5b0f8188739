"""The dep gate: whether a step may run, from its workflow and the states of its deps.

The worker asks it on every run, after the retry guard: ``Ready`` runs the step, ``Wait``
snoozes it without consuming an attempt, ``Blocked`` and ``Cancelled`` call the matching
callback and cancel it.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import store


@dataclass(frozen=True, slots=True)
class Ready:
    """Every dep completed or was skipped, or settled in a way this step ignores."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Some deps have not finished yet."""

    pending: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Blocked:
    """Some deps failed in a way this step does not ignore."""

    cancelled: tuple[str, ...]
    discarded: tuple[str, ...]
    deleted: tuple[str, ...]

    def reason(self) -> str:
        parts = [
            f"{label}: {', '.join(repr(name) for name in names)}"
            for label, names in (
                ("discarded", self.discarded),
                ("cancelled", self.cancelled),
                ("deleted", self.deleted),
            )
            if names
        ]
        return "dependencies did not complete (" + "; ".join(parts) + ")"


@dataclass(frozen=True, slots=True)
class Cancelled:
    """``baton.cancel`` was called on the workflow, or it failed as a whole (``why``:
    ``deadline``, ``budget``)."""

    workflow_id: str
    why: str | None = None

    def reason(self) -> str:
        if self.why == "deadline":
            return f"workflow {self.workflow_id!r} failed: its deadline passed"
        if self.why == "budget":
            return f"workflow {self.workflow_id!r} reached its budget"
        return f"workflow {self.workflow_id!r} was cancelled"


def gate(context: store.StepContext) -> Ready | Wait | Blocked | Cancelled:
    """Decide whether a step may run, from its workflow and the states of its deps."""
    if context.workflow_cancelled:
        return Cancelled(context.workflow_id, context.workflow_reason)
    if context.upstream is None:
        return Ready()
    failed: dict[str, list[str]] = {"cancelled": [], "discarded": [], "deleted": []}
    ignored = {
        "cancelled": context.ignore_cancelled,
        "discarded": context.ignore_discarded,
        "deleted": context.ignore_deleted,
    }
    pending = []
    for name, state in context.upstream:
        if state in failed and not ignored[state]:
            failed[state].append(name)
        elif state not in failed and state not in ("completed", "skipped"):
            pending.append(name)
    if any(failed.values()):
        return Blocked(
            tuple(failed["cancelled"]), tuple(failed["discarded"]), tuple(failed["deleted"])
        )
    if pending:
        return Wait(tuple(pending))
    return Ready()
