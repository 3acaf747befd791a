"""What the deliberation actions share: socket.io room names, who may host, identities
in the live room and the signed invitation tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.auth import Permission, Principal
from server.core.context import Context
from server.core.errors import Forbidden, Gone, NotFound
from server.deliberations import store
from server.deliberations.model import GuestRole, InvitationStatus, LiveRole
from server.deliberations.tables import Deliberation, Invitation

LIVE_NAMESPACE = "/live"


def deliberation_room(deliberation_id: int) -> str:
    """Everyone in a session's live room: viewers, admitted guests and hosts."""
    return f"deliberation:{deliberation_id}"


def staff_room(deliberation_id: int) -> str:
    """The session's hosts and moderators: control events, held comments, the lobby."""
    return f"deliberation:{deliberation_id}:staff"


def invitation_room(invitation_id: int) -> str:
    """One guest's connections (in the lobby or admitted)."""
    return f"invitation:{invitation_id}"


@dataclass(frozen=True, slots=True)
class Place:
    """A deliberation and where it is, for authority checks."""

    deliberation: Deliberation
    region_path: str
    room_name: str
    room_code: str


async def load(session: AsyncSession, deliberation_id: int) -> Place:
    row = await store.get_with_place(session, deliberation_id)
    if row is None:
        raise NotFound("No such deliberation.")
    deliberation, region_path, room_name, room_code = row
    return Place(deliberation, region_path, room_name, room_code)


def may_host(actor: Principal, region_path: str) -> bool:
    """Hosts and moderators: staff allowed to run sessions, within their territory."""
    return (
        not actor.must_change_password
        and actor.can(Permission.HOST_DELIBERATIONS)
        and actor.covers(region_path)
    )


def require_host(actor: Principal, place: Place) -> None:
    actor.require(Permission.HOST_DELIBERATIONS, place.region_path)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a live-room connection is. ``key`` is the one-vote, one-rate-limit identity."""

    role: LiveRole
    key: str
    name: str
    deliberation_id: int
    user_id: int | None = None
    invitation_id: int | None = None
    guest_role: GuestRole | None = None

    @property
    def is_host(self) -> bool:
        return self.role is LiveRole.HOST


def staff_identity(actor: Principal, deliberation_id: int) -> Identity:
    return Identity(
        LiveRole.HOST,
        f"staff:{actor.user_id}",
        actor.display_name[:30],
        deliberation_id,
        user_id=actor.user_id,
    )


def viewer_identity(device: str, deliberation_id: int) -> Identity:
    # Viewers are anonymous: the name others see is a short tag of the device.
    tag = hashlib.sha256(device.encode()).hexdigest()[:4].upper()
    return Identity(LiveRole.VIEWER, f"viewer:{device}", f"网友{tag}", deliberation_id)


def guest_key(invitation_id: int) -> str:
    """A guest's live identity key: its rate limits, its ballots, its media participant."""
    return f"guest:{invitation_id}"


def guest_identity(invitation: Invitation) -> Identity:
    return Identity(
        LiveRole.GUEST,
        guest_key(invitation.id),
        invitation.display_name,
        invitation.deliberation_id,
        invitation_id=invitation.id,
        guest_role=invitation.role,
    )


# Invitation tokens: "<id>.<expiry epoch>.<signature>", the signature an HMAC-SHA256 of
# the rest under the server's secret key. The row decides too: a removed guest's token
# stops working even before it expires.


def _signature(secret: str, invitation_id: int, expires: int) -> str:
    digest = hmac.new(
        secret.encode(), f"invite:{invitation_id}:{expires}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def sign_invitation(ctx: Context, invitation_id: int, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    return (
        f"{invitation_id}.{expires}.{_signature(ctx.settings.secret_key, invitation_id, expires)}"
    )


def _parse_invitation(ctx: Context, token: str) -> tuple[int, int]:
    parts = token.split(".") if isinstance(token, str) and len(token) <= 80 else []
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise Forbidden("That invitation link is not valid.")
    invitation_id, expires = int(parts[0]), int(parts[1])
    expected = _signature(ctx.settings.secret_key, invitation_id, expires)
    if not hmac.compare_digest(expected.encode(), parts[2].encode()):
        raise Forbidden("That invitation link is not valid.")
    return invitation_id, expires


async def check_invitation(ctx: Context, session: AsyncSession, token: str) -> Invitation:
    """The invitation a token names, if it is genuine, unexpired and not removed."""
    invitation_id, expires = _parse_invitation(ctx, token)
    if expires <= ctx.clock.now().timestamp():
        raise Gone("That invitation has expired; ask the host for a new one.")
    invitation = await store.get_invitation(session, invitation_id)
    if invitation is None or int(invitation.expires_at.timestamp()) != expires:
        raise Forbidden("That invitation link is not valid.")
    if invitation.status is InvitationStatus.REMOVED:
        raise Gone("The host has withdrawn this invitation.")
    return invitation


async def publish_session(ctx: Context, deliberation: Deliberation) -> None:
    """Tell everyone in the live room that the session changed state (after commit)."""
    await ctx.notifier.emit(
        "session",
        {
            "type": "session",
            "op": "state",
            "status": deliberation.status,
            "cancel_reason": deliberation.cancel_reason,
        },
        namespace=LIVE_NAMESPACE,
        rooms=[deliberation_room(deliberation.id)],
    )
