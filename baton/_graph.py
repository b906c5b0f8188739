"""Workflow graphs as Mermaid or Graphviz DOT text.

Step names hold characters neither format takes in an id (``[ ] . : -``), so nodes are
``n0``, ``n1``, … in step order and each label carries the escaped name. The members of an
``add_many`` group are drawn inside one subgraph per group. Given the steps' states (a
stored workflow), each node gets its state as a class: a ``classDef`` per state in
Mermaid, a fill colour and ``class`` attribute in DOT. Edges are listed in a canonical
order, so a workflow drawn before insert and after differs only in its states.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from oban import Oban

from ._control import read_workflow

type GraphFormat = Literal["mermaid", "dot"]

FORMATS: tuple[GraphFormat, ...] = ("mermaid", "dot")

#: fill, border and text colour per state: the web view's palette.
STATE_COLOURS: Mapping[str, tuple[str, str, str]] = {
    "suspended": ("#f3f4f6", "#9ca3af", "#4b5563"),
    "available": ("#dbeafe", "#3b82f6", "#1d4ed8"),
    "scheduled": ("#e0e7ff", "#6366f1", "#4338ca"),
    "snoozed": ("#e0e7ff", "#6366f1", "#4338ca"),
    "executing": ("#fef3c7", "#f59e0b", "#b45309"),
    "retryable": ("#ffedd5", "#f97316", "#c2410c"),
    "completed": ("#d1fae5", "#10b981", "#047857"),
    "discarded": ("#fee2e2", "#ef4444", "#b91c1c"),
    "cancelled": ("#ede9fe", "#8b5cf6", "#6d28d9"),
    "deleted": ("#f3f4f6", "#6b7280", "#374151"),
}
_OTHER_COLOURS = ("#f3f4f6", "#6b7280", "#374151")
_INDENT = "    "


@dataclass(frozen=True, slots=True)
class _Layout:
    ids: dict[str, str]  # step name -> node id
    blocks: list[tuple[str | None, list[str]]]  # (group or None, step names), in order
    edges: list[tuple[str, str]]  # (upstream id, downstream id)


def _layout(steps: Iterable[tuple[str, str | None]], edges: Iterable[tuple[str, str]]) -> _Layout:
    steps = list(steps)
    order = {name: index for index, (name, _group) in enumerate(steps)}
    ids = {name: f"n{index}" for name, index in order.items()}
    members: dict[str, list[str]] = {}
    for name, group in steps:
        if group is not None:
            members.setdefault(group, []).append(name)
    blocks: list[tuple[str | None, list[str]]] = []
    for name, group in steps:
        if group is None:
            blocks.append((None, [name]))
        elif members[group][0] == name:
            blocks.append((group, members[group]))
    pairs = set(edges)
    for pair in pairs:
        for name in pair:
            if name not in ids:
                raise ValueError(f"edge {pair[0]!r} -> {pair[1]!r} names no step {name!r}")
    ordered = sorted(pairs, key=lambda pair: (order[pair[0]], order[pair[1]]))
    return _Layout(ids, blocks, [(ids[up], ids[down]) for up, down in ordered])


def _class_name(state: str) -> str:
    """The state itself for Baton's states; others made safe (Mermaid reserves ``end``…)."""
    return state if state in STATE_COLOURS else "state_" + re.sub(r"\W", "_", state)


def _mermaid_label(text: str) -> str:
    """Text for a quoted Mermaid label: quotes, ``< > & # \\`` and backticks as entity codes."""
    for char, code in (
        ("#", "#35;"),
        ("\\", "#92;"),
        ("&", "#amp;"),
        ('"', "#quot;"),
        ("<", "#lt;"),
        (">", "#gt;"),
        ("`", "#96;"),
    ):
        text = text.replace(char, code)
    return " ".join(text.splitlines())


def _dot_label(text: str) -> str:
    """Text for a quoted DOT string: backslashes and quotes escaped, ``& < >`` as entities."""
    for char, code in (
        ("\\", "\\\\"),
        ('"', '\\"'),
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
    ):
        text = text.replace(char, code)
    return " ".join(text.splitlines())


