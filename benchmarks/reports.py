"""Report benchmark (issue 6): the monthly disclosures, the quarterly bulletin and the
dashboard over 18 months of a city's topics.

Run from the repository root (``make bench`` does, after the media benchmark)::

    .venv/bin/python benchmarks/reports.py [--database-url URL | --sqlite] [--topics 30000]

It drops and recreates the schema of the database it is given, migrates it, and seeds a
city (benchmarks/seed_city.py: 1,800 rooms in ~100 towns of 8 counties, 30,000 topics over
18 months with their events, deadlines, sessions, outcomes, progress and evaluations).
Then it calls the server's own actions on a real Context whose clock stands at
2026-04-01 09:00 (China):

1. ``server.disclosures.actions.publish_disclosures(ctx, "2026-03")``: every town's and
   community's disclosure of the last whole month, written in one transaction. Between
   runs the benchmark deletes that month's rows (untimed), so each run publishes a month
   that is not yet published, as the scheduled job on the 1st does;
2. ``server.bulletins.actions.quarterly_bulletin(ctx, "2026-Q1")`` (computed, nothing
   written) and ``publish_bulletin`` (computed and stored; the row deleted between runs);
3. the dashboard: ``server.statistics.actions.build_snapshot`` (uncached) for random
   regions (the city, a county, a town in turn), with each ``server.statistics.store``
   query it makes timed on its own.

Each result is checked against the seed's own totals, so that a report that returned
nothing, or the wrong rows, could not pass. It prints a table, judges the issue's targets
(disclosures ≤ 10 s, bulletin ≤ 5 s, dashboard queries p99 ≤ 100 ms on PostgreSQL) and
writes ``benchmarks/results/reports.json``. A missed target is reported, never an error.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import inspect
import json
import os
import random
import shlex
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import seed_city
from dispatch import (
    BenchClock,
    QueryLog,
    Usage,
    analyze,
    explain,
    make_settings,
    reset_database,
    summary,
)
from intake import (
    busy_processes,
    calibrate,
    fmt,
    loud,
    machine_facts,
    pg,
    safe_url,
    server_code,
    wait_for_quiet,
)
from sqlalchemy import delete, text

from server.__main__ import SERVE_GC_THRESHOLDS, cli_context
from server.bulletins import actions as bulletins
from server.bulletins.model import Quarter
from server.bulletins.tables import QuarterlyBulletin
from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.disclosures import actions as disclosures
from server.disclosures.model import HANDLED_STATES, HANDLING_RECORDS, INTAKE_STATES, Month
from server.disclosures.tables import MonthlyDisclosure
from server.settings import Settings
from server.statistics import actions as statistics
from server.statistics import store as statistics_store

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1/msy_bench_reports"
NOW = seed_city.NOW
MONTH = str(Month.of(NOW, LOCAL_TZ).previous())  # 2026-03: the last whole month
QUARTER = str(Quarter.of(NOW, LOCAL_TZ).previous())  # 2026-Q1: the last whole quarter
TARGET_DISCLOSURES_S = 10.0
TARGET_BULLETIN_S = 5.0
TARGET_DASHBOARD_P99_MS = 100.0
# The statements one call of each report sent (its last run), for --explain.
STATEMENTS: dict[str, list[tuple[str, Any]]] = {}


def bench_context(settings: Settings) -> contextlib.AbstractAsyncContextManager[Context]:
    return cli_context(settings, BenchClock(NOW))


def runs_summary(seconds: list[float]) -> dict[str, Any]:
    """The first run on its own (cold: nothing of it cached yet), then the others'."""
    warm = seconds[1:]
    return {
        "runs": len(seconds),
        "seconds": [round(s, 3) for s in seconds],
        "cold_s": round(seconds[0], 3),
        "median_s": round(median(warm), 3) if warm else None,
        "max_s": round(max(warm), 3) if warm else None,
    }


