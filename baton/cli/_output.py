"""Streamed step output (``StepOutput``) as ``baton watch`` shows it: a line per event
when piped, the latest lines of each step under the live view's tables."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from .._events import StepOutput
from ._sanitize import clean, clean_line

#: Characters of one event shown on its piped line, and kept per step for the live view.
LINE_CHARS = 300
KEPT_CHARS = 2_000
#: Steps and lines per step the live view shows (the most recent ones).
SHOWN_STEPS = 5
SHOWN_LINES = 3


def output_line(event: StepOutput) -> str:
    """``step  output  text`` on one line: newlines as escapes, a long text cut to its end."""
    text = event.text
    cut = len(text) > LINE_CHARS
    shown = clean_line(text[-LINE_CHARS:])
    skipped = event.skipped + (len(text) - LINE_CHARS if cut else 0)
    note = f"  ({skipped} characters not shown)" if skipped else ""
    return f"{clean_line(event.step)}  output  {'…' if skipped else ''}{shown}{note}"


@dataclass(slots=True)
class OutputTail:
    """The end of each step's streamed output, most recently updated step last."""

    steps: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def add(self, event: StepOutput) -> None:
        text = self.steps.pop(event.step, "")
        if event.skipped:
            text += "…"
        self.steps[event.step] = (text + event.text)[-KEPT_CHARS:]

    def render(self) -> list[RenderableType]:
        """A table of the latest lines of the last steps that streamed; none before any."""
        if not self.steps:
            return []
        table = Table(title="live output", title_justify="left", show_header=False, expand=True)
        table.add_column("step", no_wrap=True, style="bold")
        table.add_column("output", overflow="fold")
        for step, text in list(self.steps.items())[-SHOWN_STEPS:]:
            lines = text.splitlines()[-SHOWN_LINES:] or [""]
            table.add_row(Text(clean_line(step)), Text(clean("\n".join(lines))))
        return [table]
