"""What the command line prints, without a database: durations, costs, errors, queues,
nested steps, models and steps added at run time."""

from __future__ import annotations

import io
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import click
import pytest
from rich.console import Console

from baton._control import StepStatus, WorkflowStatus, WorkflowSummary
from baton._events import StepEvent, StepsAdded
from baton.cli._sanitize import clean, clean_line
from baton.cli._start import parse_queues
from baton.cli._terminal import (
    cost,
    duration,
    error_message,
    errors_view,
    header,
    nested,
    step_duration,
    step_name,
    steps_table,
    workflows_table,
)
from baton.cli._watch import event_line, progress

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, "—"),
        (0, "0 ms"),
        (340.4, "340 ms"),
        (12_340, "12.3 s"),
        (245_000, "4m 05s"),
        (7_380_000, "2h 03m"),
    ],
)
def test_duration(ms: float | None, text: str) -> None:
    assert duration(ms) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (Decimal(0), "$0"),
        (Decimal("0.0012000"), "$0.0012"),
        (Decimal("0.00000049"), "$0"),
        (Decimal("12.5"), "$12.5"),
    ],
)
def test_cost(value: Decimal | None, text: str) -> None:
    assert cost(value) == text


def test_error_message_is_the_whole_message() -> None:
    message = "baton.errors.NotADependency: " + "word " * 40 + "declare it with deps=[...]"
    assert error_message(message + "\n") == message
    assert error_message(None) == ""


def step(state: str, attempted: datetime | None, settled: datetime | None) -> StepStatus:
    return StepStatus(
        name="a",
        state=state,
        worker="w",
        attempt=1,
        max_attempts=3,
        deps=(),
        group=None,
        inserted_at=None,
        attempted_at=attempted,
        settled_at=settled,
        error=None,
        result_stored=False,
        cost_usd=None,
    )


def test_step_duration() -> None:
    start = NOW - timedelta(seconds=3)
    assert step_duration(step("completed", start, NOW - timedelta(seconds=1)), NOW) == 2000
    assert step_duration(step("executing", start, None), NOW) == 3000
    assert step_duration(step("available", None, None), NOW) is None
    assert step_duration(step("retryable", start, None), NOW) is None


def test_parse_queues() -> None:
    assert parse_queues("default:10, llm:2,") == {"default": 10, "llm": 2}
    for bad in ("default", ":3", "llm:two"):
        with pytest.raises(click.BadParameter, match="name:limit pairs"):
            parse_queues(bad)
    with pytest.raises(click.BadParameter, match="limit of queue 'default' must be at least 1"):
        parse_queues("default:0")


# --- nesting, added steps and models -------------------------------------------------------


def nested_step(
    name: str,
    state: str = "completed",
    *,
    model: str | None = None,
    group: str | None = None,
) -> StepStatus:
    return StepStatus(
        name=name,
        state=state,
        worker="w",
        attempt=1,
        max_attempts=3,
        deps=(),
        group=group,
        inserted_at=NOW - timedelta(seconds=3),
        attempted_at=NOW - timedelta(seconds=2),
        settled_at=NOW - timedelta(seconds=1) if state == "completed" else None,
        error=None,
        result_stored=state == "completed",
        cost_usd=None,
        model=model,
        queue="default",
    )


def nested_workflow(*extra: StepStatus) -> WorkflowStatus:
    """plan; research/{fetch, search[0]}; draft[0..1] by model; compile; then ``extra``."""
    steps = (
        nested_step("plan"),
        nested_step("research/fetch"),
        nested_step("research/search[0]", group="research/search"),
        nested_step("draft[0]", model="gpt-4o", group="draft"),
        nested_step("draft[1]", "executing", model="claude-sonnet-4", group="draft"),
        nested_step("compile", "suspended"),
        *extra,
    )
    return WorkflowStatus(
        id="wf-1",
        name="nested",
        state="running",
        counts=dict(Counter(step.state for step in steps)),
        steps=steps,
        inserted_at=NOW - timedelta(seconds=10),
        finished_at=None,
        duration_ms=10_000,
        cost_usd=None,
    )


ADDED = (
    nested_step("plan/summary[0]", "available", group="plan/summary"),
    nested_step("plan/summary[1]", "available", group="plan/summary"),
)


def rendered(renderable: Any, width: int = 100) -> list[str]:
    out = Console(record=True, width=width, highlight=False, file=io.StringIO())
    out.print(renderable)
    return [line.rstrip() for line in out.export_text().splitlines()]


def test_errors_are_listed_whole_under_the_table() -> None:
    message = (
        "baton.errors.NotADependency: step 'compile' asked for the result of 'draft', which "
        "is not one of its deps ('plan'); declare it with deps=[...] to read it"
    )
    failed = replace(nested_step("report", "discarded"), error=message)
    earlier = replace(nested_step("plan"), error="RuntimeError: 429 Too Many Requests")
    current = replace(nested_workflow(failed), steps=(earlier, *nested_workflow(failed).steps[1:]))
    assert rendered(steps_table(current, NOW))[0].split()[-1] == "DURATION"  # no ERROR column
    for width in (80, 200):
        lines = rendered(errors_view(current), width)
        assert lines[0] == "errors:"
        assert lines[1] == "plan (completed, attempt 1/3): RuntimeError: 429 Too Many Requests"
        assert " ".join(" ".join(lines[2:]).split()) == (
            f"report (discarded, attempt 1/3): {message}"
        )
        assert (len(lines) == 3) is (width == 200)
    assert rendered(errors_view(nested_workflow())) == []


