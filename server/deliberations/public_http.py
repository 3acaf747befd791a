"""Sessions for the public over HTTP: the list, a session's page with its sign-up form and
calendar file, a registrant's private page, and the blocks the room and tracking pages
fetch (the topics feature knows nothing of sessions)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.core.errors import BadRequest, NotFound, ValidationFailed
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
    client_ip,
    ctx_of,
    device_id,
    int_param,
    json_response,
    json_str,
    read_json,
    render,
)
from server.deliberations.actions import public, recordings, signup
from server.deliberations.actions.public import PublicDeliberation, When
from server.deliberations.actions.signup import RegistrationView, SignUp
from server.deliberations.http import ATTENDEE_SCHEMA, TIME_HELPERS, qr_markup
from server.deliberations.model import NAME_MAX, AttendeeKind, DeliberationStatus

routes = web.RouteTableDef()


def _id(request: web.Request) -> int:
    return int(request.match_info["deliberation_id"])


def _public_json(request: web.Request, d: PublicDeliberation) -> dict[str, Any]:
    return d.to_json(ctx_of(request).settings.public_base_url)


def registration_json(v: RegistrationView) -> dict[str, Any]:
    s = v.session
    return {
        "deliberation": {
            "id": s.id,
            "title": s.title,
            "status": s.status,
            "starts_at": s.starts_at.isoformat(),
            "ends_at": s.ends_at.isoformat(),
            "place": s.place,
            "room_name": s.room_name,
            "cancel_reason": s.cancel_reason,
        },
        "registration": v.attendee.to_json(),
        "checkin_url": v.checkin_url,
        "may_cancel": v.may_cancel,
    }


def _private(response: web.Response) -> web.Response:
    # The path carries the registrant's secret: never cache it, never pass it on.
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the API ---------------------------------------------------------------------------------


@routes.get("/api/deliberations")
async def list_public(request: web.Request) -> web.Response:
    q = request.query
    try:
        when = When(q.get("when") or When.UPCOMING)
    except ValueError:
        raise BadRequest(
            "when is upcoming or past.", fields={"when": "upcoming or past."}
        ) from None
    found = await public.list_public(
        ctx_of(request),
        when=when,
        region_id=int_param(q.get("region_id"), "region_id", lo=1),
        limit=int_param(q.get("limit"), "limit", default=20, lo=1, hi=public.LIST_MAX) or 20,
        offset=int_param(q.get("offset"), "offset", default=0) or 0,
    )
    return json_response(
        {"deliberations": [_public_json(request, d) for d in found.items], "total": found.total}
    )


@routes.get(r"/api/deliberations/{deliberation_id:\d+}")
async def public_deliberation(request: web.Request) -> web.Response:
    found = await public.public_deliberation(ctx_of(request), _id(request))
    return json_response(_public_json(request, found))


def _consent(data: dict[str, Any]) -> bool:
    value = data.get("consent", False)
    if not isinstance(value, bool):
        raise ValidationFailed("consent must be true or false.", fields={"consent": "Yes or no."})
    return value


@routes.post(r"/api/deliberations/{deliberation_id:\d+}/registrations")
async def register(request: web.Request) -> web.Response:
    data = await read_json(request)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in ("name", "kind", "phone"):
        try:
            values[name] = json_str(data, name)
        except ValidationFailed as exc:
            errors.update(exc.fields)
            values[name] = ""
    try:
        values["consent"] = _consent(data)
    except ValidationFailed as exc:
        errors.update(exc.fields)
        values["consent"] = False
    try:  # every bad field named at once, wrong types and broken rules alike
        signup.check_signup(SignUp(**values))
    except ValidationFailed as exc:
        errors = {**exc.fields, **errors}
    if errors:
        raise ValidationFailed("Some fields need attention.", fields=errors)
    done = await signup.register(
        ctx_of(request),
        _id(request),
        SignUp(**values),
        device_id=device_id(request),
        ip=client_ip(request),
    )
    body = {**registration_json(done.view), "token": done.token, "url": done.url}
    return _private(json_response(body, status=201))


@routes.get("/api/signup/{token}")
async def registration(request: web.Request) -> web.Response:
    view = await signup.registration_by_token(ctx_of(request), request.match_info["token"])
    return _private(json_response(registration_json(view)))


@routes.post("/api/signup/{token}/cancel")
async def cancel_registration(request: web.Request) -> web.Response:
    view = await signup.cancel_registration(ctx_of(request), request.match_info["token"])
    return _private(json_response(registration_json(view)))


@routes.get("/api/rooms/{code}/deliberations")
async def room_deliberations(request: web.Request) -> web.Response:
    found = await public.room_deliberations(ctx_of(request), request.match_info["code"])
    return json_response({"deliberations": [_public_json(request, d) for d in found]})


@routes.get("/api/topics/{number}/deliberations")
async def topic_deliberations(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    number = request.match_info["number"]
    found = await public.topic_deliberations(ctx, number)
    # Where each held session's recording discusses this topic.
    recorded = await recordings.for_topic_number(ctx, number)
    return json_response(
        {
            "deliberations": [
                {**_public_json(request, d), "recording": recorded.get(d.id)} for d in found
            ]
        }
    )


# --- pages -----------------------------------------------------------------------------------


@routes.get("/deliberations")
async def deliberations_page(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    offset = int_param(request.query.get("offset"), "offset", default=0) or 0
    upcoming = await public.list_public(ctx, when=When.UPCOMING, limit=public.LIST_MAX)
    past = await public.list_public(ctx, when=When.PAST, limit=20, offset=offset)
    return render(
        request,
        "deliberations.html",
        {"upcoming": upcoming, "past": past, "offset": offset, **TIME_HELPERS},
    )


@routes.get(r"/d/{deliberation_id:\d+}")
async def deliberation_page(request: web.Request) -> web.Response:
    try:
        found = await public.public_deliberation(ctx_of(request), _id(request))
    except NotFound:
        return render(
            request,
            "error.html",
            {"status": 404, "code": "not_found", "message": "delib.public.unknown"},
            status=404,
        )
    return render(
        request,
        "deliberation.html",
        {
            "d": found,
            "kinds": list(AttendeeKind),
            "name_max": NAME_MAX,
            "live": found.status is DeliberationStatus.LIVE,
            **TIME_HELPERS,
        },
    )


@routes.get(r"/d/{deliberation_id:\d+}.ics")
async def calendar(request: web.Request) -> web.Response:
    deliberation_id = _id(request)
    text = await public.calendar(ctx_of(request), deliberation_id)
    return web.Response(
        body=text.encode("utf-8"),
        headers={
            "Content-Type": "text/calendar; charset=utf-8",
            "Content-Disposition": f'attachment; filename="deliberation-{deliberation_id}.ics"',
            "Cache-Control": "no-cache",
        },
    )


@routes.get("/signup/{token}")
async def registration_page(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    try:
        view = await signup.registration_by_token(ctx_of(request), token)
    except NotFound:
        return _private(
            render(
                request,
                "error.html",
                {"status": 404, "code": "not_found", "message": "delib.signup.unknown"},
                status=404,
            )
        )
    return _private(
        render(
            request,
            "signup.html",
            {"v": view, "token": token, "qr": qr_markup(view.checkin_url), **TIME_HELPERS},
        )
    )


# --- OpenAPI ---------------------------------------------------------------------------------

_ID = [path_param("deliberation_id", integer())]
PUBLIC_SCHEMA = obj(
    {
        "id": integer(),
        "title": string(),
        "description": string(),
        "place": string(),
        "starts_at": string(format="date-time"),
        "ends_at": string(format="date-time"),
        "status": string(enum=[s.value for s in DeliberationStatus]),
        "room": obj({"name": string(), "code": string()}),
        "host_name": string(),
        "moderators": string(),
        "agenda": array(obj({"number": string(), "title": string(), "status": string()})),
        "capacity": integer(),
        "seats_left": integer(),
        "waitlist": integer(),
        "cancel_reason": string(),
        "open_for_signup": boolean(),
        "url": string(format="uri"),
        "calendar_url": string(format="uri"),
        "watch_url": string(format="uri", nullable=True),
    }
)
_REGISTRATION = obj(
    {
        "deliberation": obj(
            {
                "id": integer(),
                "title": string(),
                "status": string(),
                "starts_at": string(format="date-time"),
                "ends_at": string(format="date-time"),
                "place": string(),
                "room_name": string(),
                "cancel_reason": string(),
            }
        ),
        "registration": ATTENDEE_SCHEMA,
        "checkin_url": string(format="uri"),
        "may_cancel": boolean(),
    }
)
_LIST = obj({"deliberations": array(PUBLIC_SCHEMA)})


def _op(summary: str, **kw: Any) -> dict[str, Any]:
    return operation(summary, tag="deliberations", **kw)


OPENAPI = {
    "/api/deliberations": {
        "get": _op(
            "Announced sessions: upcoming (soonest first; cancelled ones until their time) or "
            "past (latest first), in a region if given",
            params=[
                query_param("when", string(enum=[w.value for w in When])),
                query_param("region_id", integer()),
                query_param("limit", integer()),
                query_param("offset", integer()),
            ],
            ok=obj({"deliberations": array(PUBLIC_SCHEMA), "total": integer()}),
            errors=(400, 404),
        )
    },
    "/api/deliberations/{deliberation_id}": {
        "get": _op("One announced session", params=_ID, ok=PUBLIC_SCHEMA, errors=(404,))
    },
    "/api/deliberations/{deliberation_id}/registrations": {
        "post": _op(
            "Sign up (报名): a seat while there are seats, else the waiting list; returns the "
            "private link to the registrant's page and check-in QR",
            params=_ID,
            body=obj(
                {
                    "name": string(maxLength=NAME_MAX),
                    "kind": string(enum=[k.value for k in AttendeeKind]),
                    "phone": string(description="optional; stored, shown masked"),
                    "consent": boolean(),
                },
                ["name", "kind", "consent"],
            ),
            ok=obj(
                {
                    **_REGISTRATION["properties"],
                    "token": string(),
                    "url": string(format="uri"),
                }
            ),
            ok_status="201",
            errors=(400, 404, 409, 429),
        )
    },
    "/api/signup/{token}": {
        "get": _op(
            "A registrant's status and waiting-list position, by their private token",
            params=[path_param("token")],
            ok=_REGISTRATION,
            errors=(404,),
        )
    },
    "/api/signup/{token}/cancel": {
        "post": _op(
            "Give up one's seat or place in line; the first waiting takes a freed seat",
            params=[path_param("token")],
            ok=_REGISTRATION,
            errors=(404, 409),
        )
    },
    "/api/rooms/{code}/deliberations": {
        "get": _op(
            "A room's upcoming sessions (its public page shows them)",
            params=[path_param("code")],
            ok=_LIST,
            errors=(404, 410),
        )
    },
    "/api/topics/{number}/deliberations": {
        "get": _op(
            "The announced sessions that take up a topic (its tracking page shows them)",
            params=[path_param("number")],
            ok=_LIST,
            errors=(404,),
        )
    },
}
