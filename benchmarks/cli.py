"""``python -m benchmarks``: run every scenario, print a table of medians and ratios, write JSON.

    python -m benchmarks [--quick] [--only NAME,...] [--repeat 3] [--json out.json] [--dsn URL]

Scenarios, in this order: handoff, throughput, fanout, expand, insert, events, memory,
scale, subscribed, prune, analytics, signal, limits, captured_calls, budget. Progress goes
to stderr; the table to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from oban import Oban

from benchmarks import db, report
from benchmarks.common import FULL, QUICK, Bench
from benchmarks.scenarios import SCENARIOS, sizes_dict

DEFAULT_REDIS = "redis://127.0.0.1:6379/9"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark Baton against plain Oban and Celery (docs/performance.md).",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 round: a smoke run")
    parser.add_argument(
        "--only", default="", help=f"comma-separated scenarios ({', '.join(SCENARIOS)})"
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="alternated rounds (default 3; 1 with --quick)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write all samples here")
    parser.add_argument(
        "--dsn",
        default=None,
        help="PostgreSQL for the run, its job tables emptied (default: a database of the "
        "run's own on 127.0.0.1:5432, dropped afterwards, else an embedded server)",
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS),
        help=f"Redis for Celery, a database of its own: it is flushed (default {DEFAULT_REDIS})",
    )
    parser.add_argument(
        "--celery-pools",
        default="threads,prefork",
        help="Celery worker pools to compare with: threads (x10), prefork (x2), or none",
    )
    parser.add_argument(
        "--force", action="store_true", help="use a database holding jobs the bench did not write"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep worker logs after success")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    args.names = [n for n in SCENARIOS if n in names]
    pools = [p.strip() for p in args.celery_pools.split(",") if p.strip() and p.strip() != "none"]
    bad = [p for p in pools if p not in ("threads", "prefork")]
    if bad:
        parser.error(f"unknown Celery pool(s) {', '.join(bad)}; choose threads, prefork or none")
    args.pools = pools
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


async def run(args: argparse.Namespace, dsn: str, logs: Path) -> dict[str, Any]:
    sizes = QUICK if args.quick else FULL
    await db.prepare(dsn, force=args.force)
    pool = await Oban.create_pool(dsn, min_size=1, max_size=8)
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    try:
        client = Oban(pool=pool, leadership=False, name="Oban")
        machine = await db.machine(conn)
        if args.pools:
            try:
                from benchmarks import celery_client

                machine["redis"] = celery_client.redis_version()
            except Exception as error:
                machine["redis"] = None
                print(
                    f"Redis/Celery unavailable ({error}); Celery baselines skipped", file=sys.stderr
                )
                args.pools = []
        bench = Bench(
            dsn=dsn,
            sizes=sizes,
            repeat=args.repeat,
            logs=logs,
            conn=conn,
            client=client,
            celery_pools=args.pools,
            redis_url=args.redis,
        )
        results: dict[str, Any] = {}
        timings: dict[str, float] = {}
        failures: dict[str, str] = {}
        for name in args.names:
            print(f"{name} …", file=sys.stderr, flush=True)
            started = time.monotonic()
            try:
                results[name] = await SCENARIOS[name](bench)
            except Exception as error:
                failures[name] = f"{type(error).__name__}: {error}"
                traceback.print_exc(file=sys.stderr)
                await db.reset(conn)
            timings[name] = time.monotonic() - started
            print(f"{name} done in {timings[name]:.1f} s", file=sys.stderr, flush=True)
        machine["loadavg_end"] = list(os.getloadavg())
        return {
            "generated_at": datetime.now(UTC).isoformat(),
            "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
            "dsn": db.redact(dsn),
            "quick": args.quick,
            "repeat": args.repeat,
            "sizes": sizes_dict(sizes),
            "machine": machine,
            "celery_pools": bench.celery_pools,
            "scenario_seconds": timings,
            "failures": failures,
            "notes": bench.notes,
            "scenarios": results,
        }
    finally:
        await conn.close()
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["BENCH_REDIS_URL"] = args.redis  # read by benchmarks.celery_app, here and in workers
    logs = Path(tempfile.mkdtemp(prefix="baton-bench-logs-"))
    started = time.monotonic()
    with db.bench_dsn(args.dsn) as dsn:
        try:
            output = asyncio.run(run(args, dsn, logs))
        except KeyboardInterrupt:
            print(f"interrupted; worker logs in {logs}", file=sys.stderr)
            return 130
    rows = report.rows(output["scenarios"])
    output["table"] = rows
    output["wall_seconds"] = time.monotonic() - started
    kind = "QUICK validation run (small sizes, noisy)" if args.quick else "full run"
    note = (
        f"Baton benchmark — {kind}; medians of {args.repeat} alternated round(s); "
        f"{output['wall_seconds']:.0f} s wall"
    )
    print(report.render(output["machine"], rows, note))
    for message in output["notes"]:
        print(f"note: {message}")
    for name, why in output["failures"].items():
        print(f"FAILED: {name}: {why} (worker logs in {logs})")
    if args.json:
        args.json.write_text(json.dumps(output, indent=1, default=str) + "\n", encoding="utf-8")
        print(f"raw samples: {args.json}")
    if output["failures"] or args.keep_logs:
        print(f"worker logs: {logs}", file=sys.stderr)
    else:
        shutil.rmtree(logs, ignore_errors=True)
    return 1 if output["failures"] else 0
