"""Sessions for the staff over HTTP: scheduling, the agenda, the session's moves,
attendance and check-in, remote guests' invitations; the staff pages and the check-in
page a host's phone opens from a registrant's QR."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from markupsafe import Markup

from server.core.auth import Permission
from server.core.clock import LOCAL_TZ
from server.core.errors import BadRequest, Forbidden, NotFound, ValidationFailed
from server.core.openapi import (
    array,
    boolean,
    integer,
    obj,
    operation,
    path_param,
    query_param,
    string,
)
from server.core.web import (
    ctx_of,
    int_param,
    json_int,
    json_optional_int,
    json_response,
    json_str,
    read_json,
    render,
    require_staff,
    staff_page,
)
from server.deliberations.actions import invites, schedule, signup
from server.deliberations.actions.invites import InvitationView
from server.deliberations.actions.schedule import DeliberationView
from server.deliberations.actions.signup import Attendance
from server.deliberations.model import (
    AGENDA_MAX,
    CAPACITY_MAX,
    DESCRIPTION_MAX,
    INVITE_HOURS_DEFAULT,
    INVITE_HOURS_MAX,
    NAME_MAX,
    PLACE_MAX,
    REASON_MAX,
    TITLE_MAX,
    AttendeeKind,
    DeliberationStatus,
    GuestRole,
    ModerationMode,
)
from server.rooms.actions import search_rooms
from server.rooms.qr import qr_svg
from server.topics import actions as topics
from server.topics.model import TopicStatus

routes = web.RouteTableDef()
ROOMS_IN_PICKER = 500
CANDIDATE_TOPICS = 200


# --- presenting ------------------------------------------------------------------------------


def local_time(value: datetime) -> str:
    """Sessions happen in a room in China: their times read in Beijing time."""
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def local_span(starts: datetime, ends: datetime) -> str:
    start, end = starts.astimezone(LOCAL_TZ), ends.astimezone(LOCAL_TZ)
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"


def input_time(value: datetime) -> str:
    """A datetime-local input's value, in Beijing time."""
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


TIME_HELPERS = {"local_time": local_time, "local_span": local_span, "input_time": input_time}


def attendance_json(a: Attendance) -> dict[str, Any]:
    return {
        "deliberation_id": a.session.id,
        "status": a.session.status,
        "capacity": a.capacity,
        "counts": {
            "registered": a.registered,
            "waitlisted": a.waitlisted,
            "checked_in": a.checked_in,
        },
        "by_kind": {
            str(kind): {"registered": n, "checked_in": c} for kind, (n, c) in a.by_kind.items()
        },
        "attendees": [x.to_json() for x in a.attendees],
    }


# --- parsing ---------------------------------------------------------------------------------


def _id(request: web.Request, name: str = "deliberation_id") -> int:
    return int(request.match_info[name])


def json_time(data: dict[str, Any], name: str) -> datetime:
    """An ISO 8601 date and time; without a zone it is Beijing time (what the form sends)."""
    raw = data.get(name)
    if not isinstance(raw, str) or not raw:
        raise ValidationFailed(f"{name} is required.", fields={name: "A date and time."})
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            f"{name} is not a date and time.", fields={name: "A date and time."}
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=LOCAL_TZ)


def session_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The session's fields from a JSON body, every bad one named at once."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in ("title", "description", "place", "moderation", "host_name", "moderators"):
        try:
            values[name] = json_str(data, name)
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if not values.get("moderation"):
        values["moderation"] = ModerationMode.POST_THEN_HIDE.value
    for name in ("starts_at", "ends_at"):
        try:
            values[name] = json_time(data, name)
        except ValidationFailed as exc:
            errors.update(exc.fields)
    try:
        values["capacity"] = json_int(data, "capacity")
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationFailed("Some fields need attention.", fields=errors)
    return values


def agenda_refs(data: dict[str, Any], *, required: bool) -> list[int | str]:
    """``agenda``: topic ids or numbers, in order."""
    raw = data.get("agenda")
    if raw is None and not required:
        return []
    if not isinstance(raw, list) or not all(
        (isinstance(r, int) and not isinstance(r, bool)) or isinstance(r, str) for r in raw
    ):
        raise ValidationFailed(
            "agenda must be a list of topic ids or numbers.", fields={"agenda": "A list."}
        )
    return list(raw)


def _statuses(raw: str | None) -> tuple[DeliberationStatus, ...]:
    try:
        return tuple(DeliberationStatus(v) for v in (raw or "").split(",") if v)
    except ValueError:
        raise BadRequest("Unknown status.", fields={"status": "Unknown value."}) from None


