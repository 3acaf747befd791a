"""Open311 GeoReport v2: topics as service requests, categories × subjects as services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.core.errors import NotFound
from server.core.i18n import translate
from server.statistics import store
from server.statistics.actions.dashboard import UNCLASSIFIED
from server.statistics.actions.open_data import region_names
from server.statistics.model import DEFAULT_REQUEST_DAYS, mask_phones
from server.topics.classify import CATEGORIES, SUBJECTS
from server.topics.model import OPEN_STATES, TopicStatus

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
    regions = await region_names(session, {r.region_id for r in rows})
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