def to_mermaid(
    steps: Iterable[tuple[str, str | None]],
    edges: Iterable[tuple[str, str]],
    states: Mapping[str, str] | None = None,
) -> str:
    """A Mermaid flowchart of a workflow.

    Args:
        steps: ``(name, group)`` per step in order; ``group`` is its ``add_many`` group.
        edges: ``(upstream, downstream)`` step names.
        states: each step's state, drawn as node classes; None draws none.
    """
    layout = _layout(steps, edges)
    lines = ["flowchart LR"]
    groups = 0
    for group, names in layout.blocks:
        indent = _INDENT
        if group is not None:
            lines.append(f'{_INDENT}subgraph g{groups}["{_mermaid_label(group)}"]')
            groups += 1
            indent = _INDENT * 2
        lines.extend(f'{indent}{layout.ids[name]}["{_mermaid_label(name)}"]' for name in names)
        if group is not None:
            lines.append(f"{_INDENT}end")
    lines.extend(f"{_INDENT}{up} --> {down}" for up, down in layout.edges)
    by_state: dict[str, list[str]] = {}
    for name, node in layout.ids.items():
        if states and name in states:
            by_state.setdefault(states[name], []).append(node)
    for state, nodes in by_state.items():
        fill, stroke, text = STATE_COLOURS.get(state, _OTHER_COLOURS)
        lines.append(
            f"{_INDENT}classDef {_class_name(state)} fill:{fill},stroke:{stroke},color:{text}"
        )
        lines.append(f"{_INDENT}class {','.join(nodes)} {_class_name(state)}")
    return "\n".join(lines) + "\n"


def to_dot(
    steps: Iterable[tuple[str, str | None]],
    edges: Iterable[tuple[str, str]],
    states: Mapping[str, str] | None = None,
) -> str:
    """A Graphviz DOT digraph of a workflow; arguments as for :func:`to_mermaid`."""
    layout = _layout(steps, edges)
    lines = [
        "digraph workflow {",
        f"{_INDENT}rankdir=LR;",
        f'{_INDENT}fontname="Helvetica";',
        f'{_INDENT}node [shape=box, style="rounded,filled", fillcolor="#ffffff", '
        'fontname="Helvetica"];',
    ]

    def node(name: str, indent: str) -> str:
        attributes = [f'label="{_dot_label(name)}"']
        if states and name in states:
            fill, stroke, text = STATE_COLOURS.get(states[name], _OTHER_COLOURS)
            attributes += [
                f'class="{_class_name(states[name])}"',
                f'fillcolor="{fill}"',
                f'color="{stroke}"',
                f'fontcolor="{text}"',
            ]
        return f"{indent}{layout.ids[name]} [{', '.join(attributes)}];"

    groups = 0
    for group, names in layout.blocks:
        if group is None:
            lines.extend(node(name, _INDENT) for name in names)
            continue
        lines += [
            f"{_INDENT}subgraph cluster_g{groups} {{",
            f'{_INDENT * 2}label="{_dot_label(group)}";',
            f'{_INDENT * 2}style="rounded,dashed";',
            *(node(name, _INDENT * 2) for name in names),
            f"{_INDENT}}}",
        ]
        groups += 1
    lines.extend(f"{_INDENT}{up} -> {down};" for up, down in layout.edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(
    format: str,
    steps: Iterable[tuple[str, str | None]],
    edges: Iterable[tuple[str, str]],
    states: Mapping[str, str] | None = None,
) -> str:
    """:func:`to_mermaid` or :func:`to_dot`, by name."""
    match format:
        case "mermaid":
            return to_mermaid(steps, edges, states)
        case "dot":
            return to_dot(steps, edges, states)
    raise ValueError(f"graph format must be 'mermaid' or 'dot', got {format!r}")


async def graph(
    workflow_id: str, *, format: GraphFormat = "mermaid", oban: Oban | str | None = None
) -> str:
    """A stored workflow's graph, its steps' current states drawn as node classes.

    Args:
        workflow_id: the workflow to draw.
        format: ``"mermaid"`` (a flowchart) or ``"dot"`` (Graphviz).
        oban: the Oban instance (or its name) whose database to read; default ``"Oban"``.

    Raises:
        UnknownWorkflow: no workflow has that id.
        ValueError: ``format`` is neither ``"mermaid"`` nor ``"dot"``.

    Example:
        >>> print(await baton.graph(wf.id, format="dot"))
    """
    if format not in FORMATS:
        raise ValueError(f"graph format must be 'mermaid' or 'dot', got {format!r}")
    _workflow, rows = await read_workflow(workflow_id, oban, "workflow_graph.sql")
    steps = [(name, group) for name, group, _state, _upstream in rows]
    edges = [(up, name) for name, _group, _state, upstream in rows for up in upstream]
    states = {name: state for name, _group, state, _upstream in rows}
    return render(format, steps, edges, states)
