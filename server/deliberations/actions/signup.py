"""Sign-up (报名): registration up to capacity then a waiting list, the registrant's own
page by a private token, cancelling, and the host's check-in and attendance list.

Every change of who holds a seat locks the session's row first (``SELECT … FOR UPDATE``
on PostgreSQL; SQLite has a single writer) and counts under that lock, so the seats
taken never exceed the capacity however many sign up at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.audit import record_audit
from server.core.auth import Permission, Principal, new_token, token_digest
from server.core.context import Context
from server.core.errors import Conflict, NotFound, ValidationFailed
from server.core.ratelimit import enforce
from server.deliberations import store
from server.deliberations.actions.common import (
    LIVE_NAMESPACE,
    Place,
    load,
    require_host,
    staff_room,
)
from server.deliberations.model import (
    NAME_MAX,
    SIGNUP_STATES,
    AttendeeKind,
    DeliberationStatus,
    Invalid,
    RegistrationStatus,
    require_text,
)
from server.deliberations.tables import Deliberation, Registration
from server.topics.model import mask_phone, normalise_phone

log = logging.getLogger(__name__)

R = RegistrationStatus
TOKEN_MAX = 64


@dataclass(frozen=True, slots=True)
class SignUp:
    """A registration as the person typed it."""

    name: str
    kind: str
    phone: str = ""
    consent: bool = False


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """Enough of the session for a registrant's page or a host's check-in screen."""

    id: int
    title: str
    status: DeliberationStatus
    starts_at: datetime
    ends_at: datetime
    place: str
    room_name: str
    cancel_reason: str


@dataclass(frozen=True, slots=True)
class Attendee:
    """One registration as the host sees it (the phone masked)."""

    id: int
    name: str
    kind: AttendeeKind
    phone_masked: str
    status: RegistrationStatus
    position: int | None  # on the waiting list, 1 first
    created_at: datetime
    promoted_at: datetime | None
    cancelled_at: datetime | None
    checked_in_at: datetime | None

    def to_json(self) -> dict[str, object]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "phone": self.phone_masked,
            "status": self.status,
            "position": self.position,
            "created_at": self.created_at.isoformat(),
            "promoted_at": iso(self.promoted_at),
            "cancelled_at": iso(self.cancelled_at),
            "checked_in_at": iso(self.checked_in_at),
        }


@dataclass(frozen=True, slots=True)
class RegistrationView:
    """What the registrant's private page shows."""

    session: SessionSummary
    attendee: Attendee
    checkin_url: str

    @property
    def may_cancel(self) -> bool:
        return (
            self.attendee.status is not R.CANCELLED
            and self.attendee.checked_in_at is None
            and self.session.status in SIGNUP_STATES
        )


@dataclass(frozen=True, slots=True)
class Registered:
    view: RegistrationView
    token: str
    url: str  # the registrant's page: keep it, it is the only way back


@dataclass(frozen=True, slots=True)
class Attendance:
    session: SessionSummary
    capacity: int
    attendees: list[Attendee]
    # kind → (registered, checked in)
    by_kind: dict[AttendeeKind, tuple[int, int]]

    @property
    def registered(self) -> int:
        return sum(1 for a in self.attendees if a.status is R.REGISTERED)

    @property
    def waitlisted(self) -> int:
        return sum(1 for a in self.attendees if a.status is R.WAITLISTED)

    @property
    def checked_in(self) -> int:
        return sum(1 for a in self.attendees if a.checked_in_at is not None)


def signup_url(ctx: Context, token: str) -> str:
    return f"{ctx.settings.public_base_url}/signup/{token}"


def checkin_url(ctx: Context, token: str) -> str:
    """What the registrant's check-in QR encodes; a host's phone opens it."""
    return f"{ctx.settings.public_base_url}/checkin/{token}"


def _summary(place: Place) -> SessionSummary:
    d = place.deliberation
    return SessionSummary(
        d.id, d.title, d.status, d.starts_at, d.ends_at, d.place, place.room_name, d.cancel_reason
    )


def _attendee(r: Registration, position: int | None = None) -> Attendee:
    return Attendee(
        r.id,
        r.name,
        r.kind,
        mask_phone(r.phone),
        r.status,
        position if r.status is R.WAITLISTED else None,
        r.created_at,
        r.promoted_at,
        r.cancelled_at,
        r.checked_in_at,
    )


async def _position(session: AsyncSession, r: Registration) -> int | None:
    return await store.waitlist_position(session, r) if r.status is R.WAITLISTED else None


def check_signup(signup: SignUp) -> tuple[str, AttendeeKind, str]:
    """Name, kind and normalised phone; ValidationFailed names every bad field at once."""
    errors: dict[str, str] = {}
    name = ""
    try:
        name = require_text("name", signup.name, NAME_MAX)
    except Invalid as exc:
        errors.update(exc.fields)
    kind = AttendeeKind.RESIDENT
    try:
        kind = AttendeeKind(signup.kind)
    except ValueError:
        errors["kind"] = "Unknown kind."
    phone = normalise_phone(signup.phone) if signup.phone.strip() else ""
    if phone is None:
        errors["phone"] = "Not a phone number."
    if not signup.consent:
        errors["consent"] = "Agree to how your name and phone number are used."
    if errors:
        raise ValidationFailed("Some fields need attention.", fields=errors)
    return name, kind, phone or ""


