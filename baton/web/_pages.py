"""The HTML pages, rendered on the server from ``baton/web/templates``.

Pages are complete without JavaScript (a list, a step table); ``static/baton.js`` then
draws the graph and keeps everything live. Every value from the database passes through
:func:`html.escape` here; templates only hold markup.
"""

from __future__ import annotations

import re
from functools import cache
from html import escape
from importlib.resources import files
from string import Template
from typing import Any
from urllib.parse import quote

from .._usage import TOKEN_FIELDS

STEP_STATES = (
    "suspended",
    "available",
    "scheduled",
    "awaiting_signal",
    "executing",
    "retryable",
    "completed",
    "discarded",
    "cancelled",
    "deleted",
    "skipped",
)
FILTERS = ("running", "completed", "failed", "cancelled")
_CLASS = re.compile(r"[a-z_]{1,20}")
_EXCEPTION_LINE = re.compile(r"[A-Za-z_][\w.]*: ")


@cache
def _template(name: str) -> Template:
    return Template(files("baton.web").joinpath("templates", name).read_text(encoding="utf-8"))


def state_class(state: str | None) -> str:
    """A CSS class suffix for a state; anything unexpected becomes ``unknown``."""
    return state if state and _CLASS.fullmatch(state) else "unknown"


def duration(ms: float | None) -> str:
    """``0.52 s``, ``3 min 4 s``, ``2 h 5 min``; empty when unknown."""
    if ms is None:
        return ""
    seconds = ms / 1000
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def usage_text(usage: dict[str, Any] | None) -> str:
    """``gpt-4o · 1,200 in / 80 out · $0.0042``; empty without usage."""
    if not usage:
        return ""
    parts = []
    if usage.get("model"):
        parts.append(str(usage["model"]))
    tokens = [usage.get(name) or 0 for name in TOKEN_FIELDS]
    if any(tokens):
        text = f"{tokens[0]:,} in / {tokens[1]:,} out"
        if tokens[2] or tokens[3]:
            text += f" (cache {tokens[2]:,} read, {tokens[3]:,} written)"
        parts.append(text)
    if usage.get("cost_usd") is not None:
        parts.append(f"${usage['cost_usd']}")
    return " · ".join(parts)


def _time(iso: str | None) -> str:
    if iso is None:
        return ""
    return f'<time datetime="{escape(iso)}">{escape(iso[11:19])} UTC</time>'


def page(
    *,
    title: str,
    content: str,
    base: str,
    static: str,
    csrf: str,
    version: str,
    attrs: dict[str, str],
) -> str:
    """The layout around ``content`` (already escaped markup)."""
    body_attrs = " ".join(f'data-{name}="{escape(value)}"' for name, value in attrs.items())
    return _template("layout.html").substitute(
        title=escape(title),
        content=content,
        base=escape(base),
        static=escape(static),
        csrf=escape(csrf),
        version=escape(version),
        body_attrs=body_attrs,
    )


def _workflow_row(base: str, workflow: dict[str, Any]) -> str:
    label = workflow["name"] or workflow["id"]
    href = f"{base}/workflows/{quote(workflow['id'], safe='')}"
    state = workflow["state"]
    return (
        f'<tr data-id="{escape(workflow["id"])}">'
        f'<td><a href="{escape(href)}">{escape(label)}</a>'
        f'<div class="sub"><code>{escape(workflow["id"])}</code></div></td>'
        f'<td><span class="badge state-{state_class(state)}">{escape(state)}</span></td>'
        f"<td>{workflow['settled']} / {workflow['steps']} settled</td>"
        f"<td>{_time(workflow['inserted_at'])}</td>"
        f"<td>{escape(duration(workflow['duration_ms']))}</td></tr>"
    )


def list_content(base: str, listing: dict[str, Any]) -> str:
    """The workflow list's main content."""
    current = listing["state"]
    links = [f'<a href="{escape(base)}/"{" aria-current=page" if current is None else ""}>all</a>']
    for name in FILTERS:
        marker = " aria-current=page" if current == name else ""
        links.append(f'<a href="{escape(base)}/?state={name}"{marker}>{name}</a>')
    rows = "".join(_workflow_row(base, workflow) for workflow in listing["workflows"])
    return _template("list.html").substitute(
        filters=" ".join(links),
        rows=rows,
        empty_hidden=" hidden" if listing["workflows"] else "",
    )


def _attempt(step: dict[str, Any]) -> str:
    if step["attempt"] is None:
        return ""
    return f"{step['attempt']} / {step['max_attempts']}"


