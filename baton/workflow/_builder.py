"""The workflow builder: steps, groups, sub-workflows, model fan-outs, and the atomic insert.

The builder holds what was declared and checks each call as it is made; the checks
(``_checks``), the deps and graph (``_deps``), mounting a sub-workflow (``_mount``) and
the insert's rows (``_encoding``) are functions of their own modules, which read a
workflow through its public attributes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Self

from oban import Job, Oban

from .. import _budget, _context, _graph
from ..errors import DuplicateStep, InvalidStep, SelfDependency, WorkflowError
from . import _checks, _deps, _flow, _insert, _template
from ._models import ModelSteps
from ._mount import Mount, mount
from ._signals import SignalSteps
from ._step import Step, label


class Workflow(SignalSteps, ModelSteps):
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
        deadline: seconds (or a ``timedelta``) from insert; unfinished then, the workflow
            fails with the reason ``deadline`` (``docs/deadlines.md``).
        unique_key: no two unfinished workflows share it (``docs/unique.md``).
        budget_usd, budget_tokens, max_steps, capture: caps on cost, tokens and steps (run
            time's included), and call capture: ``docs/budgets.md``, ``captured-calls.md``.
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
        deadline: float | timedelta | None = None,
        unique_key: str | None = None,
        budget_usd: Decimal | float | None = None,
        budget_tokens: int | None = None,
        max_steps: int | None = None,
        capture: bool = False,
    ) -> None:
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise WorkflowError(f"workflow name must be a non-blank string, got {name!r}")
        if id is None:
            id = str(uuid.uuid4())
        else:
            _checks.check_id(id)
        for flag, value in (
            ("ignore_cancelled", ignore_cancelled),
            ("ignore_discarded", ignore_discarded),
            ("ignore_deleted", ignore_deleted),
        ):
            _checks.check_flag(flag, value, f"workflow {name or id!r}")
        self.id: str = id
        self.name: str | None = name
        self.ignore_cancelled = ignore_cancelled
        self.ignore_discarded = ignore_discarded
        self.ignore_deleted = ignore_deleted
        self.context: dict[str, Any] = _context.check(
            {} if context is None else context, f"workflow {name or id!r}"
        )
        self.models: dict[str, str] = _checks.check_models(models, f"workflow {name or id!r}")
        self.deadline = _flow.check_deadline(deadline, f"workflow {name or id!r}")
        self.unique_key = _flow.check_unique_key(unique_key, f"workflow {name or id!r}")
        self.limits = _budget.limits(
            budget_usd, budget_tokens, max_steps, capture, repr(name or id)
        )
        self._steps: dict[str, Step] = {}
        self._groups: dict[str, list[str]] = {}
        self._subs: dict[str, list[str]] = {}
        self._inserted = False

    def __repr__(self) -> str:
        return f"<Workflow {label(self)} id={self.id!r} steps={len(self._steps)}>"

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, params: Mapping[str, Any] | None = None
    ) -> Workflow:
        """A workflow from a template held as data (see ``docs/templates.md``).

        Raises:
            TemplateError: the template is invalid; the message names the entry.
        """
        return _template.from_dict(cls, data, params=params)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, params: Mapping[str, Any] | None = None
    ) -> Workflow:
        """A workflow from a JSON or TOML template file (see ``docs/templates.md``).

        Raises:
            TemplateError: the file cannot be read or parsed, or the template is invalid;
                the message names the file and the entry.
        """
        return _template.from_file(cls, path, params=params)

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
        step = _checks.new_step(
            f"step {name!r} in workflow {label(self)}",
            name,
            job,
            deps,
            ignore_cancelled=ignore_cancelled,
            ignore_discarded=ignore_discarded,
            ignore_deleted=ignore_deleted,
        )
        self._steps[name] = replace(step, model=_checks.check_model(model, f"step {name!r}", True))
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
                f"group {name!r} in workflow {label(self)}: jobs must be a list of Oban jobs, "
                f"got {type(jobs).__name__}"
            )
        jobs = list(jobs)
        if not jobs:
            raise InvalidStep(f"group {name!r} in workflow {label(self)} has no jobs")
        members = [f"{name}[{index}]" for index in range(len(jobs))]
        steps = [
            _checks.new_step(
                f"step {member!r} in workflow {label(self)}",
                member,
                job,
                deps,
                name,
                index,
                ignore_cancelled=ignore_cancelled,
                ignore_discarded=ignore_discarded,
                ignore_deleted=ignore_deleted,
            )
            for index, (member, job) in enumerate(zip(members, jobs, strict=True))
        ]
        self._groups[name] = members
        self._steps.update((step.name, step) for step in steps)
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
                f"sub-workflow {name!r} in workflow {label(self)}: expected a Workflow, "
                f"got {type(sub).__name__}"
            )
        if sub is self:
            raise SelfDependency(f"workflow {label(self)} cannot contain itself as {name!r}")
        sub.validate()
        where = f"sub-workflow {name!r} in workflow {label(self)}"
        _flow.check_sub(sub.deadline, sub.unique_key, where)
        _budget.check_nested(sub.limits, where)
        outer = _checks.dep_names(deps, where)
        if name in outer:
            raise SelfDependency(f"{where} depends on itself")
        self.context = _context.merge(self.context, sub.context, where)
        self._attach(mount(name, sub, outer))
        return self

    def _attach(self, mounted: Mount) -> None:
        """Take in a mounted workflow's steps, groups and sub-workflows."""
        self._steps.update((step.name, step) for step in mounted.steps)
        self._groups.update(mounted.groups)
        self._subs.update(mounted.subworkflows)

    def validate(self) -> list[str]:
        """Check the whole graph and return the steps in a dependency order.

        Raises:
            EmptyWorkflow: there are no steps.
            UnknownDependency: a dep names no step, group or sub-workflow, or ``models``
                maps a name that is none of them.
            DependencyCycle: the deps form a cycle; the message shows the path.
        """
        return _deps.dependency_order(self)

    def edges(self) -> list[tuple[str, str]]:
        """Every ``(upstream, downstream)`` pair, with group deps expanded to members."""
        return _deps.edges(self)

    def to_mermaid(self) -> str:
        """The graph as a Mermaid flowchart (``add_many`` groups as subgraphs)."""
        return _graph.to_mermaid(self._graph_steps(), self.edges(), self._graph_kinds())

    def to_dot(self) -> str:
        """The graph as a Graphviz DOT digraph (``add_many`` groups as clusters)."""
        return _graph.to_dot(self._graph_steps(), self.edges(), self._graph_kinds())

    def _graph_steps(self) -> list[tuple[str, str | None]]:
        return [(name, step.group) for name, step in self._steps.items()]

    def _graph_kinds(self) -> dict[str, str]:
        """Signal steps drawn as such (a class of their own)."""
        return {name: "signal" for name, step in self._steps.items() if step.signal}

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

        Raises:
            DuplicateWorkflow: an unfinished workflow (``.workflow_id``) holds the
                ``unique_key``; nothing was written (with ``conn``, under a savepoint).
        """
        if self._inserted:
            raise WorkflowError(f"workflow {label(self)} (id {self.id!r}) was already inserted")
        self.validate()
        self.limits.check_size(len(self._steps), label(self))
        await _insert.insert(self, conn, oban, self.limits)
        self._inserted = True
        return self

    def _check_name(self, name: str) -> None:
        _checks.check_name(name, f"workflow {label(self)}")
        if name in self._steps or name in self._groups or name in self._subs:
            raise DuplicateStep(f"workflow {label(self)} already has a step or group {name!r}")
        if self._inserted:
            raise WorkflowError(f"workflow {label(self)} was already inserted; it is read-only")


def added_steps(workflow_id: str, adder: str, sub: Workflow) -> Workflow:
    """The steps ``adder`` adds at run time, as a workflow to encode, never to insert.

    ``sub``'s steps go under ``adder``'s path; the ones without deps wait for ``adder``.
    They share ``sub``'s jobs (nothing writes to them: the rows are inserted by the
    statement that stores ``adder``'s result).

    Args:
        workflow_id: the workflow ``adder`` belongs to.
        adder: the running step.
        sub: the steps it returned, validated.
    """
    added = Workflow(id=workflow_id)
    added._attach(mount(adder, sub, (adder,), copy_jobs=False))
    return added


__all__: Sequence[str] = ["Workflow", "added_steps"]