async def _lock(session: AsyncSession, deliberation_id: int) -> Place:
    found = await store.get_with_place(session, deliberation_id, lock=True)
    if found is None:
        raise NotFound("No such deliberation.")
    return Place(*found)


def _open_for_signup(ctx: Context, d: Deliberation) -> None:
    if d.status not in SIGNUP_STATES or d.announced_at is None:
        raise Conflict(
            f"Sign-up is closed: the session is {d.status}.", fields={"status": d.status}
        )
    if d.ends_at <= ctx.clock.now():
        raise Conflict("Sign-up is closed: the session is over.", fields={"status": d.status})


async def fill_seats(session: AsyncSession, d: Deliberation, now: datetime) -> list[Registration]:
    """Seat the waiting list, first come first served, up to the capacity.

    Requires the session's row locked in the caller's write transaction (its capacity
    current); returns the registrations promoted.
    """
    counts = (await store.count_registrations(session, [d.id]))[d.id]
    free = d.capacity - counts.get(R.REGISTERED, 0)
    promoted = await store.first_waitlisted(session, d.id, free)
    for r in promoted:
        r.status, r.promoted_at = R.REGISTERED, now
    await session.flush()
    return promoted


async def _publish_counts(ctx: Context, deliberation_id: int) -> None:
    """After commit: the hosts' consoles update their seat and check-in counts."""
    async with ctx.db.read() as session:
        counts = (await store.count_registrations(session, [deliberation_id]))[deliberation_id]
        checked_in = await store.count_checked_in(session, deliberation_id)
    try:
        await ctx.notifier.emit(
            "attendance",
            {
                "type": "attendance",
                "op": "counts",
                "deliberation_id": deliberation_id,
                "registered": counts.get(R.REGISTERED, 0),
                "waitlisted": counts.get(R.WAITLISTED, 0),
                "checked_in": checked_in,
            },
            namespace=LIVE_NAMESPACE,
            rooms=[staff_room(deliberation_id)],
        )
    except Exception:  # stored; the console's next load shows it
        log.exception("could not publish attendance of %s", deliberation_id)


async def register(
    ctx: Context,
    deliberation_id: int,
    signup: SignUp,
    *,
    device_id: str | None = None,
    ip: str = "",
) -> Registered:
    """Sign up for an announced or live session: a seat while there are seats, else a
    place on the waiting list.

    Rate-limited per IP and device like intake. The session's row is locked while the
    seats are counted, so concurrent sign-ups for the last seat get one seat and one
    waiting-list place. The returned token is the registrant's only way back to their
    page (the database keeps its digest). Raises ValidationFailed for bad fields,
    NotFound for an unknown or unannounced session, Conflict when sign-up is closed or
    the phone number is already signed up for this session.
    """
    checks = [
        (f"signup-ip:{ip}", ctx.settings.rate_limit_ip.count, ctx.settings.rate_limit_ip.seconds)
    ]
    if device_id:
        checks.append(
            (
                f"signup-dev:{device_id}",
                ctx.settings.rate_limit_device.count,
                ctx.settings.rate_limit_device.seconds,
            )
        )
    await enforce(ctx.limiter, checks)
    name, kind, phone = check_signup(signup)
    token = new_token(24)
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        place = await _lock(session, deliberation_id)
        d = place.deliberation
        if d.announced_at is None:
            raise NotFound("No such deliberation.")
        _open_for_signup(ctx, d)
        if phone and await store.active_registration_with_phone(session, d.id, phone):
            raise Conflict(
                "This phone number is already signed up for this session.",
                fields={"phone": "Already signed up."},
            )
        taken = (await store.count_registrations(session, [d.id]))[d.id].get(R.REGISTERED, 0)
        r = await store.insert_registration(
            session,
            {
                "deliberation_id": d.id,
                "name": name,
                "phone": phone,
                "kind": kind,
                "status": R.REGISTERED if taken < d.capacity else R.WAITLISTED,
                "token_digest": token_digest(token),
                "device_id": device_id,
                "created_at": now,
            },
        )
        view = RegistrationView(
            _summary(place), _attendee(r, await _position(session, r)), checkin_url(ctx, token)
        )
    await _publish_counts(ctx, deliberation_id)
    return Registered(view, token, signup_url(ctx, token))


async def _by_token(session: AsyncSession, token: str) -> Registration:
    if not token or len(token) > TOKEN_MAX:
        raise NotFound("No registration behind this link.")
    r = await store.get_registration_by_digest(session, token_digest(token))
    if r is None:
        raise NotFound("No registration behind this link.")
    return r


