"""The live room's three pages: the host console, a remote guest's page and the viewers'
page. Each renders the session's frame; the state itself comes over ``/live``
(``static/js/live*.js``) from the ``sync`` snapshot and the events after it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.core.context import Context
from server.core.errors import Forbidden, Gone, NotFound
from server.core.web import ctx_of, render, staff_page
from server.deliberations.actions import common
from server.deliberations.model import COMMENT_MAX, QUESTION_MAX, DeliberationStatus

routes = web.RouteTableDef()

# What the pages need to know of a session before the socket connects.
HIDDEN_STATES = frozenset({DeliberationStatus.DRAFT})


async def _place(ctx: Context, deliberation_id: int) -> common.Place:
    async with ctx.db.read() as session:
        return await common.load(session, deliberation_id)


def _session(place: common.Place) -> dict[str, Any]:
    d = place.deliberation
    return {
        "id": d.id,
        "title": d.title,
        "status": str(d.status),
        "place": d.place,
        "host_name": d.host_name,
        "starts_at": d.starts_at,
        "ends_at": d.ends_at,
        "cancel_reason": d.cancel_reason,
        "version": d.version,
        "room_name": place.room_name,
        "room_code": place.room_code,
    }


def _limits() -> dict[str, int]:
    return {"comment": COMMENT_MAX, "question": QUESTION_MAX}


def _refusal(request: web.Request, status: int, code: str, message: str) -> web.Response:
    response = render(
        request, "error.html", {"status": status, "code": code, "message": message}, status=status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _live_page(request: web.Request, template: str, context: dict[str, Any]) -> web.Response:
    response = render(request, template, {"limits": _limits(), **context})
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get(r"/host/{deliberation_id:\d+}")
async def host_page(request: web.Request) -> web.StreamResponse:
    """The host console (主持台): staff who may host this session, in their territory."""
    principal = staff_page(request)
    try:
        place = await _place(ctx_of(request), int(request.match_info["deliberation_id"]))
    except NotFound:
        return _refusal(request, 404, "not_found", "live.page.no_session")
    if not common.may_host(principal, place.region_path):
        return _refusal(request, 403, "forbidden", "live.page.not_host")
    return _live_page(request, "live_host.html", {"session": _session(place)})


@routes.get(r"/watch/{deliberation_id:\d+}")
async def watch_page(request: web.Request) -> web.StreamResponse:
    """The viewers' page (现场直播): anyone, once the session is announced."""
    try:
        place = await _place(ctx_of(request), int(request.match_info["deliberation_id"]))
    except NotFound:
        place = None
    if place is None or place.deliberation.status in HIDDEN_STATES:
        return _refusal(request, 404, "not_found", "live.page.no_session")
    return _live_page(request, "live_watch.html", {"session": _session(place)})


@routes.get("/join/{token}")
async def join_page(request: web.Request) -> web.StreamResponse:
    """A remote guest's page (视频连线), reached by the signed link in the invitation."""
    ctx = ctx_of(request)
    token = request.match_info["token"]
    try:
        async with ctx.db.read() as session:
            invitation = await common.check_invitation(ctx, session, token)
            place = await common.load(session, invitation.deliberation_id)
    except Gone:
        # Expiry is checked before removal: a token whose time is not up was withdrawn.
        expires = token.split(".")[1]
        expired = int(expires) <= ctx.clock.now().timestamp()
        reason = "live.join.expired" if expired else "live.join.removed"
        return _refusal(request, 410, "gone", reason)
    except (Forbidden, NotFound):
        return _refusal(request, 403, "forbidden", "live.join.invalid")
    guest = {
        "name": invitation.display_name,
        "role": str(invitation.role),
        "organisation": invitation.organisation,
    }
    return _live_page(
        request, "live_guest.html", {"session": _session(place), "guest": guest, "token": token}
    )
