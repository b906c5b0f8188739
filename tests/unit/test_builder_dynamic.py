"""The builder's dynamic parts without a database: sub-workflows, model fan-outs, model
mappings, and the path rules that resolve names."""

from __future__ import annotations

import json
from typing import Any

import pytest

import baton
from baton import Workflow, _names
from baton.errors import (
    DependencyCycle,
    DuplicateStep,
    EmptyWorkflow,
    InvalidStep,
    SelfDependency,
    UnknownDependency,
    WorkflowError,
)
from baton.workflow import encode


@baton.worker(queue="default")
class Task:
    async def perform_workflow(self, job: Any) -> Any:
        return None


def sub() -> Workflow:
    return (
        Workflow(name="sub", ignore_cancelled=True)
        .add("a", Task.new({"n": 1}))
        .add_many("g", [Task.new(), Task.new()], deps=["a"])
        .add("b", Task.new(), deps=["g"], ignore_cancelled=False)
    )


def rows(wf: Workflow) -> dict[str, dict[str, Any]]:
    steps, _edges = encode(wf)
    return {row["name"]: row for row in json.loads(steps)}


def test_add_workflow_mounts_steps_under_the_path_with_their_deps_renamed() -> None:
    wf = Workflow(name="top").add("fetch", Task.new()).add_workflow("r", sub(), deps=["fetch"])
    wf.add("after", Task.new(), deps=["r"])
    assert list(wf.steps) == ["fetch", "r/a", "r/g[0]", "r/g[1]", "r/b", "after"]
    assert wf.steps["r/a"].deps == ("fetch",)  # a root of the sub waits for the outer deps
    assert wf.steps["r/g[0]"].deps == ("r/a",)
    assert wf.steps["r/b"].deps == ("r/g",)
    assert wf.groups["r/g"] == ["r/g[0]", "r/g[1]"]
    assert wf.subworkflows["r"] == ["r/a", "r/g[0]", "r/g[1]", "r/b"]
    assert wf.validate()[-1] == "after"
    assert ("r/b", "after") in wf.edges() and ("r/a", "after") in wf.edges()
    found = rows(wf)
    assert found["r/a"]["ignore_cancelled"] is True  # the sub's default came along
    assert found["r/b"]["ignore_cancelled"] is False  # and its step's own override
    assert found["after"]["pending"] == 4
    assert found["r/a"]["meta"]["workflow_step"] == "r/a"


def test_a_sub_workflow_added_twice_gets_its_own_jobs() -> None:
    definition = sub()
    wf = Workflow(name="top").add_workflow("x", definition).add_workflow("y", definition)
    assert wf.steps["x/a"].job is not wf.steps["y/a"].job
    assert wf.steps["x/a"].job is not definition.steps["a"].job
    assert len(definition.steps) == 4


def test_add_workflow_errors() -> None:
    with pytest.raises(InvalidStep, match=r"sub-workflow 's'.*expected a Workflow, got dict"):
        Workflow(name="w").add_workflow("s", {})  # type: ignore[arg-type]
    with pytest.raises(EmptyWorkflow):
        Workflow(name="w").add_workflow("s", Workflow())
    cyclic = Workflow().add("a", Task.new(), deps=["b"]).add("b", Task.new(), deps=["a"])
    with pytest.raises(DependencyCycle):
        Workflow(name="w").add_workflow("s", cyclic)
    wf = Workflow(name="w").add("s", Task.new())
    with pytest.raises(DuplicateStep):
        wf.add_workflow("s", sub())
    with pytest.raises(DuplicateStep, match=r"already has a step or group 'r'"):
        Workflow(name="w").add_workflow("r", sub()).add("r", Task.new())
    with pytest.raises(SelfDependency):
        Workflow(name="w").add_workflow("s", sub(), deps=["s"])
    with pytest.raises(SelfDependency, match="cannot contain itself"):
        wf.add_workflow("t", wf)
    with pytest.raises(UnknownDependency, match=r"'nowhere'"):
        Workflow(name="w").add_workflow("s", sub(), deps=["nowhere"]).validate()
    # a dep on a path inside a sub-workflow is a dep on that step
    wf = Workflow(name="w").add_workflow("s", sub()).add("z", Task.new(), deps=["s/g"])
    assert rows(wf)["z"]["pending"] == 2


def test_add_models_makes_one_member_per_model() -> None:
    wf = Workflow(name="w").add_models("draft", Task.new({"p": 1}), ["m1", "m2"], deps=[])
    assert wf.groups["draft"] == ["draft[0]", "draft[1]"]
    found = rows(wf)
    assert [found[name]["model"] for name in ("draft[0]", "draft[1]")] == ["m1", "m2"]
    assert [found[name]["meta"]["workflow_model"] for name in ("draft[0]", "draft[1]")] == [
        "m1",
        "m2",
    ]
    assert all(found[name]["by_model"] for name in ("draft[0]", "draft[1]"))
    assert wf.steps["draft[0]"].job is not wf.steps["draft[1]"].job


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ([], "models is empty"),
        ("gpt", "must be a list of model names"),
        (["a", "a"], "models repeat 'a'"),
        (["a", ""], "non-blank string"),
        (["a", 3], "non-blank string"),
    ],
)
def test_add_models_errors(models: Any, message: str) -> None:
    with pytest.raises(InvalidStep, match=message):
        Workflow(name="w").add_models("draft", Task.new(), models)


def test_add_models_needs_a_job() -> None:
    with pytest.raises(InvalidStep, match=r"expected an Oban job"):
        Workflow(name="w").add_models("draft", "job", ["a"])  # type: ignore[arg-type]


def test_models_mapping_errors() -> None:
    with pytest.raises(WorkflowError, match="models must map"):
        Workflow(name="w", models=["a"])  # type: ignore[arg-type]
    with pytest.raises(WorkflowError, match="not a step name"):
        Workflow(name="w", models={"bad name": "m"})
    with pytest.raises(InvalidStep, match="non-blank string"):
        Workflow(name="w", models={"a": ""})
    with pytest.raises(InvalidStep, match="non-blank string"):
        Workflow(name="w").add("a", Task.new(), model=" ")
    wf = Workflow(name="w", models={"ghost": "m"}).add("a", Task.new())
    with pytest.raises(UnknownDependency, match=r"maps 'ghost' to a model, but it has no step"):
        wf.validate()


def test_name_paths() -> None:
    assert _names.is_path("a/b[2]/c")
    assert not _names.is_path("a//b")
    assert not _names.is_path("a/b c")
    assert not _names.is_path(3)
    assert _names.namespace("a/b/c") == "a/b"
    assert _names.namespace("a") is None
    assert _names.namespaces("a/b/c") == ["a/b", "a"]
    assert list(_names.prefixes("a/b/c")) == ["a", "a/b", "a/b/c"]
    assert _names.covered("plan/item[3]", ["plan"])
    assert _names.covered("g[1]", ["g"])
    assert _names.covered("g[1]/x", ["g"])
    assert _names.covered("g[1]/x", ["g[1]"])
    assert not _names.covered("planner", ["plan"])
    assert not _names.covered("other/x", ["plan"])
