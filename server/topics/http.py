"""Intake (the room page and its form), tracking links, and the staff topic queue."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from server.accounts.actions import UnitView, list_units
from server.accounts.model import UnitKind
from server.core.auth import Permission
from server.core.errors import BadRequest, Gone, NotFound, ValidationFailed
from server.core.openapi import (
    array,
    boolean,
    integer,
    number,
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
    json_int,
    json_optional_int,
    json_response,
    json_str,
    read_json,
    render,
    require_staff,
    staff_page,
)
from server.rooms.actions import get_region, list_region_tree
from server.rooms.model import RoomCodeStatus
from server.topics import actions
from server.topics.actions import PublicEvent, PublicTopic, SubmittedTopic, TrackedTopic, Upload
from server.topics.actions.handling import CONTACT_METHODS
from server.topics.classify import CATEGORIES, SUBJECTS
from server.topics.model import (
    LIMITS,
    TRANSITIONS,
    Submission,
    TopicKind,
    TopicSource,
    TopicStatus,
)

routes = web.RouteTableDef()
# States a duplicate can be merged from (the workflow table has the move).
MERGEABLE = frozenset(s for s, moves in TRANSITIONS.items() if TopicStatus.MERGED in moves)
MAX_TEXT_PART = 16 * 1024
TEXT_FIELDS = ("title", "description", "kind", "name", "phone", "consent", "room_id")


async def _read_part(part: BodyPartReader, cap: int, name: str) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise ValidationFailed(f"{name} is too large.", fields={name: "Too large."})
        chunks.append(chunk)
    return b"".join(chunks)


async def read_submission(
    request: web.Request, *, names: tuple[str, ...] = TEXT_FIELDS
) -> tuple[dict[str, Any], list[Upload]]:
    """The form's fields and photos, from multipart (browsers) or JSON (API clients)."""
    if request.content_type == "application/json":
        data = await read_json(request)
        return data, []
    if request.content_type == "application/x-www-form-urlencoded":
        posted = await request.post()
        return {k: v for k, v in posted.items() if k in names and isinstance(v, str)}, []
    if request.content_type != "multipart/form-data":
        raise BadRequest("Send multipart/form-data, a urlencoded form or JSON.")
    settings = ctx_of(request).settings
    fields: dict[str, Any] = {}
    photos: list[Upload] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise BadRequest("Nested multipart is not accepted.")
        if part.name == "photos":
            if not part.filename:
                await part.release()
                continue
            if len(photos) >= settings.max_photos:
                raise ValidationFailed(
                    f"At most {settings.max_photos} photos.",
                    fields={"photos": f"At most {settings.max_photos} photos."},
                )
            photo = await _read_part(part, settings.max_photo_bytes, "photos")
            if photo:
                photos.append(Upload(part.filename, photo))
        elif part.name in names:
            raw = await _read_part(part, MAX_TEXT_PART, part.name)
            try:
                fields[part.name] = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationFailed(
                    "Text must be UTF-8.", fields={part.name: "Not UTF-8."}
                ) from None
        else:
            await part.release()
    return fields, photos


def _submission(data: dict[str, Any]) -> Submission:
    values = {}
    for name in ("title", "description", "kind", "name", "phone"):
        value = data.get(name, "")
        if not isinstance(value, str):
            raise ValidationFailed(f"{name} must be text.", fields={name: "Must be text."})
        values[name] = value
    consent = data.get("consent", False)
    if isinstance(consent, str):
        consent = {
            "1": True,
            "true": True,
            "on": True,
            "yes": True,
            "0": False,
            "false": False,
            "off": False,
            "no": False,
            "": False,
        }.get(consent.lower(), consent)
    if not isinstance(consent, bool):
        raise ValidationFailed("consent must be true or false.", fields={"consent": "Yes or no."})
    return Submission(consent=consent, **values)


def submitted_json(s: SubmittedTopic) -> dict[str, Any]:
    return {
        "id": s.topic_id,
        "number": s.number,
        "tracking_token": s.tracking_token,
        "tracking_url": s.tracking_url,
    }


