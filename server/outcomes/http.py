"""Outcomes over HTTP: the host's minutes, outcome progress, the public's evaluations."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from server.core.errors import ValidationFailed
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
    json_int,
    json_optional_int,
    json_response,
    json_str,
    read_json,
    require_staff,
)
from server.outcomes import actions
from server.outcomes.model import COMMENT_MAX, DECISION_LIMITS, LEAD_MAX, NOTE_LIMITS, Verdict
from server.topics.http import read_submission

routes = web.RouteTableDef()


def _id(request: web.Request, name: str) -> int:
    return int(request.match_info[name])


def _date(value: Any, field: str) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be a date.", fields={field: "YYYY-MM-DD."})
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{field} must be a date.", fields={field: "YYYY-MM-DD."}) from None


def _outcome_inputs(raw: Any) -> list[actions.OutcomeInput]:
    if not isinstance(raw, list):
        raise ValidationFailed("outcomes must be a list.", fields={"outcomes": "A list."})
    found = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise ValidationFailed("Each outcome is an object.", fields={f"outcomes.{i}": "?"})
        found.append(
            actions.OutcomeInput(
                topic_id=json_int(entry, "topic_id"),
                decision=json_str(entry, "decision"),
                unit_id=json_optional_int(entry, "unit_id"),
                lead=json_str(entry, "lead"),
                due_on=_date(entry.get("due_on"), f"outcomes.{entry['topic_id']}.due_on"),
            )
        )
    return found


@routes.get(r"/api/staff/deliberations/{deliberation_id:\d+}/minutes")
async def get_minutes(request: web.Request) -> web.Response:
    view = await actions.get_minutes(
        ctx_of(request), require_staff(request), _id(request, "deliberation_id")
    )
    return json_response(view.as_json())


@routes.put(r"/api/staff/deliberations/{deliberation_id:\d+}/minutes")
async def save_minutes(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    view = await actions.save_minutes(
        ctx_of(request),
        principal,
        _id(request, "deliberation_id"),
        version=json_int(data, "version"),
        body=json_str(data, "body"),
        outcomes=_outcome_inputs(data.get("outcomes", [])),
    )
    return json_response(view.as_json())


@routes.post(r"/api/staff/deliberations/{deliberation_id:\d+}/minutes/publish")
async def publish_minutes(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    view = await actions.publish_minutes(
        ctx_of(request),
        principal,
        _id(request, "deliberation_id"),
        version=json_int(data, "version"),
    )
    return json_response(view.as_json())


@routes.get(r"/api/deliberations/{deliberation_id:\d+}/minutes")
async def public_minutes(request: web.Request) -> web.Response:
    view = await actions.public_minutes(ctx_of(request), _id(request, "deliberation_id"))
    return json_response(view.as_json())


@routes.get("/api/staff/outcomes")
async def list_outcomes(request: web.Request) -> web.Response:
    q = request.query
    rows = await actions.list_outcomes(
        ctx_of(request),
        require_staff(request),
        overdue=q.get("overdue") in ("1", "true"),
        mine=q.get("mine") in ("1", "true"),
        before_id=int_param(q.get("before"), "before"),
        limit=int_param(q.get("limit"), "limit", default=50, lo=1, hi=200) or 50,
    )
    return json_response({"outcomes": [r.as_json() for r in rows]})


@routes.get(r"/api/staff/outcomes/{outcome_id:\d+}")
async def staff_outcome(request: web.Request) -> web.Response:
    view = await actions.staff_outcome(
        ctx_of(request), require_staff(request), _id(request, "outcome_id")
    )
    return json_response(view.staff())


@routes.post(r"/api/staff/outcomes/{outcome_id:\d+}/progress")
async def add_progress(request: web.Request) -> web.Response:
    """JSON, or multipart with ``version``, ``percent``, ``note`` and photos."""
    principal = require_staff(request)
    data, photos = await read_submission(request, names=("version", "percent", "note"))
    for name in ("version", "percent"):
        value = data.get(name)
        if isinstance(value, str) and value.strip().isdigit():
            data[name] = int(value)
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValidationFailed("version is required.", fields={"version": "Required."})
    view = await actions.add_progress(
        ctx_of(request),
        principal,
        _id(request, "outcome_id"),
        version=version,
        percent=data.get("percent"),
        note=json_str(data, "note"),
        photos=photos,
    )
    return json_response(view.staff(), status=201)


@routes.get("/api/staff/evaluations/held")
async def held_comments(request: web.Request) -> web.Response:
    held = await actions.held_comments(ctx_of(request), require_staff(request))
    return json_response({"evaluations": held})


@routes.post(r"/api/staff/evaluations/{evaluation_id:\d+}/moderation")
async def moderate(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    visible = data.get("visible")
    if not isinstance(visible, bool):
        raise ValidationFailed("visible must be true or false.", fields={"visible": "Yes or no."})
    result = await actions.moderate_evaluation(
        ctx_of(request),
        principal,
        _id(request, "evaluation_id"),
        visible=visible,
        reason=json_str(data, "reason"),
    )
    return json_response(result)


@routes.get(r"/api/outcomes/{outcome_id:\d+}")
async def public_outcome(request: web.Request) -> web.Response:
    view = await actions.public_outcome(ctx_of(request), _id(request, "outcome_id"))
    return json_response(view.public())


@routes.post(r"/api/outcomes/{outcome_id:\d+}/evaluations")
async def rate(request: web.Request) -> web.Response:
    data = await read_json(request)
    token = data.get("token")
    rated = await actions.rate_outcome(
        ctx_of(request),
        _id(request, "outcome_id"),
        score=data.get("score"),
        verdict=data.get("verdict"),
        comment=data.get("comment"),
        device_id=device_id(request),
        token=token if isinstance(token, str) and token else None,
        ip=client_ip(request),
    )
    return json_response(rated.as_json(), status=201)


@routes.get("/api/topics/{number}/outcome")
async def topic_outcome(request: web.Request) -> web.Response:
    """Which published outcome a topic has, for its tracking page: null while it has none
    (a plain answer, not a 404: most topics have none, and the page asks every time)."""
    found = await actions.outcome_for_number(ctx_of(request), request.match_info["number"])
    return json_response({"outcome_id": found})


@routes.get(r"/api/outcomes/{outcome_id:\d+}/photos/{photo_id:\d+}")
async def outcome_photo(request: web.Request) -> web.Response:
    data = await actions.outcome_photo(
        ctx_of(request), _id(request, "outcome_id"), _id(request, "photo_id")
    )
    return web.Response(
        body=data, content_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"}
    )


_DID = [path_param("deliberation_id", integer())]
_OID = [path_param("outcome_id", integer())]
_SATISFACTION = obj(
    {
        "satisfied": integer(),
        "basically_satisfied": integer(),
        "unsatisfied": integer(),
        "total": integer(),
        "rate": {"type": "number", "nullable": True},
    }
)
_COMMENT = obj(
    {
        "id": integer(),
        "proposer": boolean(),
        "score": integer(),
        "verdict": string(enum=[v.value for v in Verdict]),
        "comment": string(),
        "status": string(enum=["visible", "held", "hidden"]),
        "reason": string(),
        "at": string(format="date-time"),
    }
)
_UPDATE = obj(
    {
        "at": string(format="date-time"),
        "percent": integer(),
        "note": string(),
        "photos": array(obj({"id": integer(), "width": integer(), "height": integer()})),
    }
)
_OUTCOME = obj(
    {
        "id": integer(),
        "topic_number": string(),
        "topic_title": string(),
        "topic_status": string(),
        "category": {"type": "string", "nullable": True},
        "room_name": string(),
        "region_name": string(),
        "deliberation_id": {"type": "integer", "nullable": True},
        "source": string(enum=["deliberation", "handler"]),
        "decision": string(),
        "unit_name": string(),
        "lead": string(),
        "due_on": string(format="date"),
        "percent": integer(),
        "flag": string(enum=["ok", "near", "overdue", "done"]),
        "published_at": {"type": "string", "format": "date-time", "nullable": True},
        "completed_at": {"type": "string", "format": "date-time", "nullable": True},
        "updates": array(_UPDATE),
        "satisfaction": _SATISFACTION,
        "score_average": {"type": "number", "nullable": True},
        "comments": array(_COMMENT),
    }
)
_MINUTES = obj(
    {
        "deliberation_id": integer(),
        "deliberation_title": string(),
        "room_name": string(),
        "status": string(enum=["draft", "published"]),
        "facts": {"type": "object"},
        "body": string(),
        "version": integer(),
        "published_at": {"type": "string", "format": "date-time", "nullable": True},
        "topics": array({"type": "object"}),
    }
)
_OUTCOME_INPUT = obj(
    {
        "topic_id": integer(),
        "decision": string(minLength=DECISION_LIMITS[0], maxLength=DECISION_LIMITS[1]),
        "unit_id": integer(),
        "lead": string(maxLength=LEAD_MAX),
        "due_on": string(format="date"),
    },
    ["topic_id", "decision", "unit_id", "due_on"],
)


def _staff(summary: str, **kw: Any) -> dict[str, Any]:
    return operation(summary, tag="outcomes", staff=True, **kw)


OPENAPI: dict[str, Any] = {
    "/api/staff/deliberations/{deliberation_id}/minutes": {
        "get": _staff(
            "The session's minutes, drafted from its log when first opened after it ended",
            params=_DID,
            ok=_MINUTES,
            errors=(404, 409),
        ),
        "put": _staff(
            "Save the host's text and the outcomes entered so far (each complete)",
            params=_DID,
            body=obj(
                {"version": integer(), "body": string(), "outcomes": array(_OUTCOME_INPUT)},
                ["version"],
            ),
            ok=_MINUTES,
            errors=(400, 404, 409),
        ),
    },
    "/api/staff/deliberations/{deliberation_id}/minutes/publish": {
        "post": _staff(
            "Publish the minutes and every agenda topic's outcome in one step",
            params=_DID,
            body=obj({"version": integer()}, ["version"]),
            ok=_MINUTES,
            errors=(400, 404, 409),
        )
    },
    "/api/deliberations/{deliberation_id}/minutes": {
        "get": operation(
            "A session's published minutes", tag="outcomes", params=_DID, ok=_MINUTES, errors=(404,)
        )
    },
    "/api/staff/outcomes": {
        "get": _staff(
            "Outcomes in the caller's territory (a handler's: its unit's), newest first",
            params=[
                query_param("overdue", boolean()),
                query_param("mine", boolean()),
                query_param("before", integer()),
                query_param("limit", integer()),
            ],
            ok=obj({"outcomes": array({"type": "object"})}),
            errors=(400,),
        )
    },
    "/api/staff/outcomes/{outcome_id}": {
        "get": _staff(
            "One outcome with its updates and every comment",
            params=_OID,
            ok=_OUTCOME,
            errors=(404,),
        )
    },
    "/api/staff/outcomes/{outcome_id}/progress": {
        "post": _staff(
            "A progress update by the responsible unit (multipart with photos, or JSON)",
            params=_OID,
            body=obj(
                {
                    "version": integer(),
                    "percent": integer(minimum=0, maximum=100),
                    "note": string(minLength=NOTE_LIMITS[0], maxLength=NOTE_LIMITS[1]),
                    "photos": array(string(format="binary")),
                },
                ["version", "percent", "note"],
            ),
            body_type="multipart/form-data",
            ok_status="201",
            ok=_OUTCOME,
            errors=(400, 404, 409),
        )
    },
    "/api/staff/evaluations/held": {
        "get": _staff(
            "Evaluation comments held for a moderator in the caller's territory",
            ok=obj({"evaluations": array({"type": "object"})}),
        )
    },
    "/api/staff/evaluations/{evaluation_id}/moderation": {
        "post": _staff(
            "Show a held comment, or hide one with a reason (the record stays)",
            params=[path_param("evaluation_id", integer())],
            body=obj({"visible": boolean(), "reason": string(maxLength=200)}, ["visible"]),
            ok={"type": "object"},
            errors=(400, 404, 409),
        )
    },
    "/api/outcomes/{outcome_id}": {
        "get": operation(
            "A published outcome: decision, progress, satisfaction with its counts, comments",
            tag="outcomes",
            params=_OID,
            ok=_OUTCOME,
            errors=(404,),
        )
    },
    "/api/outcomes/{outcome_id}/evaluations": {
        "post": operation(
            "Rate a published outcome once per identity (device, or the proposer's tracking "
            "token); an unsatisfied proposer reopens the topic",
            tag="outcomes",
            params=_OID,
            body=obj(
                {
                    "score": integer(minimum=1, maximum=5),
                    "verdict": string(enum=[v.value for v in Verdict]),
                    "comment": string(maxLength=COMMENT_MAX),
                    "token": string(),
                },
                ["score", "verdict"],
            ),
            ok_status="201",
            ok=obj({"evaluation": _COMMENT, "satisfaction": _SATISFACTION, "reopened": boolean()}),
            errors=(400, 403, 404, 409, 429),
        )
    },
    "/api/outcomes/{outcome_id}/photos/{photo_id}": {
        "get": operation(
            "A progress photo of a published outcome",
            tag="outcomes",
            params=[*_OID, path_param("photo_id", integer())],
            ok_type="image/jpeg",
            ok=string(format="binary"),
            errors=(404,),
        )
    },
    "/api/topics/{number}/outcome": {
        "get": operation(
            "The id of a topic's published outcome (null while it has none), for its tracking page",
            tag="outcomes",
            params=[path_param("number", string())],
            ok=obj({"outcome_id": {"type": "integer", "nullable": True}}),
            errors=(404,),
        )
    },
}
