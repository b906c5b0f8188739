"""Fan-out scenarios: a 1 → N → 1 workflow against Celery chords (``fanout``), and the
same shape with the N members added at run time by ``baton.Complete(add=...)`` against
inserting them up front (``expand``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from baton import Workflow
from benchmarks import db, stats
from benchmarks.common import Bench, mine, wait_workflows, with_peers
from benchmarks.procs import CeleryWorker, Worker, start_workers, stop_all
from benchmarks.steps import Expand, Step

# -- fan-out / fan-in -----------------------------------------------------------------------


def fan_workflow(width: int, label: str) -> Workflow:
    """``start`` → ``fan`` (``width`` steps, inserted up front) → ``join`` reading ``fan``.

    Recorded indices: ``start`` -1, the members 0 … width - 1, ``join`` ``width``.
    """
    return (
        Workflow(name=f"bench-fan-{width}")
        .add("start", Step.new({"r": label, "i": -1}))
        .add_many("fan", [Step.new({"r": label, "i": k}) for k in range(width)], deps=["start"])
        .add("join", Step.new({"r": label, "i": width, "read": "fan"}), deps=["fan"])
    )


async def baton_fanout(b: Bench, worker: Worker, width: int, label: str) -> dict[str, Any]:
    await db.reset(b.conn)
    wf = fan_workflow(width, label)
    sent_at = time.time()
    await wf.insert(oban=b.client)
    inserted = time.time()
    await wait_workflows(b, 1, 120 + width * 0.05)
    records = mine(await worker.dump(), label)
    if len(records) != width + 2:
        raise RuntimeError(f"Baton fan-out {width}: {len(records)} of {width + 2} steps recorded")
    join_start, join_end = records[width]
    last_member = max(records[k][1] for k in range(width))
    total = join_end - sent_at
    return {
        "width": width,
        "total": total,
        "per_completion": total / width,
        "insert": inserted - sent_at,
        "first_start": records[-1][0] - sent_at,
        "fan_in_tail": join_start - last_member,
    }


async def celery_fanout(celery: CeleryWorker, width: int) -> dict[str, Any]:
    from benchmarks import celery_client

    got = await celery_client.run_chord(celery.queue, width, 120 + width * 0.05)
    join_start, join_end = got["join"]
    total = join_end - got["sent_at"]
    last = got["last_member_end"]
    return {
        "width": width,
        "total": total,
        "per_completion": total / width,
        "first_start": got["start"][0] - got["sent_at"] if got["start"] else None,
        "fan_in_tail": join_start - last if last is not None else None,
        "members_seen": got["members_seen"],
    }


async def fanout(b: Bench) -> dict[str, Any]:
    widths = b.sizes.widths
    async with with_peers(b, "fanout") as (worker, celery):
        await baton_fanout(b, worker, 50, "warm")
        for cw in celery:
            await celery_fanout(cw, 50)
        systems = ["baton", *(f"celery_{cw.pool}" for cw in celery)]
        runs: dict[str, dict[int, list[dict[str, Any]]]] = {
            s: {w: [] for w in widths} for s in systems
        }
        for round_ in range(b.repeat):
            for width in widths:
                runs["baton"][width].append(
                    await baton_fanout(b, worker, width, f"f{round_}-{width}")
                )
                for cw in celery:
                    runs[f"celery_{cw.pool}"][width].append(await celery_fanout(cw, width))
                b.say(
                    f"fan-out {width:,} round {round_ + 1}/{b.repeat}: "
                    + ", ".join(
                        f"{s} {stats.fmt_ms(runs[s][width][-1]['total'])} "
                        f"({stats.fmt_us(runs[s][width][-1]['per_completion'])}/completion)"
                        for s in systems
                    )
                )
    summary: dict[str, Any] = {}
    for system, by_width in runs.items():
        entry: dict[str, Any] = {}
        for width, rs in by_width.items():
            entry[str(width)] = {
                "total": stats.median(r["total"] for r in rs),
                "per_completion": stats.median(r["per_completion"] for r in rs),
                "fan_in_tail": stats.median(r["fan_in_tail"] for r in rs),
            }
        small, large = (str(w) for w in widths)
        entry["flatness"] = stats.ratio(
            entry[large]["per_completion"], entry[small]["per_completion"]
        )
        summary[system] = entry
    return {
        "widths": list(widths),
        "runs": {s: {str(w): rs for w, rs in by.items()} for s, by in runs.items()},
        "summary": summary,
    }


# -- run-time fan-out -----------------------------------------------------------------------

EXPAND_KINDS = ("static", "runtime")


def expand_workflow(width: int, label: str) -> Workflow:
    """The shape of ``fan_workflow`` with the members added at run time: ``start`` returns
    ``Complete(add={"fan": [...]})`` (stored as ``start/fan[k]``), and ``join``, which
    depends on ``start`` only, waits for them and reads ``start/fan``."""
    return (
        Workflow(name=f"bench-expand-{width}")
        .add("start", Expand.new({"r": label, "i": -1, "n": width}))
        .add("join", Step.new({"r": label, "i": width, "read": "start/fan"}), deps=["start"])
    )


def _fan_step(index: int, width: int) -> str:
    if index == -1:
        return "start"
    if index == width:
        return "join"
    return f"fan[{index}]" if 0 <= index < width else f"index {index}"


def checked_fan(
    records: Sequence[tuple[str, int, float, float]], label: str, width: int, who: str
) -> dict[int, tuple[float, float]]:
    """The ``(start, end)`` of each step of one 1 → ``width`` → 1 run labelled ``label``,
    by index (``start`` -1, members 0 … width - 1, ``join`` ``width``).

    Raises:
        RuntimeError: a step left no record or more than one (it did not run, or ran
            twice), or ``join`` started before the last member ended.
    """
    counts = Counter(i for run, i, _start, _end in records if run == label)
    expected = range(-1, width + 1)
    problems = []
    missing = [i for i in expected if counts[i] == 0]
    if missing:
        problems.append(
            f"{len(missing)} of {width + 2} steps left no record "
            f"({', '.join(_fan_step(i, width) for i in missing[:5])}"
            f"{', …' if len(missing) > 5 else ''})"
        )
    twice = sorted(i for i, n in counts.items() if n > 1)
    if twice:
        problems.append(
            f"{len(twice)} steps ran more than once "
            f"({', '.join(f'{_fan_step(i, width)} x{counts[i]}' for i in twice[:5])})"
        )
    unknown = sorted(i for i in counts if i not in expected)
    if unknown:
        problems.append(f"records for unknown indices {unknown[:5]}")
    if problems:
        raise RuntimeError(f"{who}: {'; '.join(problems)}")
    by_index = {i: (start, end) for run, i, start, end in records if run == label}
    last = max(range(width), key=lambda k: by_index[k][1])
    early = by_index[last][1] - by_index[width][0]
    if early > 0:
        raise RuntimeError(
            f"{who}: join started {early * 1000:.1f} ms before fan[{last}] (the last member) "
            "ended; a dependent must wait for every member"
        )
    return by_index


async def start_acked_at(b: Bench) -> float:
    """The epoch at which ``start``'s job was acked (``completed_at``: the ack's
    transaction began, after the step's result, and any steps it added, were committed)."""
    row = await (
        await b.conn.execute(
            "SELECT extract(epoch FROM o.completed_at)::float8 FROM baton_steps s "
            "JOIN oban_jobs o ON o.id = s.job_id WHERE s.name = 'start'"
        )
    ).fetchone()
    if row is None or row[0] is None:
        raise RuntimeError("the workflow finished but its step 'start' has no completed job")
    return float(row[0])


