"""Reading results: a step reads what its declared deps returned.

A dep may be a step, a group (its members' values in order, or keyed by model for
``add_models``), or a path holding steps (a sub-workflow's, or those a step added at run
time), read as a dict of relative path to value. Names resolve from the asking step's own
place: inside a sub-workflow, ``fetch`` means the sub-workflow's ``fetch``.
"""

from __future__ import annotations

from typing import Any

from oban import Job, Oban

from . import _names, _oban, store
from ._control import check_id
from ._jobs import step_of
from .errors import NotADependency, NotAWorkflowStep, ResultUnavailable, StepSkipped


async def _read(
    job: Job, names: list[str] | None, oban: Oban | str | None
) -> tuple[Oban, str, tuple[str, ...], list[store.StepRow]]:
    workflow_id, step, _job_id = step_of(job, "results")
    instance = _oban.instance_for_job(job, oban)
    found = await store.dep_rows(instance, job, names)
    if found is None:
        raise NotAWorkflowStep(
            f"job {job.id} names step {step!r} of workflow {workflow_id!r}, but Baton has "
            "no such step"
        )
    deps, rows = found
    return instance, workflow_id, deps, rows


def _value(row: store.StepRow, step: str) -> Any:
    if row.outcome == "skipped":
        raise StepSkipped(
            f"step {step!r}: dep {row.name!r} was skipped (a branch not taken), so it has no "
            "result; get_all_results(job) leaves skipped deps out",
            row.name,
        )
    if not row.performed:
        state = row.outcome or "not finished"
        raise ResultUnavailable(f"step {step!r}: dep {row.name!r} has no result ({state})")
    if row.result is None:
        raise ResultUnavailable(
            f"step {step!r}: dep {row.name!r} completed without returning a value"
        )
    return row.result["value"]


def stored_value(row: store.StepRow) -> Any:
    """The row's value, or None when it stored none."""
    return row.result["value"] if row.result is not None else None


def group_values(rows: list[store.StepRow], read: Any) -> list[Any] | dict[str, Any]:
    """A group's values: keyed by model for a model fan-out, else a list in order."""
    if all(row.by_model for row in rows):
        return {str(row.model): read(row) for row in rows}
    return [read(row) for row in rows]


def completed_values(rows: list[store.StepRow]) -> dict[str, Any]:
    """The value of each completed step by path (None when it returned none), and of each
    group whose members all completed under the group's name; other steps are left out."""
    done = [row for row in rows if row.outcome == "completed"]
    values: dict[str, Any] = {row.name: stored_value(row) for row in done}
    groups: dict[str, list[store.StepRow]] = {}
    for row in rows:
        if row.group is not None:
            groups.setdefault(row.group, []).append(row)
    for group, members in groups.items():
        if all(member.outcome == "completed" for member in members):
            values[group] = group_values(members, stored_value)
    return values


async def results(workflow_id: str, *, oban: Oban | str | None = None) -> dict[str, Any]:
    """What a workflow's steps returned, read from outside any step.

    Returns:
        The value of each step that completed, by step name or path (None when it
        returned none), and for each group whose members all completed a list of their
        values under the group's name (a dict keyed by model for ``add_models``). Steps
        that have not completed (waiting, running, failed, cancelled, skipped) are left
        out. For a workflow that completed this is what ``baton.testing.run_workflow``
        returns.

    Raises:
        UnknownWorkflow: no workflow has that id.
    """
    workflow_id = check_id(workflow_id)
    _workflow, rows = await store.workflow_results(_oban.instance(oban), workflow_id)
    return completed_values(rows)


def _nested(path: str, rows: list[store.StepRow]) -> dict[str, Any]:
    """The values stored under ``path/`` by relative path; steps without one are left out."""
    return {row.name[len(path) + 1 :]: stored_value(row) for row in rows if row.performed}


async def get_result(job: Job, step: str, *, oban: Oban | str | None = None) -> Any:
    """The value a declared dep returned.

    For a group, the members' values as a list in order (``add_many``, and steps added
    as a list), or as a dict keyed by model (``add_models``). For a sub-workflow, or the
    steps a dep added at run time, a dict of relative path to value; one of them by path:
    ``get_result(job, "research/summarize")``.

    Args:
        job: the job of the step that is asking (the one ``perform_workflow`` received).
        step: a name the asking step listed in its ``deps``, a member (``group[i]``) of
            a group it listed, or a path under one of its deps. Inside a sub-workflow,
            names are relative to it.
        oban: the Oban instance, when not the one the job's worker names.

    Raises:
        NotAWorkflowStep: ``job`` was not inserted as part of a workflow.
        NotADependency: ``step`` is not one of the asking step's declared deps, or names
            no step (a group member past its end). The step is discarded at once: asking
            again cannot succeed.
        ResultUnavailable: the dep has not completed, or completed without a value.
        StepSkipped: the dep (or a member of the group) was skipped; it has no result.
    """
    _workflow_id, me, _job_id = step_of(job, "results")
    if not _names.is_path(step):
        raise NotADependency(f"step {me!r} asked for the result of {step!r}, not a step name")
    candidates = [_names.join(place, step) for place in _names.namespaces(me)] + [step]
    instance, workflow_id, deps, rows = await _read(job, candidates, oban)
    readable = [name for name in candidates if _names.covered(name, deps)]
    if not readable:
        listed = ", ".join(repr(dep) for dep in deps) or "none"
        raise NotADependency(
            f"step {me!r} asked for the result of {step!r}, which is not one of its deps "
            f"({listed}); declare it with deps=[...] to read it"
        )
    # the innermost name that is a step or a group, else the innermost a path may hold
    present = {row.name for row in rows} | {row.group for row in rows}
    name = next((name for name in readable if name in present), readable[0])
    exact = next((row for row in rows if row.name == name), None)
    if exact is not None:
        return _value(exact, me)
    members = [row for row in rows if row.group == name]
    if members:
        return group_values(members, lambda row: _value(row, me))
    nested = await store.step_rows(instance, workflow_id, name)
    if not nested:
        raise NotADependency(
            f"step {me!r} asked for the result of {name!r}, which names no step of the "
            "workflow (a group member past the group's end, or a path holding no steps)"
        )
    return _nested(name, nested)


async def get_all_results(job: Job, *, oban: Oban | str | None = None) -> dict[str, Any]:
    """Every declared dep's value by dep name, read as ``get_result`` reads each.

    Deps that did not store a value (they returned None, were skipped, or were cancelled,
    discarded or deleted and this step ignores that) are left out; group members without a
    value (a skipped one, say) are None.
    """
    instance, workflow_id, deps, rows = await _read(job, None, oban)
    results: dict[str, Any] = {}
    for dep in deps:
        row = next((row for row in rows if row.name == dep), None)
        members = [row for row in rows if row.group == dep]
        if row is not None:
            if row.result is not None:
                results[dep] = row.result["value"]
        elif members:
            results[dep] = group_values(members, stored_value)
        else:
            results[dep] = _nested(dep, await store.step_rows(instance, workflow_id, dep))
    return results


async def get_own_result(job: Job, *, oban: Oban | str | None = None) -> Any:
    """The value this step stored on an earlier attempt, or None if it stored none."""
    _workflow_id, step, _job_id = step_of(job, "results")
    _instance, _workflow, _deps, rows = await _read(job, [step], oban)
    row = next((row for row in rows if row.name == step), None)
    return row.result["value"] if row is not None and row.result is not None else None
