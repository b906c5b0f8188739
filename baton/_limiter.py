"""A step under a rate limit: admitted before it runs, corrected after, paused on a 429.

Before ``perform_workflow`` the step asks the key's row for room (one statement, see
``sql/functions/baton_limit_acquire.sql``), charging its worker's ``estimate_tokens(job)``
(0 without one). Without room it snoozes until the window frees room, or the key's pause
ends: Oban's snooze gives the attempt back and frees the queue slot. After the call, the
tokens its ``llm_usage`` reports replace the estimate. A provider's 429 (an exception with
status 429) pauses the key for its ``Retry-After`` on every node and snoozes the step,
up to ``MAX_REFUSED`` times per job.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from oban import Job, Oban, Snooze

from . import _oban, store
from ._outcomes import Complete
from ._usage import TOKEN_FIELDS, split_usage
from .errors import InvalidLimit

logger = logging.getLogger("baton")

#: Seconds a 429 without a usable ``Retry-After`` pauses its key.
DEFAULT_PAUSE = 10.0
#: The longest pause a ``Retry-After`` may ask for.
MAX_PAUSE = 3600.0
#: How deep an exception's causes are searched for a 429.
MAX_CAUSES = 5
#: The job's meta key counting the 429s it snoozed for, and how many it may: past them a
#: 429 is an ordinary error (retried with backoff, using attempts), so that a provider
#: refusing for good (a spent quota) does not keep a step waiting forever.
REFUSED_META = "rate_limited"
MAX_REFUSED = 20

_warned: set[str] = set()


async def limited(
    instance: Oban, key: str, worker: Any, job: Job, perform: Callable[[], Awaitable[Any]]
) -> Any:
    """``perform()`` once ``key`` admits it; else a ``Snooze`` until it would."""
    estimate = await _estimate(worker, job)
    admission = await store.acquire_limit(instance, key, estimate)
    if not admission.granted:
        return Snooze(snooze_seconds(admission.wait_seconds))
    if not admission.known and key not in _warned:
        _warned.add(key)
        logger.warning(
            "rate limit %r is not set (baton.set_limit); %s runs unlimited", key, job.worker
        )
    try:
        outcome = await perform()
    except Exception as error:
        if status_code(error) != 429:
            raise
        refused = int(job.meta.get(REFUSED_META, 0) or 0)
        if refused >= MAX_REFUSED:
            raise  # a quota rather than a rate (OpenAI's insufficient_quota is a 429 too)
        seconds = retry_after(error)
        until = await store.pause_limit(instance, key, seconds)
        if admission.call_id is not None:
            await store.correct_limit(instance, admission.call_id, 0)
        logger.warning(
            "%s (job %s) got 429 from its provider: rate limit %r paused until %s UTC",
            job.worker,
            job.id,
            key,
            until.isoformat(timespec="seconds"),
        )
        return Snooze(snooze_seconds(seconds), meta={REFUSED_META: refused + 1})
    used = used_tokens(outcome)
    if admission.call_id is not None and used is not None and used != estimate:
        await store.correct_limit(instance, admission.call_id, used)
    return outcome


async def _estimate(worker: Any, job: Job) -> int:
    """The worker's ``estimate_tokens(job)``, checked; 0 without one."""
    estimate = getattr(worker, "estimate_tokens", None)
    if estimate is None:
        return 0
    value = estimate(job)
    if inspect.isawaitable(value):
        value = await value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        _oban.discard_now(job)  # the same code estimates the same way on every attempt
        raise InvalidLimit(
            f"{job.worker}.estimate_tokens returned {value!r}; it must return a whole "
            "number of tokens >= 0"
        )
    return value


def snooze_seconds(wait: float) -> int:
    """Oban snoozes in whole seconds: the wait rounded up, at least 1."""
    return max(1, math.ceil(wait))


def used_tokens(outcome: Any) -> int | None:
    """Every token the ``llm_usage`` of a step's value reports (None: it reports none)."""
    _value, usage = split_usage(outcome.value if isinstance(outcome, Complete) else outcome)
    if usage is None:
        return None
    return sum(int(getattr(usage, name)) for name in TOKEN_FIELDS)


def _chain(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(found) < MAX_CAUSES and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _int_attribute(thing: Any, names: tuple[str, ...]) -> int | None:
    for name in names:
        value = getattr(thing, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def status_code(error: BaseException) -> int | None:
    """The HTTP status an exception (or one of its causes) carries, if any.

    Reads ``status_code`` or ``status`` of the exception (openai, anthropic, aiohttp) or
    of its ``response`` (httpx, requests).
    """
    for candidate in _chain(error):
        for thing in (candidate, getattr(candidate, "response", None)):
            if thing is None:
                continue
            code = _int_attribute(thing, ("status_code", "status"))
            if code is not None:
                return code
    return None


def _headers(error: BaseException) -> Mapping[str, Any] | None:
    for candidate in _chain(error):
        for thing in (getattr(candidate, "response", None), candidate):
            headers = getattr(thing, "headers", None)
            if headers is not None and hasattr(headers, "get"):
                return headers  # type: ignore[no-any-return]
    return None


def retry_after(error: BaseException, now: datetime | None = None) -> float:
    """Seconds the provider asked to wait (``retry-after-ms`` or ``Retry-After``).

    ``Retry-After`` is seconds or an HTTP date. Without a usable value:
    ``DEFAULT_PAUSE``; at most ``MAX_PAUSE``, at least 1 s.
    """
    headers = _headers(error)
    seconds: float | None = None
    if headers is not None:
        seconds = _number(headers.get("retry-after-ms"), 1000.0)
        if seconds is None:
            seconds = _retry_after_header(headers.get("retry-after"), now)
    if seconds is None:
        seconds = DEFAULT_PAUSE
    return min(MAX_PAUSE, max(1.0, seconds))


def _number(raw: Any, scale: float) -> float | None:
    try:
        value = float(raw) / scale
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _retry_after_header(raw: Any, now: datetime | None) -> float | None:
    if raw is None:
        return None
    seconds = _number(raw, 1.0)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(str(raw))
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
