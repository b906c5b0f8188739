"""What the command line prints: tables of workflows and steps, a workflow's header and
its steps' errors. ``baton watch`` redraws them live (``_watch``).

Rendered with rich; every value from the database goes through ``_sanitize`` and is printed
as ``Text``, never as markup.

Steps are listed by nesting: a sub-workflow's steps together, the steps a step added at
run time right after it. A step's full path is shown, its namespace dimmed (``research/``
in ``research/fetch``), so nesting reads on a terminal and survives a pipe.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from .._flow_view import flow_note
from .._graph import nesting_order
from .._names import SEPARATOR
from .._status import StepStatus, WorkflowStatus, WorkflowSummary
from ._sanitize import clean, clean_line

PIPED_WIDTH = 160
UNSETTLED = frozenset(
    ("suspended", "available", "scheduled", "snoozed", "executing", "retryable", "awaiting_signal")
)

STATE_STYLES = {
    "suspended": "dim",
    "available": "blue",
    "scheduled": "magenta",
    "snoozed": "magenta",
    "executing": "yellow",
    "retryable": "dark_orange",
    "completed": "green",
    "discarded": "red",
    "cancelled": "bright_magenta",
    "deleted": "dim",
    "skipped": "italic bright_black",
    "awaiting_signal": "bold cyan",
    "running": "yellow",
    "failed": "bold red",
}


def console() -> Console:
    """A console for stdout; piped without ``COLUMNS``, wide enough not to cut ids.

    Strings printed through it are never read as markup or emoji codes: what it prints
    comes from the database (see ``_sanitize``).
    """
    out = Console(highlight=False, markup=False, emoji=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = PIPED_WIDTH
    return out


def duration(ms: float | None) -> str:
    """``340 ms``, ``12.3 s``, ``4m 05s``, ``2h 03m``; ``—`` when unknown."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def cost(value: Decimal | None) -> str:
    """``$0.0123``, to the millionth of a dollar; ``—`` when unknown."""
    if value is None:
        return "—"
    return "$" + format(value.quantize(Decimal("0.000001")).normalize(), "f")


