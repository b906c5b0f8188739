"""Template files: a JSON or TOML file read and parsed into the data a template holds."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import TemplateError

SUFFIXES = (".json", ".toml")


def parse(path: Path, source: str) -> Any:
    """The data in a template file; its suffix chooses the parser.

    Args:
        path: the file.
        source: how messages name it (the path as the caller gave it).

    Raises:
        TemplateError: the suffix is neither .json nor .toml, or the file cannot be read
            or parsed.
    """
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        found = repr(path.suffix) if path.suffix else "no suffix"
        raise TemplateError(
            f"{source}: a template file must end in .json or .toml (which chooses the "
            f"parser), got {found}"
        )
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise TemplateError(
            f"{source}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from error
    except OSError as error:
        raise TemplateError(f"{source}: cannot read it: {error.strerror or error}") from error
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


__all__: Sequence[str] = ["SUFFIXES", "parse"]
