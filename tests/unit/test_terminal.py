"""What the command line prints, without a database: durations, costs, errors, queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import click
import pytest

from baton._control import StepStatus
from baton._start import parse_queues
from baton._terminal import cost, duration, error_excerpt, step_duration

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, "—"),
        (0, "0 ms"),
        (340.4, "340 ms"),
        (12_340, "12.3 s"),
        (245_000, "4m 05s"),
        (7_380_000, "2h 03m"),
    ],
)
def test_duration(ms: float | None, text: str) -> None:
    assert duration(ms) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (Decimal(0), "$0"),
        (Decimal("0.0012000"), "$0.0012"),
        (Decimal("0.00000049"), "$0"),
        (Decimal("12.5"), "$12.5"),
    ],
)
def test_cost(value: Decimal | None, text: str) -> None:
    assert cost(value) == text


def test_error_excerpt_is_the_exception_line_of_a_traceback() -> None:
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "    boom()\n"
        "RuntimeError: upstream said no\n\n"
    )
    assert error_excerpt(traceback) == "RuntimeError: upstream said no"
    assert error_excerpt(None) == ""
    assert error_excerpt("x" * 100, limit=10) == "xxxxxxxxx…"


def step(state: str, attempted: datetime | None, settled: datetime | None) -> StepStatus:
    return StepStatus(
        name="a",
        state=state,
        worker="w",
        attempt=1,
        max_attempts=3,
        deps=(),
        group=None,
        inserted_at=None,
        attempted_at=attempted,
        settled_at=settled,
        error=None,
        result_stored=False,
        cost_usd=None,
    )


def test_step_duration() -> None:
    start = NOW - timedelta(seconds=3)
    assert step_duration(step("completed", start, NOW - timedelta(seconds=1)), NOW) == 2000
    assert step_duration(step("executing", start, None), NOW) == 3000
    assert step_duration(step("available", None, None), NOW) is None
    assert step_duration(step("retryable", start, None), NOW) is None


def test_parse_queues() -> None:
    assert parse_queues("default:10, llm:2,") == {"default": 10, "llm": 2}
    for bad in ("default", "default:0", ":3", "llm:two"):
        with pytest.raises(click.BadParameter, match="name:limit pairs"):
            parse_queues(bad)
