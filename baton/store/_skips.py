"""Branches: the dependents a step's ``Complete(skip=...)`` may name, read in its write."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from . import _execute as db


@dataclass(frozen=True, slots=True)
class SkipTargets:
    """Which candidate names are direct dependents, the ``[group, member]`` pairs of the
    groups named whose members are direct dependents, and the first dependents by name."""

    found: Sequence[str]
    members: Sequence[Sequence[str]]
    dependents: Sequence[str]


@dataclass(frozen=True, slots=True)
class Skip:
    """The dependents a step's result skips, as the step named them.

    Attributes:
        names: the names given, checked to be step names.
        candidates: every path those names may mean.
        resolve: the paths to store, from the targets found; it raises when a name is no
            direct dependent (and the write rolls back).
    """

    names: tuple[str, ...]
    candidates: tuple[str, ...]
    resolve: Callable[[SkipTargets], list[str]]


async def skip_targets(
    conn: AsyncConnection[Any],
    prefix: str,
    workflow_id: str,
    step: str,
    skip: Skip,
    shown: int,
) -> SkipTargets:
    """The direct dependents of ``step`` among ``skip``'s candidates, and ``shown`` + 1 of all."""
    params = {
        "workflow_id": workflow_id,
        "step": step,
        "candidates": list(skip.candidates),
        "shown": shown + 1,
    }
    found = await db.row(conn, "skip_targets.sql", prefix, params, SkipTargets)
    return found if found is not None else SkipTargets((), (), ())
