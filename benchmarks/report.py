"""The printed table: scenario, Baton, baseline, ratio, target, met?"""

from __future__ import annotations

from typing import Any

from benchmarks import stats
from benchmarks.limits import limits_rows
from benchmarks.signals import signal_rows
from benchmarks.stats import fmt_met, fmt_ms, fmt_pct, fmt_rate, fmt_ratio, fmt_us

HEADER = ["scenario", "Baton", "baseline", "baseline value", "ratio", "target", "met?"]

CELERY_LABELS = {
    "celery_threads": "Celery chain, threadsx10",
    "celery_prefork": "Celery chain, preforkx2",
}


def _row(
    scenario: str,
    baton: str,
    baseline: str = "",
    value: str = "",
    ratio: str = "",
    target: str = "",
    ok: bool | str | None = "",
) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "baton": baton,
        "baseline": baseline,
        "baseline_value": value,
        "ratio": ratio,
        "target": target,
        "met": ok if isinstance(ok, str) else fmt_met(ok),
    }


def handoff_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    s = result["summary"]
    length = result["length"]
    mine = s["baton"]["handoff_p50"]
    rows = []
    scenario = f"hand-off p50, {length}-step chain"
    r = stats.ratio(mine, s["oban"]["handoff_p50"])
    rows.append(
        _row(
            scenario,
            fmt_ms(mine),
            "plain Oban (job enqueues next)",
            fmt_ms(s["oban"]["handoff_p50"]),
            fmt_ratio(r),
            "≤ 0.5x",
            stats.met(r, 0.5),
        )
    )
    celery = [name for name in s if name.startswith("celery_")]
    for name in celery:
        r = stats.ratio(mine, s[name]["handoff_p50"])
        rows.append(
            _row(
                scenario,
                fmt_ms(mine),
                CELERY_LABELS.get(name, name),
                fmt_ms(s[name]["handoff_p50"]),
                fmt_ratio(r),
                "< 1x (below Celery)",
                None if r is None else r < 1,
            )
        )
    floor = s["commit_floor"]["p50"]
    rows.append(
        _row(
            "  next to: 2 loopback commits",
            fmt_ms(mine),
            "floor (2 INSERT commits)",
            fmt_ms(floor),
            fmt_ratio(stats.ratio(mine, floor)),
            "~1 ms floor",
            "info",
        )
    )
    rows.append(
        _row(
            f"hand-off p90, {length}-step chain",
            fmt_ms(s["baton"]["handoff_p90"]),
            "plain Oban",
            fmt_ms(s["oban"]["handoff_p90"]),
            fmt_ratio(stats.ratio(s["baton"]["handoff_p90"], s["oban"]["handoff_p90"])),
            "",
            "info",
        )
    )
    rows.append(
        _row(
            f"chain total, {length} steps",
            fmt_ms(s["baton"]["total"]),
            "plain Oban",
            fmt_ms(s["oban"]["total"]),
            fmt_ratio(stats.ratio(s["baton"]["total"], s["oban"]["total"])),
            "",
            "info",
        )
    )
    return rows


def throughput_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    s = result["summary"]
    b, o = s["baton"]["per_second"], s["oban"]["per_second"]
    r = stats.ratio(b, o)
    rows = [
        _row(
            f"throughput, {result['count']:,} single-step wf, 1 worker, nobody subscribed",
            fmt_rate(b),
            f"plain Oban, {result['count']:,} jobs",
            fmt_rate(o),
            fmt_ratio(r),
            "≥ 0.8x",
            stats.met(r, 0.8, below=False),
        )
    ]
    cpu_b = s["baton"]["cpu_worker_per_job"] + s["baton"]["cpu_postgres_per_job"]
    cpu_o = s["oban"]["cpu_worker_per_job"] + s["oban"]["cpu_postgres_per_job"]
    rows.append(
        _row(
            "  CPU per job (worker + Postgres)",
            f"{fmt_us(cpu_b)} ({fmt_us(s['baton']['cpu_worker_per_job'])} + "
            f"{fmt_us(s['baton']['cpu_postgres_per_job'])})",
            "plain Oban",
            f"{fmt_us(cpu_o)} ({fmt_us(s['oban']['cpu_worker_per_job'])} + "
            f"{fmt_us(s['oban']['cpu_postgres_per_job'])})",
            fmt_ratio(stats.ratio(cpu_b, cpu_o)),
            "",
            "info",
        )
    )
    return rows


