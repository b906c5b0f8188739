"""``@baton.worker``: an Oban worker that runs as a workflow step.

On every run the worker, in order:

1. returns at once if a previous attempt already stored its result (retry idempotency);
2. checks its deps: all completed (or ignored) → run; some not finished → ``Snooze``
   without consuming an attempt; some cancelled, discarded or deleted → call
   ``on_dep_cancelled`` / ``on_dep_discarded`` and cancel;
3. calls ``perform_workflow(job)`` and maps what it returns (DESIGN §2);
4. stores a returned value in its own write before control goes back to Oban.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, overload

import oban
from oban import Cancel, Job, Snooze

from . import (
    _branches,
    _budget,
    _capture,
    _context,
    _interrupt,
    _json,
    _limiter,
    _oban,
    _stream,
    _tracing,
    _write,
    store,
)
from ._gate import Blocked, Cancelled, Ready, Wait, gate
from ._limits import check_key
from ._outcomes import Complete, Discard, Error, StepFailed
from ._usage import DEFAULT_PRICING, Pricing, default_pricing, split_usage, usage_record
from .errors import (
    InvalidExpansion,
    InvalidOption,
    InvalidSkip,
    NotADependency,
    UnstorableResult,
)

logger = logging.getLogger("baton")

_oban.order_acks()
_oban.discard_unresolvable()

DEFAULT_RESULT_LIMIT = 1_000_000
DEFAULT_SNOOZE = 1
#: Seconds a finished step keeps retrying to store its result while the database is
#: unreachable, rather than failing and later repeating the work.
DEFAULT_STORE_RETRY = 120.0


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Baton's own options of a worker class (the rest go to ``oban.worker``)."""

    result_limit: int = DEFAULT_RESULT_LIMIT
    snooze: int = DEFAULT_SNOOZE
    pricing: Pricing = DEFAULT_PRICING
    store_retry: float = DEFAULT_STORE_RETRY
    interruptible: bool = True
    capture: bool = False
    limit: str | None = None


def check_limit(limit: object) -> str | None:
    """``limit``, the key of a rate limit (or None), refused unless it is a usable name."""
    return None if limit is None else check_key(limit, "limit")


def check_interruptible(interruptible: object) -> bool:
    """``interruptible``, refused unless it is a bool."""
    if not isinstance(interruptible, bool):
        raise InvalidOption(f"interruptible must be True or False, got {interruptible!r}")
    return interruptible


