"""A year's round: opened by the city's administrator, candidates generated from the
figures, reviewers appointed, candidates scored and withdrawn, the review closed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.accounts import actions as accounts
from server.awards import store
from server.awards.actions.candidates import Proposal, propose
from server.awards.actions.common import (
    invalid,
    parse_year,
    require_manager,
    require_open,
    round_of,
)
from server.awards.model import (
    BEST,
    EXCELLENT,
    POOL_FACTOR,
    CandidateSource,
    Invalid,
    RoundStatus,
    check_reason,
    check_score,
    check_sizes,
)
from server.awards.tables import AwardCandidate, AwardReviewer, AwardRound, AwardScore
from server.core.audit import record_audit
from server.core.auth import Permission, Principal
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


@dataclass(frozen=True, slots=True)
class RoundView:
    year: int
    status: RoundStatus
    excellent: int
    best: int
    generated: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "status": str(self.status),
            "excellent": self.excellent,
            "best": self.best,
            "generated": self.generated,
            "url": f"/staff/awards/{self.year}",
        }


def round_view(r: AwardRound) -> RoundView:
    return RoundView(r.year, r.status, r.excellent, r.best, r.generated_at is not None)


async def open_round(
    ctx: Context,
    actor: Principal,
    year: object,
    *,
    excellent: object = EXCELLENT,
    best: object = BEST,
) -> RoundView:
    """Open ``year``'s awards with its sizes (百优 and 十佳 per kind). Refused with nothing
    written: not the city's administrator (Forbidden); a year before 2000 or after this
    one, or bad sizes (ValidationFailed); a year already opened (Conflict)."""
    require_manager(actor)
    now = ctx.clock.now()
    value = parse_year(year, now)
    try:
        sizes = check_sizes(excellent, best)
    except Invalid as exc:
        raise invalid(exc) from None
    conflict = f"The awards of {value} are already open."
    async with ctx.db.write(on_conflict=conflict) as session:
        if await store.get_round(session, value) is not None:
            raise Conflict(conflict)
        r = AwardRound(
            year=value,
            status=RoundStatus.OPEN,
            excellent=sizes[0],
            best=sizes[1],
            opened_at=now,
            opened_by_id=actor.user_id,
        )
        session.add(r)
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="awards.open",
            target=f"awards:{value}",
            detail={"excellent": sizes[0], "best": sizes[1]},
        )
    return round_view(r)


def candidate_row(r: AwardRound, p: Proposal, now: Any) -> AwardCandidate:
    return AwardCandidate(
        round_id=r.id,
        kind=p.kind,
        source=CandidateSource.FIGURES,
        subject_key=p.subject_key,
        room_id=p.room_id,
        topic_id=p.topic_id,
        title=p.title,
        masked_phone=p.masked_phone,
        figures=p.figures,
        composite=p.composite,
        created_at=now,
    )


async def generate_candidates(ctx: Context, actor: Principal, year: object) -> dict[str, int]:
    """Propose each kind's candidates from the year's figures (the best 2 × excellent by
    composite score). A subject already a candidate through a nomination gets its figures.
    Refused with nothing written: not the administrator (Forbidden), an unopened year
    (NotFound), a closed or published review or candidates already generated (Conflict).
    Returns how many candidates each kind now has."""
    require_manager(actor)
    now = ctx.clock.now()
    value = parse_year(year, now)
    async with ctx.db.write(on_conflict="Candidates were generated at the same time.") as session:
        r = await round_of(session, value, lock=True)
        require_open(r, "generate candidates")
        if r.generated_at is not None:
            raise Conflict(
                f"The candidates of {value} were generated on "
                f"{r.generated_at:%Y-%m-%d}; they are generated once."
            )
        proposals = await propose(session, value, POOL_FACTOR * r.excellent)
        for items in proposals.values():
            for p in items:
                found = await store.find_candidate(session, r.id, p.kind, p.subject_key)
                if found is None:
                    session.add(candidate_row(r, p, now))
                else:
                    found.figures, found.composite = p.figures, p.composite
        r.generated_at = now
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="awards.generate",
            target=f"awards:{value}",
            detail={str(k): len(v) for k, v in proposals.items()},
        )
        await session.flush()
        counts: dict[str, int] = {}
        for c in await store.list_candidates(session, r.id):
            counts[str(c.kind)] = counts.get(str(c.kind), 0) + 1
    return counts


async def appoint_reviewer(
    ctx: Context, actor: Principal, year: object, *, username: object
) -> list[int]:
    """Appoint an active staff member to score the year's candidates. Refused with nothing
    written: not the administrator (Forbidden), an unknown or inactive username
    (ValidationFailed), an unopened year (NotFound), a closed review or someone already
    appointed (Conflict). Returns the reviewers' user ids."""
    require_manager(actor)
    now = ctx.clock.now()
    value = parse_year(year, now)
    if not isinstance(username, str) or not username.strip():
        raise ValidationFailed("Name the reviewer.", fields={"username": "Required."})
    users = {u.username: u for u in await accounts.list_users(ctx, actor)}
    user = users.get(username.strip())
    if user is None or not user.active:
        raise ValidationFailed(
            "No active staff member has that username.", fields={"username": "Unknown."}
        )
    conflict = f"{user.username} is already a reviewer of {value}."
    async with ctx.db.write(on_conflict=conflict) as session:
        r = await round_of(session, value, lock=True)
        require_open(r, "appoint reviewers")
        reviewers = await store.list_reviewers(session, r.id)
        if user.id in reviewers:
            raise Conflict(conflict)
        session.add(
            AwardReviewer(
                round_id=r.id, user_id=user.id, appointed_at=now, appointed_by_id=actor.user_id
            )
        )
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="awards.reviewer",
            target=f"awards:{value}",
            detail={"user_id": user.id},
        )
    return [*reviewers, user.id]


