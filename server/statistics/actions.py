"""Use cases of the statistics feature: the dashboard's snapshot (and its per-process
cache), the open data sets, and Open311 service requests.

Everything here only reads; each use case opens one read session (the CSV export one
per batch, so a slow download holds no transaction open).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.core.errors import NotFound
from server.core.i18n import translate
from server.outcomes.model import Flag, Satisfaction, outcome_flag
from server.rooms.tables import Region
from server.statistics import store
from server.statistics.model import (
    DEFAULT_REQUEST_DAYS,
    child_of,
    mask_phones,
    month_bounds,
    month_starts,
    path_ids,
    roll_up,
)
from server.topics.classify import CATEGORIES, SUBJECTS
from server.topics.model import OPEN_STATES, TopicStatus

SNAPSHOT_SECONDS = 5.0  # one computation per region per process at most this often
UNCLASSIFIED = "unclassified"


# --- the dashboard ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    region: Region | None  # None: every region (several roots)
    crumbs: list[Region]  # from the root down to the region itself
    children: list[Region]

    @property
    def path(self) -> str | None:
        return self.region.path if self.region is not None else None


def _region_json(region: Region) -> dict[str, Any]:
    return {"id": region.id, "name": region.name, "level": str(region.level)}


async def _scope(session: AsyncSession, region_id: int | None) -> Scope:
    if region_id is None:
        roots = await store.list_root_regions(session)
        if len(roots) != 1:
            return Scope(None, [], roots)
        region: Region | None = roots[0]
    else:
        region = await store.get_region(session, region_id)
        if region is None:
            raise NotFound("No such region.")
    assert region is not None
    subtree = await store.list_regions(session, region.path)
    children = [r for r in subtree if r.parent_id == region.id]
    above = {r.id: r for r in await store.regions_by_ids(session, path_ids(region.path))}
    crumbs = [above[i] for i in path_ids(region.path) if i in above]
    return Scope(region, crumbs, sorted(children, key=lambda r: r.name))


def _sat(counts: dict[str, int]) -> dict[str, object]:
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
        head = await store.headline_figures(session, path)
        trend_rows = await store.monthly_trend(session, path, bounds)
        pairs = await store.category_counts(session, path)
        by_region = await store.counts_by_region(session, path)
        verdicts = await store.verdicts_by_region(session, path)
        deadlines = await store.overdue_deadlines(session, path, now)
        due = await store.outcome_due_counts(session, path)
        live = await store.list_live_sessions(session, path)
        subtree = await store.list_regions(session, path)

    paths = {r.id: r.path for r in subtree}
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
        child["satisfaction"] = _sat(child.pop("verdicts"))

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
        "satisfaction": _sat(overall),
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


# --- open data: figures -------------------------------------------------------------------


async def open_figures(ctx: Context) -> dict[str, Any]:
    """The public figures: the headline numbers and satisfaction counts overall, per
    county (and park) and per town."""
    async with ctx.db.read() as session:
        await store.read_one_snapshot(session)
        regions = await store.list_regions(session, None)
        counts = await store.counts_by_region(session, None)
        verdicts = await store.verdicts_by_region(session, None)
    paths = {r.id: r.path for r in regions}
    names = {r.id: r.name for r in regions}
    by_id = {r.id: r for r in regions}
    figures = roll_up(
        paths,
        ((c.region_id, (c.topics, c.sessions, c.petition_resolved, c.resolved)) for c in counts),
        4,
    )
    order = ("satisfied", "basically_satisfied", "unsatisfied")
    sat = roll_up(paths, ((rid, [n if v == o else 0 for o in order]) for rid, v, n in verdicts), 3)

    def entry(
        region_id: int | None, numbers: Sequence[int], votes: Sequence[int]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "topics_collected": numbers[0],
            "sessions_held": numbers[1],
            "petition_risks_defused": numbers[2],
            "livelihood_solved": numbers[3],
            "satisfaction": Satisfaction(*votes).as_dict(),
        }
        if region_id is not None:
            region = by_id[region_id]
            ids = path_ids(region.path)
            out = {
                "region_id": region_id,
                "name": region.name,
                "level": str(region.level),
                "parent": names.get(ids[-2]) if len(ids) > 1 else None,
                **out,
            }
        return out

    roots = [r for r in regions if r.parent_id is None]
    total = [sum(figures.get(r.id, [0] * 4)[i] for r in roots) for i in range(4)]
    total_sat = [sum(sat.get(r.id, [0] * 3)[i] for r in roots) for i in range(3)]
    return {
        "generated_at": ctx.clock.now().isoformat(),
        "overall": entry(None, total, total_sat),
        "counties": [
            entry(r.id, figures.get(r.id, [0] * 4), sat.get(r.id, [0] * 3))
            for r in regions
            if str(r.level) in ("county", "park")
        ],
        "towns": [
            entry(r.id, figures.get(r.id, [0] * 4), sat.get(r.id, [0] * 3))
            for r in regions
            if str(r.level) == "town"
        ],
    }


# --- open data: published outcomes --------------------------------------------------------


async def _region_names(session: AsyncSession, region_ids: set[int]) -> dict[int, dict[str, str]]:
    """region id → {level: name} for the region and every region above it."""
    own = await store.regions_by_ids(session, sorted(region_ids))
    ids = {i for r in own for i in path_ids(r.path)}
    every = {r.id: r for r in await store.regions_by_ids(session, sorted(ids))}
    out: dict[int, dict[str, str]] = {}
    for r in own:
        levels: dict[str, str] = {}
        for i in path_ids(r.path):
            if i in every:
                level = str(every[i].level)
                levels["county" if level == "park" else level] = every[i].name
        out[r.id] = levels
    return out


def _outcome_json(
    row: store.PublishedOutcome,
    regions: dict[int, dict[str, str]],
    votes: dict[str, int],
    today: date,
) -> dict[str, Any]:
    names = regions.get(row.region_id, {})
    return {
        "topic_number": row.number,
        "title": row.title,
        "category": row.category,
        "city": names.get("city"),
        "county": names.get("county"),
        "town": names.get("town"),
        "community": names.get("community"),
        "decision": row.decision,
        "responsible_unit": row.unit_name,
        "lead": row.lead,
        "due_on": row.due_on.isoformat(),
        "percent": row.percent,
        "flag": str(outcome_flag(row.due_on, row.percent, today)),
        "published_at": row.published_at.isoformat() if row.published_at else None,
        "satisfaction": _sat(votes),
    }


async def _outcomes_json(
    session: AsyncSession, rows: list[store.PublishedOutcome], today: date
) -> list[dict[str, Any]]:
    regions = await _region_names(session, {r.region_id for r in rows})
    votes: dict[int, dict[str, int]] = {}
    for oid, verdict, n in await store.verdicts_of_outcomes(session, [r.id for r in rows]):
        votes.setdefault(oid, {})[verdict] = n
    return [_outcome_json(r, regions, votes.get(r.id, {}), today) for r in rows]


async def open_outcomes(ctx: Context, *, page: int, page_size: int) -> dict[str, Any]:
    """One page (1-based) of published outcomes, oldest published first by id."""
    today = ctx.clock.now().astimezone(LOCAL_TZ).date()
    async with ctx.db.read() as session:
        total = await store.count_published_outcomes(session)
        rows = await store.list_published_outcomes(
            session, limit=page_size, offset=(page - 1) * page_size
        )
        items = await _outcomes_json(session, rows, today)
    return {"page": page, "page_size": page_size, "total": total, "items": items}


async def iter_open_outcomes(
    ctx: Context, *, batch: int = 500
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every published outcome, in batches, each read in a session of its own."""
    today = ctx.clock.now().astimezone(LOCAL_TZ).date()
    after: int | None = None
    while True:
        async with ctx.db.read() as session:
            rows = await store.list_published_outcomes(session, limit=batch, after_id=after)
            if not rows:
                return
            items = await _outcomes_json(session, rows, today)
        after = rows[-1].id
        yield items
        if len(rows) < batch:
            return


