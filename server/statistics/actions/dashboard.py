"""The dashboard's snapshot (数据大屏) and its per-process cache.

Reads only: one read session per snapshot, which sees one snapshot of the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.core.errors import NotFound
from server.outcomes.model import Flag, Satisfaction, outcome_flag
from server.rooms.model import RegionLevel
from server.rooms.tables import Region
from server.statistics import store
from server.statistics.model import child_of, month_bounds, month_starts, path_ids

SNAPSHOT_SECONDS = 5.0  # one computation per region per process at most this often
UNCLASSIFIED = "unclassified"


# --- the dashboard ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    region: Region | None  # None: every region (several roots)
    crumbs: list[Region]  # from the root down to the region itself
    children: list[Region]
    everything: bool = False  # the region is the only root: its subtree is every row

    @property
    def path(self) -> str | None:
        return self.region.path if self.region is not None else None


def _region_json(region: Region) -> dict[str, Any]:
    return {"id": region.id, "name": region.name, "level": str(region.level)}


async def _scope(session: AsyncSession, region_id: int | None) -> Scope:
    roots = await store.list_root_regions(session)
    if region_id is None:
        if len(roots) != 1:
            return Scope(None, [], roots, everything=True)
        region: Region | None = roots[0]
    else:
        region = await store.get_region(session, region_id)
        if region is None:
            raise NotFound("No such region.")
    assert region is not None
    everything = len(roots) == 1 and region.parent_id is None
    children = await store.child_regions(session, region.id)
    above = {r.id: r for r in await store.regions_by_ids(session, path_ids(region.path))}
    crumbs = [above[i] for i in path_ids(region.path) if i in above]
    return Scope(region, crumbs, sorted(children, key=lambda r: r.name), everything)


def sat_json(counts: dict[str, int]) -> dict[str, object]:
    return Satisfaction.of(counts).as_dict()


async def build_snapshot(ctx: Context, region_id: int | None) -> dict[str, Any]:
    """Every panel of the dashboard for the region's subtree (None: the whole city).

    Raises NotFound for an unknown region. Runs one statement per panel
    (``server.statistics.store``) in one read session."""
    now = ctx.clock.now()
    today = now.astimezone(LOCAL_TZ).date()
    bounds = month_bounds(today, LOCAL_TZ)
    async with ctx.db.read() as session:
        await store.read_one_snapshot(session)
        scope = await _scope(session, region_id)
        path = scope.path
        # The one root's subtree is everything: no subtree test in any statement.
        where = None if scope.everything else path
        trend_rows = await store.monthly_trend(session, where, bounds)
        pairs = await store.category_counts(session, where)
        by_region = await store.counts_by_region(session, where)
        # Above a town nothing finer than a town is shown: count communities there.
        towns = scope.region is None or scope.region.level not in (
            RegionLevel.TOWN,
            RegionLevel.COMMUNITY,
        )
        verdicts = await store.verdicts_by_region(session, where, towns=towns)
        deadlines = await store.overdue_deadlines(session, where, now)
        due = await store.outcome_due_counts(session, where)
        live = await store.list_live_sessions(session, where)
        paths = await store.region_paths(session, where)

    children: dict[int, dict[str, Any]] = {
        c.id: {
            **_region_json(c),
            "topics": 0,
            "resolved": 0,
            "petition_resolved": 0,
            "sessions": 0,
            "verdicts": {},
        }
        for c in scope.children
    }
    # The headline figures are the regions' counts summed (docs/statistics.md).
    head = store.Headline(
        topics_collected=sum(r.topics for r in by_region),
        sessions_held=sum(r.sessions for r in by_region),
        petition_risks_defused=sum(r.petition_resolved for r in by_region),
        livelihood_solved=sum(r.resolved for r in by_region),
    )
    for row in by_region:
        child = children.get(child_of(path, paths.get(row.region_id, "")) or 0)
        if child is not None:
            child["topics"] += row.topics
            child["resolved"] += row.resolved
            child["petition_resolved"] += row.petition_resolved
            child["sessions"] += row.sessions
    overall: dict[str, int] = {}
    for rid, verdict, n in verdicts:
        overall[verdict] = overall.get(verdict, 0) + n
        child = children.get(child_of(path, paths.get(rid, "")) or 0)
        if child is not None:
            child["verdicts"][verdict] = child["verdicts"].get(verdict, 0) + n
    for child in children.values():
        child["satisfaction"] = sat_json(child.pop("verdicts"))

    months = month_starts(today)[:-1]
    series = {name: [0] * len(months) for name in ("received", "resolved", "sessions")}
    for name, index, n in trend_rows:
        if 0 <= index < len(months):
            series[name][index] += n

    categories: dict[str, list[int]] = {}
    subjects: dict[str, int] = {}
    for category, subject, n, resolved in pairs:
        acc = categories.setdefault(category or UNCLASSIFIED, [0, 0])
        acc[0] += n
        acc[1] += resolved
        key = subject or UNCLASSIFIED
        subjects[key] = subjects.get(key, 0) + n

    flags = {str(f): 0 for f in Flag}
    for due_on, done, n in due:
        flags[outcome_flag(due_on, 100 if done else 0, today)] += n

    snapshot: dict[str, Any] = {
        "region": _region_json(scope.region) if scope.region else None,
        "breadcrumbs": [_region_json(r) for r in scope.crumbs],
        "figures": {
            "topics_collected": head.topics_collected,
            "sessions_held": head.sessions_held,
            "petition_risks_defused": head.petition_risks_defused,
            "livelihood_solved": head.livelihood_solved,
        },
        "trend": {"months": [m.strftime("%Y-%m") for m in months], **series},
        "categories": [
            {"category": c, "topics": v[0], "resolved": v[1]}
            for c, v in sorted(categories.items(), key=lambda kv: (-kv[1][0], kv[0]))
        ],
        "subjects": [
            {"subject": s, "topics": n}
            for s, n in sorted(subjects.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "children": list(children.values()),
        "satisfaction": sat_json(overall),
        "overdue": {
            "deadlines": sum(n for _, n in deadlines),
            "deadlines_by_stage": dict(sorted(deadlines)),
            "outcomes": flags[Flag.OVERDUE],
            "outcome_flags": flags,
        },
        "live": [
            {
                "id": i,
                "title": title,
                "room": room,
                "started_at": started.isoformat() if started else None,
                "url": f"/watch/{i}",
            }
            for i, title, room, started in live
        ],
    }
    snapshot["version"] = digest(snapshot)
    snapshot["generated_at"] = now.isoformat()
    return snapshot


def digest(snapshot: dict[str, Any]) -> str:
    """What the figures say, without when they were computed: equal digests, equal
    figures."""
    body = {k: v for k, v in snapshot.items() if k not in ("version", "generated_at")}
    return hashlib.sha1(
        json.dumps(body, sort_keys=True).encode(), usedforsecurity=False
    ).hexdigest()


class Snapshots:
    """The per-process cache of snapshots by region: computed at most once per
    ``seconds`` per region however many screens ask, and once (not once per waiter)
    when many ask at the same moment."""

    def __init__(self, ctx: Context, *, seconds: float = SNAPSHOT_SECONDS) -> None:
        self._ctx = ctx
        self.seconds = seconds
        self._entries: dict[int | None, tuple[float, dict[str, Any]]] = {}
        self._locks: dict[int | None, asyncio.Lock] = {}
        self.computed = 0  # how many snapshots were built (tests and logs)

    async def get(self, region_id: int | None) -> dict[str, Any]:
        """The region's snapshot, at most ``seconds`` old. Raises NotFound."""
        entry = self._fresh(region_id)
        if entry is not None:
            return entry
        lock = self._locks.setdefault(region_id, asyncio.Lock())
        async with lock:
            entry = self._fresh(region_id)  # computed while this one waited
            if entry is not None:
                return entry
            snapshot = await build_snapshot(self._ctx, region_id)
            self.computed += 1
            if len(self._entries) >= 1000:
                self._entries.clear()
            self._entries[region_id] = (self._ctx.clock.monotonic(), snapshot)
            return snapshot

    def _fresh(self, region_id: int | None) -> dict[str, Any] | None:
        entry = self._entries.get(region_id)
        if entry is None or self._ctx.clock.monotonic() - entry[0] >= self.seconds:
            return None
        return entry[1]

    def clear(self) -> None:
        self._entries.clear()


def snapshots(ctx: Context) -> Snapshots:
    """This process's shared snapshot cache."""
    cache: Snapshots | None = ctx.db.shared.get("statistics.snapshots")
    if cache is None:
        cache = Snapshots(ctx)
        ctx.db.shared["statistics.snapshots"] = cache
    return cache


async def dashboard(ctx: Context, region_id: int | None) -> dict[str, Any]:
    """The dashboard's snapshot for a region, from the cache. Raises NotFound."""
    return await snapshots(ctx).get(region_id)
