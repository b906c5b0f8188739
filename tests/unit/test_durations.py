"""Durations on the command line: ``7d``, ``12h``, ``30m``, ``45s``, seconds."""

from __future__ import annotations

from datetime import timedelta

import click
import pytest

from baton.cli._prune import DURATION, describe


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("1.5h", timedelta(minutes=90)),
        ("90", timedelta(seconds=90)),
        ("0", timedelta(0)),
        (" 2D ", timedelta(days=2)),
    ],
)
def test_a_duration_reads_its_unit(text: str, expected: timedelta) -> None:
    assert DURATION.convert(text, None, None) == expected


@pytest.mark.parametrize("text", ["7w", "-1d", "h", "1e3s", "999999999d"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(click.BadParameter):
        DURATION.convert(text, None, None)


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(days=7), "7d"),
        (timedelta(hours=36), "36h"),
        (timedelta(seconds=90), "90s"),
        (timedelta(0), "0s"),
        (timedelta(seconds=1.5), "1.5s"),
    ],
)
def test_describe_uses_the_largest_exact_unit(age: timedelta, text: str) -> None:
    assert describe(age) == text
