"""Rate limits shared by every node: ``set_limit``, ``get_limit``, ``limits``, removal.

A limit is a row in PostgreSQL (``baton_limits``) under a key such as ``"openai"``; every
worker with ``limit="openai"``, on any node, is admitted through it (``baton/_limiter.py``).
The limits count requests and tokens started within a sliding window (a minute unless
``window`` says otherwise); see docs/rate-limits.md.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from oban import Oban

from . import _oban, store
from .errors import InvalidLimit

MAX_KEY_LENGTH = 200
MAX_REQUESTS = 2**31 - 1
MAX_TOKENS = 2**63 - 1
MAX_WINDOW = 86_400.0


@dataclass(frozen=True, slots=True)
class Limit:
    """A rate limit and what its window holds now.

    Attributes:
        key: the name workers give as ``limit=``.
        requests_per_minute: the most calls started per minute; None: not limited.
        tokens_per_minute: the most tokens charged per minute; None: not limited.
        window_seconds: the sliding window the limits are counted over, scaled to it.
        requests_used: calls started within the current window.
        tokens_used: tokens charged to those calls (estimates, corrected by reported usage).
        paused_until: until when a provider's 429 paused the key (UTC); None: not paused.
    """

    key: str
    requests_per_minute: int | None
    tokens_per_minute: int | None
    window_seconds: float
    requests_used: int
    tokens_used: int
    paused_until: datetime | None

    @property
    def requests_per_window(self) -> int | None:
        """The most calls any window admits (the per-minute limit scaled to the window)."""
        return _per_window(self.requests_per_minute, self.window_seconds)

    @property
    def tokens_per_window(self) -> int | None:
        """The most tokens any window admits."""
        return _per_window(self.tokens_per_minute, self.window_seconds)


def _per_window(per_minute: int | None, window: float) -> int | None:
    return None if per_minute is None else max(1, math.floor(per_minute * window / 60))


def check_key(key: object, what: str = "a rate limit's key") -> str:
    """``key`` if it is a usable name: a non-empty string, printable, at most 200 chars."""
    if not isinstance(key, str):
        raise InvalidLimit(f"{what} must be a string such as 'openai', got {key!r}")
    if not key.strip():
        raise InvalidLimit(f"{what} must not be empty or blank, got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidLimit(f"{what} is {len(key)} characters long; at most {MAX_KEY_LENGTH}")
    if any(unicodedata.category(char).startswith("C") for char in key):
        raise InvalidLimit(f"{what} must not hold control or invisible characters, got {key!r}")
    return key


def _count(name: str, value: object, ceiling: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidLimit(f"{name} must be a whole number above 0, got {value!r}")
    if value <= 0:
        raise InvalidLimit(
            f"{name} must be above 0, got {value}; to stop limiting, leave it out "
            "(or remove the key with baton.remove_limit)"
        )
    if value > ceiling:
        raise InvalidLimit(f"{name} must be at most {ceiling:,}, got {value:,}")
    return value


def _window(window: object) -> float:
    if isinstance(window, bool) or not isinstance(window, int | float) or not math.isfinite(window):
        raise InvalidLimit(f"window must be a number of seconds, got {window!r}")
    if not 0 < window <= MAX_WINDOW:
        raise InvalidLimit(f"window must be above 0 and at most {MAX_WINDOW:g} s, got {window:g}")
    return float(window)


async def set_limit(
    key: str,
    *,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    window: float = 60.0,
    oban: Oban | str | None = None,
) -> Limit:
    """Create or replace the rate limit ``key``, shared by every node using the database.

    The limits given replace the key's previous ones (one left out is no longer limited);
    calls already admitted keep counting, and a 429 pause stays. Running workers use the
    new values from their next admission on.

    Args:
        key: the name workers give as ``limit=``.
        requests_per_minute: the most calls started within any minute.
        tokens_per_minute: the most tokens charged within any minute (a call is charged
            its worker's ``estimate_tokens`` before it runs, corrected by its reported usage).
        window: seconds the limits are counted over, each scaled to it: with ``window=10``,
            ``requests_per_minute=120`` admits at most 20 calls in any 10 s, which spreads
            calls more evenly than whole minutes do.
        oban: the Oban instance (or its name) whose database holds the limit.

    Returns:
        The limit as stored, with what its window holds now.

    Raises:
        InvalidLimit: a bad key, no limit given, a count not above 0, a bad window, or a
            window too short to admit one call.
    """
    key = check_key(key)
    requests = _count("requests_per_minute", requests_per_minute, MAX_REQUESTS)
    tokens = _count("tokens_per_minute", tokens_per_minute, MAX_TOKENS)
    seconds = _window(window)
    if requests is None and tokens is None:
        raise InvalidLimit(
            f"set_limit({key!r}) needs requests_per_minute, tokens_per_minute or both"
        )
    for name, per_minute in (("requests_per_minute", requests), ("tokens_per_minute", tokens)):
        if per_minute is not None and per_minute * seconds / 60 < 1:
            raise InvalidLimit(
                f"{name}={per_minute} over a window of {seconds:g} s admits less than one; "
                f"use a window of at least {math.ceil(60 / per_minute)} s"
            )
    instance = _oban.instance(oban)
    await store.set_limit(instance, key, requests, tokens, seconds)
    found = await get_limit(key, oban=instance)
    if found is None:  # removed by another process in between
        raise InvalidLimit(f"rate limit {key!r} was removed while it was being set")
    return found


async def get_limit(key: str, *, oban: Oban | str | None = None) -> Limit | None:
    """The rate limit ``key`` and its current usage, or None if no such key is stored."""
    key = check_key(key)
    rows = await store.limit_rows(_oban.instance(oban), key)
    return _limit(rows[0]) if rows else None


async def limits(*, oban: Oban | str | None = None) -> list[Limit]:
    """Every stored rate limit with its current usage and pause, by key."""
    return [_limit(row) for row in await store.limit_rows(_oban.instance(oban))]


async def remove_limit(key: str, *, oban: Oban | str | None = None) -> bool:
    """Delete the rate limit ``key`` and its record of calls; whether it existed.

    Workers naming it then run unlimited (with a warning), until it is set again.
    """
    key = check_key(key)
    return await store.remove_limit(_oban.instance(oban), key)


async def resume_limit(key: str, *, oban: Oban | str | None = None) -> bool:
    """End the pause a provider's 429 set on ``key`` now; whether the key exists."""
    key = check_key(key)
    return await store.resume_limit(_oban.instance(oban), key)


def _limit(row: store.LimitRow) -> Limit:
    return Limit(
        key=row.key,
        requests_per_minute=row.requests_per_minute,
        tokens_per_minute=row.tokens_per_minute,
        window_seconds=row.window_seconds,
        requests_used=row.requests_used,
        tokens_used=row.tokens_used,
        paused_until=None if row.paused_until is None else row.paused_until.replace(tzinfo=UTC),
    )
