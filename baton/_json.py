"""The one JSON encoding Baton stores: strict, and checked for what jsonb refuses."""

from __future__ import annotations

import json
import re
from typing import Any

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
