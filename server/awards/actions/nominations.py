"""Nominations (提名): a resident nominating themselves on the public form, or staff on
behalf of an organisation, each with reasons; staff accept one (it becomes a candidate)
or decline it with a reason."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from server.awards import store
from server.awards.actions.candidates import propose
from server.awards.actions.common import (
    invalid,
    parse_year,
    require_manager,
    require_open,
    resident_key,
    round_of,
)
from server.awards.model import (
    NAME_LIMITS,
    ORGANISATION_LIMITS,
    REASONS_LIMITS,
    AwardKind,
    CandidateSource,
    Invalid,
    NominationSource,
    NominationStatus,
    check_reason,
    check_text,
)
from server.awards.tables import AwardCandidate, AwardNomination, AwardRound
from server.core.audit import record_audit
from server.core.auth import Principal
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.core.ratelimit import enforce
from server.topics.model import TopicStatus, mask_name, mask_phone, normalise_phone


@dataclass(frozen=True, slots=True)
class Nominated:
    id: int
    kind: AwardKind
    status: NominationStatus


@dataclass(frozen=True, slots=True)
class _Subject:
    kind: AwardKind
    key: str
    room_id: int | None = None
    topic_id: int | None = None
    name: str = ""
    phone: str = ""


def _phone(value: object, errors: dict[str, str]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors["phone"] = "Required."
        return ""
    phone = normalise_phone(value)
    if phone is None:
        errors["phone"] = "A mobile number such as 13800000000, or a landline with its area code."
        return ""
    return phone


async def _insert(
    ctx: Context,
    year: int,
    subject: _Subject,
    *,
    source: NominationSource,
    reasons: str,
    organisation: str = "",
    actor: Principal | None = None,
    device_id: str | None = None,
) -> Nominated:
    now = ctx.clock.now()
    conflict = "That subject is already nominated this year."
    async with ctx.db.write(on_conflict=conflict) as session:
        r = await round_of(session, year, lock=True)
        require_open(r, "nominate")
        if await store.find_nomination(session, r.id, subject.kind, subject.key) is not None:
            raise Conflict(conflict)
        n = AwardNomination(
            round_id=r.id,
            kind=subject.kind,
            source=source,
            status=NominationStatus.PENDING,
            subject_key=subject.key,
            room_id=subject.room_id,
            topic_id=subject.topic_id,
            name=subject.name,
            phone=subject.phone,
            organisation=organisation,
            reasons=reasons,
            device_id=device_id,
            nominated_by_id=actor.user_id if actor else None,
            created_at=now,
        )
        session.add(n)
        await session.flush()
        if actor is not None:
            record_audit(
                session,
                at=now,
                actor_id=actor.user_id,
                action="awards.nominate",
                target=f"award_nomination:{n.id}",
                detail={"kind": str(subject.kind), "organisation": organisation},
            )
    return Nominated(n.id, n.kind, n.status)


async def nominate_self(
    ctx: Context,
    year: object,
    *,
    name: object,
    phone: object,
    room_code: object,
    reasons: object,
    device_id: str | None = None,
    ip: str = "",
) -> Nominated:
    """A resident nominates themselves as an excellent resident of ``year``: their name
    and phone (kept, never shown whole), their room's code and their reasons.

    Rate-limited per IP and device like other public writes. Refused with nothing
    written: bad fields or an unknown room (ValidationFailed), a year not opened
    (NotFound), a closed review or a phone already nominated this year (Conflict)."""
    checks = [
        (f"award-ip:{ip}", ctx.settings.rate_limit_ip.count, ctx.settings.rate_limit_ip.seconds)
    ]
    if device_id:
        checks.append(
            (
                f"award-dev:{device_id}",
                ctx.settings.rate_limit_device.count,
                ctx.settings.rate_limit_device.seconds,
            )
        )
    await enforce(ctx.limiter, checks)
    value = parse_year(year, ctx.clock.now())
    errors: dict[str, str] = {}
    who = check_text("name", name, NAME_LIMITS, errors)
    number = _phone(phone, errors)
    why = check_text("reasons", reasons, REASONS_LIMITS, errors)
    room_id = None
    if not isinstance(room_code, str) or not room_code.strip():
        errors["room_code"] = "Required."
    else:
        async with ctx.db.read() as session:
            room_id = await store.room_by_code(session, room_code.strip())
        if room_id is None:
            errors["room_code"] = "No room has that code."
    if errors:
        raise ValidationFailed("Please check the highlighted fields.", fields=errors)
    key = resident_key(number, None)
    assert key is not None
    subject = _Subject(AwardKind.RESIDENT, key, room_id=room_id, name=who, phone=number)
    return await _insert(
        ctx, value, subject, source=NominationSource.SELF, reasons=why, device_id=device_id
    )


async def _staff_subject(
    ctx: Context,
    kind: AwardKind,
    room_id: object,
    topic_number: object,
    name: object,
    phone: object,
    errors: dict[str, str],
) -> _Subject | None:
    async with ctx.db.read() as session:
        rooms = await store.room_names(session)
        if kind is AwardKind.CASE:
            if not isinstance(topic_number, str) or not topic_number.strip():
                errors["topic_number"] = "Required."
                return None
            topic = await store.topic_by_number(session, topic_number.strip())
            if topic is None or topic.status in (TopicStatus.REJECTED, TopicStatus.MERGED):
                errors["topic_number"] = "No topic has that number."
                return None
            return _Subject(kind, f"case:{topic.id}", room_id=topic.room_id, topic_id=topic.id)
    if isinstance(room_id, bool) or not isinstance(room_id, int) or room_id not in rooms:
        errors["room_id"] = "Choose a room."
    if kind is AwardKind.ROOM:
        return None if errors else _Subject(kind, f"room:{room_id}", room_id=room_id)  # type: ignore[arg-type]
    who = check_text("name", name, NAME_LIMITS, errors)
    number = _phone(phone, errors)
    key = resident_key(number, None)
    if errors or key is None:
        return None
    return _Subject(kind, key, room_id=room_id, name=who, phone=number)  # type: ignore[arg-type]


async def nominate(
    ctx: Context,
    actor: Principal,
    year: object,
    *,
    kind: object,
    organisation: object,
    reasons: object,
    room_id: object = None,
    topic_number: object = None,
    name: object = None,
    phone: object = None,
) -> Nominated:
    """Staff nominate on behalf of an organisation: a room (its id), a case (its topic
    number) or a resident (name, phone and room), with reasons. Refused with nothing
    written: bad fields (ValidationFailed), a year not opened (NotFound), a closed review
    or a subject already nominated (Conflict)."""
    if actor.must_change_password:
        raise Forbidden("Change your one-time password first.")
    value = parse_year(year, ctx.clock.now())
    errors: dict[str, str] = {}
    org = check_text("organisation", organisation, ORGANISATION_LIMITS, errors)
    why = check_text("reasons", reasons, REASONS_LIMITS, errors)
    try:
        what = AwardKind(str(kind))
    except ValueError:
        errors["kind"] = "Choose room, resident or case."
        raise ValidationFailed("Please check the highlighted fields.", fields=errors) from None
    subject = await _staff_subject(ctx, what, room_id, topic_number, name, phone, errors)
    if errors or subject is None:
        raise ValidationFailed("Please check the highlighted fields.", fields=errors)
    return await _insert(
        ctx,
        value,
        subject,
        source=NominationSource.ORGANISATION,
        reasons=why,
        organisation=org,
        actor=actor,
    )


async def _pending(
    session: AsyncSession, r: AwardRound, nomination_id: int, doing: str
) -> AwardNomination:
    n = await store.get_nomination(session, r.id, nomination_id)
    if n is None:
        raise NotFound("No such nomination in this year.")
    if n.status is not NominationStatus.PENDING:
        raise Conflict(f"Cannot {doing}: the nomination is already {n.status}.")
    return n


async def accept_nomination(
    ctx: Context, actor: Principal, year: object, nomination_id: int
) -> int:
    """Make a pending nomination a candidate (with the subject's figures for the year,
    if it has any), or mark the existing candidate as nominated too, adding the reasons.
    Refused with nothing written: not the administrator (Forbidden), unknown (NotFound),
    a closed review or a nomination already decided (Conflict). Returns the candidate id."""
    require_manager(actor)
    now = ctx.clock.now()
    value = parse_year(year, now)
    async with ctx.db.write(on_conflict="The nomination was decided at the same time.") as session:
        r = await round_of(session, value, lock=True)
        require_open(r, "accept nominations")
        n = await _pending(session, r, nomination_id, "accept it")
        reasons = f"{n.organisation or '自荐'}：{n.reasons}"
        c = await store.find_candidate(session, r.id, n.kind, n.subject_key)
        if c is None:
            figures = {p.subject_key: p for p in (await propose(session, value, None))[n.kind]}
            p = figures.get(n.subject_key)
            if n.kind is AwardKind.RESIDENT:
                title, masked = mask_name(n.name), mask_phone(n.phone)
            elif n.kind is AwardKind.ROOM:
                title, masked = (await store.room_names(session))[n.room_id or 0][0], ""
            else:
                topic_title = p.title if p else await _case_title(session, n.topic_id)
                title, masked = topic_title, ""
            c = AwardCandidate(
                round_id=r.id,
                kind=n.kind,
                source=CandidateSource.NOMINATION,
                subject_key=n.subject_key,
                room_id=n.room_id,
                topic_id=n.topic_id,
                title=title,
                masked_phone=masked,
                figures=p.figures if p else {},
                composite=p.composite if p else 0.0,
                nominated=True,
                reasons=reasons,
                created_at=now,
            )
            session.add(c)
            await session.flush()
        else:
            c.nominated = True
            c.reasons = f"{c.reasons}\n{reasons}".strip()
        n.status, n.decided_at, n.decided_by_id = NominationStatus.ACCEPTED, now, actor.user_id
        n.candidate_id = c.id
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="awards.accept",
            target=f"award_nomination:{n.id}",
            detail={"candidate_id": c.id},
        )
    return c.id


async def _case_title(session: AsyncSession, topic_id: int | None) -> str:
    found = (await store.topic_titles(session, [topic_id or 0])).get(topic_id or 0)
    return f"{found[0]} {found[1]}" if found else ""


async def decline_nomination(
    ctx: Context, actor: Principal, year: object, nomination_id: int, *, reason: object
) -> None:
    """Decline a pending nomination with a reason (4-500 characters); its row stays.
    Refused with nothing written like accept_nomination, and without a reason
    (ValidationFailed)."""
    require_manager(actor)
    now = ctx.clock.now()
    value = parse_year(year, now)
    try:
        why = check_reason(reason)
    except Invalid as exc:
        raise invalid(exc) from None
    async with ctx.db.write() as session:
        r = await round_of(session, value, lock=True)
        require_open(r, "decline nominations")
        n = await _pending(session, r, nomination_id, "decline it")
        n.status, n.decided_at, n.decided_by_id = NominationStatus.DECLINED, now, actor.user_id
        n.decline_reason = why
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="awards.decline",
            target=f"award_nomination:{n.id}",
            detail={"reason": why},
        )
