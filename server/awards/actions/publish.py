"""Publishing a year's list (the 百优 and 十佳 of each kind) as a snapshot that never
changes, what the public reads, and the staff's view of a year under review."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.accounts import actions as accounts
from server.awards import store
from server.awards.actions.common import (
    invalid,
    parse_year,
    require_manager,
    round_of,
)
from server.awards.actions.review import round_view
from server.awards.model import (
    AwardKind,
    Invalid,
    RoundStatus,
    Scored,
    check_reason,
    cut,
    ranking,
)
from server.awards.tables import AwardCandidate, AwardNomination, AwardPublication
from server.core.audit import record_audit
from server.core.auth import Permission, Principal
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound
from server.topics.model import mask_name, mask_phone

SCHEMA = 1
KINDS = (AwardKind.ROOM, AwardKind.RESIDENT, AwardKind.CASE)


def _scored(
    candidates: Sequence[AwardCandidate], scores: list[tuple[int, int, int]]
) -> dict[int, Scored]:
    by: dict[int, list[int]] = {}
    for candidate_id, _, score in scores:
        by.setdefault(candidate_id, []).append(score)
    return {c.id: Scored(c.id, tuple(by.get(c.id, ())), c.composite) for c in candidates}


def _public_figures(c: AwardCandidate) -> dict[str, Any]:
    # A resident's figures could help single them out: the public sees only the masked
    # name and the room.
    return {} if c.kind is AwardKind.RESIDENT else dict(c.figures)


def _snapshot(
    year: int,
    excellent: int,
    best: int,
    candidates: Sequence[AwardCandidate],
    scores: list[tuple[int, int, int]],
    rooms: dict[int, tuple[str, str]],
) -> dict[str, Any]:
    active = [c for c in candidates if c.withdrawn_at is None]
    scored = _scored(active, scores)
    by_id = {c.id: c for c in active}
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        mine = [scored[c.id] for c in active if c.kind is kind]
        placed = cut(mine, excellent, best)
        entries = []
        for p in placed:
            c = by_id[p.candidate_id]
            room, region = rooms.get(c.room_id or 0, ("", ""))
            entries.append(
                {
                    "rank": p.rank,
                    "best": p.best,
                    "title": c.title,
                    "room": room,
                    "region": region,
                    "mean_score": p.mean,
                    "reviewers": len(scored[c.id].scores),
                    "nominated": c.nominated,
                    "figures": _public_figures(c),
                }
            )
        kinds[str(kind)] = {
            "candidates": len(mine),
            "excellent": entries,
            "best_count": sum(1 for e in entries if e["best"]),
            "short": len(entries) < excellent,
        }
    return {
        "schema": SCHEMA,
        "year": year,
        "sizes": {"excellent": excellent, "best": best},
        "kinds": kinds,
    }


@dataclass(frozen=True, slots=True)
class Published:
    year: int
    version: int
    reason: str
    published_at: datetime


async def publish_awards(
    ctx: Context, actor: Principal, year: object, *, new_version: bool = False, reason: object = ""
) -> Published:
    """Publish the year's list: each kind's first ``excellent`` by mean reviewer score (ties
    by composite score, then the earlier candidate), the first ``best`` of them marked.

    Refused with nothing written: not the city's administrator (Forbidden); a year not
    opened (NotFound); a review still open, or an active candidate no reviewer scored
    (Conflict, naming how many of each kind); a year already published without
    ``new_version`` (Conflict); ``new_version`` without a reason of 4-500 characters
    (ValidationFailed) or before a first publication (Conflict)."""
    require_manager(actor)
    now = ctx.clock.now()
    value = parse_year(year, now)
    why = ""
    if new_version:
        try:
            why = check_reason(reason)
        except Invalid as exc:
            raise invalid(exc) from None
    conflict = f"The awards of {value} were published by someone else at the same time."
    async with ctx.db.write(on_conflict=conflict) as session:
        r = await round_of(session, value, lock=True)
        if r.status is RoundStatus.OPEN:
            raise Conflict(f"Close the review of {value} before publishing.")
        latest = await store.latest_version(session, value)
        if latest and not new_version:
            raise Conflict(
                f"The awards of {value} are already published (version {latest}); a "
                "published list is never rewritten: publish a new version with a reason."
            )
        if new_version and not latest:
            raise Conflict(f"The awards of {value} were never published: publish them first.")
        candidates = await store.list_candidates(session, r.id)
        scores = await store.list_scores(session, r.id)
        scored = {cid for cid, _, _ in scores}
        unscored: dict[str, int] = {}
        for c in candidates:
            if c.withdrawn_at is None and c.id not in scored:
                unscored[str(c.kind)] = unscored.get(str(c.kind), 0) + 1
        if unscored:
            detail = ", ".join(f"{k}: {n}" for k, n in sorted(unscored.items()))
            raise Conflict(
                f"Every candidate needs at least one score before publishing; unscored: "
                f"{detail}. Score them or withdraw them with a reason."
            )
        data = _snapshot(
            value, r.excellent, r.best, candidates, scores, await store.room_names(session)
        )
        session.add(
            AwardPublication(
                year=value,
                version=latest + 1,
                data=data,
                reason=why,
                published_at=now,
                published_by_id=actor.user_id,
            )
        )
        r.status = RoundStatus.PUBLISHED
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="awards.publish",
            target=f"awards:{value}",
            detail={"version": latest + 1, "reason": why},
        )
    return Published(value, latest + 1, why, now)


# --- what the public reads ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AwardsView:
    year: int
    version: int
    latest: bool
    reason: str
    published_at: datetime
    versions: list[dict[str, Any]]
    data: dict[str, Any]

    def public(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "version": self.version,
            "latest": self.latest,
            "reason": self.reason,
            "published_at": self.published_at.isoformat(),
            "versions": self.versions,
            "data": self.data,
        }


async def list_published(ctx: Context) -> list[dict[str, Any]]:
    """Every published year's latest version, newest year first."""
    async with ctx.db.read() as session:
        rows = await store.list_publications(session)
    seen: set[int] = set()
    out = []
    for year, version, reason, at in rows:
        if year in seen:
            continue
        seen.add(year)
        out.append(
            {
                "year": year,
                "version": version,
                "reason": reason,
                "published_at": at.isoformat(),
                "url": f"/awards/{year}",
            }
        )
    return out