async def score_candidate(
    ctx: Context, actor: Principal, year: object, candidate_id: int, *, score: object
) -> int:
    """Record (or change) the actor's score of a candidate, 0-100. Refused with nothing
    written: a score out of range (ValidationFailed); an unopened year or unknown candidate
    (NotFound); an actor not appointed a reviewer of the year (Forbidden); a closed review
    or a withdrawn candidate (Conflict). Returns the score kept."""
    now = ctx.clock.now()
    value = parse_year(year, now)
    try:
        points = check_score(score)
    except Invalid as exc:
        raise invalid(exc, "A score is a whole number from 0 to 100.") from None
    if actor.must_change_password:
        raise Forbidden("Change your one-time password first.")
    async with ctx.db.write(on_conflict="Your score was saved twice at once; retry.") as session:
        r = await round_of(session, value, lock=True)
        if actor.user_id not in await store.list_reviewers(session, r.id):
            raise Forbidden(f"You are not a reviewer of the awards of {value}.")
        require_open(r, "score")
        c = await store.get_candidate(session, r.id, candidate_id)
        if c is None:
            raise NotFound("No such candidate in this year.")
        if c.withdrawn_at is not None:
            raise Conflict("That candidate was withdrawn: it is not scored.")
        row = await store.get_score(session, c.id, actor.user_id)
        if row is None:
            session.add(
                AwardScore(
                    candidate_id=c.id,
                    reviewer_id=actor.user_id,
                    score=points,
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            row.score, row.updated_at = points, now
    return points


async def withdraw_candidate(
    ctx: Context, actor: Principal, year: object, candidate_id: int, *, reason: object
) -> None:
    """Take a candidate out of the review and of any later published version, with a
    reason (4-500 characters); its row and scores stay. A published list changes only
    through a new version. Refused with nothing written: not the administrator
    (Forbidden), no reason (ValidationFailed), unknown (NotFound), already withdrawn
    (Conflict)."""
    require_manager(actor)
    now = ctx.clock.now()
    value = parse_year(year, now)
    try:
        why = check_reason(reason)
    except Invalid as exc:
        raise invalid(exc) from None
    async with ctx.db.write() as session:
        r = await round_of(session, value, lock=True)
        c = await store.get_candidate(session, r.id, candidate_id)
        if c is None:
            raise NotFound("No such candidate in this year.")
        if c.withdrawn_at is not None:
            raise Conflict(f"That candidate was withdrawn on {c.withdrawn_at:%Y-%m-%d}.")
        c.withdrawn_at, c.withdrawn_reason = now, why
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="awards.withdraw",
            target=f"award_candidate:{c.id}",
            detail={"reason": why},
        )


async def close_review(ctx: Context, actor: Principal, year: object) -> RoundView:
    """Close the year's review: scores are final. Refused with nothing written: not the
    administrator (Forbidden), an unopened year (NotFound), already closed (Conflict)."""
    require_manager(actor)
    now = ctx.clock.now()
    value = parse_year(year, now)
    async with ctx.db.write() as session:
        r = await round_of(session, value, lock=True)
        require_open(r, "close the review")
        r.status, r.closed_at, r.closed_by_id = RoundStatus.CLOSED, now, actor.user_id
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="awards.close",
            target=f"awards:{value}",
        )
    return round_view(r)


async def list_rounds(ctx: Context, actor: Principal) -> list[RoundView]:
    """The years the actor may open: all for the administrator, the years they review for
    anyone else."""
    async with ctx.db.read() as session:
        rows = await store.list_rounds(session)
        if actor.can(Permission.MANAGE_AWARDS):
            return [round_view(r) for r in rows]
        mine = set(await store.rounds_reviewed_by(session, actor.user_id))
    return [round_view(r) for r in rows if r.year in mine]