@overload
def worker(cls: type, /) -> type[oban.Worker]: ...
@overload
def worker(
    cls: None = None,
    /,
    *,
    result_limit: int = ...,
    snooze: int = ...,
    pricing: Pricing | None = ...,
    store_retry: float = ...,
    interruptible: bool = ...,
    limit: str | None = ...,
    capture: bool = ...,
    **options: Any,
) -> Callable[[type], type[oban.Worker]]: ...
def worker(
    cls: type | None = None,
    /,
    *,
    result_limit: int = DEFAULT_RESULT_LIMIT,
    snooze: int = DEFAULT_SNOOZE,
    pricing: Pricing | None = None,
    store_retry: float = DEFAULT_STORE_RETRY,
    interruptible: bool = True,
    limit: str | None = None,
    capture: bool = False,
    **options: Any,
) -> type[oban.Worker] | Callable[[type], type[oban.Worker]]:
    """Make a class with ``perform_workflow`` a workflow step; a drop-in for ``oban.worker``.

    Args:
        result_limit: the largest result, in bytes of JSON, a step may store.
        snooze: seconds to wait before re-checking deps that have not finished (the
            fallback path: steps are normally activated by their last dep's completion).
        pricing: prices the ``llm_usage`` a step reports (see ``baton.PriceTable``); by
            default ``DEFAULT_PRICING`` with the models of the ``BATON_PRICES`` file.
        store_retry: seconds to keep retrying to store a result while the database is
            unreachable before giving up (the step is then retried, repeating its work).
        interruptible: cancelling the job (``baton.cancel`` of its workflow, Oban's
            ``cancel_job``) interrupts a running ``perform_workflow`` at its current
            ``await``, and its result is not stored. False: the step runs to the end and
            keeps its result, and may check ``job.cancelled()`` itself.
        limit: the key of a rate limit (``baton.set_limit``) every call must be admitted
            by; a step without room snoozes, its attempt not counted. An optional
            ``estimate_tokens(self, job)`` gives the tokens charged before the call.
        capture: store the calls its steps pass to ``baton.capture`` (see
            ``docs/captured-calls.md``), whatever their workflow says.
        **options: any ``oban.worker`` option: ``queue``, ``max_attempts``, ``priority``,
            ``tags``, ``oban``, ``cron``, …

    Example:
        >>> @baton.worker(queue="default", max_attempts=3)
        ... class Fetch:
        ...     async def perform_workflow(self, job):
        ...         return {"text": "..."}
    """
    if not isinstance(result_limit, int) or isinstance(result_limit, bool) or result_limit < 1:
        raise InvalidOption(
            f"result_limit must be a positive number of bytes, got {result_limit!r}"
        )
    if not isinstance(snooze, int) or isinstance(snooze, bool) or snooze < 1:
        raise InvalidOption(f"snooze must be a positive number of seconds, got {snooze!r}")
    if isinstance(store_retry, bool) or not isinstance(store_retry, int | float) or store_retry < 0:
        raise InvalidOption(f"store_retry must be a number of seconds >= 0, got {store_retry!r}")
    settings = WorkerOptions(
        result_limit=result_limit,
        snooze=snooze,
        pricing=default_pricing() if pricing is None else pricing,
        store_retry=store_retry,
        interruptible=check_interruptible(interruptible),
        limit=check_limit(limit),
        capture=_capture.check_option(capture),
    )

    def decorate(target: type) -> type[oban.Worker]:
        if not inspect.isclass(target):
            raise TypeError(f"@baton.worker decorates a class, got {target!r}")
        perform = getattr(target, "perform_workflow", None)
        if not inspect.iscoroutinefunction(perform):
            raise TypeError(
                f"{target.__qualname__} needs `async def perform_workflow(self, job)` to be "
                "a Baton worker"
            )
        if "process" in vars(target):
            raise TypeError(
                f"{target.__qualname__} defines process(); a Baton worker implements "
                "perform_workflow() and Baton supplies process()"
            )
        setattr(target, "_baton", settings)  # noqa: B010 - the marker Baton looks for
        setattr(target, "process", _process)  # noqa: B010
        return oban.worker(**options)(target)  # type: ignore[no-any-return]

    return decorate(cls) if cls is not None else decorate


async def _process(self: Any, job: Job) -> Any:
    if "workflow_id" not in job.meta:
        return await _finish(self, job, None, await _limited(self, job, None))

    instance = _oban.instance_for_job(job)
    context = await store.step_context(instance, job)
    if context is None:
        _oban.discard_now(job)
        raise StepFailed(
            f"job {job.id} names workflow {job.meta.get('workflow_id')!r} step "
            f"{job.meta.get('workflow_step')!r} in its meta, but Baton has no step for it; "
            "insert workflow steps with Workflow.insert()"
        )
    if context.skipped:  # its job retried by hand: a branch not taken never runs
        return Cancel(_branches.refusal(context.name))
    return await _tracing.attempt(
        job, context, functools.partial(_run_step, self, job, instance, context)
    )


async def _run_step(self: Any, job: Job, instance: oban.Oban, context: store.StepContext) -> Any:
    """One attempt of a workflow step, from the retry guard to the stored result."""
    if context.performed:
        return None

    match gate(context):
        case Wait():
            return Snooze(self._baton.snooze)
        case Blocked() as blocked:
            reason = blocked.reason()
            if blocked.discarded:
                await _callback(self, "on_dep_discarded", reason, job)
            if blocked.cancelled or blocked.deleted:
                await _callback(self, "on_dep_cancelled", reason, job)
            return Cancel(reason)
        case Cancelled() as cancelled:
            await _callback(self, "on_dep_cancelled", cancelled.reason(), job)
            return Cancel(cancelled.reason())
        case Ready():
            pass

    capturing = _capture.begin(
        job, self._baton.capture or context.capture or _capture.process_capture()
    )
    try:
        async with _stream.running(instance, job, context.workflow_id, context.name):
            outcome = await _limited(self, job, instance)
    except NotADependency:
        _oban.discard_now(job)  # the same code asks for the same name on every attempt
        raise
    finally:
        await _capture.end(instance, job, capturing)
    return await _finish(self, job, (instance, context), outcome)


