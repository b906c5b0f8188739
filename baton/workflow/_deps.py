"""A workflow's deps as step names, its edges, and the check of the whole graph.

A dep may name a step, a group (``add_many``, ``add_models``) or a sub-workflow
(``add_workflow``); expanded, a group or sub-workflow becomes every step in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from graphlib import CycleError, TopologicalSorter

from .._names import suggestion
from ..errors import DependencyCycle, EmptyWorkflow, SelfDependency, UnknownDependency
from ._step import Step, StepGraph, label


def expand_deps(
    workflow: StepGraph, step: Step, external: frozenset[str] = frozenset()
) -> list[str]:
    """The step's deps as step names: groups and sub-workflows become their steps.

    Args:
        workflow: the workflow the step is in.
        step: the step.
        external: names of steps stored already, outside ``workflow``, that deps may name.

    Raises:
        UnknownDependency: a dep names nothing in the workflow or in ``external``.
        SelfDependency: a dep contains the step itself.
    """
    steps, groups, subs = workflow.steps, workflow.groups, workflow.subworkflows
    expanded: dict[str, None] = {}
    for dep in step.deps:
        if dep in steps or dep in external:
            expanded[dep] = None
        elif dep in groups:
            expanded.update(dict.fromkeys(groups[dep]))
        elif dep in subs:
            expanded.update(dict.fromkeys(subs[dep]))
        else:
            known = [*steps, *groups, *subs]
            hint = suggestion(dep, [*known, *external])
            raise UnknownDependency(
                f"step {step.name!r} depends on {dep!r}, which is not in workflow "
                f"{label(workflow)}{hint} (steps: {', '.join(known)})"
            )
        if step.name in expanded:
            raise SelfDependency(
                f"step {step.name!r} in workflow {label(workflow)} depends on {dep!r}, "
                "which contains it"
            )
    return list(expanded)


def edges(workflow: StepGraph) -> list[tuple[str, str]]:
    """Every ``(upstream, downstream)`` pair, with group deps expanded to members."""
    return [
        (upstream, name)
        for name, step in workflow.steps.items()
        for upstream in expand_deps(workflow, step)
    ]


def dependency_order(workflow: StepGraph) -> list[str]:
    """Check the whole graph and return the steps in a dependency order.

    Raises:
        EmptyWorkflow: there are no steps.
        UnknownDependency: a dep names no step, group or sub-workflow, or ``models``
            maps a name that is none of them.
        DependencyCycle: the deps form a cycle; the message shows the path.
    """
    steps = workflow.steps
    if not steps:
        raise EmptyWorkflow(f"workflow {label(workflow)} has no steps; add one before insert()")
    for key in workflow.models:
        if key not in steps and key not in workflow.groups and key not in workflow.subworkflows:
            raise UnknownDependency(
                f"workflow {label(workflow)} maps {key!r} to a model, but it has no step, "
                f"group or sub-workflow of that name (steps: {', '.join(steps)})"
            )
    graph = {name: expand_deps(workflow, step) for name, step in steps.items()}
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        path = list(reversed(error.args[1]))
        raise DependencyCycle(
            f"workflow {label(workflow)} has a dependency cycle: {' -> '.join(path)}", path
        ) from error


__all__: Sequence[str] = ["dependency_order", "edges", "expand_deps"]
