"""Checks for workflow templates: where an entry sits, and what each value must be.

Every failure is a :class:`~baton.errors.TemplateError` whose message starts with the
source (a file path, or ``template``) and the entry, such as
``steps[2] ('summarize').deps[0]``, then says what was wrong and what was expected.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from oban.worker import WorkerResolutionError, resolve_worker

from .. import _oban
from .._names import suggestion
from ..errors import TemplateError

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_SHOWN = 60
_WORKER_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


@dataclass(frozen=True, slots=True)
class Where:
    """Where a value sits: the template's source and the entry path inside it.

    Attributes:
        source: the file path the template came from, or ``"template"``.
        path: the entry, such as ``steps[1] ('fetch').args.url``; empty at the top level.
    """

    source: str
    path: str = ""

    def key(self, name: str) -> Where:
        """The entry ``name`` of the table at this place."""
        if _PLAIN_KEY.fullmatch(name):
            return Where(self.source, f"{self.path}.{name}" if self.path else name)
        return Where(self.source, f"{self.path}[{name!r}]")

    def index(self, position: int, name: object = None) -> Where:
        """Element ``position`` of the list at this place, labelled with its ``name``."""
        label = f" ({name!r})" if isinstance(name, str) else ""
        return Where(self.source, f"{self.path}[{position}]{label}")

    def error(self, message: str) -> TemplateError:
        """A TemplateError about this entry (raise it)."""
        return TemplateError(f"{self.source}: {self.path or 'top level'}: {message}")


def describe(value: object) -> str:
    """A value as a template author wrote it: ``the string 'x'``, ``a table``, ``null``."""
    match value:
        case None:
            return "null"
        case bool():
            return f"the boolean {str(value).lower()}"
        case int() | float():
            return f"the number {value!r}"
        case str():
            return f"the string {shorten(value)!r}"
        case Mapping():
            return "a table"
        case list() | tuple():
            return "a list"
    return f"a {type(value).__name__}"


def shorten(text: str) -> str:
    """``text`` cut to a length that fits in one line of an error message."""
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def table(value: object, where: Where, what: str = "a table") -> Mapping[str, Any]:
    """``value`` if it is a table (a mapping) with string keys."""
    if not isinstance(value, Mapping):
        raise where.error(f"expected {what}, got {describe(value)}")
    for key in value:
        if not isinstance(key, str):
            raise where.error(f"keys must be strings, got {describe(key)}")
    return value


def text(value: object, where: Where, what: str = "a string") -> str:
    """``value`` if it is a string that is not blank."""
    if not isinstance(value, str) or not value.strip():
        shown = "a blank string" if isinstance(value, str) else describe(value)
        raise where.error(f"expected {what}, got {shown}")
    return value


def flag(value: object, where: Where) -> bool:
    """``value`` if it is a boolean."""
    if not isinstance(value, bool):
        raise where.error(f"expected true or false, got {describe(value)}")
    return value


def integer(value: object, where: Where, low: int, high: int | None = None) -> int:
    """``value`` if it is an integer (not a boolean) from ``low`` to ``high``."""
    span = f"from {low} to {high}" if high is not None else f"of at least {low}"
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        raise where.error(f"expected an integer {span}, got {describe(value)}")
    return value


def items(value: object, where: Where, what: str, *, empty: bool = False) -> list[Any]:
    """``value`` if it is a list (non-empty unless ``empty``); the elements unchecked."""
    if not isinstance(value, list | tuple):
        raise where.error(f"expected {what}, got {describe(value)}")
    if not value and not empty:
        raise where.error(f"expected {what}, got an empty list")
    return list(value)


def strings(value: object, where: Where, what: str, *, empty: bool = False) -> list[str]:
    """``value`` if it is a list of non-blank strings."""
    return [
        text(item, where.index(position), "a string")
        for position, item in enumerate(items(value, where, what, empty=empty))
    ]


def json_value(value: object, where: Where) -> None:
    """Check that ``value`` has a JSON form: tables, lists, strings, finite numbers, etc."""
    match value:
        case None | bool() | int() | str():
            return
        case float():
            if not math.isfinite(value):
                raise where.error(f"expected a finite number, got {value!r}")
        case Mapping():
            for key, item in table(value, where).items():
                json_value(item, where.key(key))
        case list() | tuple():
            for position, item in enumerate(value):
                json_value(item, where.index(position))
        case _:
            hint = " (TOML dates and times have no JSON form: quote them)"
            hint = hint if _is_time(value) else ""
            raise where.error(f"expected a JSON value, got {describe(value)}{hint}")


def known_keys(
    values: Mapping[str, Any],
    valid: Sequence[str],
    where: Where,
    kind: str,
    misplaced: Mapping[str, str] | None = None,
) -> None:
    """Refuse a key of ``values`` that is not in ``valid``, suggesting the closest one.

    Args:
        values: the table.
        valid: the keys it may have, in the order to list them.
        where: the table's entry.
        kind: what the table is, for the message: ``"a worker step"``.
        misplaced: keys valid elsewhere but not here, with what to do instead.
    """
    for key in values:
        if key in valid:
            continue
        if misplaced and key in misplaced:
            raise where.error(f"{key!r} is not allowed in {kind}: {misplaced[key]}")
        raise where.error(
            f"unknown key {key!r}{suggestion(key, valid)} "
            f"(the keys of {kind} are: {', '.join(valid)})"
        )


def worker(value: object, where: Where) -> Any:
    """The worker class a step's ``worker`` path names, imported if need be.

    Its module is imported (a template is trusted input, like code), but nothing it holds
    is called unless it is a class that ``@baton.worker`` or ``@oban.worker`` made.
    """
    path = text(value, where, "a worker path such as 'myapp.workers.Fetch'")
    if not _WORKER_PATH.fullmatch(path):
        raise where.error(
            f"{shorten(path)!r} is not a dotted path to a worker class, such as "
            "'myapp.workers.Fetch'"
        )
    try:
        found = resolve_worker(path)
    except WorkerResolutionError as error:
        raise where.error(
            f"cannot import worker {path!r}: {error}; check the path, and that its module "
            "is importable here (baton run: run it from the project directory, or --import)"
        ) from error
    except Exception as error:  # the worker's module failed while being imported
        raise where.error(
            f"importing worker {path!r} failed: {type(error).__name__}: {error}"
        ) from error
    if not _oban.is_worker_class(found):
        raise where.error(
            f"{path!r} is not a worker: decorate the class with @baton.worker or @oban.worker"
        )
    return found


def job_options(step: Mapping[str, Any], where: Where) -> dict[str, Any]:
    """The job options a worker step sets: queue, priority, max_attempts, tags, meta."""
    options: dict[str, Any] = {}
    if "queue" in step:
        options["queue"] = text(step["queue"], where.key("queue"), "a queue name")
    if "priority" in step:
        options["priority"] = integer(step["priority"], where.key("priority"), 0, 9)
    if "max_attempts" in step:
        options["max_attempts"] = integer(step["max_attempts"], where.key("max_attempts"), 1)
    if "tags" in step:
        options["tags"] = strings(step["tags"], where.key("tags"), "a list of strings", empty=True)
    if "meta" in step:
        meta = table(step["meta"], where.key("meta"))
        json_value(meta, where.key("meta"))
        options["meta"] = dict(meta)
    return options


def _is_time(value: object) -> bool:
    return type(value).__module__ == "datetime"


__all__: Sequence[str] = [
    "Where",
    "describe",
    "flag",
    "integer",
    "items",
    "job_options",
    "json_value",
    "known_keys",
    "shorten",
    "strings",
    "suggestion",
    "table",
    "text",
    "worker",
]
