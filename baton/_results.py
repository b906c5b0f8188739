"""Reading results: a step reads what its declared deps returned."""

from __future__ import annotations

from typing import Any

from oban import Job, Oban

from . import _oban, _steps
from ._workflow import MEMBER_PATTERN
from .errors import NotADependency, NotAWorkflowStep, ResultUnavailable


def _step_of(job: Job) -> tuple[str, str, int]:
    workflow_id = job.meta.get("workflow_id")
    step = job.meta.get("workflow_step")
    if not workflow_id or not step or job.id is None:  # a Job built, never inserted
        raise NotAWorkflowStep(
            f"job {job.id} ({job.worker}) is not a workflow step: insert it with "
            "Workflow.insert() to read results"
        )
    return workflow_id, step, job.id


async def _read(
    job: Job, names: list[str] | None, oban: Oban | str | None
) -> tuple[tuple[str, ...], list[_steps.DepRow]]:
    workflow_id, step, job_id = _step_of(job)
    found = await _steps.dep_rows(_oban.instance_for_job(job, oban), job_id, names)
    if found is None:
        raise NotAWorkflowStep(
            f"job {job.id} names step {step!r} of workflow {workflow_id!r}, but Baton has "
            "no such step"
        )
    _workflow, _name, deps, rows = found
    return deps, rows


def _value(row: _steps.DepRow, dep: str, step: str) -> Any:
    if not row.performed:
        state = row.outcome or "not finished"
        raise ResultUnavailable(f"step {step!r}: dep {row.name!r} has no result ({state})")
    if row.result is None:
        raise ResultUnavailable(
            f"step {step!r}: dep {row.name!r} completed without returning a value"
        )
    return row.result["value"]


async def get_result(job: Job, step: str, *, oban: Oban | str | None = None) -> Any:
    """The value a declared dep returned; for an ``add_many`` group, a list in order.

    Args:
        job: the job of the step that is asking (the one ``perform_workflow`` received).
        step: a name the asking step listed in its ``deps``, or one member (``group[i]``)
            of a group it listed.
        oban: the Oban instance, when not the one the job's worker names.

    Raises:
        NotAWorkflowStep: ``job`` was not inserted as part of a workflow.
        NotADependency: ``step`` is not one of the asking step's declared deps.
        ResultUnavailable: the dep has not completed, or completed without a value.
    """
    _workflow_id, me, _job_id = _step_of(job)
    deps, rows = await _read(job, [step], oban)
    member = MEMBER_PATTERN.fullmatch(step)
    if step not in deps and not (member and member["group"] in deps):
        listed = ", ".join(repr(dep) for dep in deps) or "none"
        raise NotADependency(
            f"step {me!r} asked for the result of {step!r}, which is not one of its deps "
            f"({listed}); declare it with deps=[...] to read it"
        )
    members = [row for row in rows if row.group == step]
    if members:
        return [_value(row, step, me) for row in members]
    return _value(next(row for row in rows if row.name == step), step, me)


async def get_all_results(job: Job, *, oban: Oban | str | None = None) -> dict[str, Any]:
    """Every declared dep's value by dep name; groups give lists in member order.

    Deps that did not store a value (they returned None, or were cancelled, discarded or
    deleted and this step ignores that) are left out; group members without a value are
    None in the list.
    """
    deps, rows = await _read(job, None, oban)
    results: dict[str, Any] = {}
    for dep in deps:
        members = [row for row in rows if row.group == dep]
        if members:
            results[dep] = [row.result["value"] if row.result else None for row in members]
            continue
        row = next((row for row in rows if row.name == dep), None)
        if row is not None and row.result is not None:
            results[dep] = row.result["value"]
    return results


async def get_own_result(job: Job, *, oban: Oban | str | None = None) -> Any:
    """The value this step stored on an earlier attempt, or None if it stored none."""
    _workflow_id, step, _job_id = _step_of(job)
    _deps, rows = await _read(job, [step], oban)
    row = next((row for row in rows if row.name == step), None)
    return row.result["value"] if row is not None and row.result is not None else None