class Check:
    """Results against the seed's totals; every mismatch is kept and reported."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def equal(self, what: str, got: Any, expected: Any) -> None:
        self.items.append({"what": what, "got": got, "expected": expected, "ok": got == expected})

    @property
    def ok(self) -> bool:
        return all(i["ok"] for i in self.items)

    def failures(self) -> list[dict[str, Any]]:
        return [i for i in self.items if not i["ok"]]


# --- what the seed says the reports must find ----------------------------------------------------


def expected_month_topics(seeded: seed_city.Seeded, month: Month) -> int:
    """Topics dispatched or handled in the month, by the rule ``disclosures.model`` states:
    a public move into a handled state or out of a non-intake state, a handling record, or
    a progress update on a published outcome, during the month."""
    start, end = month.start(LOCAL_TZ), month.end(LOCAL_TZ)
    found = set()
    for tid, at, kind, before, after in seeded.public_events:
        if not start <= at < end:
            continue
        if kind == "move":
            if after in HANDLED_STATES or (before is not None and before not in INTAKE_STATES):
                found.add(tid)
        elif kind in HANDLING_RECORDS:
            found.add(tid)
    found |= {tid for tid, at in seeded.updates if start <= at < end}
    return len(found)


def expected_quarter(seeded: seed_city.Seeded, quarter: Quarter) -> dict[str, int]:
    """The city line of the bulletin: topics received in the quarter, and of those, how
    many stood resolved and rejected or merged at its end; sessions that went live in it."""
    start, end = quarter.start(LOCAL_TZ), min(quarter.end(LOCAL_TZ), NOW)
    last: dict[int, str] = {}
    received = {tid for tid, _, _, _, created, _ in seeded.topics if start <= created < end}
    for tid, at, kind, _, after in seeded.public_events:  # in order within each topic
        if tid in received and kind == "move" and at < end:
            last[tid] = after
    statuses = Counter(last.values())
    return {
        "received": len(received),
        "resolved": statuses["resolved"],
        "rejected_or_merged": statuses["rejected"] + statuses["merged"],
        "sessions": sum(1 for _, started in seeded.held if start <= started < end),
    }


def expected_headline(seeded: seed_city.Seeded, path: str | None) -> dict[str, int]:
    paths = seeded.region_paths

    def inside(region_id: int) -> bool:
        return path is None or paths[region_id].startswith(path)

    mine = [t for t in seeded.topics if inside(t[1])]
    resolved = [t for t in mine if t[2] == "resolved"]
    return {
        "topics_collected": len(mine),
        "sessions_held": sum(1 for region, _ in seeded.held if inside(region)),
        "petition_risks_defused": sum(1 for t in resolved if t[3] == "petition"),
        "livelihood_solved": len(resolved),
    }


# --- measuring -----------------------------------------------------------------------------------


async def measure_disclosures(
    ctx: Context, seeded: seed_city.Seeded, runs: int, qlog: QueryLog, check: Check
) -> dict[str, Any]:
    month = Month.parse(MONTH)
    seconds, queries = [], 0
    result = None
    for _ in range(runs):
        async with ctx.db.write() as session:  # untimed: the month is not published again
            await session.execute(delete(MonthlyDisclosure).where(MonthlyDisclosure.month == MONTH))
        with qlog.capture() as sent:
            t0 = time.perf_counter()
            result = await disclosures.publish_disclosures(ctx, MONTH)
            seconds.append(time.perf_counter() - t0)
        queries = len(sent)
        STATEMENTS["disclosures"] = sent
        print(f"  run {len(seconds)}: {seconds[-1]:.2f} s", flush=True)
    assert result is not None
    async with ctx.db.read() as session:
        written = await session.scalar(
            text("SELECT count(*) FROM monthly_disclosures WHERE month = :m"), {"m": MONTH}
        )
        size = await session.scalar(
            text(
                "SELECT sum(length(CAST(content AS TEXT))) FROM monthly_disclosures "
                "WHERE month = :m"
            ),
            {"m": MONTH},
        )
    regions = seeded.town_count + seeded.community_count
    check.equal("disclosures: one per town and community", result.disclosures, regions)
    check.equal("disclosures: rows in the table", int(written or 0), regions)
    check.equal("disclosures: towns", result.towns, seeded.town_count)
    check.equal("disclosures: communities", result.communities, seeded.community_count)
    check.equal(
        "disclosures: topics dispatched or handled in the month",
        result.topics,
        expected_month_topics(seeded, month),
    )
    return {
        "month": MONTH,
        "how": "publish_disclosures(ctx, month) per run; the month's rows deleted (untimed) "
        "before each run, so each run publishes an unpublished month in one transaction",
        **runs_summary(seconds),
        "queries": queries,
        "disclosures_written": result.disclosures,
        "towns": result.towns,
        "communities": result.communities,
        "topics_in_month": result.topics,
        "content_chars": int(size or 0),
    }


async def measure_bulletin(
    ctx: Context, seeded: seed_city.Seeded, runs: int, qlog: QueryLog, check: Check
) -> dict[str, Any]:
    quarter = Quarter.parse(QUARTER)
    computed, published, queries = [], [], 0
    data: dict[str, Any] = {}
    for _ in range(runs):
        with qlog.capture() as sent:
            t0 = time.perf_counter()
            data = await bulletins.quarterly_bulletin(ctx, QUARTER)
            computed.append(time.perf_counter() - t0)
        queries = len(sent)
        STATEMENTS["bulletin"] = sent
        print(f"  computed {len(computed)}: {computed[-1]:.2f} s", flush=True)
    for _ in range(runs):
        async with ctx.db.write() as session:  # untimed: the quarter is not published again
            await session.execute(
                delete(QuarterlyBulletin).where(QuarterlyBulletin.quarter == QUARTER)
            )
        t0 = time.perf_counter()
        done = await bulletins.publish_bulletin(ctx, seeded.admin, QUARTER)
        published.append(time.perf_counter() - t0)
        print(f"  published {len(published)}: {published[-1]:.2f} s", flush=True)
    assert done.version == 1
    city = data["city"]
    want = expected_quarter(seeded, quarter)
    check.equal("bulletin: topics received in the quarter", city["received"], want["received"])
    check.equal(
        "bulletin: of those, resolved at its end", city["resolution"]["resolved"], want["resolved"]
    )
    check.equal(
        "bulletin: of those, rejected or merged",
        city["resolution"]["rejected_or_merged"],
        want["rejected_or_merged"],
    )
    check.equal("bulletin: sessions held in the quarter", city["sessions"], want["sessions"])
    levels = data["levels"]
    check.equal("bulletin: a line per room", len(levels["room"]), len(seeded.city.rooms))
    check.equal("bulletin: a line per town", len(levels["town"]), seeded.town_count)
    check.equal("bulletin: a line per county", len(levels["county"]), len(seeded.city.county_ids))
    return {
        "quarter": QUARTER,
        "how": "quarterly_bulletin(ctx, quarter): the quarter and the previous one computed "
        "from the rows, nothing written; publish_bulletin(ctx, admin, quarter): the same "
        "computed and stored, the row deleted (untimed) before each run",
        "computed": {**runs_summary(computed), "queries": queries},
        "published": runs_summary(published),
        "city": {
            "received": city["received"],
            "resolved": city["resolution"]["resolved"],
            "resolution_rate": city["resolution"]["rate"],
            "acceptance_rate": city["acceptance"]["rate"],
            "satisfaction": city["satisfaction"],
            "sessions": city["sessions"],
            "overdue": city["overdue"],
        },
        "lines": {level: len(rows) for level, rows in levels.items()},
        "json_chars": len(json.dumps(data, ensure_ascii=False)),
    }


DASHBOARD_QUERIES = [
    name
    for name, fn in vars(statistics_store).items()
    if inspect.iscoroutinefunction(fn) and not name.startswith("_")
]


@contextlib.contextmanager
def timed_store(times: dict[str, list[float]]) -> Iterator[None]:
    """Every ``server.statistics.store`` query times itself while the real action calls it
    (the action reaches them through the module, so wrapping the module's names is enough)."""
    originals = {name: getattr(statistics_store, name) for name in DASHBOARD_QUERIES}

    def wrap(name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(fn)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                times.setdefault(name, []).append((time.perf_counter() - t0) * 1000)

        return timed

    for name, fn in originals.items():
        setattr(statistics_store, name, wrap(name, fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(statistics_store, name, fn)


async def measure_dashboard(
    ctx: Context, seeded: seed_city.Seeded, n: int, seed: int, qlog: QueryLog, check: Check
) -> dict[str, Any]:
    rng = random.Random(seed)
    city = seeded.city
    towns = [t for ts in city.towns_of.values() for t in ts]
    levels = ["city", "county", "town"]

    def region(i: int) -> tuple[str, int]:
        level = levels[i % 3]
        if level == "city":
            return level, city.city_id
        if level == "county":
            return level, rng.choice(city.county_ids)
        return level, rng.choice(towns)

    # Warm-up, unmeasured: a long-running server has run each statement before.
    for i in range(6):
        await statistics.build_snapshot(ctx, region(i)[1])
    times: dict[str, list[float]] = {}
    whole: dict[str, list[float]] = {level: [] for level in levels}
    checked: set[int] = set()
    queries = 0
    with timed_store(times):
        for i in range(n):
            level, region_id = region(i)
            with qlog.capture() as sent:
                t0 = time.perf_counter()
                snap = await statistics.build_snapshot(ctx, region_id)
                whole[level].append((time.perf_counter() - t0) * 1000)
            queries += len(sent)
            if level == "city":
                STATEMENTS["dashboard (city)"] = sent
            if region_id not in checked:
                checked.add(region_id)
                path = None if region_id == city.city_id else seeded.region_paths[region_id]
                want = expected_headline(seeded, path)
                for key, value in want.items():
                    check.equal(
                        f"dashboard {level} {region_id}: {key}", snap["figures"][key], value
                    )
                if region_id == city.city_id:
                    check.equal(
                        "dashboard city: evaluations",
                        snap["satisfaction"]["total"],
                        seeded.counts["evaluations"],
                    )
                    check.equal(
                        "dashboard city: sessions live now",
                        len(snap["live"]),
                        seeded.live_sessions,
                    )
    per_query = [
        {"query": name, **summary(values)} for name, values in sorted(times.items()) if values
    ]
    every = [v for values in times.values() for v in values]
    return {
        "how": "statistics.actions.build_snapshot(ctx, region_id) (the dashboard's snapshot "
        "without its 5 s cache) for the city, a random county and a random town in turn; "
        "each statistics.store query it makes timed around its call",
        "calls": n,
        "regions_checked": len(checked),
        "queries_per_snapshot": round(queries / n, 2),
        "per_query": per_query,
        "all_queries": summary(every),
        "snapshot_by_level": {level: summary(v) for level, v in whole.items()},
        "snapshot": summary([v for vs in whole.values() for v in vs]),
    }


async def explain_reports(ctx: Context) -> dict[str, Any]:
    """The plans of the SELECTs one call of each report sent (dispatch.explain: on
    PostgreSQL each statement prepared as asyncpg prepares it, EXPLAIN ANALYZE at its 1st
    and 6th execution), and the slowest statements, to show which query dominates."""
    out: dict[str, Any] = {}
    for name, statements in STATEMENTS.items():
        plans = []
        for sql, params in statements:  # one at a time: a failed EXPLAIN spoils no other
            try:
                plans += await explain(ctx, [(sql, _array_literals(params))])
            except Exception as exc:
                plans.append({"sql": sql.strip(), "error": repr(exc)})
        slowest = sorted(
            (
                {"sql": " ".join(p["sql"].split())[:200], "ms": max(p["ms_by_execution"])}
                for p in plans
                if p.get("ms_by_execution") and None not in p["ms_by_execution"]
            ),
            key=lambda x: -x["ms"],
        )
        out[name] = {"slowest": slowest[:3], "plans": plans}
        if slowest:
            print(f"  {name}: {len(plans)} SELECTs; the slowest:", flush=True)
            for x in slowest[:3]:
                print(f"    {x['ms']:8.1f} ms  {x['sql'][:100]}", flush=True)
    return out


def _array_literals(params: Any) -> Any:
    """A list bound to ``= ANY($n)`` as PostgreSQL's array literal, which ``explain`` can
    quote like any string (it binds parameters as literals)."""
    if not isinstance(params, list | tuple):
        return params
    return type(params)(
        "{" + ",".join(str(v) for v in p) + "}" if isinstance(p, list | tuple) else p
        for p in params
    )


async def section(
    with_pg: bool, check: Check, measuring: Awaitable[dict[str, Any]]
) -> dict[str, Any]:
    """One measurement with its CPU usage. An entry point that fails is reported (and
    fails the checks) without stopping the other measurements."""
    usage = Usage(with_pg)
    try:
        out = await measuring
    except Exception as exc:
        traceback.print_exc()
        loud(f"The measurement failed: {exc!r}")
        check.equal("the entry point ran", repr(exc), "no error")
        out = {"error": repr(exc)}
    out["usage"] = usage.done()
    return out


# --- the run -------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    url = args.database_url
    if args.sqlite and not url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{work / 'reports.db'}"
    settings = make_settings(work, url)
    with_pg = not args.sqlite
    STATEMENTS.clear()
    report: dict[str, Any] = {}
    check = Check()
    print(f"\nResetting and migrating {safe_url(settings.database_url)} ...", flush=True)
    await reset_database(settings.database_url)
    async with bench_context(settings) as ctx:
        qlog = QueryLog(ctx.db)
        print(f"Seeding {args.rooms} rooms and {args.topics} topics over 18 months ...")
        t0 = time.perf_counter()
        usage = Usage(with_pg)
        seeded = await seed_city.seed(ctx, args.rooms, args.topics, args.seed)
        await analyze(ctx)
        c = seeded.counts
        report["seeding"] = {"seconds": round(time.perf_counter() - t0, 1), "usage": usage.done()}
        report["data"] = {
            "rooms": len(seeded.city.rooms),
            "communities": seeded.community_count,
            "towns": seeded.town_count,
            "counties": len(seeded.city.county_ids),
            "now": NOW.isoformat(),
            "first_topic_at": min(t[4] for t in seeded.topics).isoformat(),
            **{k: c[k] for k in sorted(c) if not k.startswith(("sessions_", "outcomes_"))},
            "sessions_by_status": {
                k.removeprefix("sessions_"): v for k, v in c.items() if k.startswith("sessions_")
            },
            "outcomes_by": {
                k.removeprefix("outcomes_"): v for k, v in c.items() if k.startswith("outcomes_")
            },
            "sessions_held": len(seeded.held),
        }
        d = report["data"]
        print(
            f"Seeded in {report['seeding']['seconds']} s: {d['topics']} topics "
            f"({d.get('resolved', 0)} resolved, {d.get('open', 0)} open), {d['events']} events, "
            f"{d['deadlines']} deadlines, {d.get('sessions', 0)} sessions "
            f"({d['sessions_held']} held), {d.get('outcomes', 0)} outcomes, "
            f"{d.get('outcome_updates', 0)} updates, {d.get('evaluations', 0)} evaluations",
            flush=True,
        )
        if args.wait_idle:
            report["busy_cores_before_measuring"] = wait_for_quiet(args.wait_idle)
        # Measure with the garbage collector as `mashangyi serve` runs it: its thresholds,
        # and what was loaded before serving frozen out of later collections.
        gc.set_threshold(*SERVE_GC_THRESHOLDS)
        gc.collect()
        gc.freeze()

        print(f"\n[a] monthly disclosures of {MONTH}, {args.runs} runs ...", flush=True)
        report["disclosures"] = await section(
            with_pg, check, measure_disclosures(ctx, seeded, args.runs, qlog, check)
        )

        print(f"\n[b] quarterly bulletin of {QUARTER}, {args.runs} runs each ...", flush=True)
        report["bulletin"] = await section(
            with_pg, check, measure_bulletin(ctx, seeded, args.runs, qlog, check)
        )

        print(f"\n[c] dashboard snapshots, {args.dashboard_calls} calls ...", flush=True)
        report["dashboard"] = await section(
            with_pg,
            check,
            measure_dashboard(ctx, seeded, args.dashboard_calls, args.seed, qlog, check),
        )
        if args.explain:
            print("\nPlans of each report's statements (EXPLAIN ANALYZE) ...", flush=True)
            report["plans"] = await explain_reports(ctx)
    report["checks"] = {"ok": check.ok, "count": len(check.items), "items": check.items}
    return report


def verdicts(report: dict[str, Any], backend: str) -> list[dict[str, Any]]:
    """The slowest run of each report (the first, cold one included: the monthly job runs
    once, on a cold cache) and each dashboard query's p99 against the issue's targets."""
    d, b, q = report["disclosures"], report["bulletin"], report["dashboard"]
    out = [
        {
            "what": f"monthly disclosures {MONTH} (slowest run)",
            "value": max(d["seconds"]) if "error" not in d else None,
            "unit": "s",
            "target": TARGET_DISCLOSURES_S,
            "applies": True,
        },
        {
            "what": f"quarterly bulletin {QUARTER}, published (slowest run)",
            "value": max(b["published"]["seconds"]) if "error" not in b else None,
            "unit": "s",
            "target": TARGET_BULLETIN_S,
            "applies": True,
        },
        {
            "what": "dashboard queries, all (p99)",
            "value": q["all_queries"]["p99_ms"] if "error" not in q else None,
            "unit": "ms",
            "target": TARGET_DASHBOARD_P99_MS,
            "applies": backend == "postgresql",
        },
    ]
    for row in q.get("per_query", []):
        out.append(
            {
                "what": f"dashboard: {row['query']} (p99)",
                "value": row["p99_ms"],
                "unit": "ms",
                "target": TARGET_DASHBOARD_P99_MS,
                "applies": backend == "postgresql",
            }
        )
    for v in out:
        v["met"] = v["value"] is not None and v["value"] <= v["target"]
    return out


def print_table(report: dict[str, Any]) -> None:
    d, b, q = report["disclosures"], report["bulletin"], report["dashboard"]
    header = ("report", "runs", "cold s", "median s", "max s", "queries")
    lines = []
    for name, r in (
        (f"disclosures {MONTH} ({d.get('disclosures_written')} rows)", d),
        (f"bulletin {QUARTER}, computed", b.get("computed", b)),
        (f"bulletin {QUARTER}, published", b.get("published", b)),
    ):
        if "error" in r:
            lines.append((name, "FAILED", "-", "-", "-", "-"))
            continue
        lines.append(
            (
                name,
                str(r["runs"]),
                fmt(r["cold_s"], 2),
                fmt(r["median_s"], 2),
                fmt(r["max_s"], 2),
                str(r.get("queries", "-")),
            )
        )
    _table(header, lines)
    print("(cold: the first run; median and max: the runs after it)\n")
    if "error" in q:
        print(f"dashboard: FAILED ({q['error']})")
        return
    header = ("dashboard", "n", "p50 ms", "p99 ms", "max ms")
    lines = [
        (f"  {r['query']}", str(r["n"]), fmt(r["p50_ms"]), fmt(r["p99_ms"]), fmt(r["max_ms"]))
        for r in q["per_query"]
    ]
    a = q["all_queries"]
    lines.append(("all queries", str(a["n"]), fmt(a["p50_ms"]), fmt(a["p99_ms"]), fmt(a["max_ms"])))
    for level, x in q["snapshot_by_level"].items():
        lines.append(
            (f"whole snapshot, {level}", str(x["n"]), fmt(x["p50_ms"]), fmt(x["p99_ms"]),
             fmt(x["max_ms"]))
        )  # fmt: skip
    _table(header, lines)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[k]) for row in [header, *rows]) for k in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" if k == 0 else f"{{:>{w}}}" for k, w in enumerate(widths))
    print(line.format(*header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_PG_URL,
        help="the database to use (PostgreSQL, or an SQLite file URL): ITS SCHEMA IS DROPPED "
        "(PostgreSQL) OR ITS FILE DELETED (SQLite); default %(default)s",
    )
    parser.add_argument(
        "--sqlite", action="store_true", help="use a fresh temporary SQLite file instead"
    )
    parser.add_argument("--topics", type=int, default=30_000, help="topics over 18 months")
    parser.add_argument("--rooms", type=int, default=1800, help="rooms (one per community)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each report")
    parser.add_argument(
        "--dashboard-calls", type=int, default=200, help="dashboard snapshots measured"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--explain",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="store the plans of each report's statements (EXPLAIN ANALYZE on PostgreSQL)",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=60.0,
        help="before measuring, wait up to this many seconds for other load to stop",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 500 topics, 30 rooms, 2 runs, 30 dashboard calls (figures mean nothing)",
    )
    parser.add_argument("--note", help="free text stored in the JSON")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "reports.json")
    args = parser.parse_args(argv)
    args.sqlite = args.sqlite or args.database_url.startswith("sqlite")
    if args.quick:
        given = {a.split("=")[0] for a in argv if a.startswith("--")}
        quick = {"topics": 500, "rooms": 30, "runs": 2, "dashboard_calls": 30, "wait_idle": 0.0}
        for name, value in quick.items():
            if f"--{name.replace('_', '-')}" not in given:
                setattr(args, name, value)
    if args.topics < 100 or args.rooms < 20:
        parser.error("need --topics ≥ 100 and --rooms ≥ 20")
    if args.runs < 1 or args.dashboard_calls < 3:
        parser.error("need --runs ≥ 1 and --dashboard-calls ≥ 3")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    backend = "sqlite" if args.sqlite else "postgresql"
    command = shlex.join([os.path.relpath(sys.executable, ROOT), "benchmarks/reports.py", *argv])
    print(
        f"码上议 report benchmark: {args.topics} topics, {args.rooms} rooms, {backend}"
        + (" (QUICK smoke run: the figures mean nothing)" if args.quick else "")
    )
    started = datetime.now(UTC)
    idle_busy, busiest = busy_processes()
    speed_before = calibrate()
    print(f"CPU speed check: {speed_before} ms for a fixed Python loop (lower is faster)")
    if idle_busy > 0.25:
        loud(
            f"The machine is not idle: {idle_busy:.2f} cores busy before the benchmark. "
            "Figures will be high and noisy. Busiest processes:\n  " + "\n  ".join(busiest)
        )
    if not args.sqlite:
        try:
            pg(args.database_url, "SELECT 1")
        except Exception as exc:
            loud(
                f"PostgreSQL at {safe_url(args.database_url)} unreachable: {exc!r}\n"
                "Create the database first, e.g. createdb -h 127.0.0.1 -U postgres "
                "msy_bench_reports"
            )
            return 1
    with tempfile.TemporaryDirectory(prefix="msy-reports-bench-") as tmp:
        report = asyncio.run(run(args, Path(tmp)))
    speed_after = calibrate()
    print(f"\nCPU speed check: {speed_before} ms before, {speed_after} ms after")
    if max(speed_before, speed_after) > 1.15 * min(speed_before, speed_after):
        loud("The CPU's speed changed by more than 15% during the benchmark: figures are noisy")
    d = report["data"]
    print(
        f"\n{d['topics']} topics over 18 months in {d['rooms']} rooms ({d['towns']} towns, "
        f"{d['counties']} counties), {backend}:\n"
    )
    print_table(report)
    checks = verdicts(report, backend)
    print(
        "\nTargets (issue 6): a month's disclosures ≤ 10 s; the quarterly bulletin ≤ 5 s; "
        "dashboard queries p99 ≤ 100 ms on PostgreSQL"
    )
    for v in checks:
        mark = ("PASS" if v["met"] else "MISS") if v["applies"] else "n/a "
        note = "" if v["applies"] else "  (the target is for PostgreSQL)"
        print(
            f"  {mark}  {v['what']:<48} {fmt(v['value'], 2):>8} {v['unit']} ≤ {v['target']:g}{note}"
        )
    c = report["checks"]
    if c["ok"]:
        print(f"\nResults match the seed: {c['count']} checks passed")
    else:
        loud(
            "Results do not match the seed:\n  "
            + "\n  ".join(
                f"{i['what']}: got {i['got']}, expected {i['expected']}"
                for i in report["checks"]["items"]
                if not i["ok"]
            )
        )
    for name in ("disclosures", "bulletin", "dashboard"):
        other = report[name]["usage"]["other_cores"]
        if other > 0.25:
            loud(
                f"{name}: other processes used {other} cores while measuring: "
                "the machine was shared, figures are pessimistic"
            )
    out = {
        "benchmark": "reports: monthly disclosures, quarterly bulletin, dashboard",
        "date": started.isoformat(timespec="seconds"),
        "command": command,
        "note": args.note,
        "server_code": server_code(),
        "backend": backend,
        "database": "sqlite (temporary file)"
        if args.sqlite and not args.database_url.startswith("sqlite")
        else safe_url(args.database_url),
        "settings": {
            k: getattr(args, k)
            for k in (
                "topics",
                "rooms",
                "runs",
                "dashboard_calls",
                "seed",
                "explain",
                "quick",
                "wait_idle",
            )
        },
        "machine": {
            **machine_facts(None if args.sqlite else args.database_url),
            "busy_cores_before_start": round(idle_busy, 2),
            "busiest_processes_before_start": busiest,
            "python_loop_ms_before": speed_before,
            "python_loop_ms_after": speed_after,
        },
        "targets": {
            "disclosures_s": TARGET_DISCLOSURES_S,
            "bulletin_s": TARGET_BULLETIN_S,
            "dashboard_query_p99_ms_postgresql": TARGET_DASHBOARD_P99_MS,
        },
        "verdicts": checks,
        **report,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"\nWrote {os.path.relpath(args.output, ROOT)}")
    return 0 if c["ok"] else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
