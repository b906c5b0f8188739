"""Workflow graphs as Mermaid or Graphviz DOT text, and the order views list steps in.

Step names hold characters neither format takes in an id (``[ ] . : - /``), so nodes are
``n0``, ``n1``, … in step order and each label carries the escaped name. Namespaces are
drawn as nested subgraphs (``s0``, ``s1``, …): a sub-workflow's steps (``research/fetch``)
in a box labelled ``research``, and the steps a running step added (``plan/item[0]``) in a
box labelled ``added by plan``, drawn right after that step. Inside a box a node's label is
its last path segment. The members of a group are drawn inside one subgraph per group
(``g0``, ``g1``, …). Given the steps' states (a stored workflow), each node gets its state
as a class: a ``classDef`` per state in Mermaid, a fill colour and ``class`` attribute in
DOT. Edges are listed in a canonical order, so a workflow drawn before insert and after
differs only in its states (and the steps added since).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from oban import Oban

from . import _oban, store
from ._control import check_id
from ._names import SEPARATOR, namespace, namespaces, prefixes
from .errors import InvalidOption

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
    "skipped": ("#f8fafc", "#94a3b8", "#64748b"),
    # signals: a step waiting for baton.signal, and a signal step in a workflow not inserted
    "awaiting_signal": ("#fce7f3", "#db2777", "#9d174d"),
    "signal": ("#fdf2f8", "#db2777", "#9d174d"),
}
#: States drawn with a dashed border besides their colours: a skipped step (branches).
DASHED_STATES = frozenset({"skipped"})
_OTHER_COLOURS = ("#f3f4f6", "#6b7280", "#374151")
_INDENT = "    "


@dataclass(frozen=True, slots=True)
class _Block:
    """One step (``group`` None) or the members of one group, drawn together."""

    group: str | None
    names: list[str]


@dataclass(frozen=True, slots=True)
class _Box:
    """A namespace: a sub-workflow, or the steps one step added (``adder``)."""

    path: str
    adder: bool
    items: list[_Block | _Box] = field(default_factory=list)

    @property
    def label(self) -> str:
        last = _last(self.path)
        return f"added by {last}" if self.adder else last


@dataclass(frozen=True, slots=True)
class _Layout:
    ids: dict[str, str]  # step name -> node id
    items: list[_Block | _Box]  # the top level, in drawing order
    edges: list[tuple[str, str]]  # (upstream id, downstream id)


def _last(path: str) -> str:
    """A path's last segment: what a node or box inside its namespace is labelled."""
    return path.rpartition(SEPARATOR)[2]


def _first_steps(names: Sequence[str]) -> dict[str, int]:
    """Each name's and each namespace's first position: its own, or its first step's."""
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        for path in (name, *namespaces(name)):
            first.setdefault(path, index)
    return first


def nesting_order(names: Sequence[str]) -> list[str]:
    """``names`` reordered so that each namespace's steps follow one another.

    A sub-workflow's steps stay where its first step is; the steps a step added follow
    right after that step. Top-level steps keep their order.

    Example:
        >>> nesting_order(["plan", "b", "plan/item[0]", "sub/a"])
        ['plan', 'plan/item[0]', 'b', 'sub/a']
    """
    first = _first_steps(names)
    return sorted(names, key=lambda name: [first[path] for path in prefixes(name)])


def _tree(steps: list[tuple[str, str | None]]) -> list[_Block | _Box]:
    """The top level's blocks and boxes, each box holding its own, in drawing order."""
    names = [name for name, _group in steps]
    index = {name: position for position, name in enumerate(names)}
    first = _first_steps(names)
    members: dict[str, list[str]] = {}
    for name, group in steps:
        if group is not None:
            members.setdefault(group, []).append(name)
    block_of: dict[str, _Block] = {}
    placed: dict[str | None, list[tuple[tuple[int, int, int], _Block | _Box]]] = {}
    for name, group in steps:
        if group is not None and members[group][0] != name:
            block_of[name] = block_of[members[group][0]]
            continue
        block = _Block(group, [name] if group is None else members[group])
        block_of[name] = block
        placed.setdefault(namespace(name), []).append(((index[name], 0, 0), block))
    paths = dict.fromkeys(path for name in names for path in namespaces(name))
    boxes = {path: _Box(path, path in index) for path in paths}
    for path, box in boxes.items():
        if box.adder:  # right after the block holding the step that added these
            key = (index[block_of[path].names[0]], 1, index[path])
        else:
            key = (first[path], 0, 0)
        placed.setdefault(namespace(path), []).append((key, box))
    for path, box in boxes.items():
        box.items.extend(item for _key, item in sorted(placed.get(path, []), key=_by_key))
    return [item for _key, item in sorted(placed.get(None, []), key=_by_key)]


def _by_key(entry: tuple[tuple[int, int, int], object]) -> tuple[int, int, int]:
    return entry[0]


def _layout(steps: Iterable[tuple[str, str | None]], edges: Iterable[tuple[str, str]]) -> _Layout:
    steps = list(steps)
    order = {name: index for index, (name, _group) in enumerate(steps)}
    ids = {name: f"n{index}" for name, index in order.items()}
    pairs = set(edges)
    for pair in pairs:
        for name in pair:
            if name not in ids:
                raise InvalidOption(f"edge {pair[0]!r} -> {pair[1]!r} names no step {name!r}")
    ordered = sorted(pairs, key=lambda pair: (order[pair[0]], order[pair[1]]))
    return _Layout(ids, _tree(steps), [(ids[up], ids[down]) for up, down in ordered])


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


