"""Property tests of the builder's graph checks over random DAGs and cyclic graphs."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import baton
from baton import Workflow
from baton.errors import DependencyCycle

NAMES = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,11}", fullmatch=True)
SETTINGS = settings(max_examples=100, deadline=None)


@baton.worker(queue="default")
class Node:
    async def perform_workflow(self, job: Any) -> Any:
        return None


@dataclass(frozen=True)
class Graph:
    names: list[str]
    deps: dict[str, list[str]]  # step -> the steps it depends on
    order: list[str]  # the order the steps are added in

    def workflow(self) -> Workflow:
        wf = Workflow(name="random")
        for name in self.order:
            wf.add(name, Node.new(), deps=self.deps[name])
        return wf

    def edges(self) -> set[tuple[str, str]]:
        return {(up, down) for down, ups in self.deps.items() for up in ups}


@st.composite
def dags(draw: st.DrawFn, min_nodes: int = 1) -> Graph:
    """A DAG of up to 50 named nodes: node j only depends on nodes i < j."""
    count = draw(st.integers(min_nodes, 50))
    names = draw(st.lists(NAMES, min_size=count, max_size=count, unique=True))
    deps = {
        names[j]: [names[i] for i in sorted(draw(st.sets(st.integers(0, j - 1), max_size=4)))]
        if j
        else []
        for j in range(count)
    }
    order = draw(st.permutations(names))
    return Graph(names, deps, list(order))


@st.composite
def cyclic_graphs(draw: st.DrawFn) -> Graph:
    """A random DAG plus a chain through it and one back-edge closing that chain."""
    dag = draw(dags(min_nodes=2))
    count = len(dag.names)
    chain = draw(
        st.lists(st.integers(0, count - 1), min_size=2, max_size=min(count, 8), unique=True)
    )
    chain.sort()
    deps = {name: list(ups) for name, ups in dag.deps.items()}
    for lower, higher in pairwise(chain):
        if dag.names[lower] not in deps[dag.names[higher]]:
            deps[dag.names[higher]].append(dag.names[lower])
    # the back-edge: the chain's first node depends on its last one
    deps[dag.names[chain[0]]].append(dag.names[chain[-1]])
    return Graph(dag.names, deps, dag.order)


@SETTINGS
@given(dags())
def test_random_dags_are_accepted_in_a_dependency_order(graph: Graph) -> None:
    wf = graph.workflow()
    assert set(wf.edges()) == graph.edges()
    order = wf.validate()
    assert sorted(order) == sorted(graph.names)
    position = {name: index for index, name in enumerate(order)}
    for upstream, downstream in graph.edges():
        assert position[upstream] < position[downstream]


@SETTINGS
@given(cyclic_graphs())
def test_graphs_with_a_cycle_are_rejected_with_a_true_cycle(graph: Graph) -> None:
    wf = graph.workflow()
    with pytest.raises(DependencyCycle) as excinfo:
        wf.validate()
    path = excinfo.value.path
    assert len(path) >= 3
    assert path[0] == path[-1]
    assert len(set(path[:-1])) == len(path) - 1, "a simple cycle"
    edges = graph.edges()
    pairs = list(pairwise(path))
    assert all((up, down) in edges for down, up in pairs) or all(
        (up, down) in edges for up, down in pairs
    ), f"{path} is not a cycle of the graph"
    assert " -> ".join(path) in str(excinfo.value)
    assert "workflow 'random'" in str(excinfo.value)


@SETTINGS
@given(dags(), dags(), st.data())
def test_a_random_dag_mounted_as_a_sub_workflow_keeps_its_edges_under_its_path(
    inner: Graph, outer: Graph, data: st.DataObject
) -> None:
    assume(not {"sub", "after"} & set(outer.names))
    wf = outer.workflow()
    entry = data.draw(st.lists(st.sampled_from(outer.names), max_size=3, unique=True))
    wf.add_workflow("sub", inner.workflow(), deps=entry)
    wf.add("after", Node.new(), deps=["sub"])
    roots = [name for name in inner.names if not inner.deps[name]]
    expected = (
        outer.edges()
        | {(f"sub/{up}", f"sub/{down}") for up, down in inner.edges()}
        | {(up, f"sub/{root}") for root in roots for up in entry}
        | {(f"sub/{name}", "after") for name in inner.names}
    )
    assert set(wf.edges()) == expected
    order = wf.validate()
    position = {name: index for index, name in enumerate(order)}
    assert all(position[up] < position[down] for up, down in expected)
    assert set(wf.subworkflows["sub"]) == {f"sub/{name}" for name in inner.names}
