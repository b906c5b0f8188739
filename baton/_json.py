"""The one JSON encoding Baton stores: strict, and checked for what jsonb refuses."""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import UnstorableResult

# "\u0000" in JSON text, but not "\\u0000" (an escaped backslash followed by "u0000").
_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def encode(value: Any) -> str:
    """JSON text for ``value``; raises TypeError / ValueError as ``json.dumps`` does.

    NaN and infinities are refused (PostgreSQL's jsonb has no such numbers).
    """
    return json.dumps(value, allow_nan=False, ensure_ascii=False)


def contains_nul(encoded: str) -> bool:
    """Whether JSON text encodes a NUL character, which jsonb cannot store."""
    return _NUL.search(encoded) is not None


def encode_result(value: Any, limit: int) -> str:
    """The stored JSON for a result, wrapped so scalars and lists round-trip.

    Raises:
        UnstorableResult: the value is not JSON, contains a NUL character, or encodes to
            more than ``limit`` bytes.
    """
    try:
        encoded = encode({"value": value})
    except (TypeError, ValueError) as error:
        raise UnstorableResult(
            f"result of type {type(value).__name__} is not JSON-serialisable ({error}); "
            "return dicts, lists, strings, numbers, booleans or None"
        ) from error
    if contains_nul(encoded):
        raise UnstorableResult(
            "result contains a NUL character (\\u0000), which PostgreSQL cannot store in jsonb"
        )
    size = len(encoded.encode())
    if size > limit:
        raise UnstorableResult(
            f"result is {size:,} bytes of JSON, over the limit of {limit:,}; store large "
            "data elsewhere and return a reference, or raise result_limit= on the worker"
        )
    return encoded
