"""The ``analytics`` scenario: ``baton.usage_report`` over a million usage rows.

The tables are filled with ``Sizes.usage_rows`` rows of usage (1,000,000; 100,000 with
``--quick``) spread evenly over the 90 days before the run, 8 models and 5 workflow names, with the
same usage also in ``baton_steps.usage`` (where it lives without the usage table). Rows are
written by ``generate_series`` statements rather than by running that many steps; then
``VACUUM ANALYZE``, as autovacuum leaves a table that grows over days.

Each report (by model over 7 days, by workflow over 7 days, by day over 30 days, by model
over all 90 days) is timed ``QUERIES`` times per round through the public
``baton.usage_report``, over a period that ends at the round's start; the median is
reported. The baseline is the same by-model report
computed from ``baton_steps.usage`` (jsonb, filtered on ``performed_at``): what a report
costs without the dedicated, indexed table.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import baton
from benchmarks import db, stats
from benchmarks.common import Bench

QUERIES = 5
WORKFLOWS = 10_000
NAMES = 5
SPREAD_DAYS = 90
MODELS = [
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-5-mini",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "gemini-1.5-pro",
    "my-llama",
]

REPORTS = {
    "model_7d": ("model", timedelta(days=7)),
    "workflow_7d": ("workflow", timedelta(days=7)),
    "day_30d": ("day", timedelta(days=30)),
    "model_90d": ("model", timedelta(days=SPREAD_DAYS)),
}

FILL = [
    """INSERT INTO baton_workflows
           (id, name, ignore_cancelled, ignore_discarded, ignore_deleted, step_count,
            unsettled, outcome, finished_at)
       SELECT 'bench-usage-' || w, 'bench-usage-' || (w %% %(names)s), false, false, false,
              0, 0, 'completed', timezone('UTC', now())
         FROM generate_series(1, %(workflows)s) AS w""",
    """INSERT INTO baton_usage
           (workflow_id, step, workflow_name, recorded_at, model, input_tokens, output_tokens,
            cache_read_tokens, cache_write_tokens, latency_ms, cost_usd)
       SELECT 'bench-usage-' || (i %% %(workflows)s + 1),
              's' || i,
              'bench-usage-' || ((i %% %(workflows)s + 1) %% %(names)s),
              timezone('UTC', now()) - %(spread)s * (i::float8 / %(rows)s),
              (%(models)s::text[])[1 + i %% cardinality(%(models)s::text[])],
              500 + i %% 3000, 50 + i %% 400, (i %% 7) * 100, (i %% 11) * 10,
              200 + (i::bigint * 7919) %% 5000,
              CASE WHEN i %% 8 = 7 THEN NULL ELSE (500 + i %% 3000) * 0.0000025 END
         FROM generate_series(1, %(rows)s) AS i""",
    """INSERT INTO baton_steps
           (workflow_id, name, job_id, worker, deps, ignore_cancelled, ignore_discarded,
            ignore_deleted, gated, pending, outcome, settled_at, performed_at, usage)
       SELECT u.workflow_id, u.step, u.id, 'bench', '{}', false, false, false, true, 0,
              'completed', u.recorded_at, u.recorded_at,
              jsonb_build_object(
                  'model', u.model, 'input_tokens', u.input_tokens,
                  'output_tokens', u.output_tokens, 'cache_read_tokens', u.cache_read_tokens,
                  'cache_write_tokens', u.cache_write_tokens, 'latency_ms', u.latency_ms,
                  'cost_usd', u.cost_usd::text)
         FROM baton_usage u""",
]

# The by-model report computed from the steps' jsonb, as it would be without baton_usage.
FROM_STEPS = """
SELECT GROUPING(u.key) = 0 AS grouped, u.key, count(*) AS calls,
       sum(u.input_tokens), sum(u.output_tokens), sum(u.cache_read_tokens),
       sum(u.cache_write_tokens), coalesce(sum(u.cost_usd), 0),
       count(*) FILTER (WHERE u.cost_usd IS NULL),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY u.latency_ms),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY u.latency_ms)
  FROM (SELECT s.usage->>'model' AS key,
               (s.usage->>'input_tokens')::bigint AS input_tokens,
               (s.usage->>'output_tokens')::bigint AS output_tokens,
               (s.usage->>'cache_read_tokens')::bigint AS cache_read_tokens,
               (s.usage->>'cache_write_tokens')::bigint AS cache_write_tokens,
               (s.usage->>'cost_usd')::numeric AS cost_usd,
               (s.usage->>'latency_ms')::float8 AS latency_ms
          FROM baton_steps s
         WHERE s.usage IS NOT NULL
           AND s.performed_at >= %(since)s AND s.performed_at < %(until)s) AS u
 GROUP BY GROUPING SETS ((u.key), ())
"""


async def fill(b: Bench, rows: int) -> None:
    params = {
        "rows": rows,
        "workflows": WORKFLOWS,
        "names": NAMES,
        "spread": timedelta(days=SPREAD_DAYS),
        "models": MODELS,
    }
    for statement in FILL:
        await b.conn.execute(statement, params)
    await b.conn.execute("VACUUM ANALYZE baton_workflows, baton_usage, baton_steps")


async def timed_report(b: Bench, by: str, since: datetime, until: datetime) -> tuple[float, int]:
    started = time.perf_counter()
    report = await baton.usage_report(since=since, until=until, by=by, oban=b.client)
    return time.perf_counter() - started, report.total.calls


async def timed_baseline(b: Bench, since: datetime, until: datetime) -> tuple[float, int]:
    bounds = {"since": since.replace(tzinfo=None), "until": until.replace(tzinfo=None)}
    started = time.perf_counter()
    found = await (await b.conn.execute(FROM_STEPS, bounds)).fetchall()
    elapsed = time.perf_counter() - started
    return elapsed, sum(int(row[2]) for row in found if row[0])


async def analytics(b: Bench) -> dict[str, Any]:
    rows = b.sizes.usage_rows
    await db.reset(b.conn)
    started = time.monotonic()
    await fill(b, rows)
    seeded = time.monotonic() - started
    b.say(f"analytics: {rows:,} usage rows written in {seeded:.1f} s")
    samples: dict[str, list[float]] = {name: [] for name in [*REPORTS, "steps_jsonb_model_7d"]}
    calls: dict[str, int] = {}
    for _round in range(b.repeat):
        until = datetime.now(UTC)  # one period per round: the report and baseline agree
        for name, (by, period) in REPORTS.items():
            for _ in range(QUERIES):
                seconds, calls[name] = await timed_report(b, by, until - period, until)
                samples[name].append(seconds)
        for _ in range(QUERIES):
            seconds, calls["steps_jsonb_model_7d"] = await timed_baseline(
                b, until - timedelta(days=7), until
            )
            samples["steps_jsonb_model_7d"].append(seconds)
    await db.reset(b.conn)
    medians = {name: stats.median(values) for name, values in samples.items()}
    for name, value in medians.items():
        b.say(f"analytics {name}: median {stats.fmt_ms(value)} over {calls[name]:,} rows")
    if calls["model_7d"] != calls["steps_jsonb_model_7d"]:
        b.notes.append(
            f"analytics: the report and the baseline counted different rows "
            f"({calls['model_7d']:,} vs {calls['steps_jsonb_model_7d']:,})"
        )
    return {
        "rows": rows,
        "seed_seconds": seeded,
        "queries_per_round": QUERIES,
        "samples": samples,
        "calls": calls,
        "summary": {
            "medians": medians,
            "ratio_model_7d": stats.ratio(medians["model_7d"], medians["steps_jsonb_model_7d"]),
        },
    }
