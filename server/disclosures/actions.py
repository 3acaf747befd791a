"""Use cases of monthly disclosures (月公示): publishing a month for every town and
community at once, the scheduled job that does it on the 1st, and what the public reads.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.core.auth import Principal, Role
from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.disclosures import store
from server.disclosures.model import InvalidMonth, Month, check_publishable, check_reason
from server.disclosures.snapshot import (
    EventRow,
    Facts,
    HeldRow,
    OutcomeRow,
    RegionRow,
    SessionRow,
    TopicRow,
    UpdateRow,
    build,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What ``publish_disclosures`` wrote: one row per town and community."""

    month: str
    version: int  # the highest version written (1 unless a new version was asked for)
    disclosures: int  # rows written
    towns: int
    communities: int
    topics: int  # distinct topics in the month, city-wide
    published_at: datetime
    new_version: bool


def parse_month(text: str) -> Month:
    try:
        return Month.parse(text)
    except InvalidMonth as exc:
        raise ValidationFailed(str(exc), fields={"month": "YYYY-MM."}) from None


async def publish_disclosures(
    ctx: Context,
    month: str,
    *,
    actor: Principal | None = None,
    new_version_reason: str = "",
) -> PublishResult:
    """Generate and publish ``month`` (YYYY-MM, local) for every town and community, in
    one transaction: all regions or none.

    ``actor`` is None for the scheduler and the command line; a staff actor must be an
    administrator. Refused, with nothing written: a malformed month (ValidationFailed);
    the current or a future month (ValidationFailed); a month already published, unless
    ``new_version_reason`` asks for version N+1 beside N (Conflict); a new version of a
    month never published (Conflict). Concurrent publishers of one month are serialised
    (an advisory lock on PostgreSQL, the single writer on SQLite, and the unique
    (region, month, version) constraint behind both): the second sees it done (Conflict).
    """
    if actor is not None and actor.role is not Role.ADMIN:
        raise Forbidden("Only an administrator publishes the monthly disclosures.")
    when = parse_month(month)
    now = ctx.clock.now()
    try:
        check_publishable(when, now, LOCAL_TZ)
    except InvalidMonth as exc:
        raise ValidationFailed(str(exc), fields={"month": "Not ended yet."}) from None
    reason = ""
    if new_version_reason.strip():
        try:
            reason = check_reason(new_version_reason)
        except ValueError as exc:
            raise ValidationFailed(str(exc), fields={"reason": str(exc)}) from None
    key = str(when)
    start, end = when.start(LOCAL_TZ), when.end(LOCAL_TZ)
    async with ctx.db.write(
        on_conflict=f"{key} was published by another process at the same time."
    ) as session:
        await store.lock_month(session, key)
        latest = await store.latest_versions(session, key)
        if latest and not reason:
            raise Conflict(
                f"{key} is already published (version {max(latest.values())}); a published "
                "disclosure is never rewritten: ask for a new version, with a reason, to "
                "publish the next one beside it.",
                fields={"month": "Already published."},
            )
        if reason and not latest:
            raise Conflict(
                f"{key} has not been published yet: publish it without a new version.",
                fields={"month": "Not published yet."},
            )
        facts = await _read_facts(session, start, end)
        built = build(when, LOCAL_TZ, facts, now)
        rows: list[dict[str, Any]] = [
            {
                "region_id": d.region_id,
                "month": key,
                "version": latest.get(d.region_id, 0) + 1,
                "region_name": d.region_name,
                "topic_count": d.counts["topics"],
                "counts": d.counts,
                "content_json": d.content_json,
                "reason": reason,
                "published_at": now,
                "published_by_id": actor.user_id if actor is not None else None,
            }
            for d in built
        ]
        await store.insert_disclosures(session, rows)
    levels = [d.content["region"]["level"] for d in built]
    return PublishResult(
        month=key,
        version=max((int(r["version"]) for r in rows), default=0),
        disclosures=len(rows),
        towns=levels.count("town"),
        communities=levels.count("community"),
        topics=len(facts.topics),
        published_at=now,
        new_version=bool(reason),
    )


async def _read_facts(session: Any, start: datetime, end: datetime) -> Facts:
    ids = await store.month_topic_set(session, start, end)
    regions = [RegionRow(*r) for r in await store.list_regions(session)]
    topics = [
        TopicRow(
            r[0],
            r[1],
            r[2],
            str(r[3]),
            r[4],
            r[5],
            r[6] or "",
            r[7],
            r[8],
            r[9],
            r[10],
            r[11] or "",
            r[12] or "",
        )
        for r in await store.month_topics(session, ids)
    ]
    events = [EventRow(*r) for r in await store.month_events(session, ids, end)]
    sessions = [SessionRow(*r) for r in await store.topic_sessions(session, ids, end)]
    outcomes = [
        OutcomeRow(r[0], r[1], str(r[2]), r[3], r[4], r[5] or "", r[6], r[7], r[8])
        for r in await store.topic_outcomes(session, ids, end)
    ]
    updates = [UpdateRow(*r) for r in await store.outcome_updates(session, ids, end)]
    held = [HeldRow(*r) for r in await store.held_sessions(session, start, end)]
    return Facts(regions, topics, events, sessions, outcomes, updates, held)