def _result(step: dict[str, Any]) -> str:
    preview = step["result_preview"]
    if preview is None:
        return '<span class="muted">no value</span>' if step["result_stored"] else ""
    more = "…" if step["result_truncated"] else ""
    return f'<code class="result">{escape(preview)}{more}</code>'


def error_summary(error: str) -> str:
    """The line that names the exception (``RuntimeError: …``), else the last line."""
    lines = [line for line in error.strip().splitlines() if line.strip()]
    named = [line for line in lines if _EXCEPTION_LINE.match(line)]
    return (named or lines or [""])[-1][:120]


def _error(step: dict[str, Any]) -> str:
    if not step["error"]:
        return ""
    return (
        f'<details class="error"><summary>{escape(error_summary(step["error"]))}</summary>'
        f"<pre>{escape(step['error'])}</pre></details>"
    )


def step_name(name: str) -> str:
    """A step's path as markup, its namespace muted: ``research/`` of ``research/fetch``."""
    head, separator, last = name.rpartition("/")
    muted = f'<span class="ns">{escape(head + separator)}</span>' if separator else ""
    return f'<span class="step-name">{muted}{escape(last)}</span>'


def calls_link(step: dict[str, Any]) -> str:
    """The step's captured calls, opened on demand (``baton.js`` loads them as JSON)."""
    count = step.get("calls") or 0
    if not count:
        return ""
    noun = "call" if count == 1 else "calls"
    return (
        f'<details class="sub calls" data-calls="{escape(step["name"])}">'
        f"<summary>{count} captured {noun}</summary></details>"
    )


def step_row(step: dict[str, Any]) -> str:
    """One row of the step table (``baton.js`` builds the same markup)."""
    group = f'<div class="sub">group {escape(step["group"])}</div>' if step["group"] else ""
    model = f'<div class="sub model">model {escape(step["model"])}</div>' if step["model"] else ""
    return (
        f'<tr data-step="{escape(step["name"])}">'
        f"<td>{step_name(step['name'])}"
        f'<div class="sub">{escape(step["worker"])}</div>'
        f'<div class="sub queue">queue {escape(step["queue"] or "—")}</div>{model}{group}'
        f"{calls_link(step)}</td>"
        f'<td><span class="badge state-{state_class(step["state"])}">'
        f"{escape(step['state'])}</span></td>"
        f'<td class="num">{escape(_attempt(step))}</td>'
        f'<td class="num">{escape(duration(step["wait_ms"]))}</td>'
        f'<td class="num">{escape(duration(step["run_ms"]))}</td>'
        f"<td>{escape(usage_text(step['usage']))}</td>"
        f"<td>{_result(step)}</td>"
        f"<td>{_error(step)}</td></tr>"
    )


def unserved_banner(unserved: dict[str, list[str]]) -> str:
    """One alert per queue that waiting steps need and no running node serves."""
    return "".join(
        f'<p class="unserved" role="alert">No running node serves queue '
        f"<code>{escape(queue)}</code>, which steps {escape(', '.join(names))} wait for: "
        f"start one with <code>baton start --queues {escape(queue)}:10</code> "
        "(or unpause it).</p>"
        for queue, names in unserved.items()
    )


def workflow_content(base: str, detail: dict[str, Any]) -> str:
    """The workflow page's main content."""
    settled = sum(
        count
        for state, count in detail["counts"].items()
        if state in ("completed", "discarded", "cancelled", "deleted", "skipped")
    )
    totals = detail["usage"]
    spent = usage_text({**totals, "model": None})
    if totals["cost_usd"] is None and totals["unpriced_steps"]:
        spent = " · ".join(part for part in (spent, "unpriced") if part)
    legend = "".join(
        f'<li><span class="swatch state-{state}"></span>{state}</li>' for state in STEP_STATES
    )
    return _template("workflow.html").substitute(
        base=escape(base),
        label=escape(detail["name"] or detail["id"]),
        id=escape(detail["id"]),
        state=escape(detail["state"]),
        state_class=state_class(detail["state"]),
        progress=f"{settled} / {len(detail['steps'])} steps settled"
        + (f" · reason: {escape(detail['reason'])}" if detail.get("reason") else ""),
        duration=escape(duration(detail["duration_ms"])),
        usage=escape(spent),
        unserved=unserved_banner(detail["unserved_queues"]),
        flow=escape(detail["flow"]),
        legend=legend,
        rows="".join(step_row(step) for step in detail["steps"]),
    )