def public_topic_json(t: PublicTopic) -> dict[str, Any]:
    return {
        "number": t.number,
        "title": t.title,
        "kind": t.kind,
        "status": t.status,
        "created_at": t.created_at.isoformat(),
    }


def _public_event(e: PublicEvent) -> dict[str, Any]:
    return {
        "at": e.at.isoformat(),
        "status": e.status,
        "kind": e.kind,
        "note": e.note,
        "photo_ids": list(e.photo_ids),
    }


def tracked_json(t: TrackedTopic) -> dict[str, Any]:
    return {
        "number": t.number,
        "title": t.title,
        "description": t.description,
        "kind": t.kind,
        "status": t.status,
        "room": {"name": t.room_name, "code": t.room_code},
        "created_at": t.created_at.isoformat(),
        "photo_ids": list(t.photo_ids),
        "timeline": [_public_event(e) for e in t.timeline],
        "followed": None
        if t.followed is None
        else {
            "number": t.followed.number,
            "title": t.followed.title,
            "status": t.followed.status,
            "timeline": [_public_event(e) for e in t.followed.timeline],
        },
    }


# --- resident pages ----------------------------------------------------------------------------


@routes.get("/r/")
async def room_by_typed_code(request: web.Request) -> web.StreamResponse:
    """The home page's code box, for browsers without scripts."""
    code = request.query.get("code", "").strip().upper()
    raise web.HTTPFound(f"/r/{quote(code)}" if code else "/")


