"""Template files: a JSON or TOML file read and parsed into the data a template holds.

Only a regular file is read (a FIFO would block, ``/dev/zero`` never ends), and at most
:data:`MAX_BYTES` of it; its data may nest :data:`MAX_DEPTH` tables and lists deep.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import TemplateError

SUFFIXES = (".json", ".toml")
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64


def parse(path: Path, source: str) -> Any:
    """The data in a template file; its suffix chooses the parser.

    Args:
        path: the file.
        source: how messages name it (the path as the caller gave it).

    Raises:
        TemplateError: the suffix is neither .json nor .toml, the file is not a regular
            file or is over ``MAX_BYTES``, or it cannot be read or parsed, or it nests
            deeper than ``MAX_DEPTH``.
    """
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        found = repr(path.suffix) if path.suffix else "no suffix"
        raise TemplateError(
            f"{source}: a template file must end in .json or .toml (which chooses the "
            f"parser), got {found}"
        )
    try:
        content = _read(path, source).decode("utf-8")
    except UnicodeDecodeError as error:
        raise TemplateError(
            f"{source}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from error
    try:
        data = _parsed(suffix, content, source)
    except RecursionError:
        raise TemplateError(
            f"{source}: nested too deeply to parse (a template may nest {MAX_DEPTH} levels)"
        ) from None
    check_depth(data, source)
    return data


def check_depth(data: Any, source: str) -> None:
    """Refuse data nested more than :data:`MAX_DEPTH` tables and lists deep.

    Walked without recursion, so that the checks after it may recurse safely.

    Raises:
        TemplateError: it is nested deeper.
    """
    level = [data]
    for _ in range(MAX_DEPTH + 1):
        level = [
            item
            for value in level
            if isinstance(value, Mapping | list | tuple)
            for item in (value.values() if isinstance(value, Mapping) else value)
        ]
        if not level:
            return
    raise TemplateError(
        f"{source}: nested more than {MAX_DEPTH} tables and lists deep; flatten the data"
    )


def _read(path: Path, source: str) -> bytes:
    """At most ``MAX_BYTES`` of a regular file, opened without blocking on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise TemplateError(f"{source}: cannot read it: {error.strerror or error}") from error
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise TemplateError(f"{source}: not a regular file (a template is read from a file)")
        try:
            content = file.read(MAX_BYTES + 1)
        except OSError as error:
            raise TemplateError(f"{source}: cannot read it: {error.strerror or error}") from error
    if len(content) > MAX_BYTES:
        raise TemplateError(
            f"{source}: over {MAX_BYTES:,} bytes, the limit of a template file; pass large "
            "data by reference (a path, a URL, an id)"
        )
    return content


def _parsed(suffix: str, content: str, source: str) -> Any:
    if suffix == ".toml":
        try:
            return tomllib.loads(content)
        except tomllib.TOMLDecodeError as error:
            raise TemplateError(f"{source}: not valid TOML: {error}") from error
    try:
        return json.loads(content, object_pairs_hook=_unique, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise TemplateError(
            f"{source}: not valid JSON: {error.msg} (at line {error.lineno}, column {error.colno})"
        ) from error
    except ValueError as error:  # raised by the two hooks
        raise TemplateError(f"{source}: not valid JSON: {error}") from error


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {key!r} appears twice in one object")
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


__all__: Sequence[str] = ["MAX_BYTES", "MAX_DEPTH", "SUFFIXES", "check_depth", "parse"]
