"""Remote guests (视频连线): invitations by signed, expiring link, and the lobby."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.audit import record_audit
from server.core.auth import Principal
from server.core.context import Context
from server.core.errors import Conflict, NotFound, ValidationFailed
from server.deliberations import store
from server.deliberations.actions.common import load, require_host
from server.deliberations.model import REASON_MAX, Invalid, InvitationStatus, require_text
from server.deliberations.tables import Invitation


async def _hosted_invitation(
    session: AsyncSession, actor: Principal, invitation_id: int
) -> Invitation:
    """The invitation, if the actor may host its session."""
    invitation = await store.get_invitation(session, invitation_id)
    if invitation is None:
        raise NotFound("No such invitation.")
    require_host(actor, await load(session, invitation.deliberation_id))
    return invitation


async def admit(ctx: Context, actor: Principal, invitation_id: int) -> Invitation:
    """Let a guest in from the lobby. A removed guest cannot be admitted."""
    async with ctx.db.write() as session:
        invitation = await _hosted_invitation(session, actor, invitation_id)
        if invitation.status is InvitationStatus.REMOVED:
            raise Conflict("That guest was removed.", fields={"status": invitation.status})
        if invitation.status is InvitationStatus.ADMITTED:
            raise Conflict("That guest is already in.", fields={"status": invitation.status})
        now = ctx.clock.now()
        invitation.status = InvitationStatus.ADMITTED
        invitation.admitted_at = now
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="invitation.admit",
            target=f"invitation:{invitation.id}",
            detail={"deliberation_id": invitation.deliberation_id},
        )
        return invitation


async def remove(
    ctx: Context, actor: Principal, invitation_id: int, reason: object = ""
) -> Invitation:
    """Remove a guest: their link stops working at once. The row stays, with its reason.
    The returned invitation carries ``live_sid`` so the live room can disconnect them."""
    if not isinstance(reason, str):
        raise ValidationFailed("reason must be text.", fields={"reason": "Must be text."})
    try:
        text = require_text("reason", reason, REASON_MAX, required=False)
    except Invalid as exc:
        raise ValidationFailed(str(exc), fields=exc.fields) from None
    async with ctx.db.write() as session:
        invitation = await _hosted_invitation(session, actor, invitation_id)
        if invitation.status is InvitationStatus.REMOVED:
            raise Conflict("That guest was already removed.", fields={"status": invitation.status})
        now = ctx.clock.now()
        invitation.status = InvitationStatus.REMOVED
        invitation.removed_at = now
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="invitation.remove",
            target=f"invitation:{invitation.id}",
            detail={"deliberation_id": invitation.deliberation_id, "reason": text},
        )
        return invitation
