"""What status and watch print of queues nobody serves, retries to come, and cancellation."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from baton._control import StepStatus, WorkflowStatus
from baton.cli._terminal import (
    STATE_STYLES,
    header,
    next_run,
    status_view,
    step_duration,
    steps_table,
)

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def step(name: str, state: str, **fields: Any) -> StepStatus:
    values: dict[str, Any] = {
        "worker": "w",
        "attempt": 1,
        "max_attempts": 3,
        "deps": (),
        "group": None,
        "inserted_at": NOW - timedelta(minutes=10),
        "attempted_at": None,
        "settled_at": None,
        "error": None,
        "result_stored": False,
        "cost_usd": None,
        "queue": "default",
        **fields,
    }
    return StepStatus(name=name, state=state, **values)


def workflow(*steps: StepStatus, **fields: Any) -> WorkflowStatus:
    values: dict[str, Any] = {
        "id": "wf-1",
        "name": "views",
        "state": "running",
        "counts": {},
        "steps": steps,
        "inserted_at": NOW - timedelta(minutes=20),
        "finished_at": None,
        "duration_ms": 1_200_000,
        "cost_usd": None,
        **fields,
    }
    return WorkflowStatus(**values)


def rendered(renderable: Any, width: int = 160) -> list[str]:
    out = Console(record=True, width=width, highlight=False, file=io.StringIO())
    out.print(renderable)
    return [line.rstrip() for line in out.export_text().splitlines()]


def test_a_failed_attempt_lasts_until_its_error_not_until_a_later_cancel() -> None:
    start = NOW - timedelta(minutes=5)
    errored = start + timedelta(seconds=2)
    retrying = step("a", "retryable", attempted_at=start, errored_at=errored)
    assert step_duration(retrying, NOW) == 2000
    cancelled = step(
        "a", "cancelled", attempted_at=start, errored_at=errored, settled_at=NOW
    )  # cancelled five minutes later, while waiting to retry
    assert step_duration(cancelled, NOW) == 2000
    # an error from before the last attempt says nothing about how long that one ran
    stale = step("a", "cancelled", attempted_at=start, errored_at=start - timedelta(1))
    assert step_duration(stale, NOW) is None
    done = step("a", "completed", attempted_at=start, errored_at=errored, settled_at=NOW)
    assert step_duration(done, NOW) == 300_000


def test_a_step_waiting_to_retry_says_when_it_runs() -> None:
    later = NOW + timedelta(seconds=14)
    assert next_run(step("a", "retryable", scheduled_at=later), NOW) == "in 14.0 s (12:00:14 UTC)"
    assert next_run(step("a", "scheduled", scheduled_at=NOW - timedelta(1)), NOW).startswith("due")
    assert next_run(step("a", "available", scheduled_at=later), NOW) == ""
    lines = rendered(steps_table(workflow(step("a", "retryable", scheduled_at=later)), NOW))
    assert lines[0].split()[-2:] == ["NEXT", "RUN"]
    assert lines[2].endswith("in 14.0 s (12:00:14 UTC)")
    assert "NEXT" not in rendered(steps_table(workflow(step("a", "available")), NOW))[0]


def test_a_cancelled_workflow_says_so_with_its_time_up_to_the_cancel() -> None:
    current = workflow(
        step("a", "cancelled"),
        state="cancelled",
        cancelled_at=NOW - timedelta(minutes=9, seconds=40),
    )
    second = header(current, NOW).plain.splitlines()[1]
    assert second.startswith("cancelled · 0/1 steps completed · cancelled after 10m 20s")
    assert "running for" not in second
    finished = workflow(state="completed", finished_at=NOW - timedelta(minutes=15))
    assert "took 5m 00s" in header(finished, NOW).plain


def test_status_names_each_queue_and_says_which_one_nobody_serves() -> None:
    current = workflow(
        step("fetch", "completed"),
        step("send", "available", queue="emails"),
        step("notify", "suspended", queue="emails"),
        unserved_queues={"emails": ("send", "notify")},
    )
    lines = rendered(status_view(current))
    assert lines[2].split()[:3] == ["STEP", "STATE", "QUEUE"]
    assert [line.split()[:3] for line in lines[4:7]] == [
        ["fetch", "completed", "default"],
        ["send", "available", "emails"],
        ["notify", "suspended", "emails"],
    ]
    assert lines[7] == (
        "no running node serves queue 'emails', which steps send, notify wait for: "
        "start one with `baton start --queues emails:10` (or unpause it)"
    )
    assert len(rendered(status_view(workflow(step("fetch", "available"))))) == 5


def test_skipped_steps_have_a_style_of_their_own_and_are_counted_in_the_header() -> None:
    current = workflow(
        step("route", "completed"),
        step("then", "completed"),
        step("otherwise", "skipped", attempt=0),
        state="completed",
        counts={"completed": 2, "skipped": 1},
        finished_at=NOW,
    )
    text = header(current, NOW)
    assert text.plain.splitlines()[1].startswith("completed · 2/3 steps completed · 1 skipped ·")
    assert any(span.style == "italic bright_black" for span in text.spans)
    table = steps_table(current, NOW)
    state_cells = list(table.columns[1].cells)
    assert [cell.plain for cell in state_cells] == ["completed", "completed", "skipped"]
    assert state_cells[2].style == "italic bright_black"
    styles = {state: style for state, style in STATE_STYLES.items() if state != "skipped"}
    assert STATE_STYLES["skipped"] not in styles.values()  # drawn unlike any other state
    assert "skipped" not in header(workflow(step("a", "completed")), NOW).plain
