"""Step names and paths: what a name may be, and how a step's request for a name resolves.

A name the user gives (a step, a group, a sub-workflow) is one segment. Steps of a
sub-workflow and steps added at run time are stored under paths: ``research/fetch``,
``plan/summary[0]``. A step asking for a result or naming a dep may use a path relative
to its own place: inside ``research``, ``fetch`` means ``research/fetch``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterator

NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}")
MEMBER_PATTERN = re.compile(r"(?P<group>.+)\[(?P<index>0|[1-9][0-9]*)\]")
SEPARATOR = "/"


def suggestion(word: str, choices: Collection[str]) -> str:
    """``"; did you mean 'deps'?"`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def is_segment(text: str) -> bool:
    """A step or group name, or one member of a group (``name[3]``)."""
    member = MEMBER_PATTERN.fullmatch(text)
    return bool(NAME_PATTERN.fullmatch(member["group"] if member else text))


def is_path(text: object) -> bool:
    """Segments joined by ``/``: a name that can refer to any stored step or group."""
    return isinstance(text, str) and all(is_segment(part) for part in text.split(SEPARATOR))


def join(namespace: str | None, name: str) -> str:
    """``name`` inside ``namespace`` (or ``name`` itself at the top level)."""
    return f"{namespace}{SEPARATOR}{name}" if namespace else name


def namespace(name: str) -> str | None:
    """The path a step sits under: ``research`` for ``research/fetch``, None at the top."""
    head, separator, _tail = name.rpartition(SEPARATOR)
    return head if separator else None


def prefixes(name: str) -> Iterator[str]:
    """Every path ``name`` lies under, outermost first, then ``name`` itself."""
    parts = name.split(SEPARATOR)
    for end in range(1, len(parts) + 1):
        yield SEPARATOR.join(parts[:end])


def covered(name: str, deps: Collection[str]) -> bool:
    """Whether a step with ``deps`` may read ``name``.

    It may read its deps, the members of a group it depends on, and everything stored
    under a dep's path (the steps of a sub-workflow, the steps a dep added at run time).
    """
    for prefix in prefixes(name):
        member = MEMBER_PATTERN.fullmatch(prefix)
        if prefix in deps or (member is not None and member["group"] in deps):
            return True
    return False


def namespaces(name: str) -> list[str]:
    """The paths around a step, innermost first: ``a/b`` and ``a`` for ``a/b/c``."""
    found = []
    place = namespace(name)
    while place is not None:
        found.append(place)
        place = namespace(place)
    return found