# --- Open311 ---------------------------------------------------------------------------


def service_code(category: str | None, subject: str | None) -> str:
    if category is None or subject is None:
        return UNCLASSIFIED
    return f"{category}.{subject}"


def open311_services(lang: str) -> list[dict[str, Any]]:
    """Every category × subject as an Open311 service, and "unclassified"."""
    out = []
    for category in CATEGORIES:
        group = translate(lang, f"category.{category}")
        for subject in SUBJECTS:
            name = translate(lang, f"subject.{subject}")
            out.append(
                {
                    "service_code": service_code(category, subject),
                    "service_name": f"{group} · {name}",
                    "description": translate(
                        lang, "statistics.open311.service", category=group, subject=name
                    ),
                    "metadata": False,
                    "type": "realtime",
                    "keywords": f"{category},{subject},{group},{name}",
                    "group": group,
                }
            )
    unclassified = translate(lang, "statistics.unclassified")
    out.append(
        {
            "service_code": UNCLASSIFIED,
            "service_name": unclassified,
            "description": translate(lang, "statistics.open311.unclassified"),
            "metadata": False,
            "type": "realtime",
            "keywords": UNCLASSIFIED,
            "group": unclassified,
        }
    )
    return out


def parse_service_code(code: str) -> store.RequestFilter:
    """A filter for a service code: "category.subject", a bare category, or
    "unclassified". Raises ValueError for anything else."""
    if code == UNCLASSIFIED:
        return store.RequestFilter(unclassified=True)
    category, _, subject = code.partition(".")
    if category not in CATEGORIES or (subject and subject not in SUBJECTS):
        raise ValueError(code)
    return store.RequestFilter(category=category, subject=subject or None)