def _state(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def _cut(text: str, style: str = "") -> Text:
    """A cell that is cut with an ellipsis, never wrapped, when its column is narrowed."""
    return Text(clean_line(text), style=style, no_wrap=True, overflow="ellipsis")


def error_message(error: str | None) -> str:
    """A step's last error (its exception's type and message, or a reason), whole."""
    return clean(error.strip()) if error else ""


def step_duration(step: StepStatus, now: datetime) -> float | None:
    """How long the step's last attempt ran (so far, while executing).

    An attempt that failed ended with its error; a step cancelled or discarded later
    (while waiting to retry) still shows how long that attempt ran, not the wait after it.
    """
    start = step.attempted_at
    if start is None:
        return None
    if step.state == "executing":
        return (now - start).total_seconds() * 1000
    if step.state != "completed" and step.errored_at is not None and step.errored_at >= start:
        return (step.errored_at - start).total_seconds() * 1000
    if step.state == "completed" and step.settled_at is not None and step.settled_at >= start:
        return (step.settled_at - start).total_seconds() * 1000
    return None


def next_run(step: StepStatus, now: datetime) -> str:
    """When a retryable or scheduled step runs next: ``in 14.2 s``, ``due`` once past."""
    if step.state not in ("retryable", "scheduled") or step.scheduled_at is None:
        return ""
    wait = (step.scheduled_at - now).total_seconds() * 1000
    at = step.scheduled_at.strftime("%H:%M:%S")
    return f"in {duration(wait)} ({at} UTC)" if wait > 0 else f"due ({at} UTC)"


def workflows_table(summaries: Iterable[WorkflowSummary]) -> Table:
    """``baton list``: one row per workflow."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("ID", no_wrap=True)
    table.add_column("NAME")  # shrinks first: its cells are cut, not wrapped
    table.add_column("STATE", no_wrap=True)
    table.add_column("STEPS", justify="right", no_wrap=True)
    table.add_column("DURATION", justify="right", no_wrap=True)
    table.add_column("COST", justify="right", no_wrap=True)
    for item in summaries:
        table.add_row(
            Text(clean_line(item.id), no_wrap=True),
            _cut(item.name or ""),
            _state(item.state),
            f"{item.completed_steps}/{item.step_count}",
            duration(item.duration_ms),
            cost(item.cost_usd),
        )
    return table


def _elapsed(current: WorkflowStatus, now: datetime) -> float:
    end = current.cancelled_at or current.finished_at or now
    return (end - current.inserted_at).total_seconds() * 1000


def header(current: WorkflowStatus, now: datetime) -> Text:
    """Name, id, state, steps completed, duration and cost on two lines (a third for a
    deadline or unique key)."""
    text = Text()
    text.append(clean_line(current.name or "(unnamed)"), style="bold")
    text.append(f"  {clean_line(current.id)}\n", style="dim")
    text.append_text(_state(current.state))
    if current.reason:  # failed as a whole: "failed (budget)"
        text.append(f" ({clean_line(current.reason)})")
    completed = current.counts.get("completed", 0)
    text.append(f" · {completed}/{len(current.steps)} steps completed")
    if current.counts.get("skipped"):  # branches not taken
        text.append(f" · {current.counts['skipped']} skipped", style=STATE_STYLES["skipped"])
    if current.state == "cancelled":
        verb = "cancelled after"
    else:
        verb = "took" if current.finished_at else "running for"
    text.append(f" · {verb} {duration(_elapsed(current, now))}")
    text.append(f" · cost {cost(current.cost_usd)}")
    if current.budget_usd is not None:
        text.append(f" of {cost(current.budget_usd)} budget")
    note = flow_note(current, now)  # deadline and unique key (docs/deadlines.md, unique.md)
    if note:
        text.append(f"\n{clean_line(note)}", style="bold red" if current.reason else "dim")
    return text


def step_name(name: str) -> Text:
    """A step's path with its namespace dimmed: ``research/`` of ``research/fetch``."""
    head, separator, last = clean_line(name).rpartition(SEPARATOR)
    text = Text(no_wrap=True, overflow="ellipsis")
    if separator:
        text.append(head + separator, style="dim")
    text.append(last)
    return text


def nested(steps: Iterable[StepStatus]) -> list[StepStatus]:
    """The steps in nesting order: a namespace's steps together, added ones after their step."""
    by_name = {step.name: step for step in steps}
    return [by_name[name] for name in nesting_order(list(by_name))]


def steps_table(current: WorkflowStatus, now: datetime) -> Table:
    """``baton status``: one row per step, nested steps under their namespace.

    A MODEL column appears when any step has a model, NEXT RUN when a step waits to
    retry or is scheduled, COST when any step's cost is known. A queue no running node
    serves is shown in red. Errors are listed under the table (``errors_view``), whole.
    """
    with_model = any(step.model is not None for step in current.steps)
    with_cost = any(step.cost_usd is not None for step in current.steps)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    with_next = any(next_run(step, now) for step in current.steps)
    table.add_column("STEP", no_wrap=True)
    table.add_column("STATE", no_wrap=True)
    table.add_column("QUEUE", no_wrap=True)
    if with_model:
        table.add_column("MODEL", no_wrap=True)
    table.add_column("ATTEMPT", justify="right", no_wrap=True)
    table.add_column("DURATION", justify="right", no_wrap=True)
    if with_next:
        table.add_column("NEXT RUN", no_wrap=True)
    if with_cost:
        table.add_column("COST", justify="right", no_wrap=True)
    for step in nested(current.steps):
        attempt = f"{step.attempt}/{step.max_attempts}" if step.max_attempts else "—"
        unserved = step.queue in current.unserved_queues and step.state in UNSETTLED
        row: list[Any] = [
            step_name(step.name),
            _state(step.state),
            _cut(step.queue or "—", "bold red" if unserved else ""),
        ]
        if with_model:
            row.append(_cut(step.model or "—"))
        row += [attempt, duration(step_duration(step, now))]
        if with_next:
            row.append(next_run(step, now))
        if with_cost:
            row.append(cost(step.cost_usd))
        table.add_row(*row)
    return table


def errors_view(current: WorkflowStatus) -> Group:
    """Each step's last error, whole, under the table: ``step (state, attempt 2/3): …``.

    A message wraps at the console's width, never cut; a completed step's error (from an
    earlier attempt) is dimmed.
    """
    lines: list[RenderableType] = []
    for step in nested(current.steps):
        if not step.error:
            continue
        attempt = f", attempt {step.attempt}/{step.max_attempts}" if step.max_attempts else ""
        style = "dim" if step.state == "completed" else "red"
        line = Text.assemble(step_name(step.name), f" ({step.state}{attempt}): ")
        line.append(error_message(step.error), style=style)
        lines.append(line)
    if lines:
        lines.insert(0, Text("errors:", style="bold"))
    return Group(*lines)


def status_view(current: WorkflowStatus) -> Group:
    """``baton status``: the header, the steps table and the steps' errors."""
    now = datetime.now(UTC)
    return Group(
        header(current, now),
        steps_table(current, now),
        errors_view(current),
        *unserved_lines(current),
        *signal_lines(current),
    )


def unserved_hint(queue: str, steps: Iterable[str]) -> str:
    """The line saying that no running node serves ``queue``, and how to fix it."""
    names = ", ".join(map(clean_line, steps))
    return (
        f"no running node serves queue {queue!r}, which steps {names} wait for: "
        f"start one with `baton start --queues {queue}:10` (or unpause it)"
    )


def unserved_lines(current: WorkflowStatus) -> list[Text]:
    """One warning per queue that waiting steps need and no running node serves."""
    return [
        Text(unserved_hint(queue, steps), style="bold red")
        for queue, steps in current.unserved_queues.items()
    ]


def signal_lines(current: WorkflowStatus) -> list[Text]:
    """One line per step waiting for a signal, with the command that sends it."""
    return [
        Text(
            f"step {clean_line(step.name)} waits for a signal: baton signal "
            f"{clean_line(current.id)} {clean_line(step.name)} --json PAYLOAD",
            style="cyan",
        )
        for step in current.steps
        if step.state == "awaiting_signal"
    ]
