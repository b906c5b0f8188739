"""Mounting a workflow under a path: what ``add_workflow`` copies in, and the steps a
running step adds (``baton.Complete(add=...)``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .._names import join
from ._step import Step, StepGraph, model_of, pick


@dataclass(frozen=True, slots=True)
class Mount:
    """A workflow's steps, groups and sub-workflows, renamed under a path.

    Attributes:
        steps: copies of every step: deps renamed, defaults and models resolved.
        groups: the groups, names and members under the path.
        subworkflows: the sub-workflows under the path, and the path itself as one.
    """

    steps: list[Step]
    groups: dict[str, list[str]]
    subworkflows: dict[str, list[str]]


def mount(
    path: str, sub: StepGraph, root_deps: tuple[str, ...], *, copy_jobs: bool = True
) -> Mount:
    """``sub``'s steps, groups and sub-workflows under ``path``.

    Args:
        path: where the steps go: ``path/name``.
        sub: the workflow to mount; it is left unchanged.
        root_deps: what ``sub``'s steps without deps wait for instead.
        copy_jobs: give each step its own copy of its job (``insert`` writes ids and
            states into them). False shares ``sub``'s jobs: only for a workflow that is
            encoded, never inserted, so nothing writes to them (the steps a running step
            adds).
    """
    steps = [
        replace(
            step,
            name=join(path, step.name),
            job=copy.deepcopy(step.job) if copy_jobs else step.job,
            deps=tuple(join(path, dep) for dep in step.deps) if step.deps else root_deps,
            group=None if step.group is None else join(path, step.group),
            ignore_cancelled=pick(step.ignore_cancelled, sub.ignore_cancelled),
            ignore_discarded=pick(step.ignore_discarded, sub.ignore_discarded),
            ignore_deleted=pick(step.ignore_deleted, sub.ignore_deleted),
            model=model_of(sub, step),
        )
        for step in sub.steps.values()
    ]
    groups = {
        join(path, group): [join(path, member) for member in members]
        for group, members in sub.groups.items()
    }
    subworkflows = {
        join(path, inner): [join(path, member) for member in members]
        for inner, members in sub.subworkflows.items()
    }
    subworkflows[path] = [step.name for step in steps]
    return Mount(steps, groups, subworkflows)


__all__: Sequence[str] = ["Mount", "mount"]
