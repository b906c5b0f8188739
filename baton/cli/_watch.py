"""``baton watch``: a workflow followed until it finishes.

On a terminal one live view is redrawn (the tables of ``_terminal`` and a progress bar);
piped, a line is printed per event and the final view once, so logs stay readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from oban import Oban
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .._control import status
from .._events import Event, StepEvent, StepOutput, StepsAdded, WorkflowFinished, subscribe
from .._status import WorkflowStatus
from ._output import OutputTail, output_line
from ._sanitize import clean_line
from ._terminal import (
    UNSETTLED,
    duration,
    error_message,
    errors_view,
    header,
    steps_table,
    unserved_lines,
)


def progress(current: WorkflowStatus) -> Table:
    """A bar of settled steps over all steps."""
    total = len(current.steps)
    settled = settled_steps(current)
    bar = ProgressBar(
        total=total,
        completed=settled,
        width=40,
        complete_style="red" if current.state in ("failed", "cancelled") else "green",
        finished_style="red" if current.state in ("failed", "cancelled") else "green",
    )
    grid = Table.grid(padding=(0, 1))
    grid.add_row(bar, Text(f"{settled}/{total} steps settled"))
    return grid


def finished(current: WorkflowStatus) -> bool:
    """Whether ``watch`` is done: every step settled, or the workflow was cancelled."""
    return current.finished_at is not None or current.state == "cancelled"


@dataclass(slots=True)
class _View:
    current: WorkflowStatus
    started: float = field(default_factory=time.monotonic)
    outputs: OutputTail = field(default_factory=OutputTail)

    def render(self) -> RenderableType:
        now = datetime.now(UTC)
        current = self.current
        return Group(
            header(current, now),
            steps_table(current, now),
            errors_view(current),
            *unserved_lines(current),
            *self.outputs.render(),
            progress(current),
        )


def settled_steps(current: WorkflowStatus) -> int:
    return sum(1 for step in current.steps if step.state not in UNSETTLED)


def opening_line(current: WorkflowStatus) -> Text:
    name = clean_line(current.name or "(unnamed)")
    return Text(
        f"watching {name} ({clean_line(current.id)}): {current.state}, "
        f"{settled_steps(current)}/{len(current.steps)} steps settled"
    )


def event_line(event: Event, since: float) -> str:
    elapsed = f"{time.monotonic() - since:7.2f}s"
    if isinstance(event, StepEvent):
        line = f"{elapsed}  {clean_line(event.step)}  {event.state}  attempt {event.attempt}"
        if not event.error:
            return line
        return f"{line}  " + error_message(event.error).replace("\n", "\n" + " " * 12)
    if isinstance(event, StepsAdded):
        step = clean_line(event.step)
        return f"{elapsed}  {step}  added {event.count} step(s) under {step}/"
    if isinstance(event, StepOutput):
        return f"{elapsed}  {output_line(event)}"
    if isinstance(event, WorkflowFinished):
        why = f" ({clean_line(event.reason)})" if event.reason else ""
        return f"{elapsed}  workflow {event.outcome}{why} in {duration(event.duration_ms)}"
    return f"{elapsed}  (event connection lost and restored; re-reading the status)"


async def watch(
    workflow_id: str,
    *,
    oban: Oban,
    dsn: str,
    prefix: str,
    out: Console,
    timeout: float | None = None,
) -> WorkflowStatus:
    """Follow a workflow until it finishes; return its final status.

    Subscribes before reading the status, so no transition is missed; re-reads the
    status on events (at most every 0.1 s) and on ``Reconnected``.

    Returns:
        The last status read: not ``finished()`` when ``timeout`` ran out first.

    Raises:
        UnknownWorkflow: no workflow has that id.
    """
    async with subscribe(workflow_id, dsn=dsn, prefix=prefix) as events:
        view = _View(await status(workflow_id, oban=oban))
        dirty = asyncio.Event()
        interactive = out.is_terminal
        if not interactive:
            out.print(opening_line(view.current))
            for line in unserved_lines(view.current):
                out.print(line)

        async def read() -> None:
            async for event in events:
                if not interactive:
                    out.print(Text(event_line(event, view.started)))
                if isinstance(event, StepOutput):
                    view.outputs.add(event)  # drawn by the live view's refresh, no re-read
                    continue
                dirty.set()

        reader = asyncio.create_task(read())
        live = Live(get_renderable=view.render, console=out, refresh_per_second=4)
        try:
            with live if interactive else contextlib.nullcontext():
                deadline = asyncio.timeout(timeout)
                try:
                    async with deadline:
                        while not finished(view.current):
                            await dirty.wait()
                            dirty.clear()
                            view.current = await status(workflow_id, oban=oban)
                            if not finished(view.current):
                                await asyncio.sleep(0.1)  # let a burst of events coalesce
                except TimeoutError:
                    if not deadline.expired():
                        raise
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            if not interactive:
                out.print(view.render())
        return view.current
