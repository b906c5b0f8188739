"""Checks of a workflow's flow-control options: its ``deadline`` and its ``unique_key``.

Each raises ``WorkflowError`` with a message naming the workflow and the value.
"""

from __future__ import annotations

import math
from datetime import timedelta

from ..errors import WorkflowError

#: The longest deadline accepted: a longer one is a unit mistake (milliseconds?), not a plan.
MAX_DEADLINE = timedelta(days=366)
MAX_UNIQUE_KEY_LENGTH = 255


def check_deadline(value: object, where: str) -> timedelta | None:
    """A deadline given as seconds (int or float) or a ``timedelta``; None for none."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise WorkflowError(
            f"{where}: deadline must be a number of seconds or a timedelta, got "
            f"{type(value).__name__} {value!r}"
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise WorkflowError(
            f"{where}: deadline must be a positive number of seconds, got {value!r}"
        )
    if seconds > MAX_DEADLINE.total_seconds():
        raise WorkflowError(
            f"{where}: deadline {value!r} is more than {MAX_DEADLINE.days} days; give it in "
            "seconds (600 is ten minutes)"
        )
    return timedelta(seconds=seconds)


def check_unique_key(value: object, where: str) -> str | None:
    """A unique key: a non-blank string of at most 255 characters; None for none."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise WorkflowError(
            f"{where}: unique_key must be a string, got {type(value).__name__} {value!r}"
        )
    if not value.strip():
        raise WorkflowError(f"{where}: unique_key must not be blank, got {value!r}")
    if len(value) > MAX_UNIQUE_KEY_LENGTH:
        raise WorkflowError(
            f"{where}: unique_key is {len(value)} characters long; at most "
            f"{MAX_UNIQUE_KEY_LENGTH} are allowed (hash a longer one)"
        )
    if "\x00" in value:
        raise WorkflowError(f"{where}: unique_key contains a NUL character, which cannot be stored")
    return value


def check_sub(deadline: timedelta | None, unique_key: str | None, where: str) -> None:
    """A sub-workflow added to another has neither: they belong to the whole workflow."""
    if deadline is not None or unique_key is not None:
        raise WorkflowError(f"{where}: deadline and unique_key belong to the whole workflow")