CLOSED = (TopicStatus.RESOLVED, TopicStatus.REJECTED, TopicStatus.MERGED)


@dataclass(frozen=True, slots=True)
class RequestQuery:
    numbers: tuple[str, ...] = ()
    service_code: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    status: str | None = None  # "open" | "closed"
    page: int = 1
    page_size: int = 1000


def _w3c(at: datetime | None) -> str | None:
    return at.astimezone(LOCAL_TZ).isoformat(timespec="seconds") if at else None


async def service_requests(ctx: Context, q: RequestQuery, lang: str) -> list[dict[str, Any]]:
    """Topics as Open311 service requests, newest first. Without ids or dates: the last
    90 days. The query's values are checked by the handler (ValueError → 400)."""
    base = parse_service_code(q.service_code) if q.service_code else store.RequestFilter()
    end, start = q.end, q.start
    if not q.numbers:
        if end is None:
            end = ctx.clock.now()
        if start is None:
            start = end - timedelta(days=DEFAULT_REQUEST_DAYS)
    statuses: tuple[TopicStatus, ...] = ()
    if q.status == "open":
        statuses = tuple(sorted(OPEN_STATES))
    elif q.status == "closed":
        statuses = CLOSED
    f = store.RequestFilter(
        numbers=q.numbers,
        category=base.category,
        subject=base.subject,
        unclassified=base.unclassified,
        start=start,
        end=end,
        statuses=statuses,
    )
    async with ctx.db.read() as session:
        rows = await store.list_requests(
            session, f, limit=q.page_size, offset=(q.page - 1) * q.page_size
        )
        return await _requests_json(session, rows, lang)


async def service_request(ctx: Context, number: str, lang: str) -> dict[str, Any]:
    """One topic as a service request. Raises NotFound."""
    async with ctx.db.read() as session:
        rows = await store.list_requests(
            session, store.RequestFilter(numbers=(number,)), limit=1, offset=0
        )
        if not rows:
            raise NotFound(f"No service request {number}.")
        return (await _requests_json(session, rows, lang))[0]


async def _requests_json(
    session: AsyncSession, rows: list[store.RequestRow], lang: str
) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    notes = await store.latest_public_notes(session, ids)
    outcomes = await store.published_outcomes_of(session, ids)
    deadlines = await store.open_deadlines_of(session, ids)
    regions = await _region_names(session, {r.region_id for r in rows})
    out = []
    for r in rows:
        outcome = outcomes.get(r.id)
        if r.status is TopicStatus.MERGED and r.merged_into:
            note: str | None = translate(lang, "statistics.open311.merged", number=r.merged_into)
        elif outcome is not None and r.status is not TopicStatus.REJECTED:
            note = outcome[0]
        else:
            note = notes.get(r.id) or (
                translate(lang, "statistics.open311.rejected")
                if r.status is TopicStatus.REJECTED
                else None
            )
        expected: datetime | None = deadlines.get(r.id)
        if expected is None and outcome is not None:
            expected = datetime.combine(outcome[1], time(23, 59, 59), LOCAL_TZ)
        updated = max(r.updated_at, outcome[2]) if outcome else r.updated_at
        names = regions.get(r.region_id, {})
        place = "".join(
            names[level] for level in ("city", "county", "town", "community") if level in names
        )
        out.append(
            {
                "service_request_id": r.number,
                "status": "closed" if r.status in CLOSED else "open",
                "status_notes": mask_phones(note) if note else None,
                "service_name": _service_name(r.category, r.subject, lang),
                "service_code": service_code(r.category, r.subject),
                "description": mask_phones(f"{r.title}\n{r.description}"),
                "agency_responsible": r.unit_name,
                "service_notice": None,
                "requested_datetime": _w3c(r.created_at),
                "updated_datetime": _w3c(updated),
                "expected_datetime": _w3c(expected),
                "address": f"{place} {r.room_name}".strip(),
                "address_id": None,
                "zipcode": None,
                "lat": None,
                "long": None,
                "media_url": None,
            }
        )
    return out


def _service_name(category: str | None, subject: str | None, lang: str) -> str:
    if category is None or subject is None:
        return translate(lang, "statistics.unclassified")
    return f"{translate(lang, f'category.{category}')} · {translate(lang, f'subject.{subject}')}"