@routes.get("/r/{code}")
async def room_page(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    code = request.match_info["code"]
    try:
        view = await actions.room_page(ctx, code)
    except NotFound:
        return render(request, "room_unknown.html", {"code": code}, status=404)
    if view.status is RoomCodeStatus.REVOKED:
        return render(request, "room_revoked.html", {"code": code}, status=410)
    if view.status is RoomCodeStatus.RETIRED:
        raise web.HTTPFound(f"/r/{view.room.code}")
    return render(
        request,
        "room.html",
        {
            "room": view.room,
            "topics": view.topics,
            "limits": LIMITS,
            "max_photos": ctx.settings.max_photos,
            "max_photo_mb": ctx.settings.max_photo_bytes // (1024 * 1024),
        },
    )


@routes.get("/t/{token}")
async def tracking_page(request: web.Request) -> web.Response:
    try:
        topic = await actions.track_topic(ctx_of(request), request.match_info["token"])
    except NotFound:
        return render(
            request,
            "error.html",
            {"status": 404, "code": "not_found", "message": "tracking_not_found"},
            status=404,
        )
    response = render(
        request, "tracking.html", {"topic": topic, "token": request.match_info["token"]}
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# --- public API ----------------------------------------------------------------------------


@routes.get("/api/rooms/{code}")
async def public_room(request: web.Request) -> web.Response:
    view = await actions.room_page(ctx_of(request), request.match_info["code"])
    if view.status is RoomCodeStatus.REVOKED:
        raise Gone("This room code is no longer in use.")
    room = view.room
    return json_response(
        {
            "name": room.name,
            "code": room.code,
            "address": room.address,
            "chief": room.chief,
            "opening_hours": room.opening_hours,
            "region_names": list(room.region_names),
            "topics": [public_topic_json(t) for t in view.topics],
            "deliberations": [],
        }
    )


@routes.post("/api/rooms/{code}/topics")
async def submit_topic(request: web.Request) -> web.Response:
    data, photos = await read_submission(request)
    result = await actions.submit_topic(
        ctx_of(request),
        _submission(data),
        photos,
        room_code=request.match_info["code"],
        device_id=device_id(request),
        ip=client_ip(request),
    )
    return json_response(submitted_json(result), status=201)


@routes.get("/api/track/{token}")
async def track(request: web.Request) -> web.Response:
    topic = await actions.track_topic(ctx_of(request), request.match_info["token"])
    response = json_response(tracked_json(topic))
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get(r"/api/track/{token}/photos/{photo_id:\d+}")
async def tracked_photo(request: web.Request) -> web.Response:
    data = await actions.tracked_photo(
        ctx_of(request), request.match_info["token"], int(request.match_info["photo_id"])
    )
    return web.Response(
        body=data, content_type="image/jpeg", headers={"Cache-Control": "private, no-store"}
    )


# --- staff ---------------------------------------------------------------------------------


def _enum_list(raw: str | None, enum: type[TopicStatus], name: str) -> tuple[TopicStatus, ...]:
    if not raw:
        return ()
    try:
        return tuple(enum(v) for v in raw.split(",") if v)
    except ValueError:
        raise BadRequest(f"Unknown {name}.", fields={name: "Unknown value."}) from None


@routes.get("/api/staff/topics")
async def list_topics(request: web.Request) -> web.Response:
    principal = require_staff(request)
    q = request.query
    try:
        kind = TopicKind(q["kind"]) if q.get("kind") else None
        source = TopicSource(q["source"]) if q.get("source") else None
    except ValueError:
        raise BadRequest("Unknown kind or source.") from None
    limit = int_param(q.get("limit"), "limit", default=50, lo=1, hi=200)
    result = await actions.list_topics(
        ctx_of(request),
        principal,
        region_id=int_param(q.get("region_id"), "region_id"),
        statuses=_enum_list(q.get("status"), TopicStatus, "status"),
        categories=tuple(c for c in q.get("category", "").split(",") if c),
        kind=kind,
        source=source,
        search=q.get("q") or None,
        subjects=tuple(c for c in q.get("subject", "").split(",") if c),
        unit_id=int_param(q.get("unit_id"), "unit_id", lo=1),
        flag=q.get("flag") or None,
        limit=limit or 50,
        before_id=int_param(q.get("before_id"), "before_id", lo=1),
    )
    return json_response(
        {
            "topics": [t.to_json() for t in result.topics],
            "total": result.total,
            "next_before_id": result.next_before_id,
        }
    )


@routes.post("/api/staff/topics")
async def enter_topic(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data, photos = await read_submission(request)
    room_id = data.get("room_id")
    if isinstance(room_id, str) and room_id.isdigit():
        room_id = int(room_id)
    if not isinstance(room_id, int) or isinstance(room_id, bool):
        raise ValidationFailed("Choose a room.", fields={"room_id": "Required."})
    result = await actions.submit_topic(
        ctx_of(request), _submission(data), photos, room_id=room_id, actor=principal
    )
    return json_response(submitted_json(result), status=201)


@routes.get(r"/api/staff/topics/{topic_id:\d+}")
async def topic_detail(request: web.Request) -> web.Response:
    detail = await actions.topic_detail(
        ctx_of(request), require_staff(request), int(request.match_info["topic_id"])
    )
    return json_response(detail.to_json())


@routes.get(r"/staff/topics/{topic_id:\d+}")
async def topic_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    ctx = ctx_of(request)
    detail = await actions.topic_detail(ctx, principal, int(request.match_info["topic_id"]))
    routable = {TopicStatus.ACCEPTED, TopicStatus.DISPATCHED, TopicStatus.ASSIGNED}
    units: list[UnitView] = []
    suggested = None
    if principal.can(Permission.DISPATCH_TOPICS) and detail.topic.status in routable:
        # Only the units the workflow can send it to from here: a relay makes it
        # dispatched, a town or department assigned.
        allowed = TRANSITIONS[detail.topic.status]
        units = [
            u
            for u in await list_units(ctx, principal)
            if (TopicStatus.DISPATCHED if u.kind is UnitKind.RELAY else TopicStatus.ASSIGNED)
            in allowed
        ]
        suggested = await actions.suggest_unit(ctx, principal, detail.topic.id)
    escalation_units: list[UnitView] = []
    if TopicStatus.ESCALATED in detail.moves:
        region = await get_region(ctx, detail.topic.region_id)
        assert region is not None
        escalation_units = [  # the towns and departments that serve the topic's region
            u
            for u in await list_units(ctx, principal)
            if u.kind is not UnitKind.RELAY and region.path.startswith(u.region_path)
        ]
    return render(
        request,
        "staff_topic.html",
        {
            "detail": detail,
            "topic": detail.topic,
            "units": units,
            "suggested_id": suggested.id if suggested else None,
            "can_correct": principal.can(Permission.DISPATCH_TOPICS),
            "categories": CATEGORIES,
            "subjects": SUBJECTS,
            "contact_methods": CONTACT_METHODS,
            "escalation_units": escalation_units,
            "mergeable": MERGEABLE,
        },
    )


@routes.post(r"/api/staff/topics/{topic_id:\d+}/moves")
async def move_topic(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    try:
        target = TopicStatus(str(data.get("to")))
    except ValueError:
        raise ValidationFailed("Unknown status.", fields={"to": "Unknown status."}) from None
    moved = await actions.move_topic(
        ctx_of(request),
        principal,
        int(request.match_info["topic_id"]),
        target,
        version=json_int(data, "version"),
        note=json_str(data, "note"),
        lead=json_str(data, "lead"),
        unit_id=json_optional_int(data, "unit_id"),
    )
    return json_response(moved.to_json())


@routes.post(r"/api/staff/topics/{topic_id:\d+}/merge")
async def merge_topic(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    merged = await actions.merge_topic(
        ctx_of(request),
        principal,
        int(request.match_info["topic_id"]),
        json_int(data, "into_id"),
        version=json_int(data, "version"),
        note=json_str(data, "note"),
    )
    return json_response(merged.to_json())


@routes.post(r"/api/staff/topics/{topic_id:\d+}/classification")
async def correct_classification(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    labels = {name: json_str(data, name) or None for name in ("category", "subject")}
    topic = await actions.correct_classification(
        ctx_of(request),
        principal,
        int(request.match_info["topic_id"]),
        version=json_int(data, "version"),
        category=labels["category"],
        subject=labels["subject"],
    )
    return json_response(topic.to_json())


@routes.post(r"/api/staff/topics/{topic_id:\d+}/route")
async def route_topic(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    routed = await actions.route_topic(
        ctx_of(request),
        principal,
        int(request.match_info["topic_id"]),
        version=json_int(data, "version"),
        unit_id=json_optional_int(data, "unit_id"),
        note=json_str(data, "note"),
    )
    return json_response(routed.to_json())


@routes.post("/api/staff/topics/route")
async def route_topics(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    items = data.get("topics")
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and isinstance(i.get("id"), int) and isinstance(i.get("version"), int)
        for i in items
    ):
        raise ValidationFailed(
            "topics must be a list of {id, version}.", fields={"topics": "Required."}
        )
    outcomes = await actions.route_topics(
        ctx_of(request),
        principal,
        [(i["id"], i["version"]) for i in items],
        unit_id=json_optional_int(data, "unit_id"),
    )
    return json_response(
        {
            "results": [
                {
                    "id": o.topic_id,
                    "ok": o.ok,
                    "error": o.error or None,
                    "topic": o.topic.to_json() if o.topic else None,
                }
                for o in outcomes
            ]
        }
    )


@routes.get("/api/staff/routing-rules")
async def list_rules(request: web.Request) -> web.Response:
    rules = await actions.list_rules(ctx_of(request), require_staff(request))
    return json_response({"rules": [_rule_json(r) for r in rules]})


@routes.post("/api/staff/routing-rules")
async def set_rule(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    rule = await actions.set_rule(
        ctx_of(request),
        principal,
        region_id=json_int(data, "region_id"),
        category=json_str(data, "category"),
        subject=json_str(data, "subject"),
        unit_id=json_int(data, "unit_id"),
    )
    return json_response(_rule_json(rule))


@routes.delete(r"/api/staff/routing-rules/{rule_id:\d+}")
async def delete_rule(request: web.Request) -> web.Response:
    await actions.delete_rule(
        ctx_of(request), require_staff(request), int(request.match_info["rule_id"])
    )
    return json_response({"ok": True})


def _rule_json(r: actions.RuleView) -> dict[str, Any]:
    return {
        "id": r.id,
        "region": {"id": r.region_id, "name": r.region_name},
        "category": r.category,
        "subject": r.subject,
        "unit_id": r.unit_id,
    }


@routes.get(r"/api/staff/topics/{topic_id:\d+}/photos/{photo_id:\d+}")
async def staff_photo(request: web.Request) -> web.Response:
    data = await actions.staff_photo(
        ctx_of(request),
        require_staff(request),
        int(request.match_info["topic_id"]),
        int(request.match_info["photo_id"]),
    )
    return web.Response(
        body=data, content_type="image/jpeg", headers={"Cache-Control": "private, no-store"}
    )


@routes.get("/staff/topics")
async def topics_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    if not principal.can(Permission.HANDLE_TOPICS):
        principal.require(Permission.VIEW_TOPICS)
    regions = await list_region_tree(ctx_of(request), principal)
    return render(
        request,
        "staff_topics.html",
        {
            "regions": regions,
            "statuses": list(TopicStatus),
            "kinds": list(TopicKind),
            "subjects": SUBJECTS,
        },
    )


@routes.get("/staff/intake")
async def intake_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    principal.require(Permission.ENTER_TOPICS)
    regions = await list_region_tree(ctx_of(request), principal)
    return render(
        request,
        "staff_intake.html",
        {"regions": regions, "limits": LIMITS, "max_photos": ctx_of(request).settings.max_photos},
    )


_SUBMITTED = obj(
    {
        "id": integer(),
        "number": string(),
        "tracking_token": string(),
        "tracking_url": string(format="uri"),
    }
)
_SUBMISSION_FIELDS = {
    "title": string(minLength=LIMITS["title"][0], maxLength=LIMITS["title"][1]),
    "description": string(minLength=LIMITS["description"][0], maxLength=LIMITS["description"][1]),
    "kind": string(enum=[k.value for k in TopicKind]),
    "name": string(maxLength=LIMITS["name"][1]),
    "phone": string(description="Mobile or landline; stored, shown masked (138****1234)"),
    "consent": boolean(),
}
_MULTIPART = obj(
    {**_SUBMISSION_FIELDS, "photos": array(string(format="binary"))},
    ["title", "description", "kind"],
)
STAFF_TOPIC_SCHEMA = obj(
    {
        "id": integer(),
        "number": string(),
        "title": string(),
        "description": string(),
        "kind": string(),
        "source": string(),
        "status": string(),
        "category": string(nullable=True),
        "room": obj({"id": integer(), "name": string(), "code": string()}),
        "region": obj({"id": integer(), "name": string()}),
        "submitter": obj({"name": string(), "phone": string()}),
        "photo_count": integer(),
        "created_at": string(format="date-time"),
        "version": integer(),
        "unit_id": integer(nullable=True),
        "lead": string(),
        "deadline": {
            **obj({"flag": string(nullable=True), "due_at": string(format="date-time")}),
            "nullable": True,
        },
        "classification": obj(
            {
                "category": string(nullable=True),
                "category_confidence": number(nullable=True),
                "subject": string(nullable=True),
                "subject_confidence": number(nullable=True),
                "evidence": {"type": "object", "additionalProperties": array(string())},
            }
        ),
    }
)
_PUBLIC_TOPIC = obj(
    {
        "number": string(),
        "title": string(),
        "kind": string(),
        "status": string(),
        "created_at": string(format="date-time"),
    }
)
_TOKEN = path_param("token")
_RULE = obj(
    {
        "id": integer(),
        "region": obj({"id": integer(), "name": string()}),
        "category": string(),
        "subject": string(),
        "unit_id": integer(),
    }
)
_PUBLIC_EVENT = obj(
    {
        "at": string(format="date-time"),
        "status": string(),
        "kind": string(),
        "note": string(),
        "photo_ids": array(integer()),
    }
)


def _submit_op(summary: str, *, staff: bool) -> dict[str, Any]:
    op = operation(
        summary,
        tag="topics",
        ok_status="201",
        ok=_SUBMITTED,
        staff=staff,
        params=None if staff else [path_param("code")],
        errors=(400, 404, 410, 413) if staff else (400, 404, 410, 413, 429),
        body_type="multipart/form-data",
        body=obj(
            {**_MULTIPART["properties"], "room_id": integer()},
            ["title", "description", "kind", "room_id"],
        )
        if staff
        else _MULTIPART,
    )
    op["requestBody"]["content"]["application/json"] = {
        "schema": obj(
            {**_SUBMISSION_FIELDS, **({"room_id": integer()} if staff else {})},
            ["title", "description", "kind"],
        )
    }
    return op


OPENAPI = {
    "/api/rooms/{code}": {
        "get": operation(
            "A room's public page data: who and where, its latest topics",
            tag="topics",
            params=[path_param("code")],
            errors=(404, 410),
            ok=obj(
                {
                    "name": string(),
                    "code": string(),
                    "address": string(),
                    "chief": string(),
                    "opening_hours": string(),
                    "region_names": array(string()),
                    "topics": array(_PUBLIC_TOPIC),
                    "deliberations": array({"type": "object"}),
                }
            ),
        )
    },
    "/api/rooms/{code}/topics": {
        "post": _submit_op(
            "Raise a topic in a room (征题); returns its number and private tracking link",
            staff=False,
        )
    },
    "/api/track/{token}": {
        "get": operation(
            "A topic and its public timeline, by its private tracking token",
            tag="topics",
            params=[_TOKEN],
            errors=(404,),
            ok=obj(
                {
                    "number": string(),
                    "title": string(),
                    "description": string(),
                    "kind": string(),
                    "status": string(),
                    "room": obj({"name": string(), "code": string()}),
                    "created_at": string(format="date-time"),
                    "photo_ids": array(integer()),
                    "timeline": array(_PUBLIC_EVENT),
                    "followed": obj(
                        {
                            "number": string(),
                            "title": string(),
                            "status": string(),
                            "timeline": array(_PUBLIC_EVENT),
                        },
                    )
                    | {"nullable": True, "description": "the topic this one was merged into"},
                }
            ),
        )
    },
    "/api/track/{token}/photos/{photo_id}": {
        "get": operation(
            "A photo of the tracked topic (re-encoded JPEG, no metadata)",
            tag="topics",
            params=[_TOKEN, path_param("photo_id", integer())],
            ok_type="image/jpeg",
            ok=string(format="binary"),
            errors=(404,),
        )
    },
    "/api/staff/topics": {
        "get": operation(
            "Topics in one's territory, newest first",
            tag="topics",
            staff=True,
            errors=(400,),
            params=[
                query_param("region_id", integer()),
                query_param("status", description="comma-separated statuses"),
                query_param("category", description="comma-separated categories"),
                query_param("kind"),
                query_param("source"),
                query_param("q"),
                query_param("subject", description="comma-separated subjects"),
                query_param("unit_id", integer()),
                query_param("flag", description="overdue (red) or near (yellow)"),
                query_param("limit", integer()),
                query_param("before_id", integer()),
            ],
            ok=obj(
                {
                    "topics": array(STAFF_TOPIC_SCHEMA),
                    "total": integer(),
                    "next_before_id": integer(nullable=True),
                }
            ),
        ),
        "post": _submit_op("Enter a topic collected offline (info officers)", staff=True),
    },
    "/api/staff/topics/{topic_id}": {
        "get": operation(
            "One topic with its full timeline, photos and the moves open to the caller",
            tag="topics",
            staff=True,
            params=[path_param("topic_id", integer())],
            ok=obj(
                {
                    **STAFF_TOPIC_SCHEMA["properties"],
                    "events": array(
                        obj(
                            {
                                "at": string(format="date-time"),
                                "actor_kind": string(),
                                "actor_id": integer(nullable=True),
                                "from": string(nullable=True),
                                "to": string(),
                                "note": string(),
                                "public": boolean(),
                            }
                        )
                    ),
                    "photo_ids": array(integer()),
                    "moves": array(string()),
                }
            ),
            errors=(404,),
        )
    },
    "/api/staff/topics/{topic_id}/moves": {
        "post": operation(
            "Move a topic along the workflow; refused with 409 if the move is not allowed "
            "from its current state or the topic changed since `version`",
            tag="topics",
            staff=True,
            params=[path_param("topic_id", integer())],
            body=obj(
                {
                    "to": string(enum=[s.value for s in TopicStatus]),
                    "version": integer(),
                    "note": string(maxLength=1000),
                    "lead": string(maxLength=60, description="escalation: who leads it"),
                    "unit_id": integer(description="escalation: the department that leads it"),
                },
                ["to", "version"],
            ),
            ok=STAFF_TOPIC_SCHEMA,
            errors=(400, 404, 409),
        )
    },
    "/api/staff/topics/{topic_id}/merge": {
        "post": operation(
            "Merge a duplicate into another topic; its submitter then follows that topic",
            tag="topics",
            staff=True,
            params=[path_param("topic_id", integer())],
            body=obj(
                {"into_id": integer(), "version": integer(), "note": string()},
                ["into_id", "version"],
            ),
            ok=STAFF_TOPIC_SCHEMA,
            errors=(400, 404, 409),
        )
    },
    "/api/staff/topics/{topic_id}/classification": {
        "post": operation(
            "Correct the automatic category or subject; kept for the next training",
            tag="dispatch",
            staff=True,
            params=[path_param("topic_id", integer())],
            body=obj(
                {"version": integer(), "category": string(), "subject": string()}, ["version"]
            ),
            ok=STAFF_TOPIC_SCHEMA,
            errors=(400, 404, 409),
        )
    },
    "/api/staff/topics/{topic_id}/route": {
        "post": operation(
            "Send a topic to a unit (派单): a relay makes it dispatched, a town or department "
            "assigned; without unit_id the routing table decides",
            tag="dispatch",
            staff=True,
            params=[path_param("topic_id", integer())],
            body=obj({"version": integer(), "unit_id": integer(), "note": string()}, ["version"]),
            ok=STAFF_TOPIC_SCHEMA,
            errors=(400, 404, 409),
        )
    },
    "/api/staff/topics/route": {
        "post": operation(
            "Route many topics at once; each is reported on its own",
            tag="dispatch",
            staff=True,
            body=obj(
                {
                    "topics": array(
                        obj({"id": integer(), "version": integer()}, ["id", "version"])
                    ),
                    "unit_id": integer(),
                },
                ["topics"],
            ),
            ok=obj(
                {
                    "results": array(
                        obj(
                            {
                                "id": integer(),
                                "ok": boolean(),
                                "error": string(nullable=True),
                                "topic": {**STAFF_TOPIC_SCHEMA, "nullable": True},
                            }
                        )
                    )
                }
            ),
            errors=(400,),
        )
    },
    "/api/staff/routing-rules": {
        "get": operation(
            "The routing table for one's territory",
            tag="dispatch",
            staff=True,
            ok=obj({"rules": array(_RULE)}),
        ),
        "post": operation(
            "Create or replace the rule for (region, category, subject); empty means any",
            tag="dispatch",
            staff=True,
            ok=_RULE,
            errors=(400,),
            body=obj(
                {
                    "region_id": integer(),
                    "category": string(),
                    "subject": string(),
                    "unit_id": integer(),
                },
                ["region_id", "unit_id"],
            ),
        ),
    },
    "/api/staff/routing-rules/{rule_id}": {
        "delete": operation(
            "Delete a routing rule",
            tag="dispatch",
            staff=True,
            params=[path_param("rule_id", integer())],
            ok=obj({"ok": boolean()}),
            errors=(404,),
        ),
    },
    "/api/staff/topics/{topic_id}/photos/{photo_id}": {
        "get": operation(
            "A topic's photo",
            tag="topics",
            staff=True,
            params=[path_param("topic_id", integer()), path_param("photo_id", integer())],
            ok_type="image/jpeg",
            ok=string(format="binary"),
            errors=(404,),
        )
    },
}