async def published_awards(ctx: Context, year: object, version: int | None = None) -> AwardsView:
    """A published year's list (the latest version unless asked). NotFound if the year, or
    that version, was never published; ValidationFailed for a malformed year."""
    value = parse_year(year, ctx.clock.now())
    async with ctx.db.read() as session:
        row = await store.get_publication(session, value, version)
        if row is None:
            what = f"Version {version} of the" if version else "The"
            raise NotFound(f"{what} awards of {value} have not been published.")
        latest = await store.latest_version(session, value)
        versions = [
            {"version": v, "reason": reason, "published_at": at.isoformat()}
            for y, v, reason, at in await store.list_publications(session)
            if y == value
        ]
    return AwardsView(
        value, row.version, row.version == latest, row.reason, row.published_at, versions, row.data
    )


# --- what staff see ------------------------------------------------------------------------


async def round_detail(ctx: Context, actor: Principal, year: object) -> dict[str, Any]:
    """A year under review for the administrator (everything: candidates with their
    figures, mean score and count, the provisional ranking, nominations, reviewers) or a
    reviewer (the candidates and their own scores). Residents appear masked. Forbidden for
    anyone else."""
    value = parse_year(year, ctx.clock.now())
    manager = actor.can(Permission.MANAGE_AWARDS)
    async with ctx.db.read() as session:
        r = await round_of(session, value)
        reviewers = await store.list_reviewers(session, r.id)
        if not manager and actor.user_id not in reviewers:
            raise Forbidden(f"You are not a reviewer of the awards of {value}.")
        candidates = await store.list_candidates(session, r.id)
        scores = await store.list_scores(session, r.id)
        nominations = await store.list_nominations(session, r.id) if manager else []
        rooms = await store.room_names(session)
        topics = await store.topic_titles(session, [n.topic_id for n in nominations if n.topic_id])
    if manager:
        require_manager(actor)
    scored = _scored([c for c in candidates if c.withdrawn_at is None], scores)
    ranks = {s.candidate_id: i + 1 for i, s in enumerate(ranking(list(scored.values())))}
    mine = {cid: score for cid, rid, score in scores if rid == actor.user_id}
    kinds: dict[str, list[dict[str, Any]]] = {str(k): [] for k in KINDS}
    for c in candidates:
        s = scored.get(c.id)
        kinds[str(c.kind)].append(
            {
                "id": c.id,
                "title": c.title,
                "masked_phone": c.masked_phone,
                "room": rooms.get(c.room_id or 0, ("", ""))[0],
                "source": str(c.source),
                "nominated": c.nominated,
                "reasons": c.reasons,
                "figures": c.figures,
                "composite": c.composite,
                "my_score": mine.get(c.id),
                "mean_score": round(s.mean, 2) if s and s.mean is not None else None,
                "scores": len(s.scores) if s else 0,
                "rank": ranks.get(c.id) if manager else None,
                "withdrawn": c.withdrawn_at is not None,
                "withdrawn_reason": c.withdrawn_reason,
            }
        )
    if manager:
        for items in kinds.values():
            items.sort(key=lambda i: (i["rank"] is None, i["rank"] or 0, i["id"]))
    names = {u.id: u.display_name for u in await accounts.list_users(ctx, actor)} if manager else {}
    return {
        **round_view(r).as_dict(),
        "manager": manager,
        "reviewer": actor.user_id in reviewers,
        "reviewers": [{"id": i, "name": names.get(i, "")} for i in reviewers],
        "candidates": kinds,
        "nominations": [
            {
                "id": n.id,
                "kind": str(n.kind),
                "source": str(n.source),
                "status": str(n.status),
                "title": _nomination_title(n, rooms, topics),
                "masked_phone": mask_phone(n.phone),
                "room": rooms.get(n.room_id or 0, ("", ""))[0],
                "organisation": n.organisation,
                "reasons": n.reasons,
                "decline_reason": n.decline_reason,
                "candidate_id": n.candidate_id,
            }
            for n in nominations
        ],
    }


def _nomination_title(
    n: AwardNomination, rooms: dict[int, tuple[str, str]], topics: dict[int, tuple[str, str]]
) -> str:
    if n.kind is AwardKind.RESIDENT:
        return mask_name(n.name)
    if n.kind is AwardKind.ROOM:
        return rooms.get(n.room_id or 0, ("", ""))[0]
    number, title = topics.get(n.topic_id or 0, ("", ""))
    return f"{number} {title}"