async def _limited(self: Any, job: Job, instance: oban.Oban | None) -> Any:
    """``_perform``, admitted by the worker's rate limit first if it has one."""
    key = self._baton.limit
    if key is None:
        return await _perform(self, job)
    instance = instance or _oban.instance_for_job(job)
    return await _limiter.limited(instance, key, self, job, functools.partial(_perform, self, job))


async def _perform(self: Any, job: Job) -> Any:
    """``perform_workflow(job)``, interrupted by a cancel unless the worker opted out."""
    call = functools.partial(self.perform_workflow, job)
    return await (_interrupt.perform(call, job) if self._baton.interruptible else call())


async def _finish(
    self: Any, job: Job, step: tuple[oban.Oban, store.StepContext] | None, outcome: Any
) -> Any:
    """Map a perform_workflow outcome onto Oban's, storing a value first."""
    match outcome:
        case Snooze() | Cancel():
            return outcome
        case Discard(reason=reason):
            _oban.discard_now(job)
            raise StepFailed(reason)
        case Error(reason=reason):
            raise StepFailed(reason)
        case None | Complete(value=None):
            encoded, usage = None, None
        case _:
            value, usage = split_usage(outcome.value if isinstance(outcome, Complete) else outcome)
            try:
                encoded = _json.encode_result(value, self._baton.result_limit)
            except UnstorableResult as error:
                _oban.discard_now(job)
                where = f"step {step[1].name!r}" if step else f"job {job.id}"
                raise UnstorableResult(f"{where}: {error}") from error

    extras = (
        outcome
        if isinstance(outcome, Complete)
        and (outcome.add is not None or outcome.context or outcome.skip is not None)
        else None
    )
    if step is None:
        if extras is not None and extras.skip is not None:
            _oban.discard_now(job)
            raise InvalidSkip(
                f"job {job.id} ({job.worker}) returned Complete(skip=...), but it is not a "
                "workflow step: insert it with Workflow.insert()"
            )
        if extras:
            _oban.discard_now(job)
            raise InvalidExpansion(
                f"job {job.id} ({job.worker}) returned Complete(add=..., context=...), but it "
                "is not a workflow step: insert it with Workflow.insert()"
            )
        return None

    instance, context = step
    recorded = None
    if usage is not None:
        if usage.model is None and _context.model(job) is not None:
            usage = replace(usage, model=_context.model(job))
        record = usage_record(usage, self._baton.pricing)
        _tracing.record_usage(usage, record["cost_usd"])
        recorded = _json.encode(record)
    unless = self._baton.interruptible
    if extras is not None:
        write = _write.completion(instance, job, context, encoded, recorded, extras, unless)
    elif context.budgeted and recorded is not None:
        write = functools.partial(
            store.store_charged_result, instance, job, encoded, recorded, unless_cancelled=unless
        )
    else:
        write = functools.partial(
            _write.store_plain, instance, job, encoded, recorded, unless_cancelled=unless
        )
    done = await _write.with_retry(job, write, self._baton.store_retry)
    await _budget.follow(instance, job, done.charged, usage)
    stored = done.stored
    if stored == "refused":
        cancelled = Cancelled(context.workflow_id, done.reason or context.workflow_reason)
        return Cancel(cancelled.reason() + ": the result was not stored")
    if stored == "already":
        logger.info(
            "step %r of workflow %r: a result was already stored by another attempt",
            context.name,
            context.workflow_id,
        )
    return None


async def _callback(self: Any, name: str, reason: str, job: Job) -> None:
    callback = getattr(self, name, None)
    if callback is None:
        return
    try:
        returned = callback(reason, job)
        if inspect.isawaitable(returned):
            await returned
    except Exception:
        logger.exception("%s.%s raised; the step is cancelled anyway", job.worker, name)