# --- the scheduled job --------------------------------------------------------------------


async def publish_due(ctx: Context) -> PublishResult | None:
    """The job's one step: publish the previous local month if nothing of it is published
    yet. Idempotent, and safe in several processes at once: the one that loses the race
    sees the month done and returns None, as it does when there is nothing to do."""
    month = str(Month.of(ctx.clock.now(), LOCAL_TZ).previous())
    async with ctx.db.read() as session:
        if await store.month_published(session, month):
            return None
    try:
        result = await publish_disclosures(ctx, month)
    except Conflict:
        return None  # another process published it first
    if not result.disclosures:
        return None  # no towns or communities yet: try again next time
    log.info("published %d monthly disclosures for %s", result.disclosures, month)
    return result


async def disclosure_loop(ctx: Context) -> None:
    """Run ``publish_due`` at start (catching up on a missed 1st) and then every
    ``disclosure_check_seconds`` until cancelled."""
    while True:
        try:
            await publish_due(ctx)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("publishing the monthly disclosures failed; trying again later")
        await asyncio.sleep(ctx.settings.disclosure_check_seconds)


# --- what the public reads ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DisclosureItem:
    """One row of the archive."""

    id: int
    region_id: int
    region_level: str
    region_name: str
    month: str
    version: int
    topic_count: int
    counts: dict[str, int]
    reason: str
    published_at: datetime
    url: str

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "month": self.month,
            "version": self.version,
            "region": {"id": self.region_id, "level": self.region_level, "name": self.region_name},
            "topic_count": self.topic_count,
            "counts": self.counts,
            "reason": self.reason,
            "published_at": self.published_at.isoformat(),
            "url": self.url,
        }


@dataclass(frozen=True, slots=True)
class Archive:
    items: list[DisclosureItem]
    total: int
    months: list[str]
    regions: list[dict[str, Any]]  # the filter's choices: counties, parks and towns


@dataclass(frozen=True, slots=True)
class VersionRef:
    id: int
    version: int
    reason: str
    published_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "reason": self.reason,
            "published_at": self.published_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class DisclosureView:
    """One published disclosure: its snapshot as generated, and its other versions."""

    id: int
    region_id: int
    month: str
    version: int
    reason: str
    published_at: datetime
    content: dict[str, Any]
    versions: list[VersionRef]
    url: str

    @property
    def latest(self) -> bool:
        return self.version == max(v.version for v in self.versions)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "month": self.month,
            "version": self.version,
            "latest": self.latest,
            "reason": self.reason,
            "published_at": self.published_at.isoformat(),
            "url": self.url,
            "versions": [v.public() for v in self.versions],
            "content": self.content,
        }


def disclosure_url(ctx: Context, disclosure_id: int) -> str:
    return f"{ctx.settings.public_base_url}/disclosures/{disclosure_id}"


async def list_disclosures(
    ctx: Context,
    *,
    month: str | None = None,
    region_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Archive:
    """The public archive: every published version, newest month first, optionally one
    month's and one region's subtree (a county, park or town). Unknown region: NotFound."""
    key = str(parse_month(month)) if month else None
    async with ctx.db.read() as session:
        path = None
        if region_id is not None:
            path = await store.get_region_path(session, region_id)
            if path is None:
                raise NotFound(f"No region with id {region_id}.")
        rows, total = await store.list_disclosures(
            session, month=key, region_path=path, limit=limit, offset=offset
        )
        months = await store.list_months(session)
        regions = await store.list_filter_regions(session)
    items = [
        DisclosureItem(
            r[0],
            r[1],
            str(r[9]),
            r[4],
            r[2],
            r[3],
            r[5],
            r[6],
            r[7],
            r[8],
            disclosure_url(ctx, r[0]),
        )
        for r in rows
    ]
    choices = [
        {"id": i, "level": level, "name": name, "depth": len(p.strip("/").split("/"))}
        for i, level, name, p in regions
    ]
    return Archive(items, total, months, choices)


async def get_disclosure(ctx: Context, disclosure_id: int) -> DisclosureView:
    """One published disclosure and the list of its region-month's versions; NotFound."""
    async with ctx.db.read() as session:
        found = await store.get_disclosure(session, disclosure_id)
        if found is None:
            raise NotFound(f"No disclosure with id {disclosure_id}.")
        row = found[0]
        versions = await store.list_versions(session, row.region_id, row.month)
    return DisclosureView(
        row.id,
        row.region_id,
        row.month,
        row.version,
        row.reason,
        row.published_at,
        row.content,
        [VersionRef(*v) for v in versions],
        disclosure_url(ctx, row.id),
    )
