"""Signal steps: a step completed from outside by ``baton.signal``, its payload its result.

``Workflow.add_signal`` adds a step whose job runs :class:`SignalStep`, Baton's own worker.
The step waits without taking a queue slot: once its deps settle, the settlement leaves its
job suspended (no timeout) or schedules it for the end of its wait
(``baton_await_signal``), unless a signal is already stored, in which case it becomes
available like any step. :func:`signal` stores the payload on the step row under the
workflow's row lock; when the step waits, the same transaction completes it (the payload
its result, its job ``completed``), and the settlement at commit activates its
dependents. The worker completes a step whose signal came before it was ready, with the
stored payload, or, when the wait ended without one, discards it with the reason
``no signal within N s`` (the ignore flags apply to its dependents as for any discarded
step). See docs/signals.md.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from oban import Job, Oban, Snooze

from . import _json, _oban, store
from ._control import check_id
from ._outcomes import Complete, Discard
from ._usage import USAGE_KEY
from ._worker import DEFAULT_RESULT_LIMIT, worker
from .errors import (
    AlreadySignalled,
    InvalidSignal,
    NotASignalStep,
    SignalExpired,
    UnknownStep,
    UnstorableResult,
    WorkflowNotRunning,
)

#: Seconds a signal step without a timeout snoozes when its job runs with no signal (made
#: available by hand): a signal makes it available again at once, whenever it comes.
IDLE_SNOOZE = 365 * 24 * 3600


def seconds(timeout: float) -> str:
    """A timeout as messages show it: ``3600``, ``0.5``."""
    return f"{timeout:g}"


@worker
class SignalStep:
    """Baton's worker of signal steps: completes with the stored payload, or times out."""

    async def perform_workflow(self, job: Job) -> Any:
        taken = await store.take_signal(_oban.instance_for_job(job), job)
        if taken is None:
            return Discard(
                f"job {job.id} runs Baton's signal worker, but step "
                f"{job.meta.get('workflow_step')!r} is not a signal step"
            )
        if taken.signalled:
            return Complete(None if taken.payload is None else taken.payload["value"])
        if taken.timeout is not None:  # its wait is over
            return Discard(f"no signal within {seconds(taken.timeout)} s")
        # no timeout, run without a signal (made available by hand): wait again
        return Snooze(IDLE_SNOOZE)


async def signal(
    workflow_id: str,
    step: str,
    payload: Any = None,
    *,
    conn: Any = None,
    oban: Oban | str | None = None,
) -> None:
    """Signal a signal step: ``payload`` becomes its result and the step completes.

    The signal is durable: sent before the step's deps have finished, it is stored and
    applies when they do. Sent while the step waits, it completes the step in its own
    transaction, and the step's dependents start. The first signal wins.

    Args:
        workflow_id: the workflow's id.
        step: the signal step's name (a path inside a sub-workflow).
        payload: any JSON-serialisable value, at most 1 MB encoded; downstream steps read
            it with ``baton.get_result(job, step)``. None completes the step without a
            value.
        conn: a psycopg connection or SQLAlchemy session whose transaction the signal
            joins (it takes effect when that transaction commits).
        oban: the Oban instance (or its name) whose database to use; default ``"Oban"``.

    Raises:
        UnknownWorkflow: no workflow has that id.
        UnknownStep: the workflow has no step of that name.
        NotASignalStep: the step is an ordinary step.
        WorkflowNotRunning: the workflow has finished or was cancelled.
        AlreadySignalled: the step was signalled before (``signalled_at`` says when).
        SignalExpired: the step's timeout passed, or it settled otherwise (cancelled).
        InvalidSignal: the payload is not JSON, holds a NUL character, is too big, or has
            a top-level ``llm_usage`` key (reserved for a step's LLM usage).
    """
    workflow_id = check_id(workflow_id)
    if not isinstance(step, str) or not step:
        raise UnknownStep(
            f"workflow {workflow_id!r}: a step name is a non-empty string, got {step!r}",
            workflow_id,
            str(step),
        )
    where = f"step {step!r} of workflow {workflow_id!r}"
    if isinstance(payload, dict) and USAGE_KEY in payload:
        raise InvalidSignal(
            f"{where}: the payload has a top-level {USAGE_KEY!r} key, which Baton reserves "
            "for a step's LLM usage; nest it under another key",
            workflow_id,
            step,
        )
    try:
        encoded = _json.encode_result(payload, DEFAULT_RESULT_LIMIT)
    except UnstorableResult as error:
        raise InvalidSignal(
            f"{where}: the payload cannot be stored: {error}", workflow_id, step
        ) from error

    def check(target: store.SignalTarget) -> None:
        if target.cancelled_at is not None or target.outcome is not None:
            state = "cancelled" if target.cancelled_at is not None else str(target.outcome)
            raise WorkflowNotRunning(
                f"{where}: the workflow is {state}; it takes no more signals",
                workflow_id,
                step,
                state,
            )
        if target.step is None:
            raise UnknownStep(f"workflow {workflow_id!r} has no step {step!r}", workflow_id, step)
        if not target.signal:
            raise NotASignalStep(
                f"{where} is not a signal step (its worker is {target.worker}); only steps "
                "added with Workflow.add_signal take signals",
                workflow_id,
                step,
            )
        if target.signalled_at is not None:
            first = target.signalled_at.replace(tzinfo=UTC)
            raise AlreadySignalled(
                f"{where} was already signalled at {first:%Y-%m-%d %H:%M:%S} UTC; the first "
                "signal wins and this one was not stored",
                workflow_id,
                step,
                first,
            )
        if target.signal_expired_at is not None and target.signal_timeout is not None:
            raise SignalExpired(
                f"{where} waited {seconds(target.signal_timeout)} s for a signal and was "
                f"discarded at {target.signal_expired_at:%Y-%m-%d %H:%M:%S} UTC; retry the "
                "workflow (baton.retry) to wait again",
                workflow_id,
                step,
            )
        if target.step_outcome is not None:
            raise SignalExpired(
                f"{where} is {target.step_outcome}; it no longer waits for a signal",
                workflow_id,
                step,
            )

    instance = _oban.instance(oban)
    result = None if payload is None else encoded  # no payload: completed without a value
    stored = await store.signal(instance, conn, workflow_id, step, encoded, result, check)
    if stored is None:
        raise SignalExpired(f"{where} no longer waits for a signal", workflow_id, step)
