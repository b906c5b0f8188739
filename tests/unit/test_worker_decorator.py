"""``@baton.worker``: what it accepts, what it rejects, and the Oban worker it makes."""

from __future__ import annotations

import dataclasses
import inspect
from decimal import Decimal
from typing import Any

import pytest
from oban import Job
from oban.worker import resolve_worker

import baton
from baton._worker import DEFAULT_RESULT_LIMIT, DEFAULT_SNOOZE, WorkerOptions


@baton.worker
class Bare:
    async def perform_workflow(self, job: Any) -> Any:
        return job.args.get("value")


@baton.worker()
class EmptyCall:
    async def perform_workflow(self, job: Any) -> Any:
        return None


@baton.worker(queue="llm", max_attempts=5, priority=3, result_limit=2_048, snooze=7)
class Configured:
    async def perform_workflow(self, job: Any) -> Any:
        return job.args.get("value")


@baton.worker(queue="other")
class Echoes:
    async def perform_workflow(self, job: Any) -> Any:
        return job.args.get("value")


# --- what it makes ------------------------------------------------------------------------


def test_bare_decorator_makes_an_oban_worker_with_defaults() -> None:
    job = Bare.new({"value": 1})
    assert isinstance(job, Job)
    assert job.worker == "tests.unit.test_worker_decorator.Bare"
    assert job.queue == "default"
    assert job.max_attempts == 20
    assert job.args == {"value": 1}
    assert Bare._baton == WorkerOptions(DEFAULT_RESULT_LIMIT, DEFAULT_SNOOZE)


def test_decorator_called_without_options_is_the_same_as_bare() -> None:
    job = EmptyCall.new()
    assert job.queue == "default"
    assert job.args == {}
    assert EmptyCall._baton == WorkerOptions()


def test_decorator_with_options_passes_oban_options_to_the_job() -> None:
    job = Configured.new({"value": "x"})
    assert job.worker == "tests.unit.test_worker_decorator.Configured"
    assert job.queue == "llm"
    assert job.max_attempts == 5
    assert job.priority == 3
    assert Configured._baton == WorkerOptions(result_limit=2_048, snooze=7)


def test_baton_options_are_not_passed_to_oban_jobs() -> None:
    job = Configured.new()
    assert "result_limit" not in job.extra
    assert "snooze" not in job.extra
    assert "result_limit" not in Configured._opts
    assert "snooze" not in Configured._opts


def test_new_accepts_per_job_overrides() -> None:
    job = Echoes.new({"value": 2}, queue="default", max_attempts=2)
    assert job.queue == "default"
    assert job.max_attempts == 2
    assert Echoes.new().queue == "other", "the worker default is unchanged"


def test_the_worker_resolves_by_its_path() -> None:
    assert resolve_worker(Configured.new().worker) is Configured


def test_baton_supplies_an_async_process() -> None:
    assert "process" in vars(Configured)
    assert inspect.iscoroutinefunction(Configured.process)
    assert inspect.iscoroutinefunction(Configured.enqueue)


def test_decorator_returns_the_class_itself() -> None:
    class Original:
        async def perform_workflow(self, job: Any) -> Any:
            return None

    class Queued:
        async def perform_workflow(self, job: Any) -> Any:
            return None

    assert baton.worker(Original) is Original
    assert baton.worker(queue="x")(Queued) is Queued
    assert Queued.new().queue == "x"


async def test_a_job_outside_a_workflow_runs_perform_workflow() -> None:
    assert await Bare().process(Bare.new({"value": [1, 2]})) is None


async def test_a_job_outside_a_workflow_passes_oban_outcomes_through() -> None:
    @baton.worker
    class Snoozer:
        async def perform_workflow(self, job: Any) -> Any:
            return baton.Snooze(30)

    assert await Snoozer().process(Snoozer.new()) == baton.Snooze(30)


async def test_a_job_outside_a_workflow_still_rejects_an_unstorable_result() -> None:
    job = Bare.new({"value": {1, 2}})
    with pytest.raises(baton.errors.UnstorableResult) as excinfo:
        await Bare().process(job)
    assert "result of type set is not JSON-serialisable" in str(excinfo.value)


# --- what it rejects --------------------------------------------------------------------------


def test_a_class_without_perform_workflow_is_rejected() -> None:
    class Missing:
        async def run(self, job: Any) -> None:
            return None

    with pytest.raises(TypeError) as excinfo:
        baton.worker(Missing)
    assert "Missing needs `async def perform_workflow(self, job)`" in str(excinfo.value)
    assert not hasattr(Missing, "new")
    assert not hasattr(Missing, "_baton")


