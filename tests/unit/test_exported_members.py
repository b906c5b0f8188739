"""The public API is exactly what ``baton.__all__`` lists (as in httpx's test of the same name)."""

from __future__ import annotations

import inspect

import baton
import baton.errors

EXPECTED = [
    "DEFAULT_PRICING",
    "SCHEMA_VERSION",
    "Cancel",
    "CapturedCall",
    "Complete",
    "Discard",
    "Error",
    "LLMUsage",
    "Limit",
    "PriceTable",
    "Pricing",
    "PruneReport",
    "Pruner",
    "Rates",
    "Reconnected",
    "Schedule",
    "Snooze",
    "Step",
    "StepEvent",
    "StepOutput",
    "StepStatus",
    "StepUsage",
    "StepsAdded",
    "Subscription",
    "SweepReport",
    "Sweeper",
    "Tick",
    "UsageGroup",
    "UsageReport",
    "Workflow",
    "WorkflowFinished",
    "WorkflowStatus",
    "WorkflowSummary",
    "WorkflowUsage",
    "calls",
    "cancel",
    "capture",
    "capture_calls",
    "enforce_deadlines",
    "errors",
    "get_all_results",
    "get_context",
    "get_limit",
    "get_own_result",
    "get_result",
    "graph",
    "install",
    "limits",
    "list_workflows",
    "llm_backoff",
    "llm_worker",
    "model",
    "prune",
    "remove_limit",
    "results",
    "resume_limit",
    "retry",
    "schedule",
    "schedules",
    "set_limit",
    "signal",
    "status",
    "stream",
    "subscribe",
    "sweep",
    "telemetry",
    "unschedule",
    "usage",
    "usage_from",
    "usage_report",
    "wait",
    "worker",
]

EXPECTED_ERRORS = [
    "AlreadySignalled",
    "BatonError",
    "ContextConflict",
    "DependencyCycle",
    "DuplicateStep",
    "DuplicateWorkflow",
    "EmbeddedPostgresMissing",
    "EmptyWorkflow",
    "InvalidBudget",
    "InvalidContext",
    "InvalidDSN",
    "InvalidExpansion",
    "InvalidLimit",
    "InvalidOption",
    "InvalidPrices",
    "InvalidSignal",
    "InvalidSkip",
    "InvalidStep",
    "InvalidStepName",
    "NotADependency",
    "NotASignalStep",
    "NotAWorkflowStep",
    "ResultError",
    "ResultUnavailable",
    "RetentionError",
    "ScheduleError",
    "SchemaError",
    "SelfDependency",
    "SignalError",
    "SignalExpired",
    "StepSkipped",
    "StreamError",
    "TemplateError",
    "TooManySteps",
    "UnknownDependency",
    "UnknownResponse",
    "UnknownStep",
    "UnknownWorkflow",
    "UnstorableResult",
    "WorkflowError",
    "WorkflowFailed",
    "WorkflowNotRunning",
]


def test_all_is_exactly_the_public_api() -> None:
    assert baton.__all__ == EXPECTED


def test_every_exported_name_resolves() -> None:
    for name in baton.__all__:
        assert getattr(baton, name, None) is not None, name


def test_exported_members_are_what_they_claim_to_be() -> None:
    assert inspect.ismodule(baton.errors)
    assert inspect.ismodule(baton.telemetry)
    assert isinstance(baton.SCHEMA_VERSION, int)
    classes = (
        "Cancel",
        "Discard",
        "Error",
        "Snooze",
        "Step",
        "Workflow",
        "LLMUsage",
        "PriceTable",
        "Rates",
        "Reconnected",
        "StepEvent",
        "StepStatus",
        "StepUsage",
        "UsageGroup",
        "UsageReport",
        "Subscription",
        "WorkflowFinished",
        "StepsAdded",
        "Complete",
        "WorkflowStatus",
        "WorkflowSummary",
        "WorkflowUsage",
        "Pricing",
        "StepOutput",
        "Schedule",
        "Tick",
        "CapturedCall",
    )
    for name in classes:
        assert inspect.isclass(getattr(baton, name)), name
    coroutines = (
        "get_all_results",
        "get_context",
        "get_own_result",
        "get_result",
        "install",
        "cancel",
        "enforce_deadlines",
        "graph",
        "list_workflows",
        "retry",
        "signal",
        "status",
        "usage",
        "wait",
        "stream",
        "usage_report",
        "set_limit",
        "get_limit",
        "limits",
        "remove_limit",
        "resume_limit",
        "calls",
    )
    for name in coroutines:
        assert inspect.iscoroutinefunction(getattr(baton, name)), name
    for name in (
        "worker",
        "llm_worker",
        "llm_backoff",
        "subscribe",
        "model",
        "schedule",
        "schedules",
        "unschedule",
        "usage_from",
        "capture",
    ):
        assert callable(getattr(baton, name)), name
    assert isinstance(baton.DEFAULT_PRICING, baton.PriceTable)


def test_errors_all_is_exactly_the_error_classes() -> None:
    assert baton.errors.__all__ == EXPECTED_ERRORS
    defined = {
        name
        for name, value in vars(baton.errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException)
    }
    assert defined == set(EXPECTED_ERRORS)


def test_every_error_is_a_baton_error() -> None:
    for name in baton.errors.__all__:
        error = getattr(baton.errors, name)
        assert inspect.isclass(error), name
        assert issubclass(error, baton.errors.BatonError), name
        assert issubclass(error, Exception), name


def test_the_error_tree() -> None:
    errors = baton.errors
    for name in (
        "InvalidStepName",
        "DuplicateStep",
        "SelfDependency",
        "UnknownDependency",
        "DependencyCycle",
        "EmptyWorkflow",
        "InvalidStep",
        "InvalidContext",
        "InvalidBudget",
        "TemplateError",
    ):
        assert issubclass(getattr(errors, name), errors.WorkflowError), name
    for name in (
        "NotADependency",
        "ResultUnavailable",
        "UnstorableResult",
        "InvalidExpansion",
        "ContextConflict",
        "InvalidSkip",
        "TooManySteps",
    ):
        assert issubclass(getattr(errors, name), errors.ResultError), name
    assert issubclass(errors.StepSkipped, errors.ResultUnavailable)
    assert issubclass(errors.WorkflowError, ValueError)
    assert issubclass(errors.InvalidOption, ValueError)
    assert issubclass(errors.NotADependency, KeyError)


def test_not_a_dependency_message_is_not_quoted_like_a_key_error() -> None:
    error = baton.errors.NotADependency("step 'b' did not declare 'x' as a dep")
    assert str(error) == "step 'b' did not declare 'x' as a dep"
