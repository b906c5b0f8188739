"""Budgets: a workflow's caps on cost and tokens, and on the steps added at run time.

``Workflow(budget_usd=..., budget_tokens=..., max_steps=...)``. Each step's usage (the
``llm_usage`` it reports, priced by its worker's ``Pricing``) is added to the workflow's
``spent_usd`` and ``spent_tokens`` in the transaction that stores the step's result,
which first takes the workflow's row lock — the lock every settlement of the workflow
takes first — so concurrent steps on any number of nodes add up exactly. When a total
reaches its budget, the charge marks the workflow cancelled with ``reason = 'budget'``:
the dep gate then lets no further step start, and the step that reached the budget
cancels the workflow's other unfinished jobs through ``baton.cancel``'s machinery
(executing ones are interrupted). The step itself keeps its result: its work is done and
paid for. The workflow finishes ``failed``, reason ``budget``.

Usage that its pricing cannot price (an unknown model) cannot be checked against a cost
budget, so in a workflow with ``budget_usd`` it stops the workflow as if the budget were
reached (a warning names the model): a cap that cannot be enforced is not a cap. Give the
worker a ``PriceTable`` that knows the model. Tokens are the sum of input, output, cache
read and cache write tokens the usage reports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from oban import Job, Oban
from psycopg import InterfaceError, OperationalError
from psycopg.errors import DeadlockDetected

from . import _control, store
from ._usage import LLMUsage
from .errors import InvalidBudget

logger = logging.getLogger("baton")


@dataclass(frozen=True, slots=True)
class Limits:
    """A workflow's budgets, its bound on steps, and whether its calls are captured."""

    budget_usd: Decimal | None = None
    budget_tokens: int | None = None
    max_steps: int | None = None
    capture: bool = False

    def record(self) -> dict[str, object]:
        """The workflow row's columns for these limits."""
        return {
            "budget_usd": None if self.budget_usd is None else str(self.budget_usd),
            "budget_tokens": self.budget_tokens,
            "max_steps": self.max_steps,
            "capture": self.capture,
        }

    def check_size(self, steps: int, where: str) -> None:
        """Raise InvalidBudget when a workflow of ``steps`` steps is over ``max_steps``."""
        if self.max_steps is not None and steps > self.max_steps:
            raise InvalidBudget(
                f"workflow {where} has {steps} steps, more than its max_steps={self.max_steps}"
            )


def check_nested(limits: Limits, where: str) -> None:
    """Refuse limits on a workflow that is mounted into another, where they would not apply.

    Raises:
        InvalidBudget: ``limits`` are not the defaults.
    """
    if limits != Limits():
        raise InvalidBudget(
            f"{where}: budget_usd, budget_tokens, max_steps and capture apply to the workflow "
            "that is inserted; set them there, not on a sub-workflow or on steps to add"
        )


def limits(
    budget_usd: object, budget_tokens: object, max_steps: object, capture: object, where: str
) -> Limits:
    """The limits given to ``Workflow()``, checked.

    Raises:
        InvalidBudget: a value is of the wrong type, not positive, or not finite.
    """
    return Limits(
        budget_usd=_usd(budget_usd, where),
        budget_tokens=_count("budget_tokens", budget_tokens, where),
        max_steps=_count("max_steps", max_steps, where),
        capture=_flag(capture, where),
    )


def _usd(value: object, where: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise InvalidBudget(
            f"workflow {where}: budget_usd must be a positive amount of US dollars (a number, "
            f"a Decimal or a decimal string), got {type(value).__name__} {value!r:.100}"
        )
    try:
        amount = Decimal(str(value)) if isinstance(value, float | str) else Decimal(value)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount <= 0:
        raise InvalidBudget(
            f"workflow {where}: budget_usd must be a positive, finite amount of US dollars, "
            f"got {value!r:.100}"
        )
    return amount


def _count(option: str, value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidBudget(
            f"workflow {where}: {option} must be a positive integer, got {value!r:.100}"
        )
    ceiling = 2**62 if option == "budget_tokens" else 2**31 - 1  # bigint, integer columns
    if value > ceiling:
        raise InvalidBudget(f"workflow {where}: {option} is too large: {value}")
    return value


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidBudget(f"workflow {where}: capture must be True or False, got {value!r:.100}")
    return value


def warn_unpriced(job: Job, model: str | None) -> None:
    """Log why a workflow with a cost budget stops on usage it cannot price."""
    logger.warning(
        "step %r of workflow %r reported usage of model %r, which its worker's pricing does "
        "not know: the workflow's budget_usd cannot be enforced, so it stops as if reached; "
        "give the worker a baton.PriceTable with that model",
        job.meta.get("workflow_step"),
        job.meta.get("workflow_id"),
        model,
    )


async def stop(oban: Oban, job: Job) -> int:
    """Cancel the unfinished jobs of the workflow ``job`` brought to its budget, but ``job``.

    The workflow is already marked (``cancelled_at``, ``reason``) by the statement that
    recorded the usage; this is the prompt half: waiting jobs are cancelled now and
    executing ones signalled, on every node. Should this process die before, the gate
    cancels each remaining step when it would start.
    """
    workflow_id = str(job.meta["workflow_id"])
    cancelled = await _control.cancel_workflow_jobs(oban, workflow_id, sparing=job.id)
    logger.info(
        "workflow %r reached its budget at step %r: %d job(s) cancelled",
        workflow_id,
        job.meta.get("workflow_step"),
        cancelled,
    )
    return cancelled


async def follow(oban: Oban, job: Job, charged: store.Charge, usage: LLMUsage | None) -> None:
    """What a charge calls for once committed: the warning, and the stop at the budget.

    A failure to cancel the other jobs is logged, not raised: the step's result is
    stored, and the gate cancels each remaining step when it would start.
    """
    if charged.unpriced:
        warn_unpriced(job, usage.model if usage else None)
    if not charged.stops:
        return
    try:
        await stop(oban, job)
    except (OperationalError, InterfaceError, DeadlockDetected) as error:
        logger.warning(
            "workflow %r reached its budget, but its other jobs could not be cancelled now "
            "(%s); each is cancelled when it would start",
            job.meta.get("workflow_id"),
            error,
        )
