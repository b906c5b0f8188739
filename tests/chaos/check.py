"""The crash suite's assertions, checked against the database and the fake LLM's call log.

- every workflow finished, completed, and sent exactly one ``WorkflowFinished`` event;
- every step completed (a step that did not is *lost*);
- no run of a step, and no LLM call of it, started before each of its deps had completed;
- no LLM call of a step started after the step's result was stored (a *duplicate*: the
  retry guard failed). Calls repeated before the result was stored — the caller was
  killed mid-call, or the LLM answered 503 — are legitimate retries, not duplicates;
- each step stored the answer of its own LLM call and the answers its deps stored.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from baton import Workflow
from tests.chaos.fake_llm import Call

STEPS = """
SELECT s.workflow_id, s.name, s.outcome, s.settled_at, s.performed_at, s.performed_attempt,
       s.result, s.usage IS NOT NULL, j.state::text, j.completed_at, j.attempt,
       coalesce((j.meta->>'rescued')::int, 0)
  FROM baton_steps s LEFT JOIN oban_jobs j ON j.id = s.job_id
 WHERE s.workflow_id = ANY(%s)
"""
WORKFLOWS = "SELECT id, outcome, finished_at FROM baton_workflows WHERE id = ANY(%s)"
RUNS = (
    "SELECT workflow_id, step, attempt, pid, started_at FROM chaos_runs WHERE workflow_id = ANY(%s)"
)


@dataclass(frozen=True, slots=True)
class StepRow:
    outcome: str | None
    settled_at: datetime | None
    performed_at: datetime | None
    performed_attempt: int | None
    result: Any
    usage: bool
    job_state: str | None
    completed_at: datetime | None
    attempt: int | None
    rescued: int


@dataclass
class Report:
    """The figures of a run (label, value, note) and the assertions that failed."""

    figures: list[tuple[str, str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def add(self, label: str, value: object, note: str = "") -> None:
        self.figures.append((label, str(value), note))

    def fail(self, message: str, examples: Sequence[object] = (), columns: str = "") -> None:
        self.failures.append(message)
        if examples:
            self.details.append(f"{message}, e.g. {columns}:".replace(" :", ":"))
            self.details.extend(f"  {_show(example)}" for example in list(examples)[:10])

    def render(self) -> str:
        lines = [f"{label:<30}{value:>8}  {note}".rstrip() for label, value, note in self.figures]
        if self.failures:
            lines.append("FAILED: " + "; ".join(self.failures))
            lines.extend(self.details)
        else:
            lines.append("PASSED: every assertion held")
        return "\n".join(lines)


def _show(value: object) -> str:
    """A failure example, with timestamps as ISO text."""
    match value:
        case datetime():
            return value.isoformat(sep=" ")
        case tuple() | list():
            return "(" + ", ".join(_show(item) for item in value) + ")"
        case _:
            return str(value)


async def _rows(conn: psycopg.AsyncConnection[Any], query: str, ids: list[str]) -> list[Any]:
    return await (await conn.execute(query, (ids,))).fetchall()


def _expected_read(
    wf: Workflow, name: str, steps: Mapping[tuple[str, str], StepRow]
) -> dict[str, Any]:
    def answer(step: str) -> Any:
        row = steps.get((wf.id, step))
        return row.result["value"]["answer"] if row and row.result else None

    return {
        dep: [answer(m) for m in wf.groups[dep]] if dep in wf.groups else answer(dep)
        for dep in wf.steps[name].deps
    }


async def check(
    conn: psycopg.AsyncConnection[Any],
    workflows: Sequence[Workflow],
    calls: Sequence[Call],
    finished_events: Mapping[str, int],
) -> Report:
    """Check a finished run; returns the figures and the failed assertions."""
    report = Report()
    ids = [wf.id for wf in workflows]
    steps = {(wf_id, name): StepRow(*rest) for wf_id, name, *rest in await _rows(conn, STEPS, ids)}
    finished = {wf_id: (outcome, at) for wf_id, outcome, at in await _rows(conn, WORKFLOWS, ids)}
    runs: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for wf_id, step, _attempt, _pid, started_at in await _rows(conn, RUNS, ids):
        runs[(wf_id, step)].append(started_at)
    ours = set(ids)
    step_calls: dict[tuple[str, str], list[Call]] = defaultdict(list)
    for call in calls:
        if call.workflow_id in ours:
            step_calls[(call.workflow_id, call.step)].append(call)

    expected = [(wf.id, name) for wf in workflows for name in wf.steps]
    lost = [
        (key, row.outcome if row else "no row", row.job_state if row else None)
        for key in expected
        if (row := steps.get(key)) is None
        or row.outcome != "completed"
        or row.job_state != "completed"
    ]
    unfinished = [
        (wf_id, finished.get(wf_id))
        for wf_id in ids
        if (finished.get(wf_id) or (None,))[0] != "completed"
    ]
    events = Counter(finished_events.get(wf_id, 0) for wf_id in ids)
    no_event = [wf_id for wf_id in ids if finished_events.get(wf_id, 0) == 0]
    extra_events = [
        (wf_id, finished_events[wf_id]) for wf_id in ids if finished_events.get(wf_id, 0) > 1
    ]

    duplicates = [
        (key, call.id, call.attempt, call.pid, call.started_at, steps[key].performed_at)
        for key, found in step_calls.items()
        for call in found
        if key in steps and (performed := steps[key].performed_at) and call.started_at > performed
    ]
    late_runs = [
        (key, started, steps[key].performed_at)
        for key, found in runs.items()
        for started in found
        if key in steps and (performed := steps[key].performed_at) and started > performed
    ]
    early = []
    for wf in workflows:
        for up, down in wf.edges():
            dep = steps.get((wf.id, up))
            starts = [*runs[(wf.id, down)], *(c.started_at for c in step_calls[(wf.id, down)])]
            for started in starts:
                if (
                    dep is None
                    or dep.settled_at is None
                    or dep.outcome != "completed"
                    or not (
                        started > dep.settled_at and dep.performed_at and started > dep.performed_at
                    )
                ):
                    early.append((wf.id, down, started, up, dep and dep.settled_at))
    wrong = []
    for wf in workflows:
        for name in wf.steps:
            row = steps.get((wf.id, name))
            if row is None or row.outcome != "completed":
                continue  # counted as lost
            value = (row.result or {}).get("value") or {}
            answered = {
                (c.id, f"{c.step}#{c.id}") for c in step_calls[(wf.id, name)] if c.status == 200
            }
            if (
                value.get("step") != name
                or value.get("read") != _expected_read(wf, name, steps)
                or (value.get("call"), value.get("answer")) not in answered
                or not row.usage
            ):
                wrong.append((wf.id, name, value))

    all_calls = [c for found in step_calls.values() for c in found]
    repeats = len(all_calls) - len(step_calls)
    errors = sum(1 for c in all_calls if c.status == 503)
    used = {
        (wf_id, row.result["value"].get("call"))
        for (wf_id, _name), row in steps.items()
        if row.result and isinstance(row.result.get("value"), dict)
    }
    wasted = sum(1 for c in all_calls if c.status != 503 and (c.workflow_id, c.id) not in used)
    cached = sum(
        1
        for row in steps.values()
        if row.outcome == "completed" and (row.performed_attempt or 0) < (row.attempt or 0)
    )
    rescued = sum(row.rescued for row in steps.values())
    retried = sum(1 for row in steps.values() if (row.attempt or 0) > 1)
    completed = sum(1 for row in steps.values() if row.outcome == "completed")
    done = sum(1 for _outcome, at in finished.values() if at is not None)
    ok = sum(1 for outcome, _at in finished.values() if outcome == "completed")

    report.add("workflows", len(ids), f"{done} finished, {ok} completed")
    report.add(
        "steps", len(expected), f"{completed} completed, {retried} needed more than 1 attempt"
    )
    report.add("step runs", sum(map(len, runs.values())), "perform_workflow calls")
    report.add("jobs rescued", rescued, "executing jobs put back by the lifeline")
    report.add(
        "completed from stored result",
        cached,
        "steps completed by a later attempt than the one that stored the result",
    )
    report.add(
        "LLM calls",
        len(all_calls),
        f"{repeats} repeats before a result was stored: {errors} after a 503, "
        f"{wasted} after the caller was killed or rescued mid-step",
    )
    report.add(
        "duplicate calls", len(duplicates), "LLM calls of a step after its result was stored"
    )
    report.add(
        "runs after result stored", len(late_runs), "perform_workflow despite a stored result"
    )
    report.add(
        "lost steps",
        len(lost) + len(unfinished) + len(no_event),
        f"{len(lost)} steps not completed, {len(unfinished)} workflows not completed, "
        f"{len(no_event)} without a finished event",
    )
    report.add(
        "out-of-order starts", len(early), "runs or LLM calls of a step before a dep completed"
    )
    report.add("wrong results", len(wrong), "results not matching the LLM's answer and the deps'")
    low, high = (min(events), max(events)) if events else (0, 0)
    report.add(
        "finished events per workflow",
        f"{low}" if low == high else f"{low}-{high}",
        "exactly 1 for every workflow" if low == high == 1 else f"counts: {dict(events)}",
    )

    for message, found, columns in (
        ("steps lost", lost, "((workflow, step), outcome, job state)"),
        ("workflows not completed", unfinished, "(workflow, (outcome, finished at))"),
        ("workflows without a finished event", no_event, ""),
        ("workflows with more than one finished event", extra_events, "(workflow, events)"),
        (
            "duplicate LLM calls",
            duplicates,
            "((workflow, step), call, attempt, pid, call started, result stored)",
        ),
        ("runs after the result was stored", late_runs, "((workflow, step), run, result stored)"),
        (
            "steps started before a dep completed",
            early,
            "(workflow, step, started, dep, dep settled)",
        ),
        ("wrong results", wrong, "(workflow, step, stored value)"),
    ):
        if found:
            report.fail(f"{len(found)} {message}", found, columns)
    return report
