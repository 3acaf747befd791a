"""Use cases of the quarterly bulletin (季通报): computing a quarter's figures for the
whole city, publishing them as a versioned snapshot once the quarter has ended, and
what the public reads (published snapshots, and the current quarter as provisional).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.bulletins import store
from server.bulletins.model import (
    MIN_TOPICS,
    SCHEMA,
    InvalidQuarter,
    Lines,
    Quarter,
    RegionRow,
    RoomRow,
    Tally,
    changes,
    check_publishable,
    check_reason,
    roll_up,
    with_changes,
)
from server.core.audit import record_audit
from server.core.auth import Principal, Role
from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


def parse_quarter(text: object) -> Quarter:
    """``YYYY-Qn``; ValidationFailed otherwise."""
    try:
        return Quarter.parse(text)
    except InvalidQuarter as exc:
        raise ValidationFailed(str(exc), fields={"quarter": "YYYY-Qn, e.g. 2026-Q1."}) from None


# --- computing ---------------------------------------------------------------------------------


async def _figures(
    session: AsyncSession,
    quarter: Quarter,
    now: datetime,
    regions: list[RegionRow],
    rooms: list[RoomRow],
) -> Lines:
    """One pass over the city for ``quarter`` as of min(its end, now)."""
    start = quarter.start(LOCAL_TZ)
    cut = min(quarter.end(LOCAL_TZ), now)
    tally = Tally()
    for room_id, status, n in await store.status_at_end(session, start, cut):
        f = tally.of(room_id)
        f.received += n
        if status in store.CLOSED_OUT:
            f.closed_out += n
        elif status == store.RESOLVED:
            f.resolved += n
    for room_id, state, n in await store.acceptance(session, start, cut):
        f = tally.of(room_id)
        name = f"accept_{state}"
        setattr(f, name, getattr(f, name) + n)
    for room_id, verdict, n in await store.verdicts(session, start, cut):
        f = tally.of(room_id)
        setattr(f, verdict, getattr(f, verdict) + n)
    for room_id, n in await store.sessions_held(session, start, cut):
        tally.of(room_id).sessions += n
    for room_id, n in await store.overdue_deadlines(session, start, cut):
        tally.of(room_id).overdue_deadlines += n
    # An outcome due on day D turns overdue at the local midnight that starts D + 1.
    first, last = quarter.first_day() - timedelta(days=1), quarter.last_day()
    for room_id, due_on, completed_at in await store.outcomes_due(session, first, last):
        turned = datetime.combine(due_on + timedelta(days=1), time(0), LOCAL_TZ)
        if start <= turned < cut and (completed_at is None or completed_at >= turned):
            tally.of(room_id).overdue_outcomes += 1
    return roll_up(regions, rooms, tally)


async def compute(session: AsyncSession, quarter: Quarter, now: datetime) -> dict[str, Any]:
    """The bulletin's content for ``quarter`` as of ``now``: each county's (and park's),
    town's and room's figures, ranks and changes from the previous quarter (computed by
    the same rules in the same pass). Read-only; requires an open session."""
    regions = [RegionRow(*r) for r in await store.list_regions(session)]
    rooms = [RoomRow(*r) for r in await store.list_rooms(session)]
    lines = await _figures(session, quarter, now, regions, rooms)
    previous = await _figures(session, quarter.previous(), now, regions, rooms)
    end = quarter.end(LOCAL_TZ)
    return {
        "schema": SCHEMA,
        "quarter": str(quarter),
        "previous_quarter": str(quarter.previous()),
        "period": {"start": quarter.start(LOCAL_TZ).isoformat(), "end": end.isoformat()},
        "as_of": min(end, now).astimezone(LOCAL_TZ).isoformat(),
        "provisional": now < end,
        "min_topics": MIN_TOPICS,
        "city": {**lines.city, "change": changes(lines.city, previous.city)},
        "levels": with_changes(lines, previous),
    }


@dataclass(frozen=True, slots=True)
class BulletinView:
    """A quarter's bulletin as the public reads it: a published version's snapshot, or
    the current quarter computed live (``provisional``, no version)."""

    quarter: str
    version: int | None
    latest: bool
    reason: str
    published_at: datetime | None
    versions: list[dict[str, Any]]
    data: dict[str, Any]

    @property
    def provisional(self) -> bool:
        return self.version is None

    def public(self) -> dict[str, Any]:
        return {
            "quarter": self.quarter,
            "provisional": self.provisional,
            "version": self.version,
            "latest": self.latest,
            "reason": self.reason,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "versions": self.versions,
            "data": self.data,
        }


async def quarterly_bulletin(ctx: Context, quarter: str) -> dict[str, Any]:
    """The bulletin of ``quarter`` (YYYY-Qn) computed live from the current rows, as of
    now or the quarter's end, with the previous quarter's for the changes. Nothing is
    written. Raises ValidationFailed on a malformed quarter and NotFound for a quarter
    that has not started."""
    when = parse_quarter(quarter)
    now = ctx.clock.now()
    if when.start(LOCAL_TZ) > now:
        raise NotFound(f"{when} has not started yet.")
    async with ctx.db.read() as session:
        return await compute(session, when, now)


# --- publishing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishResult:
    quarter: str
    version: int
    reason: str
    published_at: datetime


async def publish_bulletin(
    ctx: Context,
    actor: Principal,
    quarter: str,
    *,
    new_version: bool = False,
    reason: str = "",
) -> PublishResult:
    """Compute ``quarter`` and store it as a snapshot that never changes.

    Only an administrator publishes. Refused, with nothing written: a malformed quarter
    (ValidationFailed); a quarter that has not ended (ValidationFailed); a quarter already
    published without ``new_version`` (Conflict); ``new_version`` without a reason of 4
    to 500 characters (ValidationFailed) or for a quarter never published (Conflict).
    Publishers of one quarter are serialised; the unique (quarter, version) constraint
    backs that up (Conflict). The publication is written to the audit log."""
    if actor.role is not Role.ADMIN:
        raise Forbidden("Only an administrator publishes the quarterly bulletin.")
    when = parse_quarter(quarter)
    now = ctx.clock.now()
    try:
        check_publishable(when, now, LOCAL_TZ)
    except InvalidQuarter as exc:
        raise ValidationFailed(str(exc), fields={"quarter": "Not ended yet."}) from None
    why = ""
    if new_version:
        try:
            why = check_reason(reason)
        except ValueError as exc:
            raise ValidationFailed(str(exc), fields={"reason": str(exc)}) from None
    key = str(when)
    async with ctx.db.write(
        on_conflict=f"{key} was published by someone else at the same time."
    ) as session:
        await store.lock_quarter(session, key)
        latest = await store.latest_version(session, key)
        if latest and not new_version:
            raise Conflict(
                f"{key} is already published (version {latest}); a published bulletin is "
                "never rewritten: ask for a new version, with a reason, to publish the next "
                "one beside it.",
                fields={"quarter": "Already published."},
            )
        if new_version and not latest:
            raise Conflict(
                f"{key} has not been published yet: publish it without a new version.",
                fields={"quarter": "Not published yet."},
            )
        data = await compute(session, when, now)
        await store.insert_bulletin(
            session,
            {
                "quarter": key,
                "version": latest + 1,
                "data": data,
                "reason": why,
                "published_at": now,
                "published_by_id": actor.user_id,
            },
        )
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="bulletin.publish",
            target=f"bulletin:{key}",
            detail={"version": latest + 1, "reason": why},
        )
    return PublishResult(key, latest + 1, why, now)


# --- reading -----------------------------------------------------------------------------------


def _version(row: Any) -> dict[str, Any]:
    return {"version": row[1], "reason": row[2], "published_at": row[3].isoformat()}


async def get_bulletin(ctx: Context, quarter: str, version: int | None = None) -> BulletinView:
    """A published version of ``quarter`` (the latest unless asked), or, for the current
    quarter before it is published, the figures so far marked provisional.

    Raises ValidationFailed on a malformed quarter; NotFound for a version that does not
    exist, a future quarter, or an ended quarter not published yet."""
    when = parse_quarter(quarter)
    key = str(when)
    now = ctx.clock.now()
    async with ctx.db.read() as session:
        versions = [_version(r) for r in await store.list_versions(session, key)]
        row = await store.get_bulletin(session, key, version)
        if row is not None:
            return BulletinView(
                quarter=key,
                version=row.version,
                latest=row.version == versions[0]["version"],
                reason=row.reason,
                published_at=row.published_at,
                versions=versions,
                data=row.data,
            )
        if version is not None:
            raise NotFound(f"{key} has no version {version}.")
        if when != Quarter.of(now, LOCAL_TZ):
            if when.start(LOCAL_TZ) > now:
                raise NotFound(f"{key} has not started yet.")
            raise NotFound(f"The bulletin of {key} has not been published yet.")
        data = await compute(session, when, now)
    return BulletinView(key, None, False, "", None, [], data)


@dataclass(frozen=True, slots=True)
class ListedQuarter:
    quarter: str
    version: int | None  # None: the current quarter, provisional
    published_at: datetime | None
    reason: str

    def public(self) -> dict[str, Any]:
        return {
            "quarter": self.quarter,
            "provisional": self.version is None,
            "version": self.version,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "reason": self.reason,
            "url": f"/bulletins/{self.quarter}",
        }


async def list_bulletins(ctx: Context) -> list[ListedQuarter]:
    """Each published quarter's latest version, newest first, after the current quarter
    (provisional) unless that is published already."""
    current = str(Quarter.of(ctx.clock.now(), LOCAL_TZ))
    async with ctx.db.read() as session:
        rows = await store.list_versions(session)
    out: list[ListedQuarter] = []
    seen: set[str] = set()
    for q, version, reason, published_at in rows:
        if q not in seen:
            seen.add(q)
            out.append(ListedQuarter(q, version, published_at, reason))
    if current not in seen:
        out.insert(0, ListedQuarter(current, None, None, ""))
    return out


@dataclass(frozen=True, slots=True)
class StaffQuarter:
    quarter: str
    ended: bool
    latest_version: int
    published_at: datetime | None


async def staff_quarters(ctx: Context, actor: Principal, count: int = 8) -> list[StaffQuarter]:
    """The last ``count`` quarters (the current one first) and how far each is published,
    for the administrator's page. Forbidden for anyone else."""
    if actor.role is not Role.ADMIN:
        raise Forbidden("Only an administrator publishes the quarterly bulletin.")
    now = ctx.clock.now()
    when = Quarter.of(now, LOCAL_TZ)
    async with ctx.db.read() as session:
        rows = await store.list_versions(session)
    latest: dict[str, tuple[int, datetime]] = {}
    for q, version, _reason, published_at in rows:
        latest.setdefault(q, (version, published_at))
    out = []
    for _ in range(count):
        version, at = latest.get(str(when), (0, None))
        out.append(StaffQuarter(str(when), when.end(LOCAL_TZ) <= now, version, at))
        when = when.previous()
    return out
