"""Rate limits without a database: argument checks, 429 detection, Retry-After, token counts."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

import baton
from baton import _limiter
from baton.errors import InvalidLimit, InvalidOption


def http_error(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "https://api.example.com/v1/messages")
    response = httpx.Response(status, headers=headers or {}, request=request)
    return httpx.HTTPStatusError(f"{status}", request=request, response=response)


class ClientResponseError(Exception):
    """As aiohttp's: the status on the error itself, as ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__(f"{status}")
        self.status = status


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"requests_per_minute": 0}, "requests_per_minute must be above 0, got 0"),
        ({"requests_per_minute": -5}, "requests_per_minute must be above 0, got -5"),
        ({"tokens_per_minute": 0}, "tokens_per_minute must be above 0, got 0"),
        ({"requests_per_minute": 1.5}, "requests_per_minute must be a whole number above 0"),
        ({"requests_per_minute": True}, "requests_per_minute must be a whole number above 0"),
        ({"requests_per_minute": "500"}, "requests_per_minute must be a whole number above 0"),
        ({"requests_per_minute": 2**31}, "requests_per_minute must be at most 2,147,483,647"),
        ({}, r"set_limit\('openai'\) needs requests_per_minute, tokens_per_minute or both"),
        ({"requests_per_minute": 5, "window": 0}, "window must be above 0"),
        ({"requests_per_minute": 5, "window": -1}, "window must be above 0"),
        ({"requests_per_minute": 5, "window": float("nan")}, "window must be a number"),
        ({"requests_per_minute": 5, "window": 100_000}, "at most 86400 s"),
        (
            {"requests_per_minute": 1, "window": 10},
            "requests_per_minute=1 over a window of 10 s admits less than one; use a window "
            "of at least 60 s",
        ),
    ],
)
async def test_set_limit_refuses_bad_values_before_touching_the_database(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidLimit, match=message):
        await baton.set_limit("openai", **kwargs)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "must not be empty or blank"),
        ("   ", "must not be empty or blank"),
        (5, "must be a string such as 'openai', got 5"),
        (b"openai", "must be a string"),
        ("x" * 201, "is 201 characters long; at most 200"),
        ("open\x1bai", "must not hold control or invisible characters"),
        ("open\u202eai", "must not hold control or invisible characters"),
    ],
)
async def test_bad_keys_are_refused_everywhere(key: Any, message: str) -> None:
    with pytest.raises(InvalidLimit, match=message):
        await baton.set_limit(key, requests_per_minute=5)
    with pytest.raises(InvalidLimit, match=message):
        await baton.get_limit(key)
    with pytest.raises(InvalidLimit, match=message):
        await baton.remove_limit(key)
    with pytest.raises(InvalidLimit, match="limit " + message):
        baton.worker(limit=key)
    with pytest.raises(InvalidLimit, match="limit " + message):
        baton.llm_worker(limit=key)


def test_invalid_limit_is_an_invalid_option_and_a_value_error() -> None:
    assert issubclass(InvalidLimit, InvalidOption)
    assert issubclass(InvalidLimit, ValueError)


def test_a_429_is_found_on_the_error_its_response_or_its_cause() -> None:
    assert _limiter.status_code(http_error(429)) == 429  # httpx: response.status_code
    assert _limiter.status_code(http_error(500)) == 500
    assert _limiter.status_code(ClientResponseError(429)) == 429  # aiohttp: status
    openai_like = RuntimeError("rate limited")
    openai_like.status_code = 429  # type: ignore[attr-defined]
    assert _limiter.status_code(openai_like) == 429
    try:
        try:
            raise http_error(429)
        except httpx.HTTPStatusError as error:
            raise RuntimeError("the provider refused") from error
    except RuntimeError as wrapped:
        assert _limiter.status_code(wrapped) == 429
    assert _limiter.status_code(ValueError("no status")) is None
    flagged = RuntimeError("odd")
    flagged.status_code = True  # type: ignore[attr-defined]
    assert _limiter.status_code(flagged) is None


def test_retry_after_reads_seconds_milliseconds_and_dates() -> None:
    assert _limiter.retry_after(http_error(429, {"retry-after": "7"})) == 7.0
    assert _limiter.retry_after(http_error(429, {"retry-after-ms": "2500"})) == 2.5
    both = {"retry-after-ms": "1500", "retry-after": "2"}
    assert _limiter.retry_after(http_error(429, both)) == 1.5  # the precise one wins
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC), usegmt=True)
    assert _limiter.retry_after(http_error(429, {"retry-after": later}), now=now) == 30.0


def test_retry_after_without_a_usable_value_is_the_default_and_is_bounded() -> None:
    default = _limiter.DEFAULT_PAUSE
    assert _limiter.retry_after(http_error(429)) == default
    assert _limiter.retry_after(http_error(429, {"retry-after": "soon"})) == default
    assert _limiter.retry_after(http_error(429, {"retry-after": "-3"})) == default
    assert _limiter.retry_after(http_error(429, {"retry-after": "inf"})) == default
    assert _limiter.retry_after(RuntimeError("no headers")) == default
    assert _limiter.retry_after(http_error(429, {"retry-after": "0"})) == 1.0
    huge = http_error(429, {"retry-after": "999999"})
    assert _limiter.retry_after(huge) == _limiter.MAX_PAUSE


def test_the_tokens_a_step_used_are_every_token_its_usage_reports() -> None:
    usage = {"input_tokens": 100, "output_tokens": 20, "cache_read_tokens": 5}
    assert _limiter.used_tokens({"x": 1, "llm_usage": usage}) == 125
    assert _limiter.used_tokens(baton.Complete({"llm_usage": usage})) == 125
    assert _limiter.used_tokens({"x": 1}) is None
    assert _limiter.used_tokens(None) is None


@pytest.mark.parametrize(("wait", "seconds"), [(0.0, 1), (0.2, 1), (1.0, 1), (59.1, 60)])
def test_snoozes_are_whole_seconds_rounded_up(wait: float, seconds: int) -> None:
    assert _limiter.snooze_seconds(wait) == seconds


def test_openai_and_anthropic_rate_limit_errors_are_429s() -> None:
    openai = pytest.importorskip("openai")
    anthropic = pytest.importorskip("anthropic")
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")
    response = httpx.Response(429, headers={"retry-after": "12"}, request=request)
    for error in (
        openai.RateLimitError("Rate limit reached", response=response, body=None),
        anthropic.RateLimitError("rate_limit_error", response=response, body=None),
    ):
        assert _limiter.status_code(error) == 429
        assert _limiter.retry_after(error) == 12.0