# --- the API ---------------------------------------------------------------------------------


@routes.get("/api/staff/deliberations")
async def list_deliberations(request: web.Request) -> web.Response:
    principal = require_staff(request)
    q = request.query
    found = await schedule.list_deliberations(
        ctx_of(request),
        principal,
        statuses=_statuses(q.get("status")),
        limit=int_param(q.get("limit"), "limit", default=50, lo=1, hi=200) or 50,
        offset=int_param(q.get("offset"), "offset", default=0) or 0,
    )
    return json_response(
        {"deliberations": [d.to_json() for d in found.items], "total": found.total}
    )


@routes.post("/api/staff/deliberations")
async def create_deliberation(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    room_id = json_int(data, "room_id")
    created = await schedule.create_deliberation(
        ctx_of(request),
        principal,
        room_id=room_id,
        agenda=agenda_refs(data, required=False),
        **session_fields(data),
    )
    return json_response(created.to_json(), status=201)


@routes.get(r"/api/staff/deliberations/{deliberation_id:\d+}")
async def deliberation_detail(request: web.Request) -> web.Response:
    view = await schedule.deliberation_detail(ctx_of(request), require_staff(request), _id(request))
    return json_response(view.to_json())


@routes.patch(r"/api/staff/deliberations/{deliberation_id:\d+}")
async def edit_deliberation(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    view = await schedule.edit_deliberation(
        ctx_of(request),
        principal,
        _id(request),
        version=json_int(data, "version"),
        **session_fields(data),
    )
    return json_response(view.to_json())


@routes.put(r"/api/staff/deliberations/{deliberation_id:\d+}/agenda")
async def set_agenda(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    view = await schedule.set_agenda(
        ctx_of(request),
        principal,
        _id(request),
        version=json_int(data, "version"),
        topic_refs=agenda_refs(data, required=True),
    )
    return json_response(view.to_json())


@routes.post(r"/api/staff/deliberations/{deliberation_id:\d+}/moves")
async def move_deliberation(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    try:
        target = DeliberationStatus(str(data.get("to")))
    except ValueError:
        raise ValidationFailed("Unknown status.", fields={"to": "Unknown status."}) from None
    view = await schedule.move(
        ctx_of(request),
        principal,
        _id(request),
        target,
        version=json_optional_int(data, "version"),
        reason=json_str(data, "reason"),
    )
    return json_response(view.to_json())


@routes.get("/api/staff/agenda-topics")
async def find_agenda_topic(request: web.Request) -> web.Response:
    principal = require_staff(request)
    number = request.query.get("number", "").strip()
    if not number:
        raise BadRequest("Give a topic number.", fields={"number": "Required."})
    found = await schedule.find_agenda_topic(ctx_of(request), principal, number)
    t = found.topic
    return json_response(
        {
            "id": t.id,
            "number": t.number,
            "title": t.title,
            "status": t.status,
            "eligible": not found.problem,
            "problem": found.problem or None,
        }
    )


@routes.get(r"/api/staff/deliberations/{deliberation_id:\d+}/registrations")
async def attendance(request: web.Request) -> web.Response:
    listed = await signup.attendance(ctx_of(request), require_staff(request), _id(request))
    return json_response(attendance_json(listed))


@routes.post(r"/api/staff/deliberations/{deliberation_id:\d+}/checkins")
async def check_in(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    token = data.get("token")
    if token is not None and not isinstance(token, str):
        raise ValidationFailed("token must be text.", fields={"token": "Must be text."})
    if isinstance(token, str) and "/checkin/" in token:  # a scanned URL, pasted whole
        token = token.rsplit("/checkin/", 1)[1].split("?", 1)[0].strip()
    attendee = await signup.check_in(
        ctx_of(request),
        principal,
        _id(request),
        token=token or None,
        registration_id=json_optional_int(data, "registration_id"),
    )
    return json_response(attendee.to_json())


@routes.get(r"/api/staff/deliberations/{deliberation_id:\d+}/invitations")
async def list_invitations(request: web.Request) -> web.Response:
    found = await invites.list_invitations(ctx_of(request), require_staff(request), _id(request))
    return json_response({"invitations": [i.to_json() for i in found]})


@routes.post(r"/api/staff/deliberations/{deliberation_id:\d+}/invitations")
async def invite(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    hours = json_optional_int(data, "hours")
    made = await invites.invite(
        ctx_of(request),
        principal,
        _id(request),
        role=json_str(data, "role"),
        display_name=json_str(data, "display_name"),
        organisation=json_str(data, "organisation"),
        hours=INVITE_HOURS_DEFAULT if hours is None else hours,
    )
    return json_response(made.to_json(), status=201)


@routes.post(r"/api/staff/invitations/{invitation_id:\d+}/admit")
async def admit(request: web.Request) -> web.Response:
    principal = require_staff(request)
    admitted = await invites.admit(ctx_of(request), principal, _id(request, "invitation_id"))
    return json_response(admitted.to_json())


@routes.post(r"/api/staff/invitations/{invitation_id:\d+}/remove")
async def remove(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    removed = await invites.remove(
        ctx_of(request), principal, _id(request, "invitation_id"), json_str(data, "reason")
    )
    return json_response(removed.to_json())


@routes.get(r"/api/staff/invitations/{invitation_id:\d+}/qr.svg")
async def invitation_qr(request: web.Request) -> web.Response:
    found = await invites.get_invitation(
        ctx_of(request), require_staff(request), _id(request, "invitation_id")
    )
    if not found.link:
        raise NotFound("A removed guest's link no longer works.")
    return web.Response(
        text=qr_svg(found.link),
        content_type="image/svg+xml",
        headers={"Cache-Control": "private, no-store"},
    )


# --- pages -----------------------------------------------------------------------------------


async def _form_context(request: web.Request, principal: Any) -> dict[str, Any]:
    """What the session form and the agenda picker offer: rooms and key topics in the
    territory."""
    ctx = ctx_of(request)
    room_q = request.query.get("room_q", "").strip()
    found = await search_rooms(ctx, principal, search=room_q or None, limit=ROOMS_IN_PICKER)
    candidates = await topics.list_topics(
        ctx,
        principal,
        statuses=(TopicStatus.ESCALATED, TopicStatus.SCHEDULED),
        limit=CANDIDATE_TOPICS,
    )
    return {
        "rooms": found.rooms,
        "rooms_total": found.total,
        "room_q": room_q,
        "candidates": candidates.topics,
        "limits": {
            "title": TITLE_MAX,
            "description": DESCRIPTION_MAX,
            "place": PLACE_MAX,
            "name": NAME_MAX,
            "capacity": CAPACITY_MAX,
            "agenda": AGENDA_MAX,
            "reason": REASON_MAX,
            "hours": INVITE_HOURS_MAX,
        },
        "moderations": list(ModerationMode),
        **TIME_HELPERS,
    }


@routes.get("/staff/deliberations")
async def deliberations_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    principal.require(Permission.HOST_DELIBERATIONS)
    statuses = _statuses(request.query.get("status"))
    offset = int_param(request.query.get("offset"), "offset", default=0) or 0
    found = await schedule.list_deliberations(
        ctx_of(request), principal, statuses=statuses, limit=50, offset=offset
    )
    return render(
        request,
        "staff_deliberations.html",
        {
            "page": found,
            "offset": offset,
            "status": ",".join(statuses),
            "statuses": list(DeliberationStatus),
            **await _form_context(request, principal),
        },
    )


@routes.get(r"/staff/deliberations/{deliberation_id:\d+}")
async def deliberation_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    ctx = ctx_of(request)
    view: DeliberationView = await schedule.deliberation_detail(ctx, principal, _id(request))
    listed = await signup.attendance(ctx, principal, view.id)
    guests: list[InvitationView] = await invites.list_invitations(ctx, principal, view.id)
    return render(
        request,
        "staff_deliberation.html",
        {
            "d": view,
            "attendance": listed,
            "guests": guests,
            "kinds": list(AttendeeKind),
            "roles": list(GuestRole),
            "invite_hours": INVITE_HOURS_DEFAULT,
            "public_url": f"{ctx.settings.public_base_url}/d/{view.id}",
            **await _form_context(request, principal),
        },
    )


@routes.get("/checkin/{token}")
async def checkin_page(request: web.Request) -> web.Response:
    """Where a registrant's QR leads: a host of the session confirms the check-in."""
    principal = staff_page(request)
    token = request.match_info["token"]
    try:
        preview = await signup.checkin_preview(ctx_of(request), principal, token)
    except NotFound:
        return _refusal(request, 404, "not_found", "delib.checkin.unknown")
    except Forbidden:
        return _refusal(request, 403, "forbidden", "delib.checkin.not_host")
    response = render(request, "checkin.html", {"p": preview, "token": token, **TIME_HELPERS})
    response.headers["Cache-Control"] = "no-store"
    return response


def _refusal(request: web.Request, status: int, code: str, message: str) -> web.Response:
    response = render(
        request, "error.html", {"status": status, "code": code, "message": message}, status=status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def qr_markup(url: str) -> Markup:
    """An inline SVG QR: generated here, from a URL the server built."""
    return Markup(qr_svg(url))


# --- OpenAPI ---------------------------------------------------------------------------------

_ID = [path_param("deliberation_id", integer())]
_INVITATION_ID = [path_param("invitation_id", integer())]
_AGENDA_TOPIC = obj(
    {"topic_id": integer(), "number": string(), "title": string(), "status": string()}
)
DELIBERATION_SCHEMA = obj(
    {
        "id": integer(),
        "room": obj({"id": integer(), "name": string(), "code": string()}),
        "region_id": integer(),
        "title": string(),
        "description": string(),
        "place": string(),
        "starts_at": string(format="date-time"),
        "ends_at": string(format="date-time"),
        "capacity": integer(),
        "status": string(enum=[s.value for s in DeliberationStatus]),
        "moderation": string(enum=[m.value for m in ModerationMode]),
        "host_name": string(),
        "moderators": string(),
        "cancel_reason": string(),
        "created_at": string(format="date-time"),
        "updated_at": string(format="date-time"),
        "announced_at": string(format="date-time", nullable=True),
        "started_at": string(format="date-time", nullable=True),
        "ended_at": string(format="date-time", nullable=True),
        "version": integer(),
        "agenda": array(_AGENDA_TOPIC),
        "counts": obj(
            {
                "registered": integer(),
                "waitlisted": integer(),
                "cancelled": integer(),
                "checked_in": integer(),
            }
        ),
        "moves": array(string()),
        "editable": boolean(),
    }
)
_TIME = string(
    format="date-time",
    description="ISO 8601; without a zone offset it is Beijing time (UTC+8)",
)
_FIELDS = {
    "title": string(maxLength=TITLE_MAX),
    "description": string(maxLength=DESCRIPTION_MAX),
    "place": string(maxLength=PLACE_MAX),
    "starts_at": _TIME,
    "ends_at": _TIME,
    "capacity": integer(minimum=1, maximum=CAPACITY_MAX),
    "moderation": string(enum=[m.value for m in ModerationMode]),
    "host_name": string(maxLength=NAME_MAX),
    "moderators": string(maxLength=120),
}
_REQUIRED = ["title", "place", "starts_at", "ends_at", "capacity"]
_REFS = array(
    {"oneOf": [integer(), string()], "description": "a topic id, or its number (HA2026-000012)"}
)
ATTENDEE_SCHEMA = obj(
    {
        "id": integer(),
        "name": string(),
        "kind": string(enum=[k.value for k in AttendeeKind]),
        "phone": string(description="masked: 138****1234"),
        "status": string(),
        "position": integer(nullable=True),
        "created_at": string(format="date-time"),
        "promoted_at": string(format="date-time", nullable=True),
        "cancelled_at": string(format="date-time", nullable=True),
        "checked_in_at": string(format="date-time", nullable=True),
    }
)
_INVITATION = obj(
    {
        "id": integer(),
        "deliberation_id": integer(),
        "role": string(enum=[r.value for r in GuestRole]),
        "display_name": string(),
        "organisation": string(),
        "status": string(),
        "expires_at": string(format="date-time"),
        "expired": boolean(),
        "created_at": string(format="date-time"),
        "admitted_at": string(format="date-time", nullable=True),
        "removed_at": string(format="date-time", nullable=True),
        "removed_reason": string(),
        "connected": boolean(),
        "link": string(format="uri", nullable=True),
    }
)


def _op(summary: str, **kw: Any) -> dict[str, Any]:
    return operation(summary, tag="deliberations", staff=True, **kw)


OPENAPI = {
    "/api/staff/deliberations": {
        "get": _op(
            "Sessions in one's territory, latest start first",
            params=[
                query_param("status", description="comma-separated statuses"),
                query_param("limit", integer()),
                query_param("offset", integer()),
            ],
            ok=obj({"deliberations": array(DELIBERATION_SCHEMA), "total": integer()}),
            errors=(400,),
        ),
        "post": _op(
            "Schedule a session (a draft) in a room one may host in, with an optional agenda "
            "of key topics",
            body=obj({**_FIELDS, "room_id": integer(), "agenda": _REFS}, [*_REQUIRED, "room_id"]),
            ok=DELIBERATION_SCHEMA,
            ok_status="201",
            errors=(400, 409),
        ),
    },
    "/api/staff/deliberations/{deliberation_id}": {
        "get": _op(
            "One session with its agenda and counts",
            params=_ID,
            ok=DELIBERATION_SCHEMA,
            errors=(404,),
        ),
        "patch": _op(
            "Edit a draft or announced session (every field); raising the capacity seats the "
            "waiting list, lowering it below the registered is refused",
            params=_ID,
            body=obj({**_FIELDS, "version": integer()}, [*_REQUIRED, "version"]),
            ok=DELIBERATION_SCHEMA,
            errors=(400, 404, 409),
        ),
    },
    "/api/staff/deliberations/{deliberation_id}/agenda": {
        "put": _op(
            f"Replace the agenda: 1 to {AGENDA_MAX} key topics (escalated or scheduled) in the "
            "caller's territory, in order",
            params=_ID,
            body=obj({"version": integer(), "agenda": _REFS}, ["version", "agenda"]),
            ok=DELIBERATION_SCHEMA,
            errors=(400, 404, 409),
        )
    },
    "/api/staff/deliberations/{deliberation_id}/moves": {
        "post": _op(
            "Announce, start, end or cancel (with a reason); the agenda's topics move with it; "
            "409 names the current state",
            params=_ID,
            body=obj(
                {
                    "to": string(enum=["announced", "live", "ended", "cancelled"]),
                    "version": integer(),
                    "reason": string(maxLength=REASON_MAX),
                },
                ["to"],
            ),
            ok=DELIBERATION_SCHEMA,
            errors=(400, 404, 409),
        )
    },
    "/api/staff/agenda-topics": {
        "get": _op(
            "The agenda picker: a topic by number, and whether it may go on an agenda",
            params=[query_param("number")],
            ok=obj(
                {
                    "id": integer(),
                    "number": string(),
                    "title": string(),
                    "status": string(),
                    "eligible": boolean(),
                    "problem": string(nullable=True),
                }
            ),
            errors=(400, 404),
        )
    },
    "/api/staff/deliberations/{deliberation_id}/registrations": {
        "get": _op(
            "Attendance: every registration (phones masked) and counts by kind",
            params=_ID,
            ok=obj(
                {
                    "deliberation_id": integer(),
                    "status": string(),
                    "capacity": integer(),
                    "counts": obj(
                        {"registered": integer(), "waitlisted": integer(), "checked_in": integer()}
                    ),
                    "by_kind": {
                        "type": "object",
                        "additionalProperties": obj(
                            {"registered": integer(), "checked_in": integer()}
                        ),
                    },
                    "attendees": array(ATTENDEE_SCHEMA),
                }
            ),
            errors=(404,),
        )
    },
    "/api/staff/deliberations/{deliberation_id}/checkins": {
        "post": _op(
            "Check a registrant in by the scanned token (or check-in URL) or by registration "
            "id; 409 if already checked in (naming when), cancelled or waitlisted",
            params=_ID,
            body=obj({"token": string(), "registration_id": integer()}),
            ok=ATTENDEE_SCHEMA,
            errors=(400, 404, 409),
        )
    },
    "/api/staff/deliberations/{deliberation_id}/invitations": {
        "get": _op(
            "The session's remote guests and their links",
            params=_ID,
            ok=obj({"invitations": array(_INVITATION)}),
            errors=(404,),
        ),
        "post": _op(
            "Invite a remote guest; the link expires after `hours`",
            params=_ID,
            body=obj(
                {
                    "role": string(enum=[r.value for r in GuestRole]),
                    "display_name": string(maxLength=NAME_MAX),
                    "organisation": string(maxLength=invites.ORGANISATION_MAX),
                    "hours": integer(minimum=1, maximum=INVITE_HOURS_MAX),
                },
                ["role", "display_name"],
            ),
            ok=_INVITATION,
            ok_status="201",
            errors=(400, 404, 409),
        ),
    },
    "/api/staff/invitations/{invitation_id}/admit": {
        "post": _op(
            "Admit a guest (the live room's lobby does the same)",
            params=_INVITATION_ID,
            ok=_INVITATION,
            errors=(404, 409, 410),
        )
    },
    "/api/staff/invitations/{invitation_id}/remove": {
        "post": _op(
            "Remove a guest: the link stops working at once",
            params=_INVITATION_ID,
            body=obj({"reason": string(maxLength=REASON_MAX)}),
            ok=_INVITATION,
            errors=(400, 404, 409),
        )
    },
    "/api/staff/invitations/{invitation_id}/qr.svg": {
        "get": _op(
            "The guest's link as a QR code",
            params=_INVITATION_ID,
            ok_type="image/svg+xml",
            ok=string(),
            errors=(404,),
        )
    },
}
