"""Every validation path of the ``Workflow`` builder, without a database."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import oban
import pytest
from oban import Job

import baton
from baton import Workflow
from baton.errors import (
    DependencyCycle,
    DuplicateStep,
    EmptyWorkflow,
    InvalidStep,
    InvalidStepName,
    SelfDependency,
    UnknownDependency,
    WorkflowError,
)
from baton.store import _step_input
from baton.workflow import encode


@baton.worker(queue="default", max_attempts=3)
class Task:
    async def perform_workflow(self, job: Any) -> Any:
        return job.args.get("value")


@oban.worker(queue="default")
class Plain:
    async def process(self, job: Any) -> None:
        return None


def brief() -> Workflow:
    return Workflow(name="brief")


def raised[E: BaseException](error: type[E], excinfo: pytest.ExceptionInfo[E]) -> str:
    """The message, after checking the exception is exactly ``error`` (not a subclass)."""
    assert type(excinfo.value) is error, f"{type(excinfo.value).__name__} is not {error.__name__}"
    return str(excinfo.value)


def assert_cycle(path: list[str], edges: list[tuple[str, str]]) -> None:
    """``path`` is a simple cycle that follows real edges, all in one direction."""
    assert len(path) >= 3, path
    assert path[0] == path[-1], path
    assert len(set(path[:-1])) == len(path) - 1, f"not a simple cycle: {path}"
    pairs = list(pairwise(path))
    edge_set = set(edges)
    downstream_first = all((up, down) in edge_set for down, up in pairs)
    upstream_first = all((up, down) in edge_set for up, down in pairs)
    assert downstream_first or upstream_first, f"{path} does not follow the edges {edges}"


def assert_topological(order: list[str], wf: Workflow) -> None:
    assert sorted(order) == sorted(wf.steps), "every step exactly once"
    position = {name: index for index, name in enumerate(order)}
    for upstream, downstream in wf.edges():
        assert position[upstream] < position[downstream], (upstream, downstream, order)


# --- step names ------------------------------------------------------------------------

VALID_NAMES = ["a", "A", "0", "_x", "fetch_1", "ns:step", "a.b", "a-b", "x" * 128]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_step_names_are_accepted(name: str) -> None:
    wf = brief().add(name, Task.new())
    assert list(wf.steps) == [name]
    assert wf.validate() == [name]


@pytest.mark.parametrize(
    "name",
    [
        "",
        "résumé",
        "步骤",
        "two words",
        " padded",
        "tab\tname",
        "line\nbreak",
        "a[0]",
        "a]",
        "a/b",
        "a\\b",
        "a'; DROP TABLE x;--",
        "<script>alert(1)</script>",
        "a,b",
        ".hidden",
        ":colon",
        "-dash",
        "nul\x00byte",
    ],
)
def test_invalid_step_names_are_rejected(name: str) -> None:
    wf = brief()
    with pytest.raises(InvalidStepName) as excinfo:
        wf.add(name, Task.new())
    message = raised(InvalidStepName, excinfo)
    assert repr(name) in message
    assert "workflow 'brief'" in message
    assert "1-128 characters from A-Z a-z 0-9 _ . : -" in message
    assert not wf.steps


@pytest.mark.parametrize("length", [129, 10_000])
def test_a_too_long_step_name_is_rejected_and_shortened_in_the_message(length: int) -> None:
    name = "x" * length
    with pytest.raises(InvalidStepName) as excinfo:
        brief().add(name, Task.new())
    message = raised(InvalidStepName, excinfo)
    assert repr(name[:60] + "…") in message
    assert "workflow 'brief'" in message
    assert "1-128 characters" in message
    assert len(message) < 400


@pytest.mark.parametrize("name", [5, None, b"fetch", ["fetch"], 1.5])
def test_non_string_step_names_are_rejected(name: Any) -> None:
    with pytest.raises(InvalidStepName) as excinfo:
        brief().add(name, Task.new())
    message = raised(InvalidStepName, excinfo)
    assert f"step name {name!r} in workflow 'brief'" in message
    assert "is invalid" in message


@pytest.mark.parametrize("name", ["", "g[0]", "步骤", "a b", 7])
def test_invalid_group_names_are_rejected(name: Any) -> None:
    wf = brief()
    with pytest.raises(InvalidStepName) as excinfo:
        wf.add_many(name, [Task.new()])
    message = raised(InvalidStepName, excinfo)
    assert repr(name) in message
    assert "workflow 'brief'" in message
    assert not wf.steps
    assert not wf.groups


def test_messages_name_an_unnamed_workflow_by_its_id() -> None:
    with pytest.raises(InvalidStepName) as excinfo:
        Workflow(id="wf-7").add("bad name", Task.new())
    assert "workflow 'wf-7'" in raised(InvalidStepName, excinfo)


# --- duplicates --------------------------------------------------------------------------


def test_duplicate_step_names_are_rejected() -> None:
    wf = brief().add("fetch", Task.new({"value": 1}))
    with pytest.raises(DuplicateStep) as excinfo:
        wf.add("fetch", Task.new({"value": 2}))
    message = raised(DuplicateStep, excinfo)
    assert "'fetch'" in message
    assert "workflow 'brief'" in message
    assert "already has" in message
    assert wf.steps["fetch"].job.args == {"value": 1}, "the first step is kept"


def test_a_step_named_like_an_existing_group_is_rejected() -> None:
    wf = brief().add_many("parts", [Task.new(), Task.new()])
    with pytest.raises(DuplicateStep) as excinfo:
        wf.add("parts", Task.new())
    message = raised(DuplicateStep, excinfo)
    assert "'parts'" in message
    assert "workflow 'brief'" in message
    assert "step or group" in message
    assert list(wf.steps) == ["parts[0]", "parts[1]"]


def test_a_group_named_like_an_existing_step_is_rejected() -> None:
    wf = brief().add("parts", Task.new())
    with pytest.raises(DuplicateStep) as excinfo:
        wf.add_many("parts", [Task.new()])
    message = raised(DuplicateStep, excinfo)
    assert "'parts'" in message
    assert "workflow 'brief'" in message
    assert list(wf.steps) == ["parts"]
    assert not wf.groups


def test_two_groups_with_one_name_are_rejected() -> None:
    wf = brief().add_many("parts", [Task.new()])
    with pytest.raises(DuplicateStep) as excinfo:
        wf.add_many("parts", [Task.new(), Task.new()])
    assert "'parts'" in raised(DuplicateStep, excinfo)
    assert wf.groups["parts"] == ["parts[0]"]


# --- self dependencies ---------------------------------------------------------------------


@pytest.mark.parametrize("deps", [["a"], "a", ["b", "a"]])
def test_a_step_that_depends_on_itself_is_rejected(deps: Any) -> None:
    wf = brief().add("b", Task.new())
    with pytest.raises(SelfDependency) as excinfo:
        wf.add("a", Task.new(), deps=deps)
    message = raised(SelfDependency, excinfo)
    assert "step 'a'" in message
    assert "workflow 'brief'" in message
    assert "depends on itself" in message
    assert "a" not in wf.steps


def test_a_group_that_depends_on_itself_is_rejected() -> None:
    wf = brief()
    with pytest.raises(SelfDependency) as excinfo:
        wf.add_many("g", [Task.new(), Task.new()], deps=["g"])
    message = raised(SelfDependency, excinfo)
    assert "step 'g[0]'" in message
    assert "workflow 'brief'" in message
    assert "depends on itself" in message
    assert not wf.steps
    assert not wf.groups


def test_a_group_member_that_depends_on_itself_is_rejected() -> None:
    wf = brief()
    with pytest.raises(SelfDependency) as excinfo:
        wf.add_many("g", [Task.new(), Task.new()], deps=["g[1]"])
    message = raised(SelfDependency, excinfo)
    assert "step 'g[1]'" in message
    assert "workflow 'brief'" in message
    assert not wf.steps


# --- unknown dependencies --------------------------------------------------------------------


def test_an_unknown_dep_is_rejected_by_validate_listing_the_known_steps() -> None:
    wf = brief().add("a", Task.new()).add_many("g", [Task.new()]).add("b", Task.new(), deps="x")
    with pytest.raises(UnknownDependency) as excinfo:
        wf.validate()
    message = raised(UnknownDependency, excinfo)
    assert "step 'b' depends on 'x'" in message
    assert "workflow 'brief'" in message
    assert "(steps: a, g[0], b, g)" in message


def test_an_unknown_dep_is_rejected_by_edges_too() -> None:
    wf = brief().add("b", Task.new(), deps=["nowhere"])
    with pytest.raises(UnknownDependency) as excinfo:
        wf.edges()
    message = raised(UnknownDependency, excinfo)
    assert "'nowhere'" in message
    assert "step 'b'" in message


def test_a_dep_on_a_missing_group_member_is_unknown() -> None:
    wf = brief().add_many("g", [Task.new(), Task.new()]).add("c", Task.new(), deps=["g[2]"])
    with pytest.raises(UnknownDependency) as excinfo:
        wf.validate()
    message = raised(UnknownDependency, excinfo)
    assert "step 'c' depends on 'g[2]'" in message
    assert "g[0], g[1]" in message


@pytest.mark.parametrize("dep", ["", "two words", "步骤", "a'; DROP TABLE x;--", 5, None])
def test_a_dep_that_cannot_be_a_step_name_is_rejected_at_add(dep: Any) -> None:
    wf = brief()
    with pytest.raises(UnknownDependency) as excinfo:
        wf.add("a", Task.new(), deps=[dep])
    message = raised(UnknownDependency, excinfo)
    assert "step 'a' in workflow 'brief'" in message
    assert f"dep {dep!r} is not a valid step or group name" in message
    assert not wf.steps


@pytest.mark.parametrize("deps", [5, 1.5, object()])
def test_deps_that_are_not_a_list_are_rejected(deps: Any) -> None:
    with pytest.raises(InvalidStep) as excinfo:
        brief().add("a", Task.new(), deps=deps)
    message = raised(InvalidStep, excinfo)
    assert "step 'a' in workflow 'brief'" in message
    assert "deps must be a list of step names" in message


# --- cycles ------------------------------------------------------------------------------------


def test_a_three_step_cycle_is_rejected_with_its_path() -> None:
    wf = (
        brief()
        .add("a", Task.new(), deps=["c"])
        .add("b", Task.new(), deps=["a"])
        .add("c", Task.new(), deps=["b"])
    )
    with pytest.raises(DependencyCycle) as excinfo:
        wf.validate()
    message = raised(DependencyCycle, excinfo)
    path = excinfo.value.path
    assert_cycle(path, wf.edges())
    assert set(path) == {"a", "b", "c"}
    assert "workflow 'brief'" in message
    assert "dependency cycle" in message
    assert message.endswith(" -> ".join(path))


def test_a_two_step_cycle_is_rejected() -> None:
    wf = brief().add("a", Task.new(), deps="b").add("b", Task.new(), deps="a").add("z", Task.new())
    with pytest.raises(DependencyCycle) as excinfo:
        wf.validate()
    path = excinfo.value.path
    assert_cycle(path, wf.edges())
    assert set(path) == {"a", "b"}, "the unrelated step is not in the cycle"
    assert " -> ".join(path) in raised(DependencyCycle, excinfo)


def test_a_cycle_behind_an_acyclic_prefix_reports_only_the_cycle() -> None:
    wf = (
        brief()
        .add("root", Task.new())
        .add("x", Task.new(), deps=["root", "z"])
        .add("y", Task.new(), deps=["x"])
        .add("z", Task.new(), deps=["y"])
        .add("leaf", Task.new(), deps=["z"])
    )
    with pytest.raises(DependencyCycle) as excinfo:
        wf.validate()
    path = excinfo.value.path
    assert_cycle(path, wf.edges())
    assert set(path) == {"x", "y", "z"}


def test_a_cycle_through_a_group_dep_is_rejected() -> None:
    wf = (
        brief()
        .add("a", Task.new(), deps=["g"])
        .add_many("g", [Task.new(), Task.new()], deps=["b"])
        .add("b", Task.new(), deps=["a"])
    )
    with pytest.raises(DependencyCycle) as excinfo:
        wf.validate()
    path = excinfo.value.path
    assert_cycle(path, wf.edges())
    assert {"a", "b"} <= set(path)
    assert set(path) & {"g[0]", "g[1]"}
    assert "workflow 'brief'" in raised(DependencyCycle, excinfo)


def test_a_cycle_through_one_group_member_is_rejected() -> None:
    wf = (
        brief()
        .add_many("g", [Task.new(), Task.new()], deps=["a"])
        .add("a", Task.new(), deps="g[1]")
    )
    with pytest.raises(DependencyCycle) as excinfo:
        wf.validate()
    path = excinfo.value.path
    assert_cycle(path, wf.edges())
    assert set(path) == {"a", "g[1]"}


def test_dependency_cycle_is_a_workflow_error_carrying_its_path() -> None:
    error = DependencyCycle("cycle: a -> b -> a", ["a", "b", "a"])
    assert isinstance(error, WorkflowError)
    assert error.path == ["a", "b", "a"]
    assert str(error) == "cycle: a -> b -> a"


# --- empty workflow -------------------------------------------------------------------------


def test_an_empty_workflow_does_not_validate() -> None:
    with pytest.raises(EmptyWorkflow) as excinfo:
        brief().validate()
    message = raised(EmptyWorkflow, excinfo)
    assert "workflow 'brief'" in message
    assert "no steps" in message


def test_an_empty_unnamed_workflow_is_named_by_id() -> None:
    with pytest.raises(EmptyWorkflow) as excinfo:
        Workflow(id="nightly-1").validate()
    assert "workflow 'nightly-1' has no steps" in raised(EmptyWorkflow, excinfo)


def test_an_empty_group_is_rejected() -> None:
    wf = brief()
    with pytest.raises(InvalidStep) as excinfo:
        wf.add_many("parts", [])
    message = raised(InvalidStep, excinfo)
    assert "group 'parts'" in message
    assert "workflow 'brief'" in message
    assert "no jobs" in message
    assert not wf.groups
    assert not wf.steps


# --- jobs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "type_name"),
    [
        ("Task", "str"),
        ({"worker": "tests.unit.test_builder.Task"}, "dict"),
        (None, "NoneType"),
        (Task, "type"),
    ],
)
def test_a_step_whose_job_is_not_an_oban_job_is_rejected(job: Any, type_name: str) -> None:
    wf = brief()
    with pytest.raises(InvalidStep) as excinfo:
        wf.add("fetch", job)
    message = raised(InvalidStep, excinfo)
    assert "step 'fetch' in workflow 'brief'" in message
    assert "expected an Oban job" in message
    assert f"got {type_name}" in message
    assert not wf.steps


def test_a_job_that_was_already_inserted_is_rejected() -> None:
    job = Task.new()
    job.id = 4242
    with pytest.raises(InvalidStep) as excinfo:
        brief().add("fetch", job)
    message = raised(InvalidStep, excinfo)
    assert "step 'fetch' in workflow 'brief'" in message
    assert "job 4242 was already inserted" in message


def test_a_bad_group_member_names_the_member_and_adds_nothing() -> None:
    wf = brief().add("a", Task.new())
    with pytest.raises(InvalidStep) as excinfo:
        wf.add_many("g", [Task.new(), "not a job", Task.new()])
    message = raised(InvalidStep, excinfo)
    assert "step 'g[1]' in workflow 'brief'" in message
    assert "got str" in message
    assert list(wf.steps) == ["a"]
    assert not wf.groups


@pytest.mark.parametrize("jobs", [Task.new(), 5, None])
def test_add_many_needs_a_list_of_jobs(jobs: Any) -> None:
    wf = brief()
    with pytest.raises(InvalidStep) as excinfo:
        wf.add_many("g", jobs)
    message = raised(InvalidStep, excinfo)
    assert "group 'g' in workflow 'brief'" in message
    assert f"jobs must be a list of Oban jobs, got {type(jobs).__name__}" in message
    assert not wf.steps
    assert not wf.groups


def test_a_plain_oban_job_is_a_step_but_not_gated() -> None:
    wf = brief().add("plain", Plain.new()).add("baton", Task.new(), deps="plain")
    rows = {row["name"]: row for row in json.loads(encode(wf)[0])}
    assert rows["plain"]["gated"] is False
    assert rows["baton"]["gated"] is True


@baton.worker(queue="default")
class Careful:
    async def perform_workflow(self, job: Any) -> None:
        return None

    async def on_dep_discarded(self, reason: str, job: Any) -> None:
        return None


def test_a_step_records_whether_its_worker_has_dep_callbacks() -> None:
    wf = (
        brief()
        .add("plain", Plain.new())
        .add("baton", Task.new(), deps="plain")
        .add("careful", Careful.new(), deps="plain")
    )
    rows = {row["name"]: row for row in json.loads(encode(wf)[0])}
    # blocked, only "careful" is activated (to call its callback); the others are cancelled
    assert {name: row["callbacks"] for name, row in rows.items()} == {
        "plain": False,
        "baton": False,
        "careful": True,
    }


def test_a_worker_that_cannot_be_imported_is_rejected_naming_the_step() -> None:
    job = Job(worker="tests.unit.no_such_module.Missing")
    wf = brief().add("ok", Task.new()).add("ghost", job)
    with pytest.raises(InvalidStep) as excinfo:
        encode(wf)
    message = raised(InvalidStep, excinfo)
    assert "step 'ghost' in workflow 'brief'" in message
    assert "'tests.unit.no_such_module.Missing' cannot be imported" in message


# --- workflow options -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   ", 5, b"brief", ["brief"]])
def test_an_invalid_workflow_name_is_rejected(name: Any) -> None:
    with pytest.raises(WorkflowError) as excinfo:
        Workflow(name=name)
    message = raised(WorkflowError, excinfo)
    assert "workflow name must be a non-blank string" in message
    assert repr(name) in message


@pytest.mark.parametrize("id", ["", "  ", "x" * 129, 5, ["run"]])
def test_an_invalid_workflow_id_is_rejected(id: Any) -> None:
    with pytest.raises(WorkflowError) as excinfo:
        Workflow(name="brief", id=id)
    message = raised(WorkflowError, excinfo)
    assert "workflow id must be a non-blank string of at most 128 characters" in message
    assert repr(id) in message


def test_workflow_ids_are_random_by_default_and_kept_when_given() -> None:
    first, second = Workflow(), Workflow()
    assert first.id != second.id
    assert Workflow(id="x" * 128).id == "x" * 128
    assert Workflow(name="brief", id="run-1").name == "brief"


@pytest.mark.parametrize("flag", ["ignore_cancelled", "ignore_discarded", "ignore_deleted"])
@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_a_non_bool_workflow_flag_is_rejected(flag: str, value: Any) -> None:
    with pytest.raises(WorkflowError) as excinfo:
        Workflow(name="brief", **{flag: value})
    message = raised(WorkflowError, excinfo)
    assert "workflow 'brief'" in message
    assert f"{flag} must be True or False, got {value!r}" in message


@pytest.mark.parametrize("flag", ["ignore_cancelled", "ignore_discarded", "ignore_deleted"])
@pytest.mark.parametrize("value", [1, "true", 0.0])
def test_a_non_bool_step_flag_is_rejected(flag: str, value: Any) -> None:
    wf = brief()
    with pytest.raises(InvalidStep) as excinfo:
        wf.add("fetch", Task.new(), **{flag: value})
    message = raised(InvalidStep, excinfo)
    assert "step 'fetch' in workflow 'brief'" in message
    assert f"{flag} must be True, False or None, got {value!r}" in message
    assert not wf.steps


def test_a_non_bool_group_flag_is_rejected() -> None:
    with pytest.raises(InvalidStep) as excinfo:
        brief().add_many("g", [Task.new()], ignore_deleted="no")
    message = raised(InvalidStep, excinfo)
    assert "step 'g[0]' in workflow 'brief'" in message
    assert "ignore_deleted must be True, False or None" in message


def test_step_flags_override_the_workflow_defaults() -> None:
    wf = (
        Workflow(name="brief", ignore_cancelled=True)
        .add("a", Task.new())
        .add("b", Task.new(), deps="a", ignore_cancelled=False, ignore_deleted=True)
        .add_many("g", [Task.new(), Task.new()], deps="a", ignore_discarded=True)
    )
    rows = {row["name"]: row for row in json.loads(encode(wf)[0])}
    flags = ("ignore_cancelled", "ignore_discarded", "ignore_deleted")
    assert [rows["a"][flag] for flag in flags] == [True, False, False]
    assert [rows["b"][flag] for flag in flags] == [False, False, True]
    assert [rows["g[1]"][flag] for flag in flags] == [True, True, False]


# --- deps: strings, forward references, groups -----------------------------------------------


def test_a_single_string_dep_is_one_dep() -> None:
    wf = brief().add("ab", Task.new()).add("c", Task.new(), deps="ab")
    assert wf.steps["c"].deps == ("ab",)
    assert wf.edges() == [("ab", "c")]


def test_repeated_deps_are_kept_once() -> None:
    wf = brief().add("a", Task.new()).add("b", Task.new(), deps=["a", "a"])
    assert wf.steps["b"].deps == ("a",)
    assert wf.edges() == [("a", "b")]


def test_deps_may_name_steps_added_later() -> None:
    wf = (
        brief()
        .add("report", Task.new(), deps=["summary", "parts"])
        .add("summary", Task.new(), deps=["fetch"])
        .add_many("parts", [Task.new(), Task.new()], deps="fetch")
        .add("fetch", Task.new())
    )
    order = wf.validate()
    assert_topological(order, wf)
    assert order[0] == "fetch"
    assert order[-1] == "report"


def test_add_many_names_members_by_index() -> None:
    jobs = [Task.new({"value": index}) for index in range(4)]
    wf = brief().add_many("parts", jobs, deps=[])
    members = ["parts[0]", "parts[1]", "parts[2]", "parts[3]"]
    assert wf.groups == {"parts": members}
    assert list(wf.steps) == members
    for index, member in enumerate(members):
        step = wf.steps[member]
        assert step.name == member
        assert step.group == "parts"
        assert step.index == index
        assert step.job is jobs[index]


def test_add_many_accepts_a_generator() -> None:
    wf = brief().add_many("g", (Task.new({"value": i}) for i in range(3)))
    assert wf.groups["g"] == ["g[0]", "g[1]", "g[2]"]


def test_a_dep_on_a_group_expands_to_every_member() -> None:
    wf = (
        brief()
        .add("fetch", Task.new())
        .add_many("parts", [Task.new(), Task.new(), Task.new()], deps=["fetch"])
        .add("compile", Task.new(), deps=["parts"])
    )
    edges = wf.edges()
    assert sorted(edges) == sorted(
        [
            ("fetch", "parts[0]"),
            ("fetch", "parts[1]"),
            ("fetch", "parts[2]"),
            ("parts[0]", "compile"),
            ("parts[1]", "compile"),
            ("parts[2]", "compile"),
        ]
    )
    assert wf.steps["compile"].deps == ("parts",), "the declared dep stays the group"
    assert_topological(wf.validate(), wf)


def test_a_dep_on_one_member_waits_for_that_member_only() -> None:
    wf = (
        brief()
        .add_many("parts", [Task.new(), Task.new(), Task.new()])
        .add("second", Task.new(), deps="parts[1]")
    )
    assert [edge for edge in wf.edges() if edge[1] == "second"] == [("parts[1]", "second")]
    order = wf.validate()
    assert order.index("parts[1]") < order.index("second")


def test_a_dep_on_a_group_and_its_member_is_one_edge_per_member() -> None:
    wf = brief().add_many("g", [Task.new(), Task.new()]).add("c", Task.new(), deps=["g[0]", "g"])
    assert sorted(wf.edges()) == [("g[0]", "c"), ("g[1]", "c")]
    rows = {row["name"]: row for row in json.loads(encode(wf)[0])}
    assert rows["c"]["pending"] == 2


# --- validate() ----------------------------------------------------------------------------


def test_validate_returns_a_dependency_order() -> None:
    wf = (
        brief()
        .add("e", Task.new(), deps=["d", "b"])
        .add("d", Task.new(), deps=["c"])
        .add("c", Task.new(), deps=["a", "b"])
        .add("b", Task.new(), deps=["a"])
        .add("a", Task.new())
        .add("lone", Task.new())
    )
    order = wf.validate()
    assert_topological(order, wf)
    assert order.index("a") < order.index("b") < order.index("c") < order.index("d")
    assert order.index("d") < order.index("e")


def test_validate_does_not_change_the_workflow() -> None:
    wf = brief().add("b", Task.new(), deps="a").add("a", Task.new())
    before = (list(wf.steps), wf.edges())
    assert wf.validate() == wf.validate()
    assert (list(wf.steps), wf.edges()) == before


# --- the insert payload ----------------------------------------------------------------------


def test_the_payload_describes_every_step_and_edge() -> None:
    fetch = Task.new({"url": "https://example.org"}, meta={"trace": "t1"}, priority=2)
    wf = (
        Workflow(name="brief", id="wf-1")
        .add("fetch", fetch)
        .add_many("parts", [Task.new(), Task.new()], deps="fetch")
        .add("compile", Plain.new(), deps="parts")
    )
    steps_json, edges_json = encode(wf)
    rows = {row["name"]: row for row in json.loads(steps_json)}
    assert list(rows) == ["fetch", "parts[0]", "parts[1]", "compile"]
    assert rows["fetch"]["args"] == {"url": "https://example.org"}
    assert rows["fetch"]["meta"] == {"trace": "t1", "workflow_id": "wf-1", "workflow_step": "fetch"}
    assert rows["fetch"]["priority"] == 2
    assert rows["fetch"]["worker"] == "tests.unit.test_builder.Task"
    assert rows["fetch"]["max_attempts"] == 3
    assert [rows[name]["pending"] for name in rows] == [0, 1, 1, 2]
    assert rows["parts[1]"]["group_name"] == "parts"
    assert rows["parts[1]"]["group_index"] == 1
    assert rows["compile"]["deps"] == ["parts"]
    assert rows["fetch"]["group_name"] is None
    edges = [(edge["upstream"], edge["downstream"]) for edge in json.loads(edges_json)]
    assert edges == wf.edges()
    assert fetch.meta == {"trace": "t1"}, "the caller's job is not modified"


def test_each_row_holds_exactly_the_columns_the_insert_statements_read() -> None:
    wf = Workflow().add("a", Task.new()).add_models("m", Task.new(), ["x", "y"], deps="a")
    rows = json.loads(encode(wf)[0])
    assert [list(row) for row in rows] == [list(_step_input.NAMES)] * 3
    columns = _step_input.COLUMNS.as_string(None)
    assert columns.startswith('"name" text, "queue" text, "worker" text, ')
    assert columns.count(",") == len(_step_input.NAMES) - 1


def test_args_that_are_not_json_are_rejected_naming_the_step() -> None:
    wf = brief().add("fine", Task.new({"n": 1})).add("tags", Task.new({"seen": {1, 2}}))
    with pytest.raises(InvalidStep) as excinfo:
        encode(wf)
    message = raised(InvalidStep, excinfo)
    assert "step 'tags' in workflow 'brief'" in message
    assert "args are not JSON-serialisable" in message
    assert "set" in message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object(), b"bytes"])
def test_other_unstorable_args_are_rejected(value: Any) -> None:
    wf = brief().add("odd", Task.new({"value": value}))
    with pytest.raises(InvalidStep) as excinfo:
        encode(wf)
    message = raised(InvalidStep, excinfo)
    assert "step 'odd' in workflow 'brief'" in message
    assert "args are not JSON-serialisable" in message


def test_meta_that_is_not_json_is_rejected_naming_the_field() -> None:
    wf = brief().add("m", Task.new(meta={"when": {1}}))
    with pytest.raises(InvalidStep) as excinfo:
        encode(wf)
    message = raised(InvalidStep, excinfo)
    assert "step 'm' in workflow 'brief'" in message
    assert "meta are not JSON-serialisable" in message


@pytest.mark.parametrize(
    "job",
    [
        Task.new({"text": "before\x00after"}),
        Task.new({"nested": [{"deep": "\x00"}]}),
        Task.new({"key\x00": 1}),
        Task.new(meta={"note": "a\x00b"}),
    ],
)
def test_a_nul_character_in_args_or_meta_is_rejected(job: Job) -> None:
    wf = brief().add("clean", Task.new({"text": "ok"})).add("dirty", job)
    with pytest.raises(InvalidStep) as excinfo:
        encode(wf)
    message = raised(InvalidStep, excinfo)
    assert "step 'dirty' in workflow 'brief'" in message
    assert "NUL character" in message


def test_a_literal_backslash_u0000_in_args_is_not_a_nul_character() -> None:
    text = "C:\\u0000\\file"  # a backslash, then the letters u0000: no NUL character
    assert "\x00" not in text
    wf = brief().add("path", Task.new({"text": text}))
    steps_json, _ = encode(wf)
    assert json.loads(steps_json)[0]["args"] == {"text": text}


def test_non_ascii_args_are_kept_as_text() -> None:
    wf = brief().add("fr", Task.new({"text": "résumé 步骤"}))
    steps_json, _ = encode(wf)
    assert "résumé 步骤" in steps_json
    assert json.loads(steps_json)[0]["args"] == {"text": "résumé 步骤"}
