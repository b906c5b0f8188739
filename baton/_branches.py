"""Branches: ``Complete(value, skip=[...])`` skips some of a step's direct dependents.

The worker checks what was named (``request``) before touching the database; the write that
stores the result (``store.complete``) then reads which of the names are direct dependents,
by the edges' primary key, and ``resolve`` turns them into the paths stored with the result.
A name that is no direct dependent raises ``InvalidSkip`` inside that transaction, so
nothing is written. The step's settlement as completed applies the stored skips (see
``baton_settle_step.sql``).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping

from . import _names, store
from .errors import InvalidSkip

#: Dependents named in an error that lists what a step could have skipped.
SHOWN_DEPENDENTS = 20


def request(skip: object, step: str) -> store.Skip | None:
    """The names ``skip`` holds, checked, with every path each may mean; None when empty.

    Inside a sub-workflow a name is relative to the step's place first (``escalate`` from
    ``triage/route`` means ``triage/escalate``), then read as a full path.

    Raises:
        InvalidSkip: ``skip`` is not a list of step names.
    """
    where = f"step {step!r} returned Complete(skip=...)"
    if isinstance(skip, str | bytes) or isinstance(skip, Mapping):
        raise InvalidSkip(
            f"{where} with {skip!r:.200}; skip takes a list of step names, "
            f"such as skip=[{skip!r:.100}]"
            if isinstance(skip, str)
            else f"{where} with a {type(skip).__name__}; skip takes a list of step names"
        )
    if not isinstance(skip, Collection):
        raise InvalidSkip(
            f"{where} with {type(skip).__name__} {skip!r:.200}; skip takes a list of step names"
        )
    names: dict[str, None] = {}
    for name in skip:
        if not isinstance(name, str):
            raise InvalidSkip(
                f"{where} naming {name!r:.200} ({type(name).__name__}); skip takes step names "
                "(strings)"
            )
        if not _names.is_path(name):
            raise InvalidSkip(f"{where} naming {name[:200]!r}, which is not a step name")
        names[name] = None
    if not names:
        return None
    candidates = dict.fromkeys(path for name in names for path in _meanings(name, step))
    return store.Skip(
        tuple(names), tuple(candidates), functools.partial(resolve, tuple(names), step)
    )


def _meanings(name: str, step: str) -> tuple[str, ...]:
    return (*(_names.join(place, name) for place in _names.namespaces(step)), name)


def resolve(names: tuple[str, ...], step: str, targets: store.SkipTargets) -> list[str]:
    """The dependents' paths ``names`` name, innermost meaning first; a group's name
    stands for its members that are direct dependents.

    Raises:
        InvalidSkip: a name is not a direct dependent of ``step`` (the message lists them).
    """
    resolved: dict[str, None] = {}
    unknown: list[str] = []
    groups: dict[str, list[str]] = {}
    for group, member in targets.members:
        groups.setdefault(group, []).append(member)
    for name in names:
        paths = next(
            (
                [meaning] if meaning in targets.found else groups[meaning]
                for meaning in _meanings(name, step)
                if meaning in targets.found or meaning in groups
            ),
            None,
        )
        if paths is None:
            unknown.append(name)
        resolved.update(dict.fromkeys(paths or ()))
    if unknown:
        shown = targets.dependents[:SHOWN_DEPENDENTS]
        listed = ", ".join(repr(name) for name in shown) or "none"
        more = " …" if len(targets.dependents) > SHOWN_DEPENDENTS else ""
        raise InvalidSkip(
            f"step {step!r} returned Complete(skip=...) naming "
            f"{', '.join(repr(name) for name in unknown)}, which "
            f"{'is not a direct dependent' if len(unknown) == 1 else 'are not direct dependents'}"
            f" of {step!r} (its direct dependents: {listed}{more}); the step is discarded and "
            "nothing it returned was stored"
            f"{_names.suggestion(unknown[0], targets.dependents)}"
        )
    return list(resolved)


def refusal(step: str) -> str:
    """Why a skipped step's job, retried by hand, is acked without running."""
    return f"step {step!r} was skipped (a branch not taken); a skipped step never runs"
