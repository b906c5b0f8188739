"""Workflow templates (``Workflow.from_dict``, ``from_file``): what they build, and every
way a template can be wrong, without a database."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from baton import Workflow
from baton.errors import DependencyCycle, DuplicateStep, TemplateError, WorkflowError

ECHO = "tests.support.steps.Echo"
OTHER = "tests.support.steps.Other"
VARIANT = "tests.support.dynamic_steps.Variant"
GUIDE = Path(__file__).parents[2] / "docs" / "templates.md"

BRIEF: dict[str, Any] = {
    "name": "brief",
    "ignore_discarded": True,
    "params": {
        "topic": {"default": "Baton", "description": "what the brief is about"},
        "sources": {"default": 2},
    },
    "context": {"topic": "${topic}", "audience": "engineers"},
    "models": {"summarize": "gpt-4o-mini"},
    "steps": [
        {
            "name": "fetch",
            "worker": ECHO,
            "args": {"value": "${topic}", "limit": "$sources"},
            "queue": "other",
            "priority": 3,
            "max_attempts": 5,
            "tags": ["Fetch", "web"],
            "meta": {"team": "research"},
        },
        {
            "name": "search",
            "worker": OTHER,
            "each": [{"value": "docs about ${topic}"}, {"value": "news"}],
            "deps": "fetch",
            "ignore_cancelled": True,
        },
        {
            "name": "draft",
            "worker": VARIANT,
            "models": ["gpt-4o", "claude-sonnet-4"],
            "args": {"prompt": "a haiku on $topic"},
            "deps": ["search"],
        },
        {
            "name": "research",
            "deps": ["fetch"],
            "workflow": {
                "context": {"depth": "$sources"},
                "models": {"read": "small-model"},
                "steps": [
                    {"name": "read", "worker": ECHO, "args": {"value": 1}},
                    {"name": "note", "worker": ECHO, "deps": "read", "model": "note-${topic}"},
                ],
            },
        },
        {"name": "summarize", "worker": ECHO, "deps": ["draft", "research"]},
    ],
}

BRIEF_TOML = f"""
name = "brief"
ignore_discarded = true
context = {{ topic = "${{topic}}", audience = "engineers" }}
models = {{ summarize = "gpt-4o-mini" }}

[params.topic]
default = "Baton"
description = "what the brief is about"

[params.sources]
default = 2

[[steps]]
name = "fetch"
worker = "{ECHO}"
args = {{ value = "${{topic}}", limit = "$sources" }}
queue = "other"
priority = 3
max_attempts = 5
tags = ["Fetch", "web"]
meta = {{ team = "research" }}

[[steps]]
name = "search"
worker = "{OTHER}"
each = [{{ value = "docs about ${{topic}}" }}, {{ value = "news" }}]
deps = "fetch"
ignore_cancelled = true

[[steps]]
name = "draft"
worker = "{VARIANT}"
models = ["gpt-4o", "claude-sonnet-4"]
args = {{ prompt = "a haiku on $topic" }}
deps = ["search"]

[[steps]]
name = "research"
deps = ["fetch"]

[steps.workflow]
context = {{ depth = "$sources" }}
models = {{ read = "small-model" }}

[[steps.workflow.steps]]
name = "read"
worker = "{ECHO}"
args = {{ value = 1 }}

[[steps.workflow.steps]]
name = "note"
worker = "{ECHO}"
deps = "read"
model = "note-${{topic}}"

