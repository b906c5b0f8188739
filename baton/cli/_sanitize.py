"""Values from the database made safe to print on a terminal.

Workflow names, ids, step names, models, queues and errors are free text, and may come
from LLM output. Printed raw, an ESC or OSC sequence in one would drive the terminal
(colours, cursor moves, a hyperlink hiding the real id, a retitled window), and a bidi
control would reorder the text around it. ``clean`` shows each such character as its
escape (``\\x1b``, ``\\u202e``) instead, so the value stays readable and identifiable.
Values are then printed as ``rich.text.Text``, never as markup, so ``[link=…]`` in an id
is printed as it is.
"""

from __future__ import annotations

import re

#: C0 controls but tab and newline, DEL, and C1 controls (``\x9b`` is a CSI on its own).
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f"
#: Bidi embeddings, overrides, isolates and marks: they reorder what follows them.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[{_CONTROL}{_BIDI}]")
_UNSAFE_LINE = re.compile(f"[\t\n{_CONTROL}{_BIDI}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: str) -> str:
    """``value`` with control and bidi characters shown as escapes; newlines kept."""
    return _UNSAFE.sub(_escape, value)


def clean_line(value: str) -> str:
    """``value`` for one line of a table: newlines and tabs shown as escapes too."""
    return _UNSAFE_LINE.sub(_escape, value)
