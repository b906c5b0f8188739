"""``Workflow.add_signal``: a step that waits for ``baton.signal`` (see ``baton._signal``).

A mixin of ``Workflow``: the step is an ordinary step whose job runs Baton's signal
worker, marked as a signal step with its timeout, so the insert, the graph checks, groups
and sub-workflows treat it like any other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Self

from oban import Job

from ..errors import InvalidStep
from . import _checks
from ._step import Step, label

#: The worker of every signal step (``baton._signal.SignalStep``), named rather than
#: imported: the worker machinery imports the builder.
SIGNAL_WORKER = "baton._signal.SignalStep"

#: The queue a signal step's job uses unless ``add_signal(queue=)`` says otherwise: the
#: queue ``@baton.worker`` uses by default, which ``baton start`` serves unless told not to.
DEFAULT_QUEUE = "default"


def check_timeout(timeout: object, where: str) -> float | None:
    """A signal step's timeout: None, or a positive finite number of seconds."""
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise InvalidStep(
            f"{where}: timeout must be a positive number of seconds or None, got {timeout!r}"
        )
    return float(timeout)


def check_queue(queue: object, where: str) -> str:
    """A signal step's queue: a non-blank string."""
    if not isinstance(queue, str) or not queue.strip():
        raise InvalidStep(f"{where}: queue must be a non-blank string, got {queue!r}")
    return queue


class SignalSteps:
    """``Workflow.add_signal``, as a mixin of the builder."""

    _steps: dict[str, Step]
    _check_name: Callable[[str], None]

    def add_signal(
        self,
        name: str,
        deps: Iterable[str] | str = (),
        *,
        timeout: float | None = None,
        queue: str = DEFAULT_QUEUE,
        ignore_cancelled: bool | None = None,
        ignore_discarded: bool | None = None,
        ignore_deleted: bool | None = None,
    ) -> Self:
        """Add a step that waits, once ``deps`` have finished, for ``baton.signal``.

        The signal's payload becomes the step's result (``baton.get_result(job, name)``
        downstream). A signal sent before the deps finish is kept and applies when they
        do. While it waits the step takes no queue slot; then its job runs Baton's own
        worker in ``queue`` for a moment, to complete it.

        Args:
            name: the step's name (same rules as ``add``).
            deps: what the step waits for before it waits for its signal.
            timeout: seconds to wait for the signal once ready; then the step is
                discarded with the reason ``no signal within N s``, and its dependents run
                or are cancelled by the ignore flags. None waits for ever.
            queue: the queue of the step's job (default ``"default"``); some node must
                serve it (``baton.status`` lists it in ``unserved_queues`` otherwise).
            ignore_cancelled: override the workflow's default for this step.
            ignore_discarded: override the workflow's default for this step.
            ignore_deleted: override the workflow's default for this step.

        Returns:
            The workflow, so calls chain.
        """
        where = f"signal step {name!r} in workflow {label(self)}"  # type: ignore[arg-type]
        self._check_name(name)
        seconds = check_timeout(timeout, where)
        job = Job(worker=SIGNAL_WORKER, queue=check_queue(queue, where), max_attempts=5)
        step = _checks.new_step(
            where,
            name,
            job,
            deps,
            ignore_cancelled=ignore_cancelled,
            ignore_discarded=ignore_discarded,
            ignore_deleted=ignore_deleted,
        )
        self._steps[name] = replace(step, signal=True, signal_timeout=seconds)
        return self


__all__: Sequence[str] = [
    "DEFAULT_QUEUE",
    "SIGNAL_WORKER",
    "SignalSteps",
    "check_queue",
    "check_timeout",
]
