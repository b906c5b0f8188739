"""The budget options of ``Workflow``: checked at construction, named in the error."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from baton import Workflow
from baton.errors import InvalidBudget


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"budget_usd": 0}, "budget_usd must be a positive, finite amount of US dollars, got 0"),
        ({"budget_usd": -1.5}, "budget_usd must be a positive, finite amount"),
        ({"budget_usd": float("inf")}, "budget_usd must be a positive, finite amount"),
        ({"budget_usd": "lots"}, "budget_usd must be a positive, finite amount"),
        ({"budget_usd": True}, "budget_usd must be a positive amount of US dollars"),
        ({"budget_usd": [1]}, "budget_usd must be a positive amount of US dollars"),
        ({"budget_tokens": 0}, "budget_tokens must be a positive integer, got 0"),
        ({"budget_tokens": 1.5}, "budget_tokens must be a positive integer, got 1.5"),
        ({"budget_tokens": 2**63}, "budget_tokens is too large"),
        ({"max_steps": 0}, "max_steps must be a positive integer, got 0"),
        ({"max_steps": 2**31}, "max_steps is too large"),
        ({"capture": "yes"}, "capture must be True or False, got 'yes'"),
    ],
)
def test_bad_budget_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidBudget, match="workflow 'w'") as raised:
        Workflow(name="w", **options)
    assert message in str(raised.value)


def test_good_budget_options() -> None:
    wf = Workflow(name="w", budget_usd=0.1, budget_tokens=500, max_steps=10, capture=True)
    assert wf.limits.budget_usd == Decimal("0.1")  # from the float's repr, not its binary value
    assert wf.limits.record() == {
        "budget_usd": "0.1",
        "budget_tokens": 500,
        "max_steps": 10,
        "capture": True,
    }
    assert Workflow(name="w", budget_usd="2.50").limits.budget_usd == Decimal("2.50")
    assert Workflow(name="w").limits.record()["budget_usd"] is None


def test_limits_on_a_mounted_workflow_are_refused() -> None:
    from tests.support.budget_steps import Spends

    sub = Workflow(name="sub", budget_usd=1).add("a", Spends.new())
    with pytest.raises(
        InvalidBudget, match=r"sub-workflow 'inner' in workflow 'outer': budget_usd"
    ):
        Workflow(name="outer").add_workflow("inner", sub)
    Workflow(name="outer").add_workflow("inner", Workflow(name="plain").add("a", Spends.new()))


def test_templates_carry_the_limits() -> None:
    from baton.errors import TemplateError
    from tests.support.budget_steps import Spends

    worker = f"{Spends.__module__}.Spends"
    template = {
        "params": {"cap": {"default": "0.75"}},
        "budget_usd": "${cap}",
        "budget_tokens": 5000,
        "max_steps": 10,
        "capture": True,
        "steps": [{"name": "ask", "worker": worker}],
    }
    wf = Workflow.from_dict(template)
    assert wf.limits.record() == {
        "budget_usd": "0.75",
        "budget_tokens": 5000,
        "max_steps": 10,
        "capture": True,
    }
    assert Workflow.from_dict(template, params={"cap": 2}).limits.budget_usd == Decimal(2)
    with pytest.raises(TemplateError, match=r"^template: budget_tokens: workflow .*must be a pos"):
        Workflow.from_dict({**template, "budget_tokens": -1})
    with pytest.raises(TemplateError, match=r"^template: capture: workflow .*True or False"):
        Workflow.from_dict({**template, "capture": "yes"})
    inner = {"budget_usd": 1, "steps": [{"name": "ask", "worker": worker}]}
    with pytest.raises(TemplateError, match=r"\('sub'\)\.workflow: unknown key 'budget_usd'"):
        Workflow.from_dict({"steps": [{"name": "sub", "workflow": inner}]})