def test_status_lists_nested_steps_by_path_with_a_model_column() -> None:
    lines = rendered(steps_table(nested_workflow(*ADDED), NOW))
    assert lines[0].split() == ["STEP", "STATE", "QUEUE", "MODEL", "ATTEMPT", "DURATION"]
    rows = [line.split() for line in lines[2:]]
    assert [[row[0], row[1], row[3]] for row in rows] == [
        ["plan", "completed", "—"],
        # added at run time: listed right after the step that added them
        ["plan/summary[0]", "available", "—"],
        ["plan/summary[1]", "available", "—"],
        ["research/fetch", "completed", "—"],
        ["research/search[0]", "completed", "—"],
        ["draft[0]", "completed", "gpt-4o"],
        ["draft[1]", "executing", "claude-sonnet-4"],
        ["compile", "suspended", "—"],
    ]
    assert {row[2] for row in rows} == {"default"}
    # the columns stay aligned whatever the depth of a path
    starts = {line.index(row[1]) for line, row in zip(lines[2:], rows, strict=True)}
    assert len(starts) == 1


def test_no_model_column_without_models() -> None:
    status = nested_workflow()
    plain = replace(status, steps=tuple(replace(step, model=None) for step in status.steps))
    columns = rendered(steps_table(plain, NOW))[0].split()
    assert columns == ["STEP", "STATE", "QUEUE", "ATTEMPT", "DURATION"]


def test_a_namespace_is_dimmed_and_the_last_segment_is_not() -> None:
    text = step_name("research/deep/fetch")
    assert text.plain == "research/deep/fetch"
    assert [(span.start, span.end, str(span.style)) for span in text.spans] == [
        (0, len("research/deep/"), "dim")
    ]
    assert step_name("compile").spans == []


def test_nested_keeps_top_level_order_and_puts_added_steps_after_their_step() -> None:
    names = [step.name for step in nested([nested_step(n) for n in ("b", "a/x", "b/y", "c")])]
    assert names == ["b", "b/y", "a/x", "c"]


def test_the_progress_total_follows_steps_added_at_run_time() -> None:
    before = nested_workflow()
    after = nested_workflow(*ADDED)
    assert rendered(progress(before))[0].endswith("4/6 steps settled")
    assert rendered(progress(after))[0].endswith("4/8 steps settled")
    assert "4/8 steps completed" in header(after, NOW).plain


def test_watch_prints_a_line_for_added_steps() -> None:
    event = StepsAdded(
        workflow_id="wf-1",
        workflow_name="nested",
        step="plan",
        count=2,
        steps=("plan/summary[0]", "plan/summary[1]"),
        at=NOW,
    )
    line = event_line(event, time.monotonic())
    assert line.split()[1:] == ["plan", "added", "2", "step(s)", "under", "plan/"]


def test_a_watch_line_shows_the_whole_error_with_its_type_first() -> None:
    advice = "declare it with deps=[...] to read it"
    event = StepEvent(
        workflow_id="wf-1",
        workflow_name="brief",
        step="compile",
        worker="w",
        state="discarded",
        job_id=7,
        attempt=1,
        result_stored=False,
        cached=False,
        error=f"baton.errors.NotADependency: {'x' * 200}; {advice}\nsecond line",
        at=NOW,
    )
    first, second = event_line(event, time.monotonic()).splitlines()
    assert first.split()[1:5] == ["compile", "discarded", "attempt", "1"]
    assert first.endswith(f"baton.errors.NotADependency: {'x' * 200}; {advice}")
    assert second == " " * 12 + "second line"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("\x1b[2Jplain", "\\x1b[2Jplain"),
        ("\x1b]8;;https://e.example\x07x", "\\x1b]8;;https://e.example\\x07x"),
        ("\x9b31m", "\\x9b31m"),  # C1 CSI
        ("abc\u202edef", "abc\\u202edef"),
        ("\u2066iso\u2069", "\\u2066iso\\u2069"),
        ("ok: émigré, 東京, عربى", "ok: émigré, 東京, عربى"),  # text is kept
    ],
)
def test_control_and_bidi_characters_are_shown_as_escapes(value: str, shown: str) -> None:
    assert clean(value) == shown
    assert clean_line(value) == shown


def test_newlines_stay_in_an_error_but_not_in_a_cell() -> None:
    assert clean("line 1\nline 2\tx") == "line 1\nline 2\tx"
    assert clean_line("line 1\nline 2\tx") == "line 1\\x0aline 2\\x09x"


def summary(workflow_id: str) -> WorkflowSummary:
    return WorkflowSummary(
        id=workflow_id,
        name="brief",
        state="completed",
        step_count=1,
        settled_steps=1,
        completed_steps=1,
        inserted_at=NOW,
        finished_at=NOW,
        duration_ms=5.0,
        cost_usd=None,
    )


def test_a_markup_like_id_prints_as_it_is() -> None:
    out = Console(record=True, width=200)  # markup and emoji on: the table must not need them off
    out.print(workflows_table([summary("[link=https://evil.example]click[/link] :smile:")]))
    assert "[link=https://evil.example]click[/link] :smile:" in out.export_text()
