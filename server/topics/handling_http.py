"""Handling and supervision over HTTP: contact, progress, pauses, extensions, resolving,
similar topics, the cluster view and staff notifications."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.core.errors import BadRequest, ValidationFailed
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
    ctx_of,
    int_param,
    json_int,
    json_response,
    json_str,
    read_json,
    render,
    require_staff,
    staff_page,
)
from server.topics import actions
from server.topics.actions import deadlines, handling, similarity
from server.topics.http import STAFF_TOPIC_SCHEMA, read_submission
from server.topics.supervision import Stage

routes = web.RouteTableDef()


def _topic_id(request: web.Request) -> int:
    return int(request.match_info["topic_id"])


def _bool(data: dict[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise ValidationFailed(f"{name} must be true or false.", fields={name: "Yes or no."})
    return value


@routes.post(r"/api/staff/topics/{topic_id:\d+}/contact")
async def record_contact(request: web.Request) -> web.Response:
    data = await read_json(request)
    topic = await handling.record_contact(
        ctx_of(request),
        require_staff(request),
        _topic_id(request),
        method=json_str(data, "method"),
        note=json_str(data, "note"),
    )
    return json_response(topic.to_json())


@routes.post(r"/api/staff/topics/{topic_id:\d+}/progress")
async def add_progress(request: web.Request) -> web.Response:
    data = await read_json(request)
    topic = await handling.add_progress(
        ctx_of(request),
        require_staff(request),
        _topic_id(request),
        note=json_str(data, "note"),
        public=_bool(data, "public", True),
    )
    return json_response(topic.to_json())


@routes.post(r"/api/staff/topics/{topic_id:\d+}/pause")
async def pause_topic(request: web.Request) -> web.Response:
    data = await read_json(request)
    topic = await handling.pause_topic(
        ctx_of(request),
        require_staff(request),
        _topic_id(request),
        reason=json_str(data, "reason"),
    )
    return json_response(topic.to_json())


@routes.post(r"/api/staff/topics/{topic_id:\d+}/resume")
async def resume_topic(request: web.Request) -> web.Response:
    topic = await handling.resume_topic(ctx_of(request), require_staff(request), _topic_id(request))
    return json_response(topic.to_json())


@routes.post(r"/api/staff/topics/{topic_id:\d+}/extensions")
async def request_extension(request: web.Request) -> web.Response:
    data = await read_json(request)
    topic = await handling.request_extension(
        ctx_of(request),
        require_staff(request),
        _topic_id(request),
        days=json_int(data, "days"),
        reason=json_str(data, "reason"),
        stage=json_str(data, "stage") or None,
    )
    return json_response(topic.to_json(), status=201)


@routes.post(r"/api/staff/topics/{topic_id:\d+}/extensions/{extension_id:\d+}/decision")
async def decide_extension(request: web.Request) -> web.Response:
    data = await read_json(request)
    if not isinstance(data.get("approve"), bool):
        raise ValidationFailed("Approve or refuse.", fields={"approve": "true or false."})
    topic = await handling.decide_extension(
        ctx_of(request),
        require_staff(request),
        _topic_id(request),
        int(request.match_info["extension_id"]),
        approve=data["approve"],
        note=json_str(data, "note"),
    )
    return json_response(topic.to_json())


@routes.post(r"/api/staff/topics/{topic_id:\d+}/resolve")
async def resolve_topic(request: web.Request) -> web.Response:
    """JSON, or multipart with ``version``, ``result`` and up to the usual photos."""
    principal = require_staff(request)
    data, photos = await read_submission(request, names=("version", "result"))
    version = data.get("version")
    if isinstance(version, str) and version.isdigit():
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValidationFailed("version is required.", fields={"version": "Required."})
    result = data.get("result", "")
    if not isinstance(result, str):
        raise ValidationFailed("result must be text.", fields={"result": "Must be text."})
    topic = await handling.resolve_topic(
        ctx_of(request),
        principal,
        _topic_id(request),
        version=version,
        result=result,
        photos=photos,
    )
    return json_response(topic.to_json())


@routes.get(r"/api/staff/topics/{topic_id:\d+}/similar")
async def similar_topics(request: web.Request) -> web.Response:
    ctx, principal = ctx_of(request), require_staff(request)
    limit = int_param(request.query.get("limit"), "limit", default=8, lo=1, hi=30) or 8
    found = await actions.similar_for_topic(ctx, principal, _topic_id(request), limit=limit)
    return json_response({"similar": [m.to_json() for m in found]})


def _float_param(raw: str | None, name: str) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number.", fields={name: "A number."}) from None


def _cluster_query(request: web.Request) -> similarity.ClusterQuery:
    q = request.query
    return similarity.cluster_query(
        ctx_of(request),
        days=int_param(q.get("days"), "days"),
        threshold=_float_param(q.get("threshold"), "threshold"),
        min_topics=int_param(q.get("min_topics"), "min_topics"),
        min_rooms=int_param(q.get("min_rooms"), "min_rooms"),
    )


@routes.get("/api/staff/clusters")
async def clusters(request: web.Request) -> web.Response:
    principal = require_staff(request)
    query = _cluster_query(request)
    found = await similarity.topic_clusters(ctx_of(request), principal, query)
    return json_response(
        {
            "query": {
                "days": query.days,
                "threshold": query.threshold,
                "min_topics": query.min_topics,
                "min_rooms": query.min_rooms,
            },
            "clusters": [c.to_json() for c in found],
        }
    )


@routes.get("/staff/clusters")
async def clusters_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    query = _cluster_query(request)
    found = await similarity.topic_clusters(ctx_of(request), principal, query)
    return render(request, "staff_clusters.html", {"query": query, "clusters": found})


@routes.get("/api/staff/notifications")
async def notifications(request: web.Request) -> web.Response:
    principal = require_staff(request)
    unread_only = request.query.get("unread") in ("1", "true")
    limit = int_param(request.query.get("limit"), "limit", default=50, lo=1, hi=200) or 50
    items, unread = await deadlines.list_notifications(
        ctx_of(request), principal, unread_only=unread_only, limit=limit
    )
    return json_response({"notifications": [n.to_json() for n in items], "unread": unread})


@routes.post("/api/staff/notifications/read")
async def read_notifications(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    ids = data.get("ids")
    if ids is not None and not (
        isinstance(ids, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise ValidationFailed("ids must be a list of numbers.", fields={"ids": "Invalid."})
    marked = await deadlines.mark_read(ctx_of(request), principal, ids)
    return json_response({"marked": marked})


@routes.get("/staff/notifications")
async def notifications_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    items, unread = await deadlines.list_notifications(ctx_of(request), principal, limit=200)
    return render(request, "staff_notifications.html", {"items": items, "unread": unread})


_ID = [path_param("topic_id", integer())]
_NOTIFICATION = obj(
    {
        "id": integer(),
        "kind": string(),
        "topic_id": integer(nullable=True),
        "data": {"type": "object"},
        "created_at": string(format="date-time"),
        "read": boolean(),
    }
)


def _op(
    summary: str,
    body: dict[str, Any] | None,
    *,
    ok: dict[str, Any] = STAFF_TOPIC_SCHEMA,
    errors: tuple[int, ...] = (400, 404, 409),
    ok_status: str = "200",
    params: list[dict[str, Any]] = _ID,
) -> dict[str, Any]:
    return operation(
        summary,
        tag="handling",
        staff=True,
        params=params,
        body=body,
        ok=ok,
        errors=errors,
        ok_status=ok_status,
    )


OPENAPI = {
    "/api/staff/topics/{topic_id}/contact": {
        "post": _op(
            "Record first contact with the resident (closes the contact deadline); the "
            "submitter sees only that, and how, they were contacted",
            obj(
                {"method": string(enum=list(handling.CONTACT_METHODS)), "note": string()},
                ["method"],
            ),
        )
    },
    "/api/staff/topics/{topic_id}/progress": {
        "post": _op(
            "A progress note; public ones show on the submitter's tracking page",
            obj({"note": string(maxLength=1000), "public": boolean()}, ["note"]),
        )
    },
    "/api/staff/topics/{topic_id}/pause": {
        "post": _op(
            "Stop the deadline clock, with a reason the submitter sees",
            obj({"reason": string(maxLength=200)}, ["reason"]),
        )
    },
    "/api/staff/topics/{topic_id}/resume": {
        "post": _op("Restart the deadline clock; paused working days push it back", None)
    },
    "/api/staff/topics/{topic_id}/extensions": {
        "post": _op(
            "Ask for more working days on a deadline (the resolution one unless named)",
            obj(
                {
                    "days": integer(minimum=1, maximum=deadlines.MAX_EXTENSION_DAYS),
                    "reason": string(maxLength=200),
                    "stage": string(enum=[s.value for s in Stage]),
                },
                ["days", "reason"],
            ),
            ok_status="201",
        )
    },
    "/api/staff/topics/{topic_id}/extensions/{extension_id}/decision": {
        "post": _op(
            "A supervisor approves or refuses an extension; never the one who asked",
            obj({"approve": boolean(), "note": string()}, ["approve"]),
            params=[*_ID, path_param("extension_id", integer())],
        )
    },
    "/api/staff/topics/{topic_id}/resolve": {
        "post": operation(
            "Resolve with the result the submitter reads, and optional photos of it "
            "(multipart: version, result, photos; or JSON)",
            tag="handling",
            staff=True,
            params=_ID,
            body=obj(
                {
                    "version": integer(),
                    "result": string(maxLength=handling.RESULT_LIMITS[1]),
                    "photos": array(string(format="binary")),
                },
                ["version", "result"],
            ),
            body_type="multipart/form-data",
            ok=STAFF_TOPIC_SCHEMA,
            errors=(400, 404, 409),
        )
    },
    "/api/staff/topics/{topic_id}/similar": {
        "get": operation(
            "Open topics that say the same thing, in rooms the caller may see",
            tag="handling",
            staff=True,
            params=[*_ID, query_param("limit", integer())],
            ok=obj(
                {
                    "similar": array(
                        obj(
                            {
                                "topic": STAFF_TOPIC_SCHEMA,
                                "score": number(),
                                "shared": array(string()),
                            }
                        )
                    )
                }
            ),
            errors=(404,),
        )
    },
    "/api/staff/clusters": {
        "get": operation(
            "Groups of similar open topics from several rooms in the last days: "
            "escalation candidates (thresholds default to the settings)",
            tag="handling",
            staff=True,
            params=[
                query_param("days", integer()),
                query_param("threshold", number()),
                query_param("min_topics", integer()),
                query_param("min_rooms", integer()),
            ],
            ok=obj(
                {
                    "query": {"type": "object"},
                    "clusters": array(
                        obj(
                            {
                                "topics": array(STAFF_TOPIC_SCHEMA),
                                "topic_count": integer(),
                                "room_count": integer(),
                                "top_terms": array(string()),
                                "first_at": string(format="date-time"),
                                "last_at": string(format="date-time"),
                            }
                        )
                    ),
                }
            ),
            errors=(400,),
        )
    },
    "/api/staff/notifications": {
        "get": operation(
            "The caller's notifications (deadline reminders, extension requests), newest first",
            tag="handling",
            staff=True,
            params=[query_param("unread", boolean()), query_param("limit", integer())],
            ok=obj({"notifications": array(_NOTIFICATION), "unread": integer()}),
        )
    },
    "/api/staff/notifications/read": {
        "post": operation(
            "Mark the caller's notifications read: the given ids, or all",
            tag="handling",
            staff=True,
            body=obj({"ids": array(integer())}),
            ok=obj({"marked": integer()}),
            errors=(400,),
        )
    },
}
