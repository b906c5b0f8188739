"""Checks of the values a workflow is built from: ids, names, jobs, deps, models, flags.

Each raises the builder's errors with a message naming where the value was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from oban import Job

from .._names import NAME_PATTERN, is_path
from ..errors import (
    InvalidStep,
    InvalidStepName,
    SelfDependency,
    UnknownDependency,
    WorkflowError,
)
from ._step import Step

MAX_ID_LENGTH = 128
MAX_MODEL_LENGTH = 200


def check_id(id: object) -> None:
    """A workflow id the caller gave."""
    if not isinstance(id, str) or not id.strip() or len(id) > MAX_ID_LENGTH:
        raise WorkflowError(
            f"workflow id must be a non-blank string of at most {MAX_ID_LENGTH} "
            f"characters, got {id!r}"
        )


def new_step(
    where: str,
    name: str,
    job: Job,
    deps: Iterable[str] | str,
    group: str | None = None,
    index: int | None = None,
    *,
    ignore_cancelled: bool | None,
    ignore_discarded: bool | None,
    ignore_deleted: bool | None,
) -> Step:
    """A step with its job, deps and flags checked; ``where`` names it in messages."""
    check_job(job, where)
    names = dep_names(deps, where)
    if name in names or (group is not None and group in names):
        raise SelfDependency(f"{where} depends on itself")
    check_overrides(where, ignore_cancelled, ignore_discarded, ignore_deleted)
    return Step(name, job, names, group, index, ignore_cancelled, ignore_discarded, ignore_deleted)


def dep_names(deps: Iterable[str] | str, where: str) -> tuple[str, ...]:
    if isinstance(deps, str):
        deps = [deps]
    if not isinstance(deps, Iterable):
        raise InvalidStep(f"{where}: deps must be a list of step names, got {deps!r}")
    names = list(deps)
    for dep in names:
        if not is_path(dep):
            raise UnknownDependency(f"{where}: dep {dep!r} is not a valid step or group name")
    return tuple(dict.fromkeys(names))


def check_model(model: object, where: str, optional: bool) -> str | None:
    if model is None and optional:
        return None
    if not isinstance(model, str) or not model.strip() or len(model) > MAX_MODEL_LENGTH:
        raise InvalidStep(
            f"{where}: a model must be a non-blank string of at most {MAX_MODEL_LENGTH} "
            f"characters, got {model!r}"
        )
    return model


def check_models(models: object, where: str) -> dict[str, str]:
    if models is None:
        return {}
    if not isinstance(models, Mapping):
        raise WorkflowError(
            f"{where}: models must map step, group or sub-workflow names to model names, "
            f"got {type(models).__name__}"
        )
    for key, model in models.items():
        if not is_path(key):
            raise WorkflowError(f"{where}: models maps {key!r}, which is not a step name")
        check_model(model, f"{where}: models[{key!r}]", False)
    return dict(models)


def check_flag(flag: str, value: object, where: str) -> None:
    if not isinstance(value, bool):
        raise WorkflowError(f"{where}: {flag} must be True or False, got {value!r}")


def check_name(name: object, where: str) -> None:
    """A step, group or sub-workflow name: one segment of a path."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        shown = name if not isinstance(name, str) or len(name) <= 60 else name[:60] + "…"
        raise InvalidStepName(
            f"step name {shown!r} in {where} is invalid: use 1-128 "
            "characters from A-Z a-z 0-9 _ . : - (not starting with . : or -)"
        )


def check_job(job: object, where: str) -> None:
    """An Oban job not yet inserted."""
    if not isinstance(job, Job):
        raise InvalidStep(
            f"{where}: expected an Oban job such as Worker.new(args), got {type(job).__name__}"
        )
    if job.id is not None:
        raise InvalidStep(f"{where}: job {job.id} was already inserted; pass Worker.new()")


def check_overrides(
    where: str,
    ignore_cancelled: object,
    ignore_discarded: object,
    ignore_deleted: object,
) -> None:
    """A step's ignore flags: True, False, or None for the workflow's default."""
    for flag, value in (
        ("ignore_cancelled", ignore_cancelled),
        ("ignore_discarded", ignore_discarded),
        ("ignore_deleted", ignore_deleted),
    ):
        if value is not None and not isinstance(value, bool):
            raise InvalidStep(f"{where}: {flag} must be True, False or None, got {value!r}")


def model_list(models: object, where: str) -> list[str]:
    """The models of a model fan-out: a non-empty list of distinct model names."""
    if isinstance(models, str) or not isinstance(models, Iterable):
        raise InvalidStep(f"{where}: models must be a list of model names, got {models!r}")
    names = list(models)
    if not names:
        raise InvalidStep(f"{where}: models is empty; give at least one model")
    checked = [str(check_model(model, where, False)) for model in names]
    repeated = sorted({model for model in checked if checked.count(model) > 1})
    if repeated:
        raise InvalidStep(f"{where}: models repeat {', '.join(map(repr, repeated))}")
    return checked
