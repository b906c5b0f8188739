"""A workflow as its insert statements read it: the workflow row, and steps and edges as JSON.

Used by ``Workflow.insert`` and, for the steps a running step adds, by
``baton._expansion``. Deps are expanded here (groups and sub-workflows to their steps),
once per step, for both the step's ``pending`` count and its edges. Each step becomes a
:class:`~baton.store.StepInput`, the row both statements read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

from oban.worker import WorkerResolutionError, resolve_worker

from .. import _json
from .._budget import Limits
from ..errors import InvalidStep
from ..store import StepInput
from ._deps import expand_deps
from ._step import Step, StepGraph, label, model_of, pick

#: The methods a blocked Baton step runs for; a worker with neither is cancelled in SQL.
CALLBACKS = ("on_dep_cancelled", "on_dep_discarded")


def record(workflow: StepGraph, limits: Limits) -> dict[str, Any]:
    """The workflow row's values."""
    deadline = workflow.deadline
    return {
        "id": workflow.id,
        "name": workflow.name,
        "ignore_cancelled": workflow.ignore_cancelled,
        "ignore_discarded": workflow.ignore_discarded,
        "ignore_deleted": workflow.ignore_deleted,
        "step_count": len(workflow.steps),
        "context": _json.encode(workflow.context),
        "deadline_s": None if deadline is None else deadline.total_seconds(),
        "unique_key": workflow.unique_key,
        **limits.record(),
    }


def encode(workflow: StepGraph, external: frozenset[str] = frozenset()) -> tuple[str, str]:
    """The steps and edges as JSON; deps named in ``external`` are steps already stored.

    Raises:
        InvalidStep: a step's args, meta or tags are not JSON, or hold a NUL character.
    """
    rows: list[dict[str, Any]] = []
    pairs: list[tuple[str, str]] = []
    for name, step in workflow.steps.items():
        deps = expand_deps(workflow, step, external)
        rows.append(_row(workflow, step, len(deps)).as_json())
        pairs.extend((up, name) for up in deps)
    try:
        steps = _json.encode(rows)
    except (TypeError, ValueError):
        for row in rows:  # find the offending step to name it
            _encode_args(row, label(workflow))
        raise
    if _json.contains_nul(steps):
        bad = next(row for row in rows if _json.contains_nul(_json.encode(row)))
        raise InvalidStep(
            f"step {bad['name']!r} in workflow {label(workflow)}: args or meta contain a NUL "
            "character (\\u0000), which PostgreSQL cannot store in jsonb"
        )
    edges = json.dumps([{"upstream": up, "downstream": down} for up, down in pairs])
    return steps, edges


def _row(workflow: StepGraph, step: Step, pending: int) -> StepInput:
    job = step.job
    scheduled = job.scheduled_at
    model = model_of(workflow, step)
    meta = {**job.meta, "workflow_id": workflow.id, "workflow_step": step.name}
    if model is not None:
        meta["workflow_model"] = model
    worker = _worker_class(job.worker, f"step {step.name!r} in workflow {label(workflow)}")
    gated = hasattr(worker, "_baton")
    return StepInput(
        name=step.name,
        queue=job.queue,
        worker=job.worker,
        max_attempts=job.max_attempts,
        priority=job.priority,
        args=job.args,
        meta=meta,
        tags=list(job.tags),
        scheduled_at=scheduled.astimezone(UTC).replace(tzinfo=None).isoformat()
        if scheduled
        else None,
        pending=pending,
        group_name=step.group,
        group_index=step.index,
        deps=list(step.deps),
        ignore_cancelled=pick(step.ignore_cancelled, workflow.ignore_cancelled),
        ignore_discarded=pick(step.ignore_discarded, workflow.ignore_discarded),
        ignore_deleted=pick(step.ignore_deleted, workflow.ignore_deleted),
        gated=gated,
        callbacks=gated and any(hasattr(worker, name) for name in CALLBACKS),
        model=model,
        by_model=step.by_model,
        signal=step.signal,
        signal_timeout=step.signal_timeout,
    )


def _worker_class(path: str, where: str) -> type:
    try:
        return resolve_worker(path)
    except WorkerResolutionError as error:
        raise InvalidStep(f"{where}: worker {path!r} cannot be imported: {error}") from error


def _encode_args(row: Mapping[str, Any], label: str) -> None:
    for field in ("args", "meta", "tags"):
        try:
            _json.encode(row[field])
        except (TypeError, ValueError) as error:
            raise InvalidStep(
                f"step {row['name']!r} in workflow {label}: {field} are not JSON-serialisable: "
                f"{error}"
            ) from error


__all__: Sequence[str] = ["encode", "record"]