@dataclass(frozen=True, slots=True)
class _Counters:
    """Subgraph numbers, handed out in drawing order."""

    groups: Iterator[int] = field(default_factory=itertools.count)
    boxes: Iterator[int] = field(default_factory=itertools.count)


def _mermaid_items(
    items: list[_Block | _Box], ids: Mapping[str, str], depth: int, counters: _Counters
) -> Iterator[str]:
    indent = _INDENT * depth
    for item in items:
        if isinstance(item, _Box):
            yield f'{indent}subgraph s{next(counters.boxes)}["{_mermaid_label(item.label)}"]'
            yield from _mermaid_items(item.items, ids, depth + 1, counters)
            yield f"{indent}end"
        elif item.group is None:
            yield f'{indent}{ids[item.names[0]]}["{_mermaid_label(_last(item.names[0]))}"]'
        else:
            label = _mermaid_label(_last(item.group))
            yield f'{indent}subgraph g{next(counters.groups)}["{label}"]'
            for name in item.names:
                yield f'{indent}{_INDENT}{ids[name]}["{_mermaid_label(_last(name))}"]'
            yield f"{indent}end"


def to_mermaid(
    steps: Iterable[tuple[str, str | None]],
    edges: Iterable[tuple[str, str]],
    states: Mapping[str, str] | None = None,
) -> str:
    """A Mermaid flowchart of a workflow.

    Args:
        steps: ``(name, group)`` per step in order; ``group`` is its group (by path).
        edges: ``(upstream, downstream)`` step names.
        states: each step's state, drawn as node classes; None draws none.
    """
    layout = _layout(steps, edges)
    lines = ["flowchart LR", *_mermaid_items(layout.items, layout.ids, 1, _Counters())]
    lines.extend(f"{_INDENT}{up} --> {down}" for up, down in layout.edges)
    by_state: dict[str, list[str]] = {}
    for name, node in layout.ids.items():
        if states and name in states:
            by_state.setdefault(states[name], []).append(node)
    for state, nodes in by_state.items():
        fill, stroke, text = STATE_COLOURS.get(state, _OTHER_COLOURS)
        dashed = ",stroke-dasharray:5 3" if state in DASHED_STATES else ""
        lines.append(
            f"{_INDENT}classDef {_class_name(state)} "
            f"fill:{fill},stroke:{stroke},color:{text}{dashed}"
        )
        lines.append(f"{_INDENT}class {','.join(nodes)} {_class_name(state)}")
    return "\n".join(lines) + "\n"


def _dot_node(name: str, node: str, states: Mapping[str, str] | None) -> str:
    attributes = [f'label="{_dot_label(_last(name))}"']
    if states and name in states:
        fill, stroke, text = STATE_COLOURS.get(states[name], _OTHER_COLOURS)
        attributes += [
            f'class="{_class_name(states[name])}"',
            f'fillcolor="{fill}"',
            f'color="{stroke}"',
            f'fontcolor="{text}"',
        ]
        if states[name] in DASHED_STATES:
            attributes.append('style="rounded,filled,dashed"')
    return f"{node} [{', '.join(attributes)}];"


def _dot_items(
    items: list[_Block | _Box],
    ids: Mapping[str, str],
    states: Mapping[str, str] | None,
    depth: int,
    counters: _Counters,
) -> Iterator[str]:
    indent = _INDENT * depth
    for item in items:
        if isinstance(item, _Box):
            yield f"{indent}subgraph cluster_s{next(counters.boxes)} {{"
            yield f'{indent}{_INDENT}label="{_dot_label(item.label)}";'
            yield f'{indent}{_INDENT}style="{"rounded,dotted" if item.adder else "rounded"}";'
            yield from _dot_items(item.items, ids, states, depth + 1, counters)
            yield f"{indent}}}"
        elif item.group is None:
            yield indent + _dot_node(item.names[0], ids[item.names[0]], states)
        else:
            yield f"{indent}subgraph cluster_g{next(counters.groups)} {{"
            yield f'{indent}{_INDENT}label="{_dot_label(_last(item.group))}";'
            yield f'{indent}{_INDENT}style="rounded,dashed";'
            for name in item.names:
                yield indent + _INDENT + _dot_node(name, ids[name], states)
            yield f"{indent}}}"


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
        *_dot_items(layout.items, layout.ids, states, 1, _Counters()),
    ]
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
    raise InvalidOption(f"graph format must be 'mermaid' or 'dot', got {format!r}")


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
        InvalidOption: ``format`` is neither ``"mermaid"`` nor ``"dot"``.

    Example:
        >>> print(await baton.graph(wf.id, format="dot"))
    """
    if format not in FORMATS:
        raise InvalidOption(f"graph format must be 'mermaid' or 'dot', got {format!r}")
    workflow_id = check_id(workflow_id)
    _workflow, rows = await store.workflow_graph(_oban.instance(oban), workflow_id)
    steps = [(row.name, row.group) for row in rows]
    edges = [(up, row.name) for row in rows for up in row.upstream]
    states = {row.name: row.state for row in rows}
    return render(format, steps, edges, states)