async def registration_by_token(ctx: Context, token: str) -> RegistrationView:
    """The registrant's page: their status, waiting-list position and check-in link."""
    async with ctx.db.read() as session:
        r = await _by_token(session, token)
        place = await load(session, r.deliberation_id)
        return RegistrationView(
            _summary(place), _attendee(r, await _position(session, r)), checkin_url(ctx, token)
        )


async def cancel_registration(ctx: Context, token: str) -> RegistrationView:
    """The registrant gives up their seat or waiting-list place; a freed seat goes to the
    first on the waiting list in the same transaction.

    Raises NotFound for an unknown token, Conflict when already cancelled (naming
    when), already checked in, or the session is over or cancelled.
    """
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        found = await _by_token(session, token)
        place = await _lock(session, found.deliberation_id)
        r = await store.get_registration(session, found.id)  # re-read under the lock
        assert r is not None
        if r.status is R.CANCELLED:
            assert r.cancelled_at is not None
            raise Conflict(
                f"This registration was already cancelled at {r.cancelled_at.isoformat()}.",
                fields={"status": r.status, "cancelled_at": r.cancelled_at.isoformat()},
            )
        if r.checked_in_at is not None:
            raise Conflict(
                "You have already checked in.",
                fields={"checked_in_at": r.checked_in_at.isoformat()},
            )
        d = place.deliberation
        if d.status not in SIGNUP_STATES:
            raise Conflict(
                f"The session is {d.status}: nothing to cancel.", fields={"status": d.status}
            )
        r.status, r.cancelled_at = R.CANCELLED, now
        await session.flush()
        await fill_seats(session, d, now)
        view = RegistrationView(_summary(place), _attendee(r), checkin_url(ctx, token))
    await _publish_counts(ctx, d.id)
    return view


@dataclass(frozen=True, slots=True)
class CheckinPreview:
    """What a host sees after scanning a registrant's QR, before confirming."""

    session: SessionSummary
    attendee: Attendee
    may_host: bool


async def checkin_preview(ctx: Context, actor: Principal, token: str) -> CheckinPreview:
    """The registration behind a scanned QR, for a host of its session."""
    async with ctx.db.read() as session:
        r = await _by_token(session, token)
        place = await load(session, r.deliberation_id)
        require_host(actor, place)
        return CheckinPreview(
            _summary(place), _attendee(r, await _position(session, r)), may_host=True
        )


async def check_in(
    ctx: Context,
    actor: Principal,
    deliberation_id: int,
    *,
    token: str | None = None,
    registration_id: int | None = None,
) -> Attendee:
    """A host marks a registrant present, by the scanned token or by the registration id.

    Refused (Conflict) for a cancelled registration, one still on the waiting list, one
    already checked in (naming when), or a session that is not announced or live;
    ValidationFailed when the registration belongs to another session.
    """
    if (token is None) == (registration_id is None):
        raise ValidationFailed(
            "Give the scanned token or the registration id.",
            fields={"token": "One of token or registration_id."},
        )
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        place = await _lock(session, deliberation_id)
        require_host(actor, place)
        if token is not None:
            r: Registration | None = await _by_token(session, token)
        else:
            assert registration_id is not None
            r = await store.get_registration(session, registration_id)
            if r is None:
                raise NotFound("No such registration.")
        assert r is not None
        if r.deliberation_id != deliberation_id:
            raise ValidationFailed(
                "That registration is for another session.",
                fields={"token" if token is not None else "registration_id": "Another session."},
            )
        d = place.deliberation
        if d.status not in SIGNUP_STATES:
            raise Conflict(f"A {d.status} session takes no check-ins.", fields={"status": d.status})
        if r.checked_in_at is not None:
            raise Conflict(
                f"{r.name} already checked in at {r.checked_in_at.isoformat()}.",
                fields={"checked_in_at": r.checked_in_at.isoformat()},
            )
        if r.status is not R.REGISTERED:
            raise Conflict(
                f"{r.name} is {r.status}: no seat to check in to.", fields={"status": r.status}
            )
        r.checked_in_at, r.checked_in_by_id = now, actor.user_id
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="deliberation.checkin",
            target=f"registration:{r.id}",
            detail={"deliberation_id": d.id, "by": "token" if token is not None else "id"},
        )
        await session.flush()
        attendee = _attendee(r)
    await _publish_counts(ctx, deliberation_id)
    return attendee


async def attendance(ctx: Context, actor: Principal, deliberation_id: int) -> Attendance:
    """The host's attendance list (phones masked) with counts by attendee kind."""
    actor.require(Permission.HOST_DELIBERATIONS)
    async with ctx.db.read() as session:
        place = await load(session, deliberation_id)
        require_host(actor, place)
        rows = await store.list_registrations(session, deliberation_id)
        by_kind = await store.count_by_kind(session, deliberation_id)
    return Attendance(_summary(place), place.deliberation.capacity, _with_positions(rows), by_kind)


def _with_positions(rows: Sequence[Registration]) -> list[Attendee]:
    out, position = [], 0
    for r in rows:  # the waiting list comes in sign-up order
        if r.status is R.WAITLISTED:
            position += 1
        out.append(_attendee(r, position))
    return out