def test_a_sync_perform_workflow_is_rejected() -> None:
    with pytest.raises(TypeError) as excinfo:

        @baton.worker(queue="x")
        class Sync:
            def perform_workflow(self, job: Any) -> None:
                return None

    assert "Sync needs `async def perform_workflow(self, job)`" in str(excinfo.value)


def test_a_perform_workflow_that_is_not_a_function_is_rejected() -> None:
    class Attribute:
        perform_workflow = "not callable"

    with pytest.raises(TypeError) as excinfo:
        baton.worker(Attribute)
    assert "perform_workflow" in str(excinfo.value)


def test_a_class_that_defines_process_is_rejected() -> None:
    class Both:
        async def perform_workflow(self, job: Any) -> None:
            return None

        async def process(self, job: Any) -> None:
            return None

    original = Both.process
    with pytest.raises(TypeError) as excinfo:
        baton.worker(queue="x")(Both)
    message = str(excinfo.value)
    assert "Both defines process()" in message
    assert "Baton supplies process()" in message
    assert Both.process is original, "the class is left as it was"
    assert not hasattr(Both, "_baton")


async def _coroutine(job: Any) -> None:
    return None


@pytest.mark.parametrize("target", [_coroutine, 42, "Worker", Bare(), lambda job: job], ids=repr)
def test_non_class_targets_are_rejected(target: Any) -> None:
    with pytest.raises(TypeError) as excinfo:
        baton.worker(target)
    assert f"@baton.worker decorates a class, got {target!r}" == str(excinfo.value)


def test_non_class_targets_are_rejected_by_the_configured_decorator_too() -> None:
    with pytest.raises(TypeError) as excinfo:
        baton.worker(queue="x")(_coroutine)
    assert "decorates a class" in str(excinfo.value)


@pytest.mark.parametrize("limit", [0, -1, True, False, 1.5, "1000", None])
def test_a_bad_result_limit_is_rejected(limit: Any) -> None:
    with pytest.raises(baton.errors.InvalidOption) as excinfo:
        baton.worker(result_limit=limit)
    assert f"result_limit must be a positive number of bytes, got {limit!r}" == str(excinfo.value)


@pytest.mark.parametrize("snooze", [0, -5, True, 0.5, "1", None])
def test_a_bad_snooze_is_rejected(snooze: Any) -> None:
    with pytest.raises(baton.errors.InvalidOption) as excinfo:
        baton.worker(snooze=snooze)
    assert f"snooze must be a positive number of seconds, got {snooze!r}" == str(excinfo.value)


@pytest.mark.parametrize(
    "options",
    [
        {"result_limit": 0},
        {"snooze": 0},
        {"store_retry": -1},
        {"store_retry": "1"},
        {"interruptible": 0},
        {"interruptible": None},
    ],
)
def test_bad_options_raise_batons_own_error(options: dict[str, Any]) -> None:
    for decorator in (baton.worker, baton.llm_worker):
        with pytest.raises(baton.errors.BatonError) as excinfo:
            decorator(**options)
        assert isinstance(excinfo.value, baton.errors.InvalidOption)
        assert str(excinfo.value).startswith(next(iter(options)))


@pytest.mark.parametrize("decorator", [baton.worker, baton.llm_worker])
def test_every_baton_option_of_a_decorator_takes_effect(decorator: Any) -> None:
    """Each of Baton's worker options given to either decorator reaches the class.

    ``llm_worker`` once accepted ``store_retry`` and dropped it; the options compared are
    every field of the settings the worker reads, so a new one cannot be forgotten.
    """
    given = {
        "result_limit": 64,
        "snooze": 7,
        "pricing": baton.PriceTable({"m": baton.Rates(input=Decimal(1), output=Decimal(2))}),
        "store_retry": 3.5,
        "interruptible": False,
        "limit": "openai",
        "capture": True,
    }
    assert set(given) == {field.name for field in dataclasses.fields(WorkerOptions)}
    assert set(given) <= set(inspect.signature(decorator).parameters)

    class Step:
        async def perform_workflow(self, job: Any) -> None:
            return None

    decorated = decorator(**given)(Step)
    assert {name: getattr(decorated._baton, name) for name in given} == given


def test_a_bad_option_is_rejected_before_the_class_is_touched() -> None:
    class Untouched:
        async def perform_workflow(self, job: Any) -> None:
            return None

    with pytest.raises(baton.errors.InvalidOption):
        baton.worker(Untouched, snooze=0)  # type: ignore[call-overload]
    assert not hasattr(Untouched, "_baton")
    assert not hasattr(Untouched, "new")


def test_the_smallest_options_are_accepted() -> None:
    class Small:
        async def perform_workflow(self, job: Any) -> None:
            return None

    baton.worker(result_limit=1, snooze=1)(Small)
    assert Small._baton == WorkerOptions(result_limit=1, snooze=1)  # type: ignore[attr-defined]
