"""``baton._gate.gate()``: whether a step may run, from the states of its deps."""

from __future__ import annotations

from itertools import permutations

import pytest

from baton._gate import Blocked, Ready, Wait, gate
from baton.store import StepContext

FAILED = ["cancelled", "discarded", "deleted"]
UNFINISHED = ["available", "scheduled", "executing", "retryable", "suspended"]


def context(
    upstream: list[tuple[str, str]] | None,
    *,
    ignore_cancelled: bool = False,
    ignore_discarded: bool = False,
    ignore_deleted: bool = False,
) -> StepContext:
    return StepContext(
        workflow_id="wf-1",
        name="me",
        performed=False,
        deps=tuple(name for name, _ in upstream or ()),
        ignore_cancelled=ignore_cancelled,
        ignore_discarded=ignore_discarded,
        ignore_deleted=ignore_deleted,
        upstream=None if upstream is None else tuple(upstream),
    )


def blocked(
    cancelled: tuple[str, ...] = (), discarded: tuple[str, ...] = (), deleted: tuple[str, ...] = ()
) -> Blocked:
    return Blocked(cancelled=cancelled, discarded=discarded, deleted=deleted)


def test_no_upstream_to_read_means_ready() -> None:
    assert gate(context(None)) == Ready()


def test_no_upstream_is_ready_even_when_nothing_is_ignored() -> None:
    assert gate(context([])) == Ready()


def test_all_deps_completed_is_ready() -> None:
    assert gate(context([("a", "completed"), ("b", "completed")])) == Ready()


@pytest.mark.parametrize("state", UNFINISHED)
def test_an_unfinished_dep_means_wait(state: str) -> None:
    assert gate(context([("a", "completed"), ("b", state)])) == Wait(("b",))


def test_wait_lists_every_unfinished_dep_in_order() -> None:
    upstream = [("a", "available"), ("b", "completed"), ("c", "executing"), ("d", "retryable")]
    assert gate(context(upstream)) == Wait(("a", "c", "d"))


@pytest.mark.parametrize("state", FAILED)
def test_a_failed_dep_blocks_when_not_ignored(state: str) -> None:
    result = gate(context([("a", "completed"), ("b", state)]))
    assert result == blocked(**{state: ("b",)})


@pytest.mark.parametrize("state", FAILED)
def test_a_failed_dep_is_ready_when_its_state_is_ignored(state: str) -> None:
    result = gate(context([("a", "completed"), ("b", state)], **{f"ignore_{state}": True}))
    assert result == Ready()


@pytest.mark.parametrize(("state", "other"), list(permutations(FAILED, 2)))
def test_ignoring_one_state_does_not_ignore_another(state: str, other: str) -> None:
    result = gate(context([("b", state)], **{f"ignore_{other}": True}))
    assert result == blocked(**{state: ("b",)})


def test_every_failed_dep_is_reported_in_its_own_tuple() -> None:
    upstream = [
        ("a", "cancelled"),
        ("b", "discarded"),
        ("c", "deleted"),
        ("d", "completed"),
        ("e", "discarded"),
        ("f", "cancelled"),
    ]
    assert gate(context(upstream)) == blocked(
        cancelled=("a", "f"), discarded=("b", "e"), deleted=("c",)
    )


def test_ignored_failures_are_left_out_of_blocked() -> None:
    upstream = [("a", "cancelled"), ("b", "discarded"), ("c", "deleted")]
    result = gate(context(upstream, ignore_discarded=True))
    assert result == blocked(cancelled=("a",), deleted=("c",))


def test_all_failures_ignored_is_ready() -> None:
    upstream = [("a", "cancelled"), ("b", "discarded"), ("c", "deleted"), ("d", "completed")]
    flags = {"ignore_cancelled": True, "ignore_discarded": True, "ignore_deleted": True}
    assert gate(context(upstream, **flags)) == Ready()


@pytest.mark.parametrize("state", FAILED)
def test_a_failure_takes_precedence_over_a_pending_dep(state: str) -> None:
    upstream = [("a", "available"), ("b", state), ("c", "executing")]
    assert gate(context(upstream)) == blocked(**{state: ("b",)})


@pytest.mark.parametrize("state", FAILED)
def test_an_ignored_failure_next_to_a_pending_dep_means_wait(state: str) -> None:
    upstream = [("a", "available"), ("b", state)]
    assert gate(context(upstream, **{f"ignore_{state}": True})) == Wait(("a",))


def test_reason_names_every_failed_dep_by_state() -> None:
    reason = blocked(cancelled=("a", "f"), discarded=("b",), deleted=("c",)).reason()
    assert reason == (
        "dependencies did not complete (discarded: 'b'; cancelled: 'a', 'f'; deleted: 'c')"
    )


@pytest.mark.parametrize("state", FAILED)
def test_reason_leaves_out_states_without_deps(state: str) -> None:
    reason = blocked(**{state: ("fetch",)}).reason()
    assert reason == f"dependencies did not complete ({state}: 'fetch')"
    for other in FAILED:
        if other != state:
            assert other not in reason


def test_reason_of_a_real_gate_names_the_group_members() -> None:
    upstream = [("parts[0]", "completed"), ("parts[1]", "discarded"), ("parts[2]", "available")]
    result = gate(context(upstream))
    assert isinstance(result, Blocked)
    assert result.reason() == "dependencies did not complete (discarded: 'parts[1]')"


def test_a_skipped_dep_is_settled_and_no_failure() -> None:
    assert gate(context([("a", "skipped"), ("b", "completed")])) == Ready()
    assert gate(context([("a", "skipped"), ("b", "executing")])) == Wait(("b",))
    assert gate(context([("a", "skipped"), ("b", "discarded")])) == blocked(discarded=("b",))
