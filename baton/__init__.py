"""Baton: DAG workflows for Oban for Python.

Steps declare the steps they depend on, run only once those finished, and hand their
results downstream; a retried step that already stored its result does not run again.

Example:
    >>> import baton
    >>> @baton.worker(queue="default")
    ... class Fetch:
    ...     async def perform_workflow(self, job):
    ...         return {"text": "..."}
    >>> wf = baton.Workflow(name="brief").add("fetch", Fetch.new({"url": "..."}))
    >>> await wf.insert()
"""

from __future__ import annotations

from importlib.metadata import version

from . import errors, telemetry
from ._adapters import usage_from
from ._analytics import UsageGroup, UsageReport, usage_report
from ._capture import CapturedCall, calls, capture, capture_calls
from ._context import get_context, model
from ._control import cancel, list_workflows, retry, status, usage
from ._deadline import enforce_deadlines
from ._events import (
    Reconnected,
    StepEvent,
    StepOutput,
    StepsAdded,
    Subscription,
    WorkflowFinished,
    subscribe,
)
from ._graph import graph
from ._limits import Limit, get_limit, limits, remove_limit, resume_limit, set_limit
from ._llm import llm_backoff, llm_worker
from ._outcomes import Cancel, Complete, Discard, Error, Snooze
from ._prune import Pruner, PruneReport, prune
from ._results import get_all_results, get_own_result, get_result, results
from ._schedule import Schedule, Tick, schedule, schedules, unschedule
from ._schema import SCHEMA_VERSION, install
from ._signal import signal
from ._status import StepStatus, StepUsage, WorkflowStatus, WorkflowSummary, WorkflowUsage
from ._stream import stream
from ._sweep import Sweeper, SweepReport, sweep
from ._usage import DEFAULT_PRICING, LLMUsage, PriceTable, Pricing, Rates
from ._wait import wait
from ._worker import worker
from .workflow import Step, Workflow

__all__ = [
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

__version__ = version("baton-workflows")
