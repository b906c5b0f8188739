"""``baton status ID --calls``: the calls a workflow's steps captured, after its status.

Each call is a header line (step, attempt, order, time, size, ``truncated`` when a part was
cut to the size cap) and its request and response as indented JSON; the text an attempt
streamed (``kind`` ``"stream"``) is printed as that text, under ``streamed output``, with
what was cut from its end counted. Every value comes from
the database, so it is cleaned (``_sanitize``) and printed as ``Text``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Group
from rich.text import Text

from .._capture import CapturedCall
from ._sanitize import clean, clean_line


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def calls_view(calls: Sequence[CapturedCall]) -> Group:
    """The captured calls, one block per call, or a line saying there are none."""
    if not calls:
        return Group(
            Text(""),
            Text(
                "No captured calls. Capture is on with Workflow(capture=True), "
                "@baton.worker(capture=True) or baton.capture_calls(True).",
                style="dim",
            ),
        )
    parts: list[Text] = [Text(""), Text(f"Captured calls ({len(calls)})", style="bold")]
    for call in calls:
        line = Text()
        line.append(clean_line(call.step), style="bold")
        line.append(f"  attempt {call.attempt}  #{call.seq + 1}  ")
        line.append(call.captured_at.strftime("%Y-%m-%d %H:%M:%S UTC"), style="dim")
        line.append(f"  {call.bytes:,} bytes")
        if call.truncated:
            line.append("  truncated", style="yellow")
        parts.append(Text(""))
        parts.append(line)
        if call.kind == "stream":
            parts.extend(_streamed(call.response))
            continue
        for label, value in (("request", call.request), ("response", call.response)):
            parts.append(Text(f"{label}:", style="cyan"))
            parts.append(Text(clean(_json(value))))
    return Group(*parts)


def _streamed(response: dict[str, Any]) -> list[Text]:
    """The streamed text of a stream entry, with its chunk count and what was cut."""
    chunks, chars = response.get("chunks", 0), response.get("chars", 0)
    head = f"streamed output ({chunks:,} chunks, {chars:,} chars):"
    lines = [Text(head, style="cyan"), Text(clean(str(response.get("baton_stream", ""))))]
    if response.get("omitted_chars"):
        lines.append(Text(f"… {response['omitted_chars']:,} more chars not kept", style="yellow"))
    return lines
