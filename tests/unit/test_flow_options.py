"""A workflow's deadline and unique key: the values accepted, every bad one refused with a
message naming it, templates carrying them, and how the views word them. No database."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any

import pytest

from baton import Workflow, WorkflowFinished
from baton._flow_view import flow_note
from baton.cli._terminal import header
from baton.cli._watch import event_line
from baton.errors import TemplateError, WorkflowError
from baton.workflow import record
from tests.support.steps import Echo
from tests.unit.test_terminal_views import NOW, rendered, workflow

ECHO = "tests.support.steps.Echo"


@pytest.mark.parametrize(
    ("given", "seconds"),
    [(600, 600.0), (0.25, 0.25), (timedelta(minutes=5), 300.0), (timedelta(days=366), 31622400.0)],
)
def test_a_deadline_is_seconds_or_a_timedelta(given: Any, seconds: float) -> None:
    wf = Workflow(name="ok", deadline=given)
    assert wf.deadline == timedelta(seconds=seconds)
    assert record(wf, wf.limits)["deadline_s"] == seconds


def test_no_deadline_and_no_key_by_default() -> None:
    wf = Workflow(name="plain")
    assert (wf.deadline, wf.unique_key) == (None, None)
    assert (record(wf, wf.limits)["deadline_s"], record(wf, wf.limits)["unique_key"]) == (
        None,
        None,
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (0, "workflow 'w': deadline must be a positive number of seconds, got 0"),
        (-5, "workflow 'w': deadline must be a positive number of seconds, got -5"),
        (timedelta(0), "deadline must be a positive number of seconds, got datetime.timedelta(0)"),
        (math.nan, "workflow 'w': deadline must be a positive number of seconds, got nan"),
        (math.inf, "workflow 'w': deadline must be a positive number of seconds, got inf"),
        ("600", "workflow 'w': deadline must be a number of seconds or a timedelta, got str '600'"),
        (True, "workflow 'w': deadline must be a number of seconds or a timedelta, got bool True"),
        (
            600_000_000,
            "workflow 'w': deadline 600000000 is more than 366 days; give it in seconds "
            "(600 is ten minutes)",
        ),
    ],
)
def test_a_bad_deadline_is_refused(given: Any, message: str) -> None:
    with pytest.raises(WorkflowError) as raised:
        Workflow(name="w", deadline=given)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "workflow 'w': unique_key must not be blank, got ''"),
        ("   ", "workflow 'w': unique_key must not be blank, got '   '"),
        (42, "workflow 'w': unique_key must be a string, got int 42"),
        (
            "k" * 256,
            "workflow 'w': unique_key is 256 characters long; at most 255 are allowed "
            "(hash a longer one)",
        ),
        ("a\x00b", "workflow 'w': unique_key contains a NUL character, which cannot be stored"),
    ],
)
def test_a_bad_unique_key_is_refused(given: Any, message: str) -> None:
    with pytest.raises(WorkflowError) as raised:
        Workflow(name="w", unique_key=given)
    assert str(raised.value) == message


def test_a_template_carries_a_deadline_and_a_unique_key_from_params() -> None:
    template = {
        "name": "reply",
        "params": {"ticket": {}, "deadline": {"default": 600}},
        "deadline": "${deadline}",
        "unique_key": "ticket:${ticket}",
        "steps": [{"name": "draft", "worker": ECHO}],
    }
    wf = Workflow.from_dict(template, params={"ticket": 42})
    assert (wf.deadline, wf.unique_key) == (timedelta(seconds=600), "ticket:42")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"deadline": 0},
            "template: deadline: deadline must be a positive number of seconds, got 0",
        ),
        (
            {"deadline": "soon"},
            "template: deadline: deadline must be a number of seconds or a timedelta, "
            "got str 'soon'",
        ),
        ({"unique_key": ""}, "template: unique_key: unique_key must not be blank, got ''"),
    ],
)
def test_a_template_with_a_bad_deadline_or_key_names_the_entry(
    entry: dict[str, Any], message: str
) -> None:
    with pytest.raises(TemplateError) as raised:
        Workflow.from_dict({"steps": [{"name": "a", "worker": ECHO}], **entry})
    assert str(raised.value) == message


def test_a_sub_workflow_template_cannot_carry_a_deadline() -> None:
    template = {
        "steps": [
            {
                "name": "sub",
                "workflow": {"deadline": 5, "steps": [{"name": "a", "worker": ECHO}]},
            }
        ]
    }
    with pytest.raises(TemplateError) as raised:
        Workflow.from_dict(template)
    assert "deadline" in str(raised.value)


def test_the_views_word_the_deadline_and_the_key() -> None:
    running = workflow(deadline_at=NOW + timedelta(seconds=9.2), unique_key="ticket:42")
    assert flow_note(running, NOW) == (
        f"deadline {running.deadline_at:%H:%M:%S} UTC (in 10 s) · unique key 'ticket:42'"
    )
    assert flow_note(workflow(deadline_at=NOW - timedelta(seconds=1)), NOW).endswith("(due)")
    failed = workflow(state="failed", reason="deadline", deadline_at=NOW - timedelta(seconds=3))
    note = f"failed: its deadline passed at {failed.deadline_at:%H:%M:%S} UTC"
    assert flow_note(failed, NOW) == note
    assert rendered(header(failed, NOW))[-1] == note
    assert flow_note(workflow(), NOW) == ""
    assert len(rendered(header(workflow(), NOW))) == 2


def test_a_sub_workflow_cannot_carry_a_deadline_or_a_key() -> None:
    for options in ({"deadline": 5}, {"unique_key": "k"}):
        sub = Workflow(**options).add("a", Echo.new())
        with pytest.raises(WorkflowError) as raised:
            Workflow(name="outer").add_workflow("sub", sub)
        assert str(raised.value) == (
            "sub-workflow 'sub' in workflow 'outer': deadline and unique_key belong to the "
            "whole workflow"
        )


def test_watch_says_why_a_workflow_failed_as_a_whole() -> None:
    def finished(reason: str | None) -> WorkflowFinished:
        return WorkflowFinished("wf", "w", "failed", ("a",), 1, 1500, NOW, reason)

    assert event_line(finished("deadline"), time.monotonic()).endswith(
        "workflow failed (deadline) in 1.5 s"
    )
    assert event_line(finished(None), time.monotonic()).endswith("workflow failed in 1.5 s")
