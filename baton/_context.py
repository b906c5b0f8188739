"""Workflow context (values every step reads) and a step's model.

Context is set when the workflow is inserted; a step may add keys as it completes
(``baton.Complete(context=...)``), never change one, so every step reads one value per
key. A step that must see a key another step adds depends on that step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oban import Job, Oban

from . import _json, _oban, store
from ._jobs import step_of
from .errors import ContextConflict, InvalidContext, NotAWorkflowStep

#: The largest context, in bytes of JSON, a workflow may hold.
CONTEXT_LIMIT = 65_536
MODEL_META = "workflow_model"


def check(values: object, where: str) -> dict[str, Any]:
    """A copy of ``values`` if they can be a workflow's context.

    Raises:
        InvalidContext: not a mapping with string keys, not JSON, a NUL character, or
            more than ``CONTEXT_LIMIT`` bytes encoded.
    """
    if not isinstance(values, Mapping):
        raise InvalidContext(
            f"{where}: context must be a dict with string keys, got {type(values).__name__}"
        )
    bad = [key for key in values if not isinstance(key, str)]
    if bad:
        raise InvalidContext(f"{where}: context keys must be strings, got {bad[0]!r}")
    try:
        encoded = _json.encode(dict(values))
    except (TypeError, ValueError) as error:
        raise InvalidContext(f"{where}: context is not JSON-serialisable: {error}") from error
    if _json.contains_nul(encoded):
        raise InvalidContext(
            f"{where}: context contains a NUL character (\\u0000), which PostgreSQL cannot "
            "store in jsonb"
        )
    size = len(encoded.encode())
    if size > CONTEXT_LIMIT:
        raise InvalidContext(
            f"{where}: context is {size:,} bytes of JSON, over the limit of {CONTEXT_LIMIT:,}; "
            "keep large data in results or elsewhere and put a reference in the context"
        )
    return dict(values)


def conflicts(current: Mapping[str, Any], added: Mapping[str, Any]) -> list[str]:
    """The keys ``added`` would change: present in ``current`` with another value."""
    return [key for key, value in added.items() if key in current and current[key] != value]


def merge(current: Mapping[str, Any], added: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``current`` with ``added``'s keys; a key already set may only be set to its value.

    Raises:
        InvalidContext: ``added`` changes a key of ``current``, or the result is too big.
    """
    changed = conflicts(current, added)
    if changed:
        raise InvalidContext(
            f"{where}: context {', '.join(map(repr, changed))} is already set to another value"
        )
    return check({**current, **added}, where)


def merge_for_step(
    current: Mapping[str, Any], added: Mapping[str, Any], step: str
) -> dict[str, Any]:
    """The context after a step's completion adds ``added``.

    Raises:
        ContextConflict: a key would change value.
        InvalidContext: the merged context is too big.
    """
    changed = conflicts(current, added)
    if changed:
        shown = ", ".join(f"{key!r} (is {current[key]!r})" for key in changed)
        raise ContextConflict(
            f"step {step!r} tried to change context {shown}: context values are write-once; "
            "use a new key"
        )
    return check({**current, **added}, f"step {step!r}")


async def get_context(job: Job, *, oban: Oban | str | None = None) -> dict[str, Any]:
    """The workflow's context: values set at insert and added by completed steps.

    Args:
        job: the job of a workflow step (the one ``perform_workflow`` received).
        oban: the Oban instance, when not the one the job's worker names.

    Raises:
        NotAWorkflowStep: ``job`` was not inserted as part of a workflow.
    """
    workflow_id, _step, _job_id = step_of(job, "the workflow's context")
    context = await store.workflow_context(_oban.instance_for_job(job, oban), workflow_id)
    if context is None:
        raise NotAWorkflowStep(
            f"job {job.id} names workflow {workflow_id!r}, but Baton has no such workflow"
        )
    return context


def model(job: Job) -> str | None:
    """The model the workflow maps this step to (``Workflow(models=)``, ``add(model=)``,
    ``add_models``), or None when it has none."""
    value = job.meta.get(MODEL_META)
    return value if isinstance(value, str) else None
