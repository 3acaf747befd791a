"""Open data: the public figures and the published outcomes, without personal data.

Reads only; the CSV export reads each batch in a session of its own, so a slow
download holds no transaction open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.outcomes.model import Satisfaction, outcome_flag
from server.statistics import store
from server.statistics.actions.dashboard import sat_json
from server.statistics.model import path_ids, roll_up

# --- open data: figures -------------------------------------------------------------------


async def open_figures(ctx: Context) -> dict[str, Any]:
    """The public figures: the headline numbers and satisfaction counts overall, per
    county (and park) and per town."""
    async with ctx.db.read() as session:
        await store.read_one_snapshot(session)
        regions = await store.list_regions(session, None)
        counts = await store.counts_by_region(session, None)
        verdicts = await store.verdicts_by_region(session, None, towns=True)
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


async def region_names(session: AsyncSession, region_ids: set[int]) -> dict[int, dict[str, str]]:
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
        "satisfaction": sat_json(votes),
    }


async def _outcomes_json(
    session: AsyncSession, rows: list[store.PublishedOutcome], today: date
) -> list[dict[str, Any]]:
    regions = await region_names(session, {r.region_id for r in rows})
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
