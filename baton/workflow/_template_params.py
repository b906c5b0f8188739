"""Template params: what a template declares, the values given, and ``${name}`` substitution.

A template declares its params under ``params``, each with an optional ``default`` and
``description``; one without a default is required. Strings in step args, ``each``,
``context``, ``models`` and a step's ``model`` use :class:`string.Template` syntax. A
string that is exactly ``${name}`` (or ``$name``) becomes the param's value, whatever
its JSON type; any other string has ``str(value)`` put in its place; ``$$`` is a ``$``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from string import Template
from typing import Any

from . import _template_checks as checks
from ._template_checks import Where

PARAM_KEYS = ("default", "description")
#: What substituting params may produce in one template, in characters of JSON: a param
#: used in many places is copied to each, so a small file could otherwise expand to
#: gigabytes of args.
MAX_SUBSTITUTED = 16 * 1024 * 1024
_NAME = re.compile(Template.idpattern, re.IGNORECASE)
_WHOLE = re.compile(
    rf"\$(?:\{{(?P<braced>{Template.idpattern})\}}|(?P<named>{Template.idpattern}))",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Param:
    """One declared param.

    Attributes:
        name: how strings refer to it: ``${name}``.
        required: declared without a default.
        default: its value when none is given (None when required).
        description: what it is, shown when a required one is missing.
    """

    name: str
    required: bool
    default: Any = None
    description: str | None = None


class Values(Mapping[str, Any]):
    """The value of each param, and what substituting them may still produce.

    Every substitution is charged its size in characters of JSON; one that would bring
    the template over ``limit`` is refused before the copy is made.
    """

    def __init__(self, values: Mapping[str, Any], limit: int = MAX_SUBSTITUTED) -> None:
        self._values = dict(values)
        self._sizes: dict[str, int] = {}
        self._left = limit
        self.limit = limit

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def size(self, name: str) -> int:
        """The size of a param's value in characters of JSON."""
        if name not in self._sizes:
            self._sizes[name] = len(json.dumps(self._values[name]))
        return self._sizes[name]

    def charge(self, size: int, where: Where) -> None:
        """Count ``size`` characters of substituted values against the limit.

        Raises:
            TemplateError: the template's substituted values would be over the limit.
        """
        if size > self._left:
            raise where.error(
                f"substituting params here brings the template's values over "
                f"{self.limit:,} characters of JSON: a param is used in too many places, or "
                "its value is too large; pass large data by reference (a path, a URL, an id)"
            )
        self._left -= size


def resolve(declared: object, given: Mapping[str, Any] | None, where: Where) -> Values:
    """The value of every declared param: the one given, else its default.

    Args:
        declared: the template's ``params`` table, or None when it has none.
        given: the values passed to ``from_dict``/``from_file`` (``--arg`` in ``baton run``).
        where: the entry of the ``params`` table.

    Raises:
        TemplateError: a declaration is invalid, a value is given for a param the template
            does not declare or is not JSON, or a required param has no value.
    """
    params = declarations(declared, where)
    values = _given(given, where)
    for name in values:
        if name not in params:
            listed = ", ".join(params) if params else "none"
            raise where.error(
                f"a value was given for param {name!r}, which the template does not "
                f"declare{checks.suggestion(name, params)} (declared params: {listed})"
            )
    missing = [param for param in params.values() if param.required and param.name not in values]
    if missing:
        first, *others = missing
        about = f" ({first.description})" if first.description else ""
        also = f"; also missing: {', '.join(p.name for p in others)}" if others else ""
        raise where.key(first.name).error(
            f"required, but no value was given{about}; pass one: params={{{first.name!r}: ...}}"
            f", or `baton run --arg {first.name}=VALUE`{also}"
        )
    resolved = {name: param.default for name, param in params.items()}
    resolved.update(values)
    return Values(resolved)


def declarations(declared: object, where: Where) -> dict[str, Param]:
    """The params a template declares under ``params``, by name."""
    if declared is None:
        return {}
    params: dict[str, Param] = {}
    for name, spec in checks.table(declared, where, "a table of params").items():
        entry = where.key(name)
        if not _NAME.fullmatch(name):
            raise entry.error(
                f"param name {checks.shorten(name)!r} cannot be referred to: use letters, "
                "digits and _, not starting with a digit (e.g. 'topic', 'max_items')"
            )
        spec = checks.table(spec, entry, "a table with an optional default and description")
        checks.known_keys(spec, PARAM_KEYS, entry, "a param")
        description = None
        if "description" in spec:
            description = checks.text(spec["description"], entry.key("description"))
        if "default" in spec:
            checks.json_value(spec["default"], entry.key("default"))
        params[name] = Param(name, "default" not in spec, spec.get("default"), description)
    return params


def substitute(value: Any, values: Values, where: Where) -> Any:
    """A copy of ``value`` with every param reference in its strings replaced.

    Tables and lists are walked (their keys are left alone); other values are kept.

    Raises:
        TemplateError: a string refers to a param not in ``values``, or has a ``$`` that
            starts no reference, or the substituted values grow over their limit; the
            message names the entry.
    """
    if isinstance(value, str):
        return _replace(value, values, where)
    if isinstance(value, Mapping):
        return {key: substitute(item, values, where.key(str(key))) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [substitute(item, values, where.index(index)) for index, item in enumerate(value)]
    return value


def _replace(text: str, values: Values, where: Where) -> Any:
    if "$" not in text:
        return text
    whole = _WHOLE.fullmatch(text)
    if whole is not None:
        name = whole["braced"] or whole["named"]
        _check_known(name, values, where)
        values.charge(values.size(name), where)
        return copy.deepcopy(values[name])
    template = Template(text)
    if not template.is_valid():
        raise where.error(
            f"{checks.shorten(text)!r} has a '$' that starts no param reference: write "
            "${name} for a param, $$ for a literal '$'"
        )
    names = template.get_identifiers()
    for name in names:
        _check_known(name, values, where)
    # each reference charged (str(value) is about its JSON's size) before the string is built
    uses = (found["braced"] or found["named"] for found in _WHOLE.finditer(text))
    values.charge(len(text) + sum(values.size(name) for name in uses if name in values), where)
    return template.substitute({name: str(values[name]) for name in names})


def _check_known(name: str, values: Mapping[str, Any], where: Where) -> None:
    if name in values:
        return
    if values:
        declared = f"declared params: {', '.join(values)}"
    else:
        declared = f"the template declares no params: declare it under params.{name}"
    raise where.error(
        f"refers to param {name!r}, which the template does not declare"
        f"{checks.suggestion(name, values)} ({declared})"
    )


def _given(given: Mapping[str, Any] | None, where: Where) -> dict[str, Any]:
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise where.error(
            f"the params given must be a dict of param name to value, got {checks.describe(given)}"
        )
    values: dict[str, Any] = {}
    for name, value in given.items():
        if not isinstance(name, str):
            raise where.error(f"param names must be strings, got {checks.describe(name)}")
        checks.json_value(value, Where(where.source, f"the value given for param {name!r}"))
        values[name] = value
    return values


__all__: Sequence[str] = [
    "MAX_SUBSTITUTED",
    "PARAM_KEYS",
    "Param",
    "Values",
    "declarations",
    "resolve",
    "substitute",
]