def scale_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Throughput at 1, 2, 3 worker processes; Baton's growth against plain Oban's."""
    s = result["summary"]
    counts = result["workers"]
    rows = []
    for n in counts:
        b, o = s["per_second"]["baton"][str(n)], s["per_second"]["oban"][str(n)]
        rows.append(
            _row(
                f"throughput, {result['count']:,} single-step wf, {n} worker process"
                + ("es" if n > 1 else ""),
                fmt_rate(b),
                f"plain Oban, {result['count']:,} jobs",
                fmt_rate(o),
                fmt_ratio(stats.ratio(b, o)),
                "",
                "info",
            )
        )
    most = counts[-1]
    r = s["growth_ratio"]
    rows.append(
        _row(
            f"  scaling {most} vs 1 processes (Baton's / Oban's)",
            fmt_ratio(s["growth"]["baton"]),
            "plain Oban scaling",
            fmt_ratio(s["growth"]["oban"]),
            fmt_ratio(r),
            "≥ 0.9x",
            stats.met(r, 0.9, below=False),
        )
    )
    return rows


def subscribed_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One worker process with a ``workflow:all`` subscriber in another process."""
    s = result["summary"]
    on, off, o = (s[k]["per_second"] for k in ("baton_subscribed", "baton", "oban"))
    r = stats.ratio(on, o)
    return [
        _row(
            f"throughput, {result['count']:,} single-step wf, 1 worker, workflow:all subscribed",
            fmt_rate(on),
            f"plain Oban, {result['count']:,} jobs",
            fmt_rate(o),
            fmt_ratio(r),
            "≥ 0.7x",
            stats.met(r, 0.7, below=False),
        ),
        _row(
            "  against nobody subscribed (same rounds)",
            fmt_rate(on),
            "Baton, nobody subscribed",
            fmt_rate(off),
            fmt_ratio(stats.ratio(on, off)),
            "",
            "info",
        ),
    ]


def fanout_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    s = result["summary"]
    small, large = result["widths"]
    celery = [name for name in s if name.startswith("celery_")]
    rows = []
    for width in (small, large):
        mine = s["baton"][str(width)]
        label = f"fan-out/in 1→{width:,}→1"
        if not celery:
            rows.append(_row(f"{label} total", fmt_ms(mine["total"]), "", "", "", "", "info"))
            rows.append(
                _row(
                    f"{label} per completion",
                    fmt_us(mine["per_completion"]),
                    "",
                    "",
                    "",
                    "",
                    "info",
                )
            )
        for name in celery:
            theirs = s[name][str(width)]
            pool = name.removeprefix("celery_")
            rows.append(
                _row(
                    f"{label} total",
                    fmt_ms(mine["total"]),
                    f"Celery chord, {pool}",
                    fmt_ms(theirs["total"]),
                    fmt_ratio(stats.ratio(mine["total"], theirs["total"])),
                    "",
                    "info",
                )
            )
            rows.append(
                _row(
                    f"{label} per completion",
                    fmt_us(mine["per_completion"]),
                    f"Celery chord, {pool}",
                    fmt_us(theirs["per_completion"]),
                    fmt_ratio(stats.ratio(mine["per_completion"], theirs["per_completion"])),
                    "",
                    "info",
                )
            )
    flat = s["baton"]["flatness"]
    celery_flat = ", ".join(
        f"{n.removeprefix('celery_')} {fmt_ratio(s[n]['flatness'])}" for n in celery
    )
    rows.append(
        _row(
            f"per-completion cost {large:,}-wide / {small:,}-wide",
            fmt_ratio(flat),
            "Celery chord" if celery else "",
            celery_flat,
            "",
            "≤ 1.3",
            stats.met(flat, 1.3),
        )
    )
    return rows