async def expand_run(b: Bench, worker: Worker, kind: str, width: int, label: str) -> dict[str, Any]:
    """One 1 → ``width`` → 1 run, its members inserted up front (``static``) or added by
    ``start`` at run time (``runtime``), checked and timed from the insert call."""
    await db.reset(b.conn)
    wf = expand_workflow(width, label) if kind == "runtime" else fan_workflow(width, label)
    sent_at = time.time()
    await wf.insert(oban=b.client)
    inserted = time.time()
    await wait_workflows(b, 1, 120 + width * 0.05)
    who = f"{'run-time' if kind == 'runtime' else 'static'} fan-out {width:,}"
    records = checked_fan(await worker.dump(), label, width, who)
    row = await (
        await b.conn.execute(
            "SELECT count(*) FILTER (WHERE outcome = 'completed'), count(*) FROM baton_steps"
        )
    ).fetchone()
    completed, stored = row if row is not None else (0, 0)
    if (completed, stored) != (width + 2, width + 2):
        raise RuntimeError(
            f"{who}: expected {width + 2} completed steps, found {completed} of {stored}"
        )
    acked = await start_acked_at(b)
    start_start, start_end = records[-1]
    join_start, join_end = records[width]
    first_member = min(records[k][0] for k in range(width))
    last_member = max(records[k][1] for k in range(width))
    total = join_end - sent_at
    return {
        "width": width,
        "total": total,
        "per_completion": total / width,
        "insert": inserted - sent_at,
        "adder": acked - start_start,
        "adder_perform": start_end - start_start,
        "first_member": first_member - sent_at,
        "ack_to_first_member": first_member - acked,
        "fan_in_tail": join_start - last_member,
    }


