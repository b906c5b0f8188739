"""``@baton.llm_worker``: a workflow step tuned for calls to language models.

Defaults: queue ``llm``, 5 attempts, a 120 s timeout per attempt, and jittered exponential
backoff::

    delay(attempt) = round(min(backoff_max, backoff_base * 2 ** (attempt - 1)) * U(0.5, 1.5))

at least 1 s, where ``U`` is uniform: with the defaults (base 5 s, max 600 s) attempt 1
waits 2.5-7.5 s, attempt 2 waits 5-15 s, attempt 3 waits 10-30 s, and no wait exceeds
900 s. The jitter spreads retries of many steps that failed together (a rate limit) so
they do not hit the provider again at the same instant.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, overload

import oban
from oban import Job

from ._usage import Pricing
from ._worker import DEFAULT_RESULT_LIMIT, DEFAULT_SNOOZE, DEFAULT_STORE_RETRY, worker
from .errors import InvalidOption

DEFAULT_QUEUE = "llm"
DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF_BASE = 5.0
DEFAULT_BACKOFF_MAX = 600.0
MAX_EXPONENT = 1_000


def llm_backoff(
    attempt: int,
    base: float = DEFAULT_BACKOFF_BASE,
    cap: float = DEFAULT_BACKOFF_MAX,
    rng: Callable[[], float] = random.random,
) -> int:
    """Seconds to wait before retrying after ``attempt`` failed (formula in the module doc)."""
    # The exponent is bounded so that 2.0 ** n cannot overflow (OverflowError past 1023)
    # for a step with thousands of attempts; the cap is reached long before.
    ceiling: float = min(cap, base * 2.0 ** min(max(attempt - 1, 0), MAX_EXPONENT))
    return max(1, round(ceiling * (0.5 + rng())))


def _positive(name: str, value: object, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidOption(f"{name} must be a positive number of seconds, got {value!r}")


@overload
def llm_worker(cls: type, /) -> type[oban.Worker]: ...
@overload
def llm_worker(
    cls: None = None,
    /,
    *,
    timeout: float | None = ...,
    backoff_base: float = ...,
    backoff_max: float = ...,
    result_limit: int = ...,
    snooze: int = ...,
    pricing: Pricing | None = ...,
    store_retry: float = ...,
    interruptible: bool = ...,
    limit: str | None = ...,
    capture: bool = ...,
    **options: Any,
) -> Callable[[type], type[oban.Worker]]: ...
def llm_worker(
    cls: type | None = None,
    /,
    *,
    timeout: float | None = DEFAULT_TIMEOUT,
    backoff_base: float = DEFAULT_BACKOFF_BASE,
    backoff_max: float = DEFAULT_BACKOFF_MAX,
    result_limit: int = DEFAULT_RESULT_LIMIT,
    snooze: int = DEFAULT_SNOOZE,
    pricing: Pricing | None = None,
    store_retry: float = DEFAULT_STORE_RETRY,
    interruptible: bool = True,
    limit: str | None = None,
    capture: bool = False,
    **options: Any,
) -> type[oban.Worker] | Callable[[type], type[oban.Worker]]:
    """Make a class with ``perform_workflow`` an LLM step.

    Args:
        timeout: seconds one attempt may run (None: no limit). A class may instead define
            ``timeout(self, job) -> float | None``. An attempt past it is cancelled at its
            next ``await`` and retried with the error ``<worker> timed out after <n>s``.
        backoff_base: the first retry's nominal delay in seconds.
        backoff_max: the cap on the nominal delay before jitter.
        result_limit: as for ``baton.worker``.
        snooze: as for ``baton.worker``.
        store_retry: as for ``baton.worker``.
        interruptible: as for ``baton.worker``: a cancel interrupts the call to the model
            (False: the step runs to the end and keeps its result).
        pricing: as for ``baton.worker``.
        limit: the key of a rate limit (``baton.set_limit``), as for ``baton.worker``; a
            provider's 429 then pauses the key on every node and snoozes the step.
        capture: as for ``baton.worker``: store the calls passed to ``baton.capture``.
        **options: any ``oban.worker`` option; ``queue`` defaults to ``"llm"`` and
            ``max_attempts`` to 5. A class's own ``backoff(self, job)`` wins.
    """
    _positive("timeout", timeout, allow_none=True)
    _positive("backoff_base", backoff_base)
    _positive("backoff_max", backoff_max)
    options.setdefault("queue", DEFAULT_QUEUE)
    options.setdefault("max_attempts", DEFAULT_MAX_ATTEMPTS)
    step = worker(
        result_limit=result_limit,
        snooze=snooze,
        pricing=pricing,
        store_retry=store_retry,
        interruptible=interruptible,
        limit=limit,
        capture=capture,
        **options,
    )

    def decorate(target: type) -> type[oban.Worker]:
        if "timeout" not in vars(target):

            def timeout_for(_self: Any, _job: Job) -> float | None:
                return timeout

            target.timeout = timeout_for  # type: ignore[attr-defined]
        if "backoff" not in vars(target):

            def backoff(_self: Any, job: Job) -> int:
                return llm_backoff(job.attempt, backoff_base, backoff_max)

            target.backoff = backoff  # type: ignore[attr-defined]
        return step(target)

    return decorate(cls) if cls is not None else decorate