EXPAND_FIGURES = (
    ("total", "total", fmt_ms),
    ("per_completion", "per completion", fmt_us),
    ("insert", "  insert call", fmt_ms),
    ("adder", "  step 'start', its start → its ack", fmt_ms),
    ("first_member", "  first member start after insert", fmt_ms),
)


def expand_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Run-time fan-out (``start`` returns ``Complete(add=...)``) against the same
    1 → N → 1 inserted up front; the ratios are run-time / static."""
    s = result["summary"]
    rows = []
    for width in result["widths"]:
        runtime, static = s["runtime"][str(width)], s["static"][str(width)]
        for key, name, fmt in EXPAND_FIGURES:
            label = name if name.startswith(" ") else f"run-time fan-out 1→{width:,}→1 {name}"
            rows.append(
                _row(
                    label,
                    fmt(runtime[key]),
                    "static add_many (inserted up front)",
                    fmt(static[key]),
                    fmt_ratio(stats.ratio(runtime[key], static[key])),
                    "",
                    "info",
                )
            )
    return rows


def insert_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    s = result["summary"]
    n = result["count"]
    o = s["oban"]["per_second"]
    rows = []
    for kind, target in (("independent", True), ("chain", False)):
        b = s[kind]["per_second"]
        r = stats.ratio(b, o)
        rows.append(
            _row(
                f"insert {n:,}-step workflow ({kind} steps)",
                fmt_rate(b, " steps/s"),
                f"enqueue_many of {n:,}",
                fmt_rate(o, " jobs/s"),
                fmt_ratio(r),
                "≥ 3x" if target else "",
                stats.met(r, 3, below=False) if target else "info",
            )
        )
    return rows


def events_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    s = result["summary"]["transition"]
    p = result["summary"]["perform_end_to_completed"]
    n = result["events"]
    seen = f"{n}" if n == result["expected_events"] else f"{n} of {result['expected_events']}"
    return [
        _row(
            f"event latency p50 ({seen} events, other process)",
            fmt_ms(s["p50"]),
            "",
            "",
            "",
            "≤ 5 ms",
            stats.met(s["p50"], 0.005),
        ),
        _row("event latency p99", fmt_ms(s["p99"]), "", "", "", "", "info"),
        _row(
            "  perform end → 'completed' received, p50/p99",
            f"{fmt_ms(p['p50'])} / {fmt_ms(p['p99'])}",
            "",
            "",
            "",
            "",
            "info",
        ),
    ]


def _rss(run: dict[str, Any]) -> str:
    before, after = stats.fmt_bytes(run["rss_before"]), stats.fmt_bytes(run["rss_after"])
    return f"{fmt_pct(run['growth'])} ({before} → {after})"


def memory_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    b = result["summary"]["baton"]
    o = result["summary"]["oban"]
    return [
        _row(
            f"worker RSS growth over {b['steps']:,} steps",
            _rss(b),
            f"plain Oban, {o['steps']:,} jobs",
            _rss(o),
            "",
            "≤ +10%",
            stats.met(b["growth"], 0.10),
        ),
    ]


def prune_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    s = result["summary"]
    r = s["ratio"]
    back = s["rows_back_to_baseline"]
    return [
        _row(
            f"running workflows while pruning {result['steps']:,} finished steps",
            fmt_rate(s["per_second_with"], " steps/s"),
            "just before and after",
            fmt_rate(s["per_second_without"], " steps/s"),
            fmt_ratio(r),
            "≥ 0.9x",
            stats.met(r, 0.9, below=False),
        ),
        _row(
            "  prune duration; rows back to baseline",
            f"{s['prune_seconds']:.1f} s; {'yes' if back else 'NO'}",
            "",
            "",
            "",
            "baseline",
            back,
        ),
    ]


ANALYTICS_LABELS = {
    "model_7d": "by model, 7 days",
    "workflow_7d": "by workflow, 7 days",
    "day_30d": "by day, 30 days",
    "model_90d": "by model, all 90 days",
}


def analytics_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    medians = result["summary"]["medians"]
    baseline = medians["steps_jsonb_model_7d"]
    out = [
        _row(
            f"usage_report over {result['rows']:,} usage rows: "
            f"{ANALYTICS_LABELS['model_7d']} ({result['calls']['model_7d']:,} rows)",
            fmt_ms(medians["model_7d"]),
            "same from baton_steps.usage jsonb",
            fmt_ms(baseline),
            fmt_ratio(result["summary"]["ratio_model_7d"]),
            "< 0.5x",
            stats.met(result["summary"]["ratio_model_7d"], 0.5),
        )
    ]
    for name in ("workflow_7d", "day_30d", "model_90d"):
        out.append(
            _row(
                f"  {ANALYTICS_LABELS[name]} ({result['calls'][name]:,} rows)",
                fmt_ms(medians[name]),
                "",
                "",
                "",
                "info",
                "",
            )
        )
    return out


def per_step_rows(result: dict[str, Any], what: str, baseline: str) -> list[dict[str, Any]]:
    """A step's cost with a feature (captured call, budget) against the same step without."""
    s = result["summary"]
    return [
        _row(
            f"{what}, per step ({result['steps']:,} single-step workflows)",
            stats.fmt_ms(s["with"]),
            baseline,
            stats.fmt_ms(s["without"]),
            fmt_ratio(s["ratio"]),
            "info",
            "",
        )
    ]


