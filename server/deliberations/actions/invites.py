"""Remote guests (视频连线): invitations by signed, expiring link; admission and removal.

The link carries ``common.sign_invitation``'s token; ``common.check_invitation`` accepts
it while it is genuine, unexpired and not removed. Admission from the lobby happens in
the live room, which calls ``admit`` here, as the staff page does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.audit import record_audit
from server.core.auth import Permission, Principal
from server.core.context import Context
from server.core.errors import Conflict, Gone, NotFound, ValidationFailed
from server.deliberations import store
from server.deliberations.actions import room
from server.deliberations.actions.common import (
    LIVE_NAMESPACE,
    Place,
    invitation_room,
    load,
    require_host,
    sign_invitation,
    staff_room,
)
from server.deliberations.model import (
    INVITE_HOURS_DEFAULT,
    INVITE_HOURS_MAX,
    NAME_MAX,
    REASON_MAX,
    DeliberationStatus,
    GuestRole,
    Invalid,
    InvitationStatus,
    require_text,
)
from server.deliberations.tables import Invitation

log = logging.getLogger(__name__)

D = DeliberationStatus
I = InvitationStatus  # noqa: E741
ORGANISATION_MAX = 60
# Guests are invited until the session is over; they are admitted while it may still run.
INVITE_STATES = frozenset({D.DRAFT, D.ANNOUNCED, D.LIVE})
ADMIT_STATES = frozenset({D.ANNOUNCED, D.LIVE})


@dataclass(frozen=True, slots=True)
class InvitationView:
    id: int
    deliberation_id: int
    role: GuestRole
    display_name: str
    organisation: str
    status: InvitationStatus
    expires_at: datetime
    expired: bool
    created_at: datetime
    admitted_at: datetime | None
    removed_at: datetime | None
    removed_reason: str
    # The guest's socket.io connection, if any: the live room disconnects it on removal.
    live_sid: str | None
    token: str  # the signed token in the link; empty once removed (it no longer works)
    link: str

    def to_json(self) -> dict[str, object]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "deliberation_id": self.deliberation_id,
            "role": self.role,
            "display_name": self.display_name,
            "organisation": self.organisation,
            "status": self.status,
            "expires_at": self.expires_at.isoformat(),
            "expired": self.expired,
            "created_at": self.created_at.isoformat(),
            "admitted_at": iso(self.admitted_at),
            "removed_at": iso(self.removed_at),
            "removed_reason": self.removed_reason,
            "connected": self.live_sid is not None,
            "link": self.link or None,
        }


def join_url(ctx: Context, token: str) -> str:
    return f"{ctx.settings.public_base_url}/join/{token}"


def _view(ctx: Context, i: Invitation) -> InvitationView:
    # The same token every time it is asked for: it is signed, not stored.
    token = "" if i.status is I.REMOVED else sign_invitation(ctx, i.id, i.expires_at)
    return InvitationView(
        id=i.id,
        deliberation_id=i.deliberation_id,
        role=i.role,
        display_name=i.display_name,
        organisation=i.organisation,
        status=i.status,
        expires_at=i.expires_at,
        expired=i.expires_at <= ctx.clock.now(),
        created_at=i.created_at,
        admitted_at=i.admitted_at,
        removed_at=i.removed_at,
        removed_reason=i.removed_reason,
        live_sid=i.live_sid,
        token=token,
        link=join_url(ctx, token) if token else "",
    )


async def invite(
    ctx: Context,
    actor: Principal,
    deliberation_id: int,
    *,
    role: str,
    display_name: str,
    organisation: str = "",
    hours: int = INVITE_HOURS_DEFAULT,
) -> InvitationView:
    """Invite a remote guest: an official, a deputy or an expert. The link expires after
    ``hours`` (1 to INVITE_HOURS_MAX). Refused once the session is over or cancelled."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for name, value, limit, required in (
        ("display_name", display_name, NAME_MAX, True),
        ("organisation", organisation, ORGANISATION_MAX, False),
    ):
        try:
            values[name] = require_text(name, value, limit, required=required)
        except Invalid as exc:
            errors.update(exc.fields)
    try:
        guest_role = GuestRole(role)
    except ValueError:
        errors["role"] = "official, deputy or expert."
    if not 1 <= hours <= INVITE_HOURS_MAX:
        errors["hours"] = f"1 to {INVITE_HOURS_MAX}."
    if errors:
        raise ValidationFailed("Some fields need attention.", fields=errors)
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        place = await load(session, deliberation_id)
        require_host(actor, place)
        d = place.deliberation
        if d.status not in INVITE_STATES:
            raise Conflict(f"A {d.status} session takes no guests.", fields={"status": d.status})
        invitation = await store.insert_invitation(
            session,
            {
                "deliberation_id": d.id,
                "role": guest_role,
                "display_name": values["display_name"],
                "organisation": values["organisation"],
                "status": I.INVITED,
                # Whole seconds: the token carries the expiry as an epoch.
                "expires_at": (now + timedelta(hours=hours)).replace(microsecond=0),
                "created_by_id": actor.user_id,
                "created_at": now,
                "removed_reason": "",
            },
        )
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="invitation.invite",
            target=f"invitation:{invitation.id}",
            detail={
                "deliberation_id": d.id,
                "role": guest_role,
                "display_name": invitation.display_name,
                "hours": hours,
            },
        )
        return _view(ctx, invitation)


