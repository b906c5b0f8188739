"""Mermaid and DOT export: exact output, groups, namespaces, states and escaping."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from baton import Workflow
from baton._graph import nesting_order, render, to_dot, to_mermaid
from baton.errors import InvalidOption, UnknownDependency
from tests.support.steps import Echo


def brief() -> Workflow:
    return (
        Workflow(name="brief")
        .add("fetch", Echo.new({"value": 1}))
        .add_many("search", [Echo.new({"value": i}) for i in range(2)], deps=["fetch"])
        .add("sum.mary:v-2", Echo.new(), deps=["search"])
        .add("compile", Echo.new(), deps=["sum.mary:v-2", "fetch"])
    )


def test_mermaid_of_a_workflow_with_a_group() -> None:
    assert brief().to_mermaid() == (
        "flowchart LR\n"
        '    n0["fetch"]\n'
        '    subgraph g0["search"]\n'
        '        n1["search[0]"]\n'
        '        n2["search[1]"]\n'
        "    end\n"
        '    n3["sum.mary:v-2"]\n'
        '    n4["compile"]\n'
        "    n0 --> n1\n"
        "    n0 --> n2\n"
        "    n0 --> n4\n"
        "    n1 --> n3\n"
        "    n2 --> n3\n"
        "    n3 --> n4\n"
    )


def test_dot_of_a_workflow_with_a_group() -> None:
    assert brief().to_dot() == (
        "digraph workflow {\n"
        "    rankdir=LR;\n"
        '    fontname="Helvetica";\n'
        '    node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];\n'
        '    n0 [label="fetch"];\n'
        "    subgraph cluster_g0 {\n"
        '        label="search";\n'
        '        style="rounded,dashed";\n'
        '        n1 [label="search[0]"];\n'
        '        n2 [label="search[1]"];\n'
        "    }\n"
        '    n3 [label="sum.mary:v-2"];\n'
        '    n4 [label="compile"];\n'
        "    n0 -> n1;\n"
        "    n0 -> n2;\n"
        "    n0 -> n4;\n"
        "    n1 -> n3;\n"
        "    n2 -> n3;\n"
        "    n3 -> n4;\n"
        "}\n"
    )


STEPS = [("a", None), ("g[0]", "g"), ("g[1]", "g"), ("b", None)]
EDGES = [("a", "g[0]"), ("a", "g[1]"), ("g[0]", "b"), ("g[1]", "b")]
STATES = {"a": "completed", "g[0]": "executing", "g[1]": "completed", "b": "suspended"}


def test_states_as_mermaid_classes() -> None:
    assert to_mermaid(STEPS, EDGES, STATES).splitlines()[-6:] == [
        "    classDef completed fill:#d1fae5,stroke:#10b981,color:#047857",
        "    class n0,n2 completed",
        "    classDef executing fill:#fef3c7,stroke:#f59e0b,color:#b45309",
        "    class n1 executing",
        "    classDef suspended fill:#f3f4f6,stroke:#9ca3af,color:#4b5563",
        "    class n3 suspended",
    ]


def test_states_as_dot_fill_colours() -> None:
    lines = to_dot(STEPS, EDGES, STATES).splitlines()
    assert lines[4] == (
        '    n0 [label="a", class="completed", fillcolor="#d1fae5", color="#10b981", '
        'fontcolor="#047857"];'
    )
    assert lines[8] == (
        '        n1 [label="g[0]", class="executing", fillcolor="#fef3c7", color="#f59e0b", '
        'fontcolor="#b45309"];'
    )


def test_an_unknown_state_gets_a_safe_class_and_neutral_colours() -> None:
    # Mermaid reserves words such as "end"; unknown states are prefixed and cleaned.
    mermaid = to_mermaid([("a", None)], [], {"a": "end"})
    assert mermaid.splitlines()[-2:] == [
        "    classDef state_end fill:#f3f4f6,stroke:#6b7280,color:#374151",
        "    class n0 state_end",
    ]
    dot = to_dot([("a", None)], [], {"a": "odd state"})
    assert 'class="state_odd_state", fillcolor="#f3f4f6"' in dot


def test_edges_come_in_step_order_whatever_the_input_order() -> None:
    shuffled = [EDGES[3], EDGES[0], EDGES[2], EDGES[1], EDGES[0]]  # and a duplicate
    assert to_mermaid(STEPS, shuffled) == to_mermaid(STEPS, EDGES)
    assert to_dot(STEPS, shuffled) == to_dot(STEPS, EDGES)


ODD = 'say "hi" <b> & #1 `x` \\'


def test_mermaid_escapes_labels() -> None:
    text = to_mermaid([(ODD, None), ("m", ODD)], [(ODD, "m")])
    assert text == (
        "flowchart LR\n"
        '    n0["say #quot;hi#quot; #lt;b#gt; #amp; #35;1 #96;x#96; #92;"]\n'
        '    subgraph g0["say #quot;hi#quot; #lt;b#gt; #amp; #35;1 #96;x#96; #92;"]\n'
        '        n1["m"]\n'
        "    end\n"
        "    n0 --> n1\n"
    )


def test_dot_escapes_labels() -> None:
    text = to_dot([(ODD, None), ("m", ODD)], [(ODD, "m")])
    escaped = 'say \\"hi\\" &lt;b&gt; &amp; #1 `x` \\\\'
    assert f'    n0 [label="{escaped}"];' in text.splitlines()
    assert f'        label="{escaped}";' in text.splitlines()


def test_newlines_in_names_do_not_break_lines() -> None:
    assert to_mermaid([("a\nb", None)], []).splitlines()[1] == '    n0["a b"]'
    assert to_dot([("a\nb", None)], []).splitlines()[4] == '    n0 [label="a b"];'


def test_an_edge_to_an_unknown_step_is_an_error() -> None:
    with pytest.raises(InvalidOption, match="names no step 'x'"):
        to_mermaid([("a", None)], [("a", "x")])


def test_render_by_format_name() -> None:
    assert render("mermaid", STEPS, EDGES) == to_mermaid(STEPS, EDGES)
    assert render("dot", STEPS, EDGES, STATES) == to_dot(STEPS, EDGES, STATES)
    with pytest.raises(InvalidOption, match="'mermaid' or 'dot', got 'png'"):
        render("png", STEPS, EDGES)


def test_a_dep_on_an_unknown_step_is_reported_as_on_insert() -> None:
    wf = Workflow(name="bad").add("a", Echo.new(), deps=["ghost"])
    with pytest.raises(UnknownDependency, match="'ghost'"):
        wf.to_mermaid()


def test_the_graph_in_the_cli_guide_is_what_to_mermaid_draws() -> None:
    """docs/cli.md shows a stored graph; without its class lines it is ``to_mermaid()``."""
    guide = (Path(__file__).parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    found = re.search(r"```mermaid\n(.*?)```", guide, re.S)
    assert found is not None
    drawn = [line for line in found[1].splitlines() if not line.lstrip().startswith("class")]
    wf = (
        Workflow(name="research-brief")
        .add("fetch", Echo.new({"topic": "Baton"}))
        .add_many("search", [Echo.new({"q": q}) for q in ("a", "b", "c")], deps="fetch")
        .add("summarize", Echo.new(), deps="search")
        .add("compile", Echo.new(), deps=["summarize", "fetch"])
    )
    assert "\n".join(drawn) + "\n" == wf.to_mermaid()


# --- sub-workflows and steps added at run time ----------------------------------------------


def nested() -> Workflow:
    inner = Workflow().add("x", Echo.new()).add("y", Echo.new(), deps="x")
    research = (
        Workflow()
        .add("fetch", Echo.new())
        .add_many("search", [Echo.new(), Echo.new()], deps="fetch")
        .add_workflow("deep", inner, deps="search")
    )
    return (
        Workflow(name="nested")
        .add("plan", Echo.new())
        .add_workflow("research", research, deps="plan")
        .add("compile", Echo.new(), deps="research/deep")
    )


def test_mermaid_draws_sub_workflows_as_nested_subgraphs() -> None:
    assert nested().to_mermaid() == (
        "flowchart LR\n"
        '    n0["plan"]\n'
        '    subgraph s0["research"]\n'
        '        n1["fetch"]\n'
        '        subgraph g0["search"]\n'
        '            n2["search[0]"]\n'
        '            n3["search[1]"]\n'
        "        end\n"
        '        subgraph s1["deep"]\n'
        '            n4["x"]\n'
        '            n5["y"]\n'
        "        end\n"
        "    end\n"
        '    n6["compile"]\n'
        "    n0 --> n1\n"
        "    n1 --> n2\n"
        "    n1 --> n3\n"
        "    n2 --> n4\n"
        "    n3 --> n4\n"
        "    n4 --> n5\n"
        "    n4 --> n6\n"
        "    n5 --> n6\n"
    )


def test_dot_draws_sub_workflows_as_nested_clusters() -> None:
    lines = nested().to_dot().splitlines()
    assert lines[4:25] == [
        '    n0 [label="plan"];',
        "    subgraph cluster_s0 {",
        '        label="research";',
        '        style="rounded";',
        '        n1 [label="fetch"];',
        "        subgraph cluster_g0 {",
        '            label="search";',
        '            style="rounded,dashed";',
        '            n2 [label="search[0]"];',
        '            n3 [label="search[1]"];',
        "        }",
        "        subgraph cluster_s1 {",
        '            label="deep";',
        '            style="rounded";',
        '            n4 [label="x"];',
        '            n5 [label="y"];',
        "        }",
        "    }",
        '    n6 [label="compile"];',
        "    n0 -> n1;",
        "    n1 -> n2;",
    ]


# As stored after ``plan`` returned Complete(add={"item": [...]}) and draft[0], a member of
# a model group, added a step: the added steps come last in step order.
ADDED_STEPS = [
    ("plan", None),
    ("draft[0]", "draft"),
    ("draft[1]", "draft"),
    ("done", None),
    ("plan/item[0]", "plan/item"),
    ("plan/item[1]", "plan/item"),
    ("draft[0]/check", None),
]
ADDED_EDGES = [
    ("plan", "draft[0]"),
    ("plan", "draft[1]"),
    ("draft[0]", "done"),
    ("draft[1]", "done"),
    ("plan", "plan/item[0]"),
    ("plan", "plan/item[1]"),
    ("draft[0]", "draft[0]/check"),
]


def test_added_steps_are_drawn_next_to_the_step_that_added_them() -> None:
    assert to_mermaid(ADDED_STEPS, ADDED_EDGES).splitlines()[:18] == [
        "flowchart LR",
        '    n0["plan"]',
        '    subgraph s0["added by plan"]',
        '        subgraph g0["item"]',
        '            n4["item[0]"]',
        '            n5["item[1]"]',
        "        end",
        "    end",
        '    subgraph g1["draft"]',
        '        n1["draft[0]"]',
        '        n2["draft[1]"]',
        "    end",
        '    subgraph s1["added by draft[0]"]',  # after the group its adder is in
        '        n6["check"]',
        "    end",
        '    n3["done"]',
        "    n0 --> n1",
        "    n0 --> n2",
    ]
    dot = to_dot(ADDED_STEPS, ADDED_EDGES, {"plan": "completed"}).splitlines()
    assert dot[5:9] == [
        "    subgraph cluster_s0 {",
        '        label="added by plan";',
        '        style="rounded,dotted";',
        "        subgraph cluster_g0 {",
    ]


def test_ids_stay_plain_whatever_the_path() -> None:
    steps = [('a/b"c/d[0]', 'a/b"c/d'), ("a/<e>", None), ("f", None)]
    edges = [('a/b"c/d[0]', "f"), ("a/<e>", "f")]
    mermaid = to_mermaid(steps, edges)
    ids = re.findall(r"^\s*(?:subgraph )?(\w+)\[", mermaid, re.M)
    assert ids == ["s0", "s1", "g0", "n0", "n1", "n2"]
    assert 'subgraph s1["b#quot;c"]' in mermaid
    assert 'n1["#lt;e#gt;"]' in mermaid
    dot = to_dot(steps, edges)
    assert re.findall(r"^\s*subgraph (\w+) \{", dot, re.M) == [
        "cluster_s0",
        "cluster_s1",
        "cluster_g0",
    ]
    assert '            label="b\\"c";' in dot.splitlines()
    assert '        n1 [label="&lt;e&gt;"];' in dot.splitlines()


def test_nesting_order() -> None:
    names = [name for name, _group in ADDED_STEPS]
    assert nesting_order(names) == [
        "plan",
        "plan/item[0]",
        "plan/item[1]",
        "draft[0]",
        "draft[0]/check",
        "draft[1]",
        "done",
    ]
    assert nesting_order(["a", "s/x", "b", "s/y", "s/t/z"]) == ["a", "s/x", "s/y", "s/t/z", "b"]
