"""``Workflow.add_models``: one step run once per model, as a group keyed by model.

A mixin of ``Workflow``: the members are an ``add_many`` group whose steps carry their
model (``baton.model(job)`` reads it) and are marked as a model fan-out, so
``get_result(job, name)`` returns their results keyed by model.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, Self

from oban import Job

from . import _checks
from ._step import Step, label


class ModelSteps:
    """``Workflow.add_models``, as a mixin of the builder."""

    _steps: dict[str, Step]
    _groups: dict[str, list[str]]
    add_many: Callable[..., Any]

    def add_models(
        self,
        name: str,
        job: Job,
        models: Iterable[str],
        deps: Iterable[str] | str = (),
        *,
        ignore_cancelled: bool | None = None,
        ignore_discarded: bool | None = None,
        ignore_deleted: bool | None = None,
    ) -> Self:
        """Run one step once per model, in parallel: members ``name[0]``, ``name[1]``, …

        Each member runs a copy of ``job`` and reads its model with ``baton.model(job)``.
        A step that depends on ``name`` waits for every member, and
        ``get_result(job, name)`` returns their results as a dict keyed by model.

        Args:
            name: the group's name (same rules as a step name).
            job: the job every member runs, e.g. ``Draft.new({"topic": "..."})``.
            models: the models, at least one, no repeats.
            deps: what every member waits for.
            ignore_cancelled: override the workflow's default for every member.
            ignore_discarded: override the workflow's default for every member.
            ignore_deleted: override the workflow's default for every member.

        Returns:
            The workflow, so calls chain.
        """
        where = f"model group {name!r} in workflow {label(self)}"  # type: ignore[arg-type]
        models = _checks.model_list(models, where)
        _checks.check_job(job, where)  # here too: it is copied before new_step sees it
        self.add_many(
            name,
            [copy.deepcopy(job) for _model in models],
            deps,
            ignore_cancelled=ignore_cancelled,
            ignore_discarded=ignore_discarded,
            ignore_deleted=ignore_deleted,
        )
        for member, model in zip(self._groups[name], models, strict=True):
            self._steps[member] = replace(self._steps[member], model=model, by_model=True)
        return self


__all__: Sequence[str] = ["ModelSteps"]