async def list_invitations(
    ctx: Context, actor: Principal, deliberation_id: int
) -> list[InvitationView]:
    """A session's invitations, oldest first, with their links, for its hosts."""
    actor.require(Permission.HOST_DELIBERATIONS)
    async with ctx.db.read() as session:
        place = await load(session, deliberation_id)
        require_host(actor, place)
        return [_view(ctx, i) for i in await store.list_invitations(session, deliberation_id)]


async def get_invitation(ctx: Context, actor: Principal, invitation_id: int) -> InvitationView:
    """One invitation, for a host of its session (its QR, say)."""
    async with ctx.db.read() as session:
        invitation = await store.get_invitation(session, invitation_id)
        if invitation is None:
            raise NotFound("No such invitation.")
        require_host(actor, await load(session, invitation.deliberation_id))
        return _view(ctx, invitation)


async def admit(ctx: Context, actor: Principal, invitation_id: int) -> InvitationView:
    """Let an invited guest in (from the lobby). Admitting an admitted guest changes
    nothing. Refused: a removed guest (Conflict), an expired invitation (Gone), a
    session that is not announced or live (Conflict)."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        invitation, place = await _invitation_for_host(session, actor, invitation_id)
        if invitation.status is I.REMOVED:
            raise Conflict(
                f"{invitation.display_name} was removed; invite them again.",
                fields={"status": invitation.status},
            )
        if invitation.status is I.ADMITTED:
            return _view(ctx, invitation)
        if invitation.expires_at <= now:
            raise Gone(f"{invitation.display_name}'s invitation has expired; invite them again.")
        d = place.deliberation
        if d.status not in ADMIT_STATES:
            raise Conflict(f"A {d.status} session admits no guests.", fields={"status": d.status})
        invitation.status, invitation.admitted_at = I.ADMITTED, now
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="invitation.admit",
            target=f"invitation:{invitation.id}",
            detail={"deliberation_id": d.id, "display_name": invitation.display_name},
        )
        await session.flush()
        view = _view(ctx, invitation)
    await publish_guest(ctx, view, "admitted")
    return view


async def remove(
    ctx: Context, actor: Principal, invitation_id: int, reason: object = ""
) -> InvitationView:
    """Withdraw an invitation, admitted or not: its link stops working at once (Gone).
    The view still carries ``live_sid`` so the live room can disconnect the guest. The
    reason (optional: a host may act at once) stays with the row; a guest removed
    already is a Conflict naming when."""
    if not isinstance(reason, str):
        raise ValidationFailed("reason must be text.", fields={"reason": "Must be text."})
    try:
        reason = require_text("reason", reason, REASON_MAX, required=False)
    except Invalid as exc:
        raise ValidationFailed(str(exc), fields=exc.fields) from None
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        invitation, place = await _invitation_for_host(session, actor, invitation_id)
        if invitation.status is I.REMOVED:
            assert invitation.removed_at is not None
            raise Conflict(
                f"{invitation.display_name} was already removed at "
                f"{invitation.removed_at.isoformat()}.",
                fields={
                    "status": invitation.status,
                    "removed_at": invitation.removed_at.isoformat(),
                },
            )
        invitation.status, invitation.removed_at = I.REMOVED, now
        invitation.removed_reason = reason
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="invitation.remove",
            target=f"invitation:{invitation.id}",
            detail={
                "deliberation_id": place.deliberation.id,
                "display_name": invitation.display_name,
                "reason": reason,
            },
        )
        await session.flush()
        view = _view(ctx, invitation)
    await publish_guest(ctx, view, "removed")
    return view


async def publish_guest(ctx: Context, view: InvitationView, op: str) -> None:
    """After commit, whichever way the host acted (console or API): tell the guest
    (``lobby`` admitted/removed; an admitted guest re-syncs and is let into the room, a
    removed one is refused from then on) and refresh every host console's lobby."""
    try:
        await ctx.notifier.emit(
            "lobby",
            {"type": "lobby", "op": op},
            namespace=LIVE_NAMESPACE,
            rooms=[invitation_room(view.id)],
        )
        guests = await room.lobby(ctx, view.deliberation_id)
        await ctx.notifier.emit(
            "lobby",
            {"type": "lobby", "op": "state", "guests": guests},
            namespace=LIVE_NAMESPACE,
            rooms=[staff_room(view.deliberation_id)],
        )
    except Exception:  # stored; the pages re-sync on their next connect
        log.exception("could not publish guest %s %s", view.id, op)


async def _invitation_for_host(
    session: AsyncSession, actor: Principal, invitation_id: int
) -> tuple[Invitation, Place]:
    """The invitation, locked, if the actor may host its session."""
    invitation = await store.lock_invitation(session, invitation_id)
    if invitation is None:
        raise NotFound("No such invitation.")
    place = await load(session, invitation.deliberation_id)
    require_host(actor, place)
    return invitation, place