async def expand(b: Bench) -> dict[str, Any]:
    widths = b.sizes.widths
    figures = (
        "total",
        "per_completion",
        "insert",
        "adder",
        "adder_perform",
        "first_member",
        "ack_to_first_member",
        "fan_in_tail",
    )
    workers = await start_workers(b.dsn, 1, b.logs, "expand")  # no Celery: Baton vs Baton
    try:
        worker = workers[0]
        for kind in EXPAND_KINDS:
            await expand_run(b, worker, kind, 50, "warm")
        runs: dict[str, dict[int, list[dict[str, Any]]]] = {
            kind: {w: [] for w in widths} for kind in EXPAND_KINDS
        }
        for round_ in range(b.repeat):
            # swap the order every round, so neither kind always runs on a fresher database
            order = EXPAND_KINDS if round_ % 2 == 0 else EXPAND_KINDS[::-1]
            for width in widths:
                for kind in order:
                    runs[kind][width].append(
                        await expand_run(b, worker, kind, width, f"x{round_}-{kind}-{width}")
                    )
                b.say(
                    f"expand {width:,} round {round_ + 1}/{b.repeat}: "
                    + ", ".join(
                        f"{kind} {stats.fmt_ms(runs[kind][width][-1]['total'])} "
                        f"(start → ack {stats.fmt_ms(runs[kind][width][-1]['adder'])})"
                        for kind in EXPAND_KINDS
                    )
                )
    finally:
        await stop_all(workers)
    summary: dict[str, Any] = {
        kind: {
            str(width): {f: stats.median(r[f] for r in rs) for f in figures}
            for width, rs in by_width.items()
        }
        for kind, by_width in runs.items()
    }
    summary["ratio"] = {
        str(width): {
            f: stats.ratio(summary["runtime"][str(width)][f], summary["static"][str(width)][f])
            for f in ("total", "per_completion")
        }
        | {
            "total_per_round": [
                stats.ratio(rt["total"], st["total"])
                for rt, st in zip(runs["runtime"][width], runs["static"][width], strict=True)
            ]
        }
        for width in widths
    }
    return {
        "widths": list(widths),
        "runs": {kind: {str(w): rs for w, rs in by.items()} for kind, by in runs.items()},
        "summary": summary,
    }