def rows(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if "handoff" in results:
        out += handoff_rows(results["handoff"])
    if "throughput" in results:
        out += throughput_rows(results["throughput"])
    if "subscribed" in results:
        out += subscribed_rows(results["subscribed"])
    if "scale" in results:
        out += scale_rows(results["scale"])
    if "fanout" in results:
        out += fanout_rows(results["fanout"])
    if "expand" in results:
        out += expand_rows(results["expand"])
    if "insert" in results:
        out += insert_rows(results["insert"])
    if "events" in results:
        out += events_rows(results["events"])
    if "memory" in results:
        out += memory_rows(results["memory"])
    if "prune" in results:
        out += prune_rows(results["prune"])
    if "analytics" in results:
        out += analytics_rows(results["analytics"])
    if "signal" in results:
        out += signal_rows(results["signal"])
    if "limits" in results:
        out += limits_rows(results["limits"])
    if "captured_calls" in results:
        out += per_step_rows(results["captured_calls"], "a captured call", "capture off")
    if "budget" in results:
        out += per_step_rows(results["budget"], "usage charged to a budget", "no budget")
    return out


def render(machine: dict[str, Any], table_rows: list[dict[str, Any]], header_note: str) -> str:
    cells = [
        [
            r["scenario"],
            r["baton"],
            r["baseline"],
            r["baseline_value"],
            r["ratio"],
            r["target"],
            r["met"],
        ]
        for r in table_rows
    ]
    settings = machine.get("postgres_settings") or {}
    load = "/".join(f"{x:.2f}" for x in machine["loadavg_start"])
    if "loadavg_end" in machine:
        load += ", at end " + "/".join(f"{x:.2f}" for x in machine["loadavg_end"])
    postgres = (
        f"PostgreSQL {machine['postgres']} (synchronous_commit="
        f"{settings.get('synchronous_commit')}, fsync={settings.get('fsync')})"
    )
    lines = [
        header_note,
        f"machine: {machine['cores']} cores, {machine['platform']}; load average at start {load}",
        f"{postgres}; Python {machine['python']}; oban {machine['oban']}; "
        f"celery {machine.get('celery') or 'not installed'}"
        + (f"; Redis {machine['redis']}" if machine.get("redis") else ""),
        "",
        stats.table(HEADER, cells),
    ]
    return "\n".join(lines)
