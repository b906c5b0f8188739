"""A step as declared, the two views of a workflow its helper modules take, and the
settings a step resolves from its workflow.

The helpers read a workflow through a protocol that ``Workflow`` satisfies, so none of
them imports the builder: ``_deps``, ``_mount`` and ``_encoding`` read its public
attributes (:class:`StepGraph`), and ``_template`` builds one with the calls of
:class:`Buildable`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, Self

from oban import Job

from .._names import prefixes


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a workflow, as declared.

    Attributes:
        name: unique within the workflow; members of ``add_many`` are ``group[i]``.
        job: the Oban job that runs the step.
        deps: the names this step declared (steps, groups or group members).
        group: the ``add_many`` group the step belongs to, if any.
        index: its position in that group.
        ignore_cancelled: per-step override of the workflow default, or None.
        ignore_discarded: likewise.
        ignore_deleted: likewise.
        model: the model the step was given itself (``add(model=)``, ``add_models``);
            None when it takes the workflow's mapping, if any.
        by_model: a member of an ``add_models`` fan-out.
        signal: a signal step (``add_signal``): its job is Baton's signal worker.
        signal_timeout: seconds a signal step waits once ready; None for ever.
    """

    name: str
    job: Job
    deps: tuple[str, ...]
    group: str | None = None
    index: int | None = None
    ignore_cancelled: bool | None = None
    ignore_discarded: bool | None = None
    ignore_deleted: bool | None = None
    model: str | None = None
    by_model: bool = False
    signal: bool = False
    signal_timeout: float | None = None


class StepGraph(Protocol):
    """What the builder's helpers read of a workflow (all public on ``Workflow``)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def ignore_cancelled(self) -> bool: ...
    @property
    def ignore_discarded(self) -> bool: ...
    @property
    def ignore_deleted(self) -> bool: ...
    @property
    def context(self) -> Mapping[str, Any]: ...
    @property
    def models(self) -> Mapping[str, str]: ...
    @property
    def deadline(self) -> timedelta | None: ...
    @property
    def unique_key(self) -> str | None: ...
    @property
    def steps(self) -> Mapping[str, Step]: ...
    @property
    def groups(self) -> Mapping[str, list[str]]: ...
    @property
    def subworkflows(self) -> Mapping[str, list[str]]: ...


class Buildable(Protocol):
    """The builder's calls a template makes: ``Workflow``'s, passed in to ``_template``.

    The template builds with the class it is given, so it does not import the builder
    (whose ``from_dict`` and ``from_file`` call into it).
    """

    @property
    def steps(self) -> Mapping[str, Step]: ...
    @property
    def groups(self) -> Mapping[str, list[str]]: ...
    @property
    def subworkflows(self) -> Mapping[str, list[str]]: ...

    def add(
        self,
        name: str,
        job: Job,
        deps: Iterable[str] | str = (),
        *,
        ignore_cancelled: bool | None = None,
        ignore_discarded: bool | None = None,
        ignore_deleted: bool | None = None,
        model: str | None = None,
    ) -> Self: ...

    def add_many(
        self,
        name: str,
        jobs: Iterable[Job],
        deps: Iterable[str] | str = (),
        *,
        ignore_cancelled: bool | None = None,
        ignore_discarded: bool | None = None,
        ignore_deleted: bool | None = None,
    ) -> Self: ...

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
    ) -> Self: ...

    def add_workflow(self, name: str, sub: Self, deps: Iterable[str] | str = ()) -> Self: ...

    def add_signal(
        self,
        name: str,
        deps: Iterable[str] | str = (),
        *,
        timeout: float | None = None,
        queue: str = ...,
        ignore_cancelled: bool | None = None,
        ignore_discarded: bool | None = None,
        ignore_deleted: bool | None = None,
    ) -> Self: ...

    def validate(self) -> list[str]: ...


def label(workflow: StepGraph) -> str:
    """How messages name the workflow: its name, else its id, quoted."""
    return repr(workflow.name) if workflow.name else repr(workflow.id)


def pick(override: bool | None, default: bool) -> bool:
    """A step's flag: its own override, else the workflow's default."""
    return default if override is None else override


def model_of(workflow: StepGraph, step: Step) -> str | None:
    """The step's own model, else the mapping's for it, its group or a path above it."""
    if step.model is not None:
        return step.model
    for key in (step.name, step.group, *reversed(list(prefixes(step.name)))):
        if key is not None and key in workflow.models:
            return workflow.models[key]
    return None


__all__: Sequence[str] = ["Buildable", "Step", "StepGraph", "label", "model_of", "pick"]
