"""Workflow templates: a workflow defined as data (a dict, a JSON or a TOML file).

A template holds the workflow's settings and a list of steps; each step names a worker
by its dotted path, or holds an inline sub-template. ``from_dict`` and ``from_file``
check all of it, substitute the params and build a :class:`~baton.Workflow` with the
builder's own calls; they insert nothing. The format is described in
``docs/templates.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from oban import Job

from .._names import MEMBER_PATTERN, SEPARATOR
from ..errors import DependencyCycle, InvalidBudget, InvalidContext, WorkflowError
from . import _flow
from . import _template_checks as checks
from . import _template_params as params
from ._step import Buildable
from ._template_checks import Where
from ._template_files import check_depth, parse

FLAGS = ("ignore_cancelled", "ignore_discarded", "ignore_deleted")
#: Options of the whole workflow (``docs/deadlines.md``, ``docs/unique.md``), not of a
#: sub-workflow; their values may be params (``unique_key = "ticket:${ticket}"``).
FLOW_KEYS = ("deadline", "unique_key")
#: The inserted workflow's limits (docs/budgets.md): top level only, not in sub-templates.
LIMITS = ("budget_usd", "budget_tokens", "max_steps", "capture")
# `schedule` is read by `baton start --schedule` (baton/_schedule_template.py), not here.
TOP_KEYS = ("name", *FLAGS, *FLOW_KEYS, "params", "context", "models", *LIMITS, "steps", "schedule")
SUB_KEYS = tuple(key for key in TOP_KEYS if key not in ("params", "schedule", *FLOW_KEYS, *LIMITS))
WORKER_KEYS = (
    "name",
    "worker",
    "args",
    "each",
    "models",
    "deps",
    "queue",
    "priority",
    "max_attempts",
    "tags",
    "meta",
    "model",
    *FLAGS,
)
WORKFLOW_KEYS = ("name", "workflow", "deps")
SIGNAL_KEYS = ("name", "signal", "deps", *FLAGS)
#: What a signal step's ``signal`` table may hold: ``add_signal``'s options.
SIGNAL_OPTIONS = ("timeout", "queue")


def from_dict[W: Buildable](
    new: Callable[..., W], data: Mapping[str, Any], *, params: Mapping[str, Any] | None = None
) -> W:
    """Build the workflow a template describes; nothing is inserted.

    Args:
        new: the workflow class (``Workflow``), called with the template's settings.
        data: the template: a dict as ``json.load`` or ``tomllib.load`` return it.
        params: values for the params the template declares.

    Raises:
        TemplateError: the template or a param value is invalid; the message names the
            entry, such as ``steps[2] ('summarize').deps[0]``.
    """
    check_depth(data, "template")
    return _load(new, data, Where("template"), params)


def from_file[W: Buildable](
    new: Callable[..., W],
    path: str | os.PathLike[str],
    *,
    params: Mapping[str, Any] | None = None,
) -> W:
    """Build the workflow a JSON (``.json``) or TOML (``.toml``) template file describes.

    Args:
        new: the workflow class (``Workflow``), called with the template's settings.
        path: the file; its suffix chooses the parser.
        params: values for the params the template declares.

    Raises:
        TemplateError: the file cannot be read or parsed, or the template is invalid; the
            message names the file and the entry.
    """
    source = os.fspath(path)
    return _load(new, parse(Path(source), source), Where(source), params)


def _load[W: Buildable](
    new: Callable[..., W], data: object, where: Where, given: Mapping[str, Any] | None
) -> W:
    check_depth(given, f"{where.source}: the params given")
    top = checks.table(data, where, "a table with the workflow's settings and steps")
    checks.known_keys(top, TOP_KEYS, where, "a template")
    values = params.resolve(top.get("params"), given, where.key("params"))
    return _build(new, top, where, values)


@dataclass(frozen=True, slots=True)
class _Planned[W: Buildable]:
    """One template step, checked, with its jobs made: ready for the builder."""

    name: str
    where: Where
    deps: tuple[str, ...]
    dep_entries: tuple[Where, ...]
    jobs: tuple[Job, ...] = ()
    each: bool = False
    models: tuple[str, ...] | None = None
    model: str | None = None
    sub: W | None = None
    flags: Mapping[str, bool] = field(default_factory=dict)
    signal: Mapping[str, Any] | None = None

    def add_to(self, workflow: W) -> None:
        if self.sub is not None:
            workflow.add_workflow(self.name, self.sub, self.deps)
        elif self.signal is not None:
            options: dict[str, Any] = {**self.signal, **self.flags}
            workflow.add_signal(self.name, self.deps, **options)
        elif self.models is not None:
            workflow.add_models(self.name, self.jobs[0], self.models, self.deps, **self.flags)
        elif self.each:
            workflow.add_many(self.name, self.jobs, self.deps, **self.flags)
        else:
            workflow.add(self.name, self.jobs[0], self.deps, model=self.model, **self.flags)


def _build[W: Buildable](
    new: Callable[..., W], top: Mapping[str, Any], where: Where, values: params.Values
) -> W:
    """The workflow of a checked top-level table (or sub-template) and resolved params."""
    settings = _settings(top, where, values)
    declared = _models(top, where, values)
    at_steps = where.key("steps")
    if "steps" not in top:
        raise at_steps.error("missing: a template needs a non-empty list of steps")
    entries = checks.items(top["steps"], at_steps, "a non-empty list of step tables")
    planned = [
        _plan(new, entry, at_steps.index(index, _name_of(entry)), values)
        for index, entry in enumerate(entries)
    ]
    workflow = _new_workflow(new, settings, _group_models(declared, planned), where)
    for step in planned:
        try:
            step.add_to(workflow)
        except WorkflowError as error:
            raise step.where.error(str(error)) from error
    _check_names(workflow, planned, declared, where.key("models"))
    try:
        workflow.validate()
    except DependencyCycle as error:
        first = _top_name(error.path[0])
        entry = next((step.where for step in planned if step.name == first), where)
        raise entry.error(str(error)) from error
    except WorkflowError as error:
        raise where.error(str(error)) from error
    return workflow


def _group_models[W: Buildable](
    declared: Mapping[str, str], planned: list[_Planned[W]]
) -> dict[str, str]:
    """The ``models`` table, plus the model each ``each`` group with a ``model`` gives."""
    mapping = dict(declared)
    for step in planned:
        if step.each and step.model is not None:
            if step.name in mapping:
                raise step.where.key("model").error(
                    f"the top-level models table maps {step.name!r} too; give its model in "
                    "one place"
                )
            mapping[step.name] = step.model
    return mapping


def _new_workflow[W: Buildable](
    new: Callable[..., W], settings: dict[str, Any], models: dict[str, str], where: Where
) -> W:
    try:
        return new(**settings, models=models)
    except InvalidContext as error:
        raise where.key("context").error(str(error)) from error
    except InvalidBudget as error:
        key = next((key for key in LIMITS if key in str(error)), LIMITS[0])
        raise where.key(key).error(str(error)) from error
    except WorkflowError as error:
        raise where.key("models").error(str(error)) from error


def _name_of(entry: object) -> object:
    return entry.get("name") if isinstance(entry, Mapping) else None


def _top_name(step: str) -> str:
    """The template step a built step comes from: ``research/a`` and ``g[1]`` → research, g."""
    head = step.split(SEPARATOR, 1)[0]
    member = MEMBER_PATTERN.fullmatch(head)
    return member["group"] if member else head


def _plan[W: Buildable](
    new: Callable[..., W], entry: object, where: Where, values: params.Values
) -> _Planned[W]:
    step = checks.table(entry, where, "a step table")
    if "name" not in step:
        raise where.error("missing 'name': every step needs one, e.g. name = \"fetch\"")
    name = checks.text(step["name"], where.key("name"), "a step name (a string)")
    checks.known_keys(step, (*WORKER_KEYS, "workflow", "signal"), where, "a step")
    kinds = [kind for kind in ("worker", "workflow", "signal") if kind in step]
    if len(kinds) != 1:
        given = " and ".join(map(repr, kinds)) if kinds else "none"
        raise where.error(
            f"a step needs exactly one of 'worker' (a dotted path such as "
            f"'myapp.workers.Fetch'), 'workflow' (an inline sub-template) and 'signal' (a "
            f"table, e.g. {{timeout = 3600}}), got {given}"
        )
    deps, dep_entries = _deps(step.get("deps", ()), where.key("deps"))
    if "signal" in step:
        checks.known_keys(step, SIGNAL_KEYS, where, "a signal step")
        at_signal = where.key("signal")
        options = checks.table(step["signal"], at_signal, "a table of timeout and queue")
        checks.known_keys(options, SIGNAL_OPTIONS, at_signal, "a signal table")
        flags = {flag: checks.flag(step[flag], where.key(flag)) for flag in FLAGS if flag in step}
        signal = dict(params.substitute(options, values, at_signal))
        return _Planned(name, where, deps, dep_entries, flags=flags, signal=signal)
    if "workflow" in step:
        checks.known_keys(
            step,
            WORKFLOW_KEYS,
            where,
            "a sub-workflow step",
            {key: "give it to the steps inside 'workflow'" for key in WORKER_KEYS},
        )
        at_sub = where.key("workflow")
        sub = checks.table(step["workflow"], at_sub, "an inline sub-template table")
        checks.known_keys(
            sub,
            SUB_KEYS,
            at_sub,
            "a sub-workflow",
            {
                "params": "a sub-workflow uses the params of the top-level template",
                "schedule": "only the top-level template can have a schedule",
            },
        )
        return _Planned(name, where, deps, dep_entries, sub=_build(new, sub, at_sub, values))
    return _worker_step(step, name, where, deps, dep_entries, values)


def _deps(value: object, where: Where) -> tuple[tuple[str, ...], tuple[Where, ...]]:
    if isinstance(value, str):
        return (checks.text(value, where, "a step name"),), (where,)
    names = checks.strings(value, where, "a step name or a list of step names", empty=True)
    return tuple(names), tuple(where.index(index) for index in range(len(names)))


def _worker_step(
    step: Mapping[str, Any],
    name: str,
    where: Where,
    deps: tuple[str, ...],
    dep_entries: tuple[Where, ...],
    values: params.Values,
) -> _Planned[Any]:
    if "each" in step and "models" in step:
        raise where.error(
            "'each' and 'models' cannot be used together: 'each' makes one step per args "
            "table, 'models' one step per model; use two steps"
        )
    if "each" in step and "args" in step:
        raise where.key("args").error(
            "'args' cannot be used with 'each': each element of 'each' is one member's args"
        )
    if "model" in step and "models" in step:
        raise where.key("model").error(
            "'model' cannot be used with 'models', which gives each member its model"
        )
    worker = checks.worker(step["worker"], where.key("worker"))
    options = checks.job_options(step, where)
    flags = {flag: checks.flag(step[flag], where.key(flag)) for flag in FLAGS if flag in step}
    model = None
    if "model" in step:
        at_model = where.key("model")
        raw = params.substitute(step["model"], values, at_model)
        model = checks.text(raw, at_model, "a model name (a string)")
    planned: _Planned[Any] = _Planned(name, where, deps, dep_entries, model=model, flags=flags)
    if "each" in step:
        at_each = where.key("each")
        jobs = tuple(
            _new(worker, _args(args, at_each.index(index), values), options, at_each.index(index))
            for index, args in enumerate(
                checks.items(step["each"], at_each, "a non-empty list of args tables")
            )
        )
        return replace(planned, jobs=jobs, each=True)
    job = _new(worker, _args(step.get("args", {}), where.key("args"), values), options, where)
    if "models" not in step:
        return replace(planned, jobs=(job,))
    at_models = where.key("models")
    models = [
        checks.text(params.substitute(item, values, at_models.index(index)), at_models.index(index))
        for index, item in enumerate(
            checks.items(step["models"], at_models, "a non-empty list of model names")
        )
    ]
    return replace(planned, jobs=(job,), models=tuple(models))


def _args(value: object, where: Where, values: params.Values) -> dict[str, Any]:
    args = params.substitute(checks.table(value, where, "a table of args"), values, where)
    checks.json_value(args, where)
    return dict(args)


def _new(worker: Any, args: dict[str, Any], options: Mapping[str, Any], where: Where) -> Job:
    try:
        job = worker.new(args, **options)
    except (TypeError, ValueError) as error:
        raise where.error(f"cannot make the step's job: {error}") from error
    if not isinstance(job, Job):
        raise where.error(f"the worker's new() returned {checks.describe(job)}, not an Oban job")
    return job


def _models(top: Mapping[str, Any], where: Where, values: params.Values) -> dict[str, str]:
    if "models" not in top:
        return {}
    at_models = where.key("models")
    declared = checks.table(top["models"], at_models, "a table of step name to model name")
    return {
        key: checks.text(
            params.substitute(model, values, at_models.key(key)),
            at_models.key(key),
            "a model name (a string)",
        )
        for key, model in declared.items()
    }


def _settings(top: Mapping[str, Any], where: Where, values: params.Values) -> dict[str, Any]:
    """The workflow's name, ignore flags, context and limits, as ``Workflow()`` takes them."""
    settings: dict[str, Any] = {"name": None, "context": None}
    if "name" in top:
        settings["name"] = checks.text(top["name"], where.key("name"), "a workflow name (a string)")
    for flag in FLAGS:
        settings[flag] = checks.flag(top.get(flag, False), where.key(flag))
    if "context" in top:
        at_context = where.key("context")
        context = params.substitute(checks.table(top["context"], at_context), values, at_context)
        checks.json_value(context, at_context)
        settings["context"] = context
    for key, check in (("deadline", _flow.check_deadline), ("unique_key", _flow.check_unique_key)):
        if key in top:
            at_key = where.key(key)
            try:
                settings[key] = check(params.substitute(top[key], values, at_key), "workflow")
            except WorkflowError as error:
                raise at_key.error(str(error).removeprefix("workflow: ")) from error
    for key in LIMITS:  # checked by Workflow() itself; its error is given this entry
        if key in top:
            settings[key] = params.substitute(top[key], values, where.key(key))
    return settings


def _check_names[W: Buildable](
    workflow: W, planned: list[_Planned[W]], models: Mapping[str, str], at_models: Where
) -> None:
    """Refuse a dep, or a key of ``models``, that names nothing in the workflow."""
    known = {*workflow.steps, *workflow.groups, *workflow.subworkflows}
    listed = ", ".join(step.name for step in planned)
    for step in planned:
        for dep, entry in zip(step.deps, step.dep_entries, strict=True):
            if dep not in known:
                raise entry.error(
                    f"{dep!r} is not a step, group or sub-workflow of this template"
                    f"{checks.suggestion(dep, known)} (steps: {listed})"
                )
    for key in models:
        if key not in known:
            raise at_models.key(key).error(
                f"maps {key!r} to a model, but no step, group or sub-workflow has that name"
                f"{checks.suggestion(key, known)} (steps: {listed})"
            )


__all__: Sequence[str] = ["from_dict", "from_file"]