[[steps]]
name = "summarize"
worker = "{ECHO}"
deps = ["draft", "research"]
"""


def shape(wf: Workflow) -> dict[str, Any]:
    """Everything a template decides about a workflow (not its random id)."""
    return {
        "name": wf.name,
        "flags": (wf.ignore_cancelled, wf.ignore_discarded, wf.ignore_deleted),
        "context": wf.context,
        "models": wf.models,
        "groups": dict(wf.groups),
        "subworkflows": dict(wf.subworkflows),
        "steps": {
            name: (
                step.job.worker,
                step.deps,
                step.job.args,
                step.job.queue,
                step.job.priority,
                step.job.max_attempts,
                step.job.tags,
                step.job.meta,
                step.model,
                step.ignore_cancelled,
            )
            for name, step in wf.steps.items()
        },
    }


def message(data: Any, **params: Any) -> str:
    with pytest.raises(TemplateError) as excinfo:
        Workflow.from_dict(data, params=params or None)
    return str(excinfo.value)


def one_step(**fields: Any) -> dict[str, Any]:
    return {"steps": [{"name": "a", "worker": ECHO, **fields}]}


# --- what a template builds ----------------------------------------------------------------


def test_a_template_builds_the_workflow_it_describes() -> None:
    wf = Workflow.from_dict(BRIEF)
    assert wf.name == "brief"
    assert (wf.ignore_cancelled, wf.ignore_discarded, wf.ignore_deleted) == (False, True, False)
    assert wf.context == {"topic": "Baton", "audience": "engineers", "depth": 2}
    assert wf.models == {"summarize": "gpt-4o-mini"}
    assert list(wf.steps) == [
        "fetch",
        "search[0]",
        "search[1]",
        "draft[0]",
        "draft[1]",
        "research/read",
        "research/note",
        "summarize",
    ]
    fetch = wf.steps["fetch"].job
    assert fetch.worker == ECHO
    assert fetch.args == {"value": "Baton", "limit": 2}
    assert (fetch.queue, fetch.priority, fetch.max_attempts) == ("other", 3, 5)
    assert fetch.tags == ["fetch", "web"]  # Oban normalises tags
    assert fetch.meta == {"team": "research"}
    assert wf.groups == {"search": ["search[0]", "search[1]"], "draft": ["draft[0]", "draft[1]"]}
    assert [wf.steps[m].job.args for m in wf.groups["search"]] == [
        {"value": "docs about Baton"},
        {"value": "news"},
    ]
    assert all(wf.steps[m].deps == ("fetch",) for m in wf.groups["search"])
    assert all(wf.steps[m].ignore_cancelled is True for m in wf.groups["search"])
    assert wf.steps["search[0]"].job.queue == "other"  # the worker's own default
    assert [(wf.steps[m].model, wf.steps[m].by_model) for m in wf.groups["draft"]] == [
        ("gpt-4o", True),
        ("claude-sonnet-4", True),
    ]
    assert wf.steps["draft[1]"].job.args == {"prompt": "a haiku on Baton"}
    assert wf.subworkflows == {"research": ["research/read", "research/note"]}
    assert wf.steps["research/read"].deps == ("fetch",)
    assert wf.steps["research/note"].deps == ("research/read",)
    assert wf.steps["research/read"].model == "small-model"  # the sub-workflow's mapping
    assert wf.steps["research/note"].model == "note-Baton"
    assert wf.steps["summarize"].deps == ("draft", "research")
    assert wf.validate()[-1] == "summarize"


def test_json_toml_and_dict_templates_build_the_same_workflow(tmp_path: Path) -> None:
    as_json = tmp_path / "brief.json"
    as_json.write_text(json.dumps(BRIEF), encoding="utf-8")
    as_toml = tmp_path / "brief.TOML"  # the suffix is matched without regard to case
    as_toml.write_text(BRIEF_TOML, encoding="utf-8")
    expected = shape(Workflow.from_dict(BRIEF))
    assert shape(Workflow.from_file(as_json)) == expected
    assert shape(Workflow.from_file(str(as_toml))) == expected


def test_building_inserts_nothing_and_gives_a_fresh_workflow_each_time() -> None:
    first, second = Workflow.from_dict(BRIEF), Workflow.from_dict(BRIEF)
    assert first.id != second.id
    assert all(step.job.id is None for step in first.steps.values())


def test_a_minimal_template() -> None:
    wf = Workflow.from_dict({"steps": [{"name": "only", "worker": ECHO}]})
    assert wf.name is None and wf.context == {} and wf.models == {}
    assert wf.steps["only"].job.args == {}
    assert wf.steps["only"].job.max_attempts == 3  # from @baton.worker(max_attempts=3)


def test_a_model_on_an_each_group_maps_the_group() -> None:
    wf = Workflow.from_dict(one_step(each=[{}, {}], model="gpt-4o"))
    assert wf.models == {"a": "gpt-4o"}
    both = {"models": {"a": "other"}, **one_step(each=[{}], model="gpt-4o")}
    assert message(both) == (
        "template: steps[0] ('a').model: the top-level models table maps 'a' too; give its "
        "model in one place"
    )


# --- params --------------------------------------------------------------------------------


def test_params_take_their_defaults_or_the_values_given() -> None:
    assert Workflow.from_dict(BRIEF).steps["fetch"].job.args["value"] == "Baton"
    wf = Workflow.from_dict(BRIEF, params={"topic": "Oban", "sources": 5})
    assert wf.steps["fetch"].job.args == {"value": "Oban", "limit": 5}
    assert wf.context["topic"] == "Oban"
    assert wf.steps["research/note"].model == "note-Oban"


@pytest.mark.parametrize(
    "value",
    [7, 2.5, True, None, [1, "two"], {"nested": {"list": [1]}}, "text"],
)
def test_a_whole_string_reference_keeps_the_value_s_type(value: Any) -> None:
    template = {
        "params": {"x": {}},
        "steps": [{"name": "a", "worker": ECHO, "args": {"braced": "${x}", "bare": "$x"}}],
    }
    args = Workflow.from_dict(template, params={"x": value}).steps["a"].job.args
    assert args == {"braced": value, "bare": value}


def test_other_strings_interpolate_and_double_dollar_is_a_dollar() -> None:
    template = {
        "params": {"n": {"default": 3}, "flag": {"default": True}, "who": {"default": "you"}},
        "steps": [
            {
                "name": "a",
                "worker": ECHO,
                "args": {
                    "text": "$n items for ${who}!",
                    "flag": "flag=$flag",
                    "price": "$$5 for $who",
                    "literal": "$$n",
                    "deep": [{"in": ["${who}s"]}],
                },
                "meta": {"untouched": "$who"},
            }
        ],
    }
    job = Workflow.from_dict(template).steps["a"].job
    assert job.args == {
        "text": "3 items for you!",
        "flag": "flag=True",
        "price": "$5 for you",
        "literal": "$n",
        "deep": [{"in": ["yous"]}],
    }
    assert job.meta == {"untouched": "$who"}  # meta is not substituted


def test_params_reach_each_models_and_context() -> None:
    template = {
        "params": {"first": {"default": "gpt-4o"}, "items": {"default": [1, 2]}},
        "context": {"items": "$items"},
        "models": {"b": "$first"},
        "steps": [
            {"name": "a", "worker": VARIANT, "models": ["$first", "other"]},
            {"name": "b", "worker": ECHO, "each": [{"value": "$items"}, {"value": "${first}"}]},
        ],
    }
    wf = Workflow.from_dict(template)
    assert [wf.steps[m].model for m in wf.groups["a"]] == ["gpt-4o", "other"]
    assert [wf.steps[m].job.args["value"] for m in wf.groups["b"]] == [[1, 2], "gpt-4o"]
    assert wf.context == {"items": [1, 2]}
    assert wf.models == {"b": "gpt-4o"}


def test_a_required_param_without_a_value() -> None:
    template = {"params": {"topic": {"description": "the subject"}}, **one_step()}
    assert message(template) == (
        "template: params.topic: required, but no value was given (the subject); pass one: "
        "params={'topic': ...}, or `baton run --arg topic=VALUE`"
    )
    assert Workflow.from_dict(template, params={"topic": "x"}).steps["a"]


def test_a_value_for_a_param_not_declared() -> None:
    template = {"params": {"topic": {"default": "x"}, "depth": {"default": 1}}, **one_step()}
    assert message(template, topik="y") == (
        "template: params: a value was given for param 'topik', which the template does not "
        "declare; did you mean 'topic'? (declared params: topic, depth)"
    )
    assert "(declared params: none)" in message(one_step(), topic="y")


def test_a_reference_to_a_param_not_declared_names_the_entry() -> None:
    template = {
        "params": {"topic": {"default": "x"}},
        "steps": [
            {"name": "first", "worker": ECHO},
            {"name": "fetch", "worker": ECHO, "args": {"url": "https://${host}/x"}},
        ],
    }
    assert message(template) == (
        "template: steps[1] ('fetch').args.url: refers to param 'host', which the template "
        "does not declare (declared params: topic)"
    )


def test_a_value_given_must_be_json() -> None:
    template = {"params": {"x": {}}, **one_step()}
    assert "the value given for param 'x': expected a JSON value, got a set" in message(
        template, x={1}
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"x": {"defualt": 1}}, "params.x: unknown key 'defualt'; did you mean 'default'?"),
        ({"x": 1}, "params.x: expected a table with an optional default and description"),
        ({"x": {"description": 3}}, "params.x.description: expected a string, got the number 3"),
        ({"1x": {}}, "params['1x']: param name '1x' cannot be referred to"),
        ({"x": {"default": float("nan")}}, "params.x.default: expected a finite number, got nan"),
    ],
)
def test_invalid_param_declarations(params: dict[str, Any], expected: str) -> None:
    assert expected in message({"params": params, **one_step()})


# --- errors: each names the source and the entry ------------------------------------------


def test_an_unknown_key_suggests_the_closest_valid_one() -> None:
    assert message(one_step(dep="b")) == (
        "template: steps[0] ('a'): unknown key 'dep'; did you mean 'deps'? (the keys of a "
        "step are: name, worker, args, each, models, deps, queue, priority, max_attempts, "
        "tags, meta, model, ignore_cancelled, ignore_discarded, ignore_deleted, workflow, "
        "signal)"
    )
    top = message({"step": [], "steps": [{"name": "a", "worker": ECHO}]})
    assert top.startswith("template: top level: unknown key 'step'; did you mean 'steps'?")
    assert "unknown key 'zzz' (the keys of" in message(one_step(zzz=1))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"priority": True}, "priority: expected an integer from 0 to 9, got the boolean true"),
        ({"priority": 10}, "priority: expected an integer from 0 to 9, got the number 10"),
        ({"max_attempts": 0}, "max_attempts: expected an integer of at least 1, got the number 0"),
        ({"max_attempts": 2.0}, "max_attempts: expected an integer of at least 1, got the number"),
        ({"queue": " "}, "queue: expected a queue name, got a blank string"),
        ({"tags": "web"}, "tags: expected a list of strings, got the string 'web'"),
        ({"tags": ["ok", 1]}, "tags[1]: expected a string, got the number 1"),
        ({"meta": []}, "meta: expected a table, got a list"),
        ({"args": "x"}, "args: expected a table of args, got the string 'x'"),
        ({"args": {"when": {1, 2}}}, "args.when: expected a JSON value, got a set"),
        ({"deps": 3}, "deps: expected a step name or a list of step names, got the number 3"),
        ({"deps": ["b", 3]}, "deps[1]: expected a string, got the number 3"),
        ({"ignore_deleted": "yes"}, "ignore_deleted: expected true or false, got the string"),
        ({"model": 4}, "model: expected a model name (a string), got the number 4"),
        ({"each": []}, "each: expected a non-empty list of args tables, got an empty list"),
        ({"each": [{}, 2]}, "each[1]: expected a table of args, got the number 2"),
        ({"models": "gpt-4o"}, "models: expected a non-empty list of model names, got the str"),
        ({"models": ["a", None]}, "models[1]: expected a string, got null"),
    ],
)
def test_wrong_types_name_the_entry(fields: dict[str, Any], expected: str) -> None:
    assert message(one_step(**fields)).startswith(f"template: steps[0] ('a').{expected}")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ([], "template: top level: expected a table with the workflow's settings and steps"),
        ({"name": 3, "steps": []}, "template: name: expected a workflow name (a string)"),
        ({"name": "x"}, "template: steps: missing: a template needs a non-empty list of steps"),
        ({"steps": {}}, "template: steps: expected a non-empty list of step tables, got a table"),
        ({"steps": ["a"]}, "template: steps[0]: expected a step table, got the string 'a'"),
        ({"ignore_cancelled": 1, **one_step()}, "template: ignore_cancelled: expected true or"),
        ({"context": [], **one_step()}, "template: context: expected a table, got a list"),
        ({"models": {"a": 1}, **one_step()}, "template: models.a: expected a model name"),
        ({1: "x", **one_step()}, "template: top level: keys must be strings, got the number 1"),
    ],
)
def test_wrong_types_at_the_top_level(template: Any, expected: str) -> None:
    assert message(template).startswith(expected)


def test_each_and_models_together() -> None:
    assert message(one_step(each=[{}], models=["m"])) == (
        "template: steps[0] ('a'): 'each' and 'models' cannot be used together: 'each' makes "
        "one step per args table, 'models' one step per model; use two steps"
    )
    assert message(one_step(each=[{}], args={})).startswith(
        "template: steps[0] ('a').args: 'args' cannot be used with 'each'"
    )
    assert message(one_step(models=["m"], model="n")).startswith(
        "template: steps[0] ('a').model: 'model' cannot be used with 'models'"
    )


def test_a_step_without_a_name() -> None:
    template = {"steps": [{"name": "a", "worker": ECHO}, {"worker": ECHO, "deps": "a"}]}
    assert message(template) == (
        "template: steps[1]: missing 'name': every step needs one, e.g. name = \"fetch\""
    )


def test_a_step_needs_exactly_one_of_worker_and_workflow() -> None:
    neither = message({"steps": [{"name": "a", "deps": []}]})
    assert neither.startswith("template: steps[0] ('a'): a step needs exactly one of 'worker'")
    assert neither.endswith("got none")
    both = message(one_step(workflow={"steps": []}))
    assert both.endswith("got 'worker' and 'workflow'")


@pytest.mark.parametrize(
    ("worker", "expected"),
    [
        (
            "no_such_module.Fetch",
            "cannot import worker 'no_such_module.Fetch': Module 'no_such_module' not found",
        ),
        (
            "tests.support.steps.Missing",
            "cannot import worker 'tests.support.steps.Missing': Class 'Missing' not found",
        ),
        ("Fetch", "'Fetch' is not a dotted path to a worker class"),
        ("baton.errors.TemplateError", "'baton.errors.TemplateError' is not a worker"),
        (7, "expected a worker path such as 'myapp.workers.Fetch', got the number 7"),
    ],
)
def test_a_worker_that_cannot_be_resolved(worker: Any, expected: str) -> None:
    template = {"steps": [{"name": "ok", "worker": ECHO}, {"name": "fetch", "worker": worker}]}
    assert message(template).startswith(f"template: steps[1] ('fetch').worker: {expected}")


def test_an_unknown_dep_is_reported_with_the_step_entry() -> None:
    template = {
        "steps": [
            {"name": "fetch", "worker": ECHO},
            {"name": "search", "worker": ECHO, "deps": "fetch"},
            {"name": "summarize", "worker": ECHO, "deps": ["search", "fecth"]},
        ]
    }
    assert message(template) == (
        "template: steps[2] ('summarize').deps[1]: 'fecth' is not a step, group or "
        "sub-workflow of this template; did you mean 'fetch'? (steps: fetch, search, summarize)"
    )
    template["steps"][2]["deps"] = "nope"
    assert message(template).startswith("template: steps[2] ('summarize').deps: 'nope' is not")


def test_a_models_key_that_names_no_step() -> None:
    assert message({"models": {"b": "m"}, **one_step()}) == (
        "template: models.b: maps 'b' to a model, but no step, group or sub-workflow has "
        "that name (steps: a)"
    )


def test_a_cycle_is_reported_with_a_step_entry_and_chained() -> None:
    template = {
        "name": "loop",
        "steps": [
            {"name": "a", "worker": ECHO, "deps": "c"},
            {"name": "b", "worker": ECHO, "deps": "a"},
            {"name": "c", "worker": ECHO, "deps": "b"},
        ],
    }
    with pytest.raises(TemplateError) as excinfo:
        Workflow.from_dict(template)
    text = str(excinfo.value)
    assert text.startswith("template: steps[")
    assert "workflow 'loop' has a dependency cycle: " in text
    assert isinstance(excinfo.value.__cause__, DependencyCycle)
    assert isinstance(excinfo.value, WorkflowError)


def test_builder_errors_name_the_step_entry() -> None:
    template = {"name": "t", "steps": [{"name": "a", "worker": ECHO}] * 2}
    with pytest.raises(TemplateError) as excinfo:
        Workflow.from_dict(template)
    assert str(excinfo.value) == (
        "template: steps[1] ('a'): workflow 't' already has a step or group 'a'"
    )
    assert isinstance(excinfo.value.__cause__, DuplicateStep)
    assert message({"steps": [{"name": "a b", "worker": ECHO}]}).startswith(
        "template: steps[0] ('a b'): step name 'a b' in workflow"
    )
    assert message(one_step(deps="a")).startswith("template: steps[0] ('a'): step 'a' in")
    assert message(one_step(models=["m", "m"])).endswith("models repeat 'm'")


def test_errors_inside_a_sub_workflow_name_the_nested_entry() -> None:
    def sub(**fields: Any) -> dict[str, Any]:
        return {"steps": [{"name": "research", "workflow": {**one_step(), **fields}}]}

    inner = {"steps": [{"name": "a", "worker": ECHO, "args": {"q": "$query"}}]}
    assert message({"steps": [{"name": "research", "workflow": inner}]}).startswith(
        "template: steps[0] ('research').workflow.steps[0] ('a').args.q: refers to param 'query'"
    )
    assert message(sub(params={})) == (
        "template: steps[0] ('research').workflow: 'params' is not allowed in a "
        "sub-workflow: a sub-workflow uses the params of the top-level template"
    )
    step = {"name": "research", "workflow": one_step(), "queue": "x"}
    assert message({"steps": [step]}) == (
        "template: steps[0] ('research'): 'queue' is not allowed in a sub-workflow step: "
        "give it to the steps inside 'workflow'"
    )
    assert message({"steps": [{"name": "r", "workflow": []}]}).startswith(
        "template: steps[0] ('r').workflow: expected an inline sub-template table, got a list"
    )


def test_a_dollar_that_starts_no_reference() -> None:
    assert message(one_step(args={"price": "costs $5"})) == (
        "template: steps[0] ('a').args.price: 'costs $5' has a '$' that starts no param "
        "reference: write ${name} for a param, $$ for a literal '$'"
    )


# --- files ---------------------------------------------------------------------------------


def test_a_file_of_another_type(tmp_path: Path) -> None:
    path = tmp_path / "brief.yaml"
    path.write_text("steps: []", encoding="utf-8")
    with pytest.raises(TemplateError) as excinfo:
        Workflow.from_file(path)
    assert str(excinfo.value) == (
        f"{path}: a template file must end in .json or .toml (which chooses the parser), "
        "got '.yaml'"
    )


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("t.json", '{"steps": [}', "not valid JSON: Expecting value (at line 1, column 12)"),
        ("t.toml", "[[steps]\nname = 1", "not valid TOML: "),
        ("t.json", '{"steps": [], "steps": []}', "the key 'steps' appears twice in one object"),
        ("t.json", '{"steps": [{"x": NaN}]}', "not valid JSON: NaN is not a JSON number"),
    ],
)
def test_an_unparsable_file_is_named(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TemplateError) as excinfo:
        Workflow.from_file(path)
    assert str(excinfo.value).startswith(f"{path}: ")
    assert expected in str(excinfo.value)


def test_a_missing_or_undecodable_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(TemplateError, match=r"missing\.toml: cannot read it: No such file"):
        Workflow.from_file(missing)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(TemplateError, match=r"latin.json: not UTF-8 text \(invalid"):
        Workflow.from_file(latin)


def test_errors_in_a_file_name_the_file_and_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "brief.toml"
    path.write_text(
        f'[[steps]]\nname = "fetch"\nworker = "{ECHO}"\n\n'
        f'[[steps]]\nname = "sum"\nworker = "{ECHO}"\ndeps = ["fetch", 2]\n',
        encoding="utf-8",
    )
    with pytest.raises(TemplateError) as excinfo:
        Workflow.from_file(path)
    assert str(excinfo.value) == (
        f"{path}: steps[1] ('sum').deps[1]: expected a string, got the number 2"
    )


def test_toml_dates_are_not_json(tmp_path: Path) -> None:
    path = tmp_path / "dated.toml"
    path.write_text(
        f'[[steps]]\nname = "a"\nworker = "{ECHO}"\nargs = {{ since = 2024-01-01 }}\n',
        encoding="utf-8",
    )
    with pytest.raises(TemplateError) as excinfo:
        Workflow.from_file(path)
    assert str(excinfo.value) == (
        f"{path}: steps[0] ('a').args.since: expected a JSON value, got a date (TOML dates "
        "and times have no JSON form: quote them)"
    )


# --- the guide -----------------------------------------------------------------------------


def test_the_guide_s_toml_and_json_examples_are_one_template_that_builds() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    [toml_block] = re.findall(r"```toml\n(.*?)```", text, re.S)
    [json_block] = re.findall(r"```json\n(.*?)```", text, re.S)
    data = tomllib.loads(toml_block)
    assert json.loads(json_block) == data
    ours = json.loads(re.sub(r"myapp\.workers\.\w+", ECHO, json.dumps(data)))
    wf = Workflow.from_dict(ours, params={"topic": "Baton"})
    assert list(wf.steps) == [
        "fetch",
        "search[0]",
        "search[1]",
        "search[2]",
        "draft[0]",
        "draft[1]",
        "review/check",
        "review/score",
        "summarize",
    ]
    assert wf.steps["fetch"].job.args == {"query": "Baton", "limit": 5}
    assert wf.steps["search[2]"].job.args == {"q": "Baton criticism"}
    assert wf.context == {"topic": "Baton", "audience": "engineers"}
    assert wf.models == {"summarize": "gpt-4o-mini"}
    assert wf.steps["review/score"].model == "gpt-4o-mini"
