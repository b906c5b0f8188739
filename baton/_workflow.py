"""The workflow builder: steps, their deps, validation, and the atomic insert."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from graphlib import CycleError, TopologicalSorter
from types import MappingProxyType
from typing import Any, Self

from oban import Job, Oban
from oban.worker import WorkerResolutionError, resolve_worker

from . import _graph, _json, _oban, _steps
from .errors import (
    DependencyCycle,
    DuplicateStep,
    EmptyWorkflow,
    InvalidStep,
    InvalidStepName,
    SelfDependency,
    UnknownDependency,
    WorkflowError,
)

NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}")
MEMBER_PATTERN = re.compile(r"(?P<group>.+)\[(?P<index>0|[1-9][0-9]*)\]")
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
    """

    name: str
    job: Job
    deps: tuple[str, ...]
    group: str | None = None
    index: int | None = None
    ignore_cancelled: bool | None = None
    ignore_discarded: bool | None = None
    ignore_deleted: bool | None = None


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
    """

    def __init__(
        self,
        name: str | None = None,
        id: str | None = None,
        *,
        ignore_cancelled: bool = False,
        ignore_discarded: bool = False,
        ignore_deleted: bool = False,
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
            _check_flag(flag, value, f"workflow {name or id!r}")
        self.id: str = id
        self.name: str | None = name
        self.ignore_cancelled = ignore_cancelled
        self.ignore_discarded = ignore_discarded
        self.ignore_deleted = ignore_deleted
        self._steps: dict[str, Step] = {}
        self._groups: dict[str, list[str]] = {}
        self._inserted = False

    def __repr__(self) -> str:
        return f"<Workflow {self._label} id={self.id!r} steps={len(self._steps)}>"

    @property
    def _label(self) -> str:
        return repr(self.name) if self.name else repr(self.id)

    @property
    def steps(self) -> Mapping[str, Step]:
        """The steps by name, in the order they were added."""
        return MappingProxyType(self._steps)

    @property
    def groups(self) -> Mapping[str, list[str]]:
        """The ``add_many`` groups: group name to member step names, in order."""
        return MappingProxyType(self._groups)

    def add(
        self,
        name: str,
        job: Job,
        deps: Iterable[str] | str = (),
        *,
        ignore_cancelled: bool | None = None,
        ignore_discarded: bool | None = None,
        ignore_deleted: bool | None = None,
    ) -> Self:
        """Add a step that runs ``job`` once every step in ``deps`` has finished.

        Args:
            name: the step's name: 1-128 characters from ``A-Z a-z 0-9 _ . : -``.
            job: an Oban job not yet inserted, e.g. ``Worker.new(args)``.
            deps: names of steps or ``add_many`` groups this step waits for. A dep on a
                group waits for every member. Deps may name steps added later.
            ignore_cancelled: override the workflow's default for this step.
            ignore_discarded: override the workflow's default for this step.
            ignore_deleted: override the workflow's default for this step.

        Returns:
            The workflow, so calls chain.
        """
        self._check_name(name)
        self._steps[name] = self._step(
            name, job, deps, None, None, ignore_cancelled, ignore_discarded, ignore_deleted
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

    def validate(self) -> list[str]:
        """Check the whole graph and return the steps in a dependency order.

        Raises:
            EmptyWorkflow: there are no steps.
            UnknownDependency: a dep names no step or group.
            DependencyCycle: the deps form a cycle; the message shows the path.
        """
        if not self._steps:
            raise EmptyWorkflow(f"workflow {self._label} has no steps; add one before insert()")
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
        steps, edges = self._payload()
        await _steps.insert_workflow(instance, conn, self._record(), steps, edges, self._jobs())
        self._inserted = True
        return self

    def _record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "ignore_cancelled": self.ignore_cancelled,
            "ignore_discarded": self.ignore_discarded,
            "ignore_deleted": self.ignore_deleted,
            "step_count": len(self._steps),
        }

    def _jobs(self) -> dict[str, Job]:
        return {name: step.job for name, step in self._steps.items()}

    def _payload(self) -> tuple[str, str]:
        rows = [self._row(step) for step in self._steps.values()]
        try:
            steps = _json.encode(rows)
        except (TypeError, ValueError):
            for row in rows:  # find the offending step to name it
                _encode_args(row, self._label)
            raise
        if _json.contains_nul(steps):
            bad = next(row for row in rows if _json.contains_nul(_json.encode(row)))
            raise InvalidStep(
                f"step {bad['name']!r} in workflow {self._label}: args or meta contain a NUL "
                "character (\\u0000), which PostgreSQL cannot store in jsonb"
            )
        edges = json.dumps([{"upstream": up, "downstream": down} for up, down in self.edges()])
        return steps, edges

    def _row(self, step: Step) -> dict[str, Any]:
        job = step.job
        scheduled = job.scheduled_at
        return {
            "name": step.name,
            "queue": job.queue,
            "worker": job.worker,
            "max_attempts": job.max_attempts,
            "priority": job.priority,
            "args": job.args,
            "meta": {**job.meta, "workflow_id": self.id, "workflow_step": step.name},
            "tags": list(job.tags),
            "scheduled_at": scheduled.astimezone(UTC).replace(tzinfo=None).isoformat()
            if scheduled
            else None,
            "pending": len(self._expand(step)),
            "group_name": step.group,
            "group_index": step.index,
            "deps": list(step.deps),
            "ignore_cancelled": _pick(step.ignore_cancelled, self.ignore_cancelled),
            "ignore_discarded": _pick(step.ignore_discarded, self.ignore_discarded),
            "ignore_deleted": _pick(step.ignore_deleted, self.ignore_deleted),
            "gated": _is_baton_worker(job.worker, f"step {step.name!r} in workflow {self._label}"),
        }

    def _expand(self, step: Step) -> list[str]:
        expanded: dict[str, None] = {}
        for dep in step.deps:
            if dep in self._groups:
                expanded.update(dict.fromkeys(self._groups[dep]))
            elif dep in self._steps:
                expanded[dep] = None
            else:
                known = ", ".join([*self._steps, *self._groups])
                raise UnknownDependency(
                    f"step {step.name!r} depends on {dep!r}, which is not in workflow "
                    f"{self._label} (steps: {known})"
                )
            if step.name in expanded:
                raise SelfDependency(
                    f"step {step.name!r} in workflow {self._label} depends on its own group {dep!r}"
                )
        return list(expanded)

    def _check_name(self, name: str) -> None:
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            shown = name if not isinstance(name, str) or len(name) <= 60 else name[:60] + "…"
            raise InvalidStepName(
                f"step name {shown!r} in workflow {self._label} is invalid: use 1-128 "
                "characters from A-Z a-z 0-9 _ . : - (not starting with . : or -)"
            )
        if name in self._steps or name in self._groups:
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
        if not isinstance(job, Job):
            raise InvalidStep(
                f"{where}: expected an Oban job such as Worker.new(args), got {type(job).__name__}"
            )
        if job.id is not None:
            raise InvalidStep(f"{where}: job {job.id} was already inserted; pass Worker.new()")
        dep_names = _dep_names(deps, where)
        if name in dep_names or (group is not None and group in dep_names):
            raise SelfDependency(f"{where} depends on itself")
        for flag, value in (
            ("ignore_cancelled", ignore_cancelled),
            ("ignore_discarded", ignore_discarded),
            ("ignore_deleted", ignore_deleted),
        ):
            if value is not None and not isinstance(value, bool):
                raise InvalidStep(f"{where}: {flag} must be True, False or None, got {value!r}")
        return Step(
            name, job, dep_names, group, index, ignore_cancelled, ignore_discarded, ignore_deleted
        )


def _dep_names(deps: Iterable[str] | str, where: str) -> tuple[str, ...]:
    if isinstance(deps, str):
        deps = [deps]
    if not isinstance(deps, Iterable):
        raise InvalidStep(f"{where}: deps must be a list of step names, got {deps!r}")
    names = list(deps)
    for dep in names:
        if not isinstance(dep, str) or not (
            NAME_PATTERN.fullmatch(dep) or MEMBER_PATTERN.fullmatch(dep)
        ):
            raise UnknownDependency(f"{where}: dep {dep!r} is not a valid step or group name")
    return tuple(dict.fromkeys(names))


def _check_flag(flag: str, value: object, where: str) -> None:
    if not isinstance(value, bool):
        raise WorkflowError(f"{where}: {flag} must be True or False, got {value!r}")


def _pick(override: bool | None, default: bool) -> bool:
    return default if override is None else override


def _is_baton_worker(path: str, where: str) -> bool:
    try:
        return hasattr(resolve_worker(path), "_baton")
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


__all__: Sequence[str] = ["Step", "Workflow"]
