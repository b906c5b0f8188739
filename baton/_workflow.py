"""The workflow builder: steps, their deps, validation, and the atomic insert."""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from graphlib import CycleError, TopologicalSorter
from types import MappingProxyType
from typing import Any, Self

from oban import Job, Oban

from . import _context, _graph, _oban, _payload, _step_checks, store
from ._names import join
from .errors import (
    DependencyCycle,
    DuplicateStep,
    EmptyWorkflow,
    InvalidStep,
    SelfDependency,
    UnknownDependency,
    WorkflowError,
)

MAX_ID_LENGTH = 128


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


class Workflow:
    """A DAG of Oban jobs, inserted atomically and run in dependency order.

    Example:
        >>> wf = (Workflow(name="brief")
        ...       .add("fetch", Fetch.new({"url": "https://example.org"}))
        ...       .add("summarize", Summarize.new(), deps=["fetch"]))
        >>> await wf.insert()

    Args:
        name: a label shown in status and events; need not be unique.
        id: the workflow id (default: a random UUID). Stored in each job's meta.
        ignore_cancelled: let dependents of a cancelled step run anyway.
        ignore_discarded: let dependents of a discarded step run anyway.
        ignore_deleted: let dependents of a step whose job was deleted run anyway.
        context: workflow-wide values every step reads with ``baton.get_context(job)``:
            a dict with string keys, JSON-serialisable, at most 64 KiB encoded.
        models: which model each step uses, by step, group or sub-workflow name; a step
            reads its own with ``baton.model(job)``. A model given to the step itself
            (``add(model=)``, ``add_models``) wins.
    """

    def __init__(
        self,
        name: str | None = None,
        id: str | None = None,
        *,
        ignore_cancelled: bool = False,
        ignore_discarded: bool = False,
        ignore_deleted: bool = False,
        context: Mapping[str, Any] | None = None,
        models: Mapping[str, str] | None = None,
    ) -> None:
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise WorkflowError(f"workflow name must be a non-blank string, got {name!r}")
        if id is None:
            id = str(uuid.uuid4())
        elif not isinstance(id, str) or not id.strip() or len(id) > MAX_ID_LENGTH:
            raise WorkflowError(
                f"workflow id must be a non-blank string of at most {MAX_ID_LENGTH} "
                f"characters, got {id!r}"
            )
        for flag, value in (
            ("ignore_cancelled", ignore_cancelled),
            ("ignore_discarded", ignore_discarded),
            ("ignore_deleted", ignore_deleted),
        ):
            _step_checks.check_flag(flag, value, f"workflow {name or id!r}")
        self.id: str = id
        self.name: str | None = name
        self.ignore_cancelled = ignore_cancelled
        self.ignore_discarded = ignore_discarded
        self.ignore_deleted = ignore_deleted
        self.context: dict[str, Any] = _context.check(
            {} if context is None else context, f"workflow {name or id!r}"
        )
        self.models: dict[str, str] = _step_checks.check_models(models, f"workflow {name or id!r}")
        self._steps: dict[str, Step] = {}
        self._groups: dict[str, list[str]] = {}
        self._subs: dict[str, list[str]] = {}
        self._inserted = False

    def __repr__(self) -> str:
        return f"<Workflow {self._label} id={self.id!r} steps={len(self._steps)}>"

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, params: Mapping[str, Any] | None = None
    ) -> Workflow:
        """A workflow from a template held as data (see ``docs/templates.md``).

        Raises:
            TemplateError: the template is invalid; the message names the entry.
        """
        from ._template import from_dict

        return from_dict(data, params=params)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, params: Mapping[str, Any] | None = None
    ) -> Workflow:
        """A workflow from a JSON or TOML template file (see ``docs/templates.md``).

        Raises:
            TemplateError: the file cannot be read or parsed, or the template is invalid;
                the message names the file and the entry.
        """
        from ._template import from_file

        return from_file(path, params=params)

    @property
    def _label(self) -> str:
        return repr(self.name) if self.name else repr(self.id)

    @property
    def steps(self) -> Mapping[str, Step]:
        """The steps by name, in the order they were added."""
        return MappingProxyType(self._steps)

    @property
    def groups(self) -> Mapping[str, list[str]]:
        """The groups (``add_many``, ``add_models``): name to member step names, in order."""
        return MappingProxyType(self._groups)

    @property
    def subworkflows(self) -> Mapping[str, list[str]]:
        """The sub-workflows (``add_workflow``): name to the paths of their steps."""
        return MappingProxyType(self._subs)

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
    ) -> Self:
        """Add a step that runs ``job`` once every step in ``deps`` has finished.

        Args:
            name: the step's name: 1-128 characters from ``A-Z a-z 0-9 _ . : -``.
            job: an Oban job not yet inserted, e.g. ``Worker.new(args)``.
            deps: names of steps, groups or sub-workflows this step waits for. A dep on a
                group or sub-workflow waits for every step in it. Deps may name steps
                added later.
            ignore_cancelled: override the workflow's default for this step.
            ignore_discarded: override the workflow's default for this step.
            ignore_deleted: override the workflow's default for this step.
            model: the model this step uses (``baton.model(job)`` reads it).

        Returns:
            The workflow, so calls chain.
        """
        self._check_name(name)
        step = self._step(
            name, job, deps, None, None, ignore_cancelled, ignore_discarded, ignore_deleted
        )
        self._steps[name] = replace(
            step, model=_step_checks.check_model(model, f"step {name!r}", True)
        )
        return self

    def add_many(
        self,
        name: str,
        jobs: Iterable[Job],
        deps: Iterable[str] | str = (),
        *,
        ignore_cancelled: bool | None = None,
        ignore_discarded: bool | None = None,
        ignore_deleted: bool | None = None,
    ) -> Self:
        """Add a group of parallel steps named ``name[0]``, ``name[1]``, …

        A step that depends on ``name`` waits for every member, and
        ``get_result(job, name)`` returns the members' results in order.

        Args:
            name: the group's name (same rules as a step name).
            jobs: one job per member; at least one.
            deps: what every member waits for.
            ignore_cancelled: override the workflow's default for every member.
            ignore_discarded: override the workflow's default for every member.
            ignore_deleted: override the workflow's default for every member.

        Returns:
            The workflow, so calls chain.
        """
        self._check_name(name)
        if isinstance(jobs, Job) or not isinstance(jobs, Iterable):
            raise InvalidStep(
                f"group {name!r} in workflow {self._label}: jobs must be a list of Oban jobs, "
                f"got {type(jobs).__name__}"
            )
        jobs = list(jobs)
        if not jobs:
            raise InvalidStep(f"group {name!r} in workflow {self._label} has no jobs")
        members = [f"{name}[{index}]" for index in range(len(jobs))]
        steps = [
            self._step(
                member,
                job,
                deps,
                name,
                index,
                ignore_cancelled,
                ignore_discarded,
                ignore_deleted,
            )
            for index, (member, job) in enumerate(zip(members, jobs, strict=True))
        ]
        self._groups[name] = members
        self._steps.update((step.name, step) for step in steps)
        return self

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
        where = f"model group {name!r} in workflow {self._label}"
        models = _step_checks.model_list(models, where)
        _step_checks.check_job(job, where)  # here too: it is copied before _step sees it
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

    def add_workflow(self, name: str, sub: Workflow, deps: Iterable[str] | str = ()) -> Self:
        """Add every step of ``sub`` under the path ``name/``, as one unit.

        ``sub``'s steps keep their deps among themselves (a step of it still names its
        siblings without the path); the ones without deps wait for ``deps``. A step that
        depends on ``name`` waits for every step of ``sub``, and reads their results by
        path: ``get_result(job, "name/step")``, or all of them as a dict with
        ``get_result(job, name)``. ``sub``'s ignore defaults, models and context come
        along; its name and id are not used, and ``sub`` itself is left unchanged, so
        one definition can be added several times.

        Args:
            name: the sub-workflow's name (same rules as a step name).
            sub: a workflow built as usual, not inserted.
            deps: what the steps of ``sub`` without deps of their own wait for.

        Returns:
            The workflow, so calls chain.
        """
        self._check_name(name)
        if not isinstance(sub, Workflow):
            raise InvalidStep(
                f"sub-workflow {name!r} in workflow {self._label}: expected a Workflow, "
                f"got {type(sub).__name__}"
            )
        if sub is self:
            raise SelfDependency(f"workflow {self._label} cannot contain itself as {name!r}")
        sub.validate()
        where = f"sub-workflow {name!r} in workflow {self._label}"
        outer = _step_checks.dep_names(deps, where)
        if name in outer:
            raise SelfDependency(f"{where} depends on itself")
        self.context = _context.merge(self.context, sub.context, where)
        self._graft(name, sub, outer)
        return self

    def _graft(
        self, path: str, sub: Workflow, root_deps: tuple[str, ...], *, copy_jobs: bool = True
    ) -> None:
        """Copy ``sub``'s steps, groups and sub-workflows in under ``path``.

        ``copy_jobs=False`` shares ``sub``'s jobs: only for a workflow that is encoded,
        never inserted, so nothing writes to them (the steps a running step adds).
        """
        mounted = sub._mounted(path, root_deps, copy_jobs)
        self._steps.update((step.name, step) for step in mounted)
        self._groups.update(
            (join(path, group), [join(path, member) for member in members])
            for group, members in sub._groups.items()
        )
        self._subs.update(
            (join(path, inner), [join(path, member) for member in members])
            for inner, members in sub._subs.items()
        )
        self._subs[path] = [step.name for step in mounted]

    def _mounted(self, path: str, root_deps: tuple[str, ...], copy_jobs: bool) -> list[Step]:
        """Copies of every step under ``path``: deps renamed, defaults and models resolved.

        Steps without deps wait for ``root_deps`` instead. With ``copy_jobs``, each copy
        has its own job (``insert`` writes ids and states into them).
        """
        return [
            replace(
                step,
                name=join(path, step.name),
                job=copy.deepcopy(step.job) if copy_jobs else step.job,
                deps=tuple(join(path, dep) for dep in step.deps) if step.deps else root_deps,
                group=None if step.group is None else join(path, step.group),
                ignore_cancelled=_payload.pick(step.ignore_cancelled, self.ignore_cancelled),
                ignore_discarded=_payload.pick(step.ignore_discarded, self.ignore_discarded),
                ignore_deleted=_payload.pick(step.ignore_deleted, self.ignore_deleted),
                model=_payload.model_of(self, step),
            )
            for step in self._steps.values()
        ]

    def validate(self) -> list[str]:
        """Check the whole graph and return the steps in a dependency order.

        Raises:
            EmptyWorkflow: there are no steps.
            UnknownDependency: a dep names no step, group or sub-workflow, or ``models``
                maps a name that is none of them.
            DependencyCycle: the deps form a cycle; the message shows the path.
        """
        if not self._steps:
            raise EmptyWorkflow(f"workflow {self._label} has no steps; add one before insert()")
        for key in self.models:
            if key not in self._steps and key not in self._groups and key not in self._subs:
                raise UnknownDependency(
                    f"workflow {self._label} maps {key!r} to a model, but it has no step, "
                    f"group or sub-workflow of that name (steps: {', '.join(self._steps)})"
                )
        graph = {name: self._expand(step) for name, step in self._steps.items()}
        try:
            return list(TopologicalSorter(graph).static_order())
        except CycleError as error:
            path = list(reversed(error.args[1]))
            raise DependencyCycle(
                f"workflow {self._label} has a dependency cycle: {' -> '.join(path)}", path
            ) from error

    def edges(self) -> list[tuple[str, str]]:
        """Every ``(upstream, downstream)`` pair, with group deps expanded to members."""
        return [
            (upstream, name)
            for name, step in self._steps.items()
            for upstream in self._expand(step)
        ]

    def to_mermaid(self) -> str:
        """The graph as a Mermaid flowchart (``add_many`` groups as subgraphs)."""
        return _graph.to_mermaid(self._graph_steps(), self.edges())

    def to_dot(self) -> str:
        """The graph as a Graphviz DOT digraph (``add_many`` groups as clusters)."""
        return _graph.to_dot(self._graph_steps(), self.edges())

    def _graph_steps(self) -> list[tuple[str, str | None]]:
        return [(name, step.group) for name, step in self._steps.items()]

    async def insert(self, conn: Any = None, *, oban: Oban | str | None = None) -> Self:
        """Insert every step in one transaction.

        Steps without deps become available at once; the others wait, suspended, until
        their last dep finishes. Validation runs first: an invalid workflow writes nothing.

        Args:
            conn: a psycopg connection or SQLAlchemy session whose transaction the insert
                joins; by default a connection of the Oban instance's pool.
            oban: the Oban instance (or its name) whose database to use; by default the
                instance named by the first step's worker, usually ``"Oban"``.

        Returns:
            The workflow; each step's job now carries its id and state.
        """
        if self._inserted:
            raise WorkflowError(f"workflow {self._label} (id {self.id!r}) was already inserted")
        self.validate()
        first = next(iter(self._steps.values())).job
        instance = _oban.instance_for_job(first, oban)
        steps, edges = _payload.encode(self)
        jobs = {name: step.job for name, step in self._steps.items()}
        await store.insert_workflow(instance, conn, _payload.record(self), steps, edges, jobs)
        self._inserted = True
        return self

    def _expand(self, step: Step, external: frozenset[str] = frozenset()) -> list[str]:
        """The step's deps as step names: groups and sub-workflows become their steps."""
        expanded: dict[str, None] = {}
        for dep in step.deps:
            if dep in self._steps or dep in external:
                expanded[dep] = None
            elif dep in self._groups:
                expanded.update(dict.fromkeys(self._groups[dep]))
            elif dep in self._subs:
                expanded.update(dict.fromkeys(self._subs[dep]))
            else:
                known = ", ".join([*self._steps, *self._groups, *self._subs])
                raise UnknownDependency(
                    f"step {step.name!r} depends on {dep!r}, which is not in workflow "
                    f"{self._label} (steps: {known})"
                )
            if step.name in expanded:
                raise SelfDependency(
                    f"step {step.name!r} in workflow {self._label} depends on {dep!r}, "
                    "which contains it"
                )
        return list(expanded)

    def _check_name(self, name: str) -> None:
        _step_checks.check_name(name, f"workflow {self._label}")
        if name in self._steps or name in self._groups or name in self._subs:
            raise DuplicateStep(f"workflow {self._label} already has a step or group {name!r}")
        if self._inserted:
            raise WorkflowError(f"workflow {self._label} was already inserted; it is read-only")

    def _step(
        self,
        name: str,
        job: Job,
        deps: Iterable[str] | str,
        group: str | None,
        index: int | None,
        ignore_cancelled: bool | None,
        ignore_discarded: bool | None,
        ignore_deleted: bool | None,
    ) -> Step:
        where = f"step {name!r} in workflow {self._label}"
        _step_checks.check_job(job, where)
        dep_names = _step_checks.dep_names(deps, where)
        if name in dep_names or (group is not None and group in dep_names):
            raise SelfDependency(f"{where} depends on itself")
        _step_checks.check_overrides(where, ignore_cancelled, ignore_discarded, ignore_deleted)
        return Step(
            name, job, dep_names, group, index, ignore_cancelled, ignore_discarded, ignore_deleted
        )


__all__: Sequence[str] = ["Step", "Workflow"]
