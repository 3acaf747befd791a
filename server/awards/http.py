"""HTTP routes of the awards feature (十佳百优): the public pages and JSON (published years,
the self-nomination form), and the staff's pages and JSON API to open a year, generate
candidates, appoint reviewers, decide nominations, score, close the review and publish.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.awards import actions
from server.awards.actions import AwardsView
from server.awards.model import BEST, EXCELLENT
from server.core.clock import LOCAL_TZ
from server.core.errors import ValidationFailed
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
    json_response,
    read_json,
    render,
    require_staff,
    staff_page,
)

routes = web.RouteTableDef()
Y = r"{year:[^/.]+}"
CANDIDATE = r"{candidate:\d+}"
NOMINATION = r"{nomination:\d+}"


def _year(request: web.Request) -> str:
    return request.match_info["year"]


def _id(request: web.Request, name: str) -> int:
    return int(request.match_info[name])


def _published(view: AwardsView) -> str:
    return view.published_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


async def _view(request: web.Request) -> AwardsView:
    version = int_param(request.query.get("version"), "version", lo=1)
    return await actions.published_awards(ctx_of(request), _year(request), version)


# --- public pages ------------------------------------------------------------------------------


@routes.get("/awards")
async def list_page(request: web.Request) -> web.Response:
    items = await actions.list_published(ctx_of(request))
    return render(request, "awards.html", {"items": items})


@routes.get(f"/awards/{Y}")
async def year_page(request: web.Request) -> web.Response:
    view = await _view(request)
    response = render(
        request, "award.html", {"a": view, "d": view.data, "published": _published(view)}
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@routes.get(f"/awards/{Y}/nominate")
async def nominate_page(request: web.Request) -> web.Response:
    return render(request, "award_nominate.html", {"year": _year(request)})


# --- public API --------------------------------------------------------------------------------


@routes.get("/api/awards")
async def list_api(request: web.Request) -> web.Response:
    return json_response({"awards": await actions.list_published(ctx_of(request))})


@routes.get(f"/api/awards/{Y}")
async def year_api(request: web.Request) -> web.Response:
    return json_response((await _view(request)).public())


@routes.post(f"/api/awards/{Y}/nominations")
async def nominate_self_api(request: web.Request) -> web.Response:
    data = await read_json(request)
    done = await actions.nominate_self(
        ctx_of(request),
        _year(request),
        name=data.get("name"),
        phone=data.get("phone"),
        room_code=data.get("room_code"),
        reasons=data.get("reasons"),
        device_id=device_id(request),
        ip=client_ip(request),
    )
    return json_response({"id": done.id, "status": str(done.status)}, status=201)


# --- staff pages -------------------------------------------------------------------------------


@routes.get("/staff/awards")
async def staff_list_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    rounds = await actions.list_rounds(ctx_of(request), principal)
    return render(
        request,
        "award_staff_list.html",
        {"rounds": rounds, "excellent": EXCELLENT, "best": BEST},
    )


@routes.get(f"/staff/awards/{Y}")
async def staff_year_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    detail = await actions.round_detail(ctx_of(request), principal, _year(request))
    return render(request, "award_staff.html", {"r": detail})


# --- staff API ---------------------------------------------------------------------------------


def _bool(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise ValidationFailed(f"{name} must be true or false.", fields={name: "true or false."})
    return value


@routes.get("/api/staff/awards")
async def staff_list_api(request: web.Request) -> web.Response:
    principal = require_staff(request)
    rounds = await actions.list_rounds(ctx_of(request), principal)
    return json_response({"rounds": [r.as_dict() for r in rounds]})


@routes.post("/api/staff/awards")
async def open_api(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    view = await actions.open_round(
        ctx_of(request),
        principal,
        data.get("year"),
        excellent=data.get("excellent", EXCELLENT),
        best=data.get("best", BEST),
    )
    return json_response(view.as_dict(), status=201)


@routes.get(f"/api/staff/awards/{Y}")
async def staff_year_api(request: web.Request) -> web.Response:
    principal = require_staff(request)
    return json_response(await actions.round_detail(ctx_of(request), principal, _year(request)))


@routes.post(f"/api/staff/awards/{Y}/generate")
async def generate_api(request: web.Request) -> web.Response:
    principal = require_staff(request)
    counts = await actions.generate_candidates(ctx_of(request), principal, _year(request))
    return json_response({"candidates": counts})


@routes.post(f"/api/staff/awards/{Y}/reviewers")
async def reviewers_api(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    ids = await actions.appoint_reviewer(
        ctx_of(request), principal, _year(request), username=data.get("username")
    )
    return json_response({"reviewers": ids}, status=201)


@routes.post(f"/api/staff/awards/{Y}/nominations")
async def nominate_api(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    done = await actions.nominate(
        ctx_of(request),
        principal,
        _year(request),
        kind=data.get("kind"),
        organisation=data.get("organisation"),
        reasons=data.get("reasons"),
        room_id=data.get("room_id"),
        topic_number=data.get("topic_number"),
        name=data.get("name"),
        phone=data.get("phone"),
    )
    return json_response({"id": done.id, "status": str(done.status)}, status=201)


@routes.post(f"/api/staff/awards/{Y}/nominations/{NOMINATION}/accept")
async def accept_api(request: web.Request) -> web.Response:
    principal = require_staff(request)
    candidate = await actions.accept_nomination(
        ctx_of(request), principal, _year(request), _id(request, "nomination")
    )
    return json_response({"candidate_id": candidate})


@routes.post(f"/api/staff/awards/{Y}/nominations/{NOMINATION}/decline")
async def decline_api(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    await actions.decline_nomination(
        ctx_of(request),
        principal,
        _year(request),
        _id(request, "nomination"),
        reason=data.get("reason"),
    )
    return json_response({"status": "declined"})


@routes.put(f"/api/staff/awards/{Y}/candidates/{CANDIDATE}/score")
async def score_api(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    score = await actions.score_candidate(
        ctx_of(request),
        principal,
        _year(request),
        _id(request, "candidate"),
        score=data.get("score"),
    )
    return json_response({"score": score})


@routes.post(f"/api/staff/awards/{Y}/candidates/{CANDIDATE}/withdraw")
async def withdraw_api(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    await actions.withdraw_candidate(
        ctx_of(request),
        principal,
        _year(request),
        _id(request, "candidate"),
        reason=data.get("reason"),
    )
    return json_response({"withdrawn": True})


@routes.post(f"/api/staff/awards/{Y}/close")
async def close_api(request: web.Request) -> web.Response:
    principal = require_staff(request)
    view = await actions.close_review(ctx_of(request), principal, _year(request))
    return json_response(view.as_dict())


@routes.post(f"/api/staff/awards/{Y}/publish")
async def publish_api(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    done = await actions.publish_awards(
        ctx_of(request),
        principal,
        _year(request),
        new_version=_bool(data, "new_version"),
        reason=data.get("reason", ""),
    )
    return json_response(
        {
            "year": done.year,
            "version": done.version,
            "reason": done.reason,
            "published_at": done.published_at.isoformat(),
            "url": f"/awards/{done.year}",
        },
        status=201,
    )


# --- OpenAPI -----------------------------------------------------------------------------------


def _op(summary: str, **kw: Any) -> dict[str, Any]:
    return operation(summary, tag="awards", **kw)


_YEAR = path_param("year", integer(minimum=2000))
_CANDIDATE = path_param("candidate", integer())
_NOMINATION = path_param("nomination", integer())
_KIND = string(enum=["room", "resident", "case"])
_SATISFACTION = obj(
    {
        "satisfied": integer(),
        "basically_satisfied": integer(),
        "unsatisfied": integer(),
        "total": integer(),
        "rate": number(nullable=True),
    }
)
_ENTRY = obj(
    {
        "rank": integer(),
        "best": boolean(),
        "title": string(description="room name; case number and title; a resident's masked name"),
        "room": string(),
        "region": string(),
        "mean_score": number(),
        "reviewers": integer(),
        "nominated": boolean(),
        "figures": obj({}),
    }
)
_KIND_LIST = obj(
    {
        "candidates": integer(),
        "excellent": array(_ENTRY),
        "best_count": integer(),
        "short": boolean(),  # fewer than the excellent size were scored
    }
)
_ROUND = obj(
    {
        "year": integer(),
        "status": string(enum=["open", "closed", "published"]),
        "excellent": integer(),
        "best": integer(),
        "generated": boolean(),
        "url": string(),
    }
)
_PUBLISHED_ITEM = obj(
    {
        "year": integer(),
        "version": integer(),
        "reason": string(),
        "published_at": string(format="date-time"),
        "url": string(),
    }
)
_STAFF_CANDIDATE = obj(
    {
        "id": integer(),
        "title": string(),
        "masked_phone": string(description="residents only, e.g. 139****5678"),
        "room": string(),
        "source": string(enum=["figures", "nomination"]),
        "nominated": boolean(),
        "reasons": string(),
        "figures": obj({"satisfaction": _SATISFACTION}),
        "composite": number(),
        "my_score": integer(nullable=True),
        "mean_score": number(nullable=True),
        "scores": integer(),
        "rank": integer(nullable=True, description="administrators only"),
        "withdrawn": boolean(),
        "withdrawn_reason": string(),
    }
)
_REASON = obj({"reason": string(minLength=4, maxLength=500)})

OPENAPI: dict[str, Any] = {
    "/api/awards": {
        "get": _op(
            "The published awards (十佳百优): each year's latest version, newest first",
            ok=obj({"awards": array(_PUBLISHED_ITEM)}),
        )
    },
    "/api/awards/{year}": {
        "get": _op(
            "A year's published list: per kind (room, resident, case) the excellent (百优) "
            "by rank with the best (十佳) marked; residents by masked name and room only. "
            "The latest version unless ?version=",
            params=[_YEAR, query_param("version", integer(minimum=1))],
            ok=obj(
                {
                    "year": integer(),
                    "version": integer(),
                    "latest": boolean(),
                    "reason": string(),
                    "published_at": string(format="date-time"),
                    "versions": array(
                        obj(
                            {
                                "version": integer(),
                                "reason": string(),
                                "published_at": string(format="date-time"),
                            }
                        )
                    ),
                    "data": obj(
                        {
                            "schema": integer(),
                            "year": integer(),
                            "sizes": obj({"excellent": integer(), "best": integer()}),
                            "kinds": obj(
                                {"room": _KIND_LIST, "resident": _KIND_LIST, "case": _KIND_LIST}
                            ),
                        }
                    ),
                }
            ),
            errors=(400, 404),
        )
    },
    "/api/awards/{year}/nominations": {
        "post": _op(
            "A resident nominates themselves as an excellent resident (rate-limited per "
            "device and IP); staff accept or decline it",
            params=[_YEAR],
            body=obj(
                {
                    "name": string(maxLength=30),
                    "phone": string(),
                    "room_code": string(),
                    "reasons": string(minLength=10, maxLength=1000),
                },
                required=["name", "phone", "room_code", "reasons"],
            ),
            ok_status="201",
            ok=obj({"id": integer(), "status": string()}),
            errors=(400, 404, 409, 429),
        )
    },
    "/api/staff/awards": {
        "get": _op(
            "The years the staff member may open (all for the administrator, the years "
            "they review otherwise)",
            ok=obj({"rounds": array(_ROUND)}),
            staff=True,
        ),
        "post": _op(
            "Open a year's awards (the city's administrator) with its sizes per kind",
            body=obj(
                {
                    "year": integer(minimum=2000),
                    "excellent": integer(minimum=1, maximum=1000, default=EXCELLENT),
                    "best": integer(minimum=1, maximum=1000, default=BEST),
                },
                required=["year"],
            ),
            ok_status="201",
            ok=_ROUND,
            errors=(400, 409),
            staff=True,
        ),
    },
    "/api/staff/awards/{year}": {
        "get": _op(
            "A year under review: candidates per kind with figures and scores, nominations "
            "and reviewers (administrator), or the candidates and one's own scores (reviewer)",
            params=[_YEAR],
            ok=obj(
                {
                    "year": integer(),
                    "status": string(),
                    "manager": boolean(),
                    "reviewer": boolean(),
                    "reviewers": array(obj({"id": integer(), "name": string()})),
                    "candidates": obj(
                        {
                            "room": array(_STAFF_CANDIDATE),
                            "resident": array(_STAFF_CANDIDATE),
                            "case": array(_STAFF_CANDIDATE),
                        }
                    ),
                    "nominations": array(
                        obj(
                            {
                                "id": integer(),
                                "kind": _KIND,
                                "source": string(enum=["self", "organisation"]),
                                "status": string(enum=["pending", "accepted", "declined"]),
                                "title": string(),
                                "masked_phone": string(),
                                "room": string(),
                                "organisation": string(),
                                "reasons": string(),
                                "decline_reason": string(),
                                "candidate_id": integer(nullable=True),
                            }
                        )
                    ),
                }
            ),
            errors=(400, 404),
            staff=True,
        )
    },
    "/api/staff/awards/{year}/generate": {
        "post": _op(
            "Propose candidates from the year's figures (once, while the review is open)",
            params=[_YEAR],
            ok=obj(
                {"candidates": obj({"room": integer(), "resident": integer(), "case": integer()})}
            ),
            errors=(400, 404, 409),
            staff=True,
        )
    },
    "/api/staff/awards/{year}/reviewers": {
        "post": _op(
            "Appoint a staff member (by username) to score the year's candidates",
            params=[_YEAR],
            body=obj({"username": string()}, required=["username"]),
            ok_status="201",
            ok=obj({"reviewers": array(integer())}),
            errors=(400, 404, 409),
            staff=True,
        )
    },
    "/api/staff/awards/{year}/nominations": {
        "post": _op(
            "Nominate on behalf of an organisation: a room (room_id), a case (topic_number) "
            "or a resident (name, phone, room_id), with reasons",
            params=[_YEAR],
            body=obj(
                {
                    "kind": _KIND,
                    "organisation": string(minLength=2, maxLength=60),
                    "reasons": string(minLength=10, maxLength=1000),
                    "room_id": integer(),
                    "topic_number": string(),
                    "name": string(maxLength=30),
                    "phone": string(),
                },
                required=["kind", "organisation", "reasons"],
            ),
            ok_status="201",
            ok=obj({"id": integer(), "status": string()}),
            errors=(400, 404, 409),
            staff=True,
        )
    },
    "/api/staff/awards/{year}/nominations/{nomination}/accept": {
        "post": _op(
            "Accept a pending nomination: it becomes a candidate",
            params=[_YEAR, _NOMINATION],
            ok=obj({"candidate_id": integer()}),
            errors=(400, 404, 409),
            staff=True,
        )
    },
    "/api/staff/awards/{year}/nominations/{nomination}/decline": {
        "post": _op(
            "Decline a pending nomination with a reason",
            params=[_YEAR, _NOMINATION],
            body=_REASON,
            ok=obj({"status": string()}),
            errors=(400, 404, 409),
            staff=True,
        )
    },
    "/api/staff/awards/{year}/candidates/{candidate}/score": {
        "put": _op(
            "A reviewer's score of a candidate (0-100), one per reviewer and candidate, "
            "editable until the review closes",
            params=[_YEAR, _CANDIDATE],
            body=obj({"score": integer(minimum=0, maximum=100)}, required=["score"]),
            ok=obj({"score": integer()}),
            errors=(400, 404, 409),
            staff=True,
        )
    },
    "/api/staff/awards/{year}/candidates/{candidate}/withdraw": {
        "post": _op(
            "Withdraw a candidate with a reason (its row and scores stay; a published list "
            "changes only through a new version)",
            params=[_YEAR, _CANDIDATE],
            body=_REASON,
            ok=obj({"withdrawn": boolean()}),
            errors=(400, 404, 409),
            staff=True,
        )
    },
    "/api/staff/awards/{year}/close": {
        "post": _op(
            "Close the year's review: scores are final",
            params=[_YEAR],
            ok=_ROUND,
            errors=(400, 404, 409),
            staff=True,
        )
    },
    "/api/staff/awards/{year}/publish": {
        "post": _op(
            "Publish the year's list (closed review, every active candidate scored). Final: "
            "new_version with a reason adds version N+1",
            params=[_YEAR],
            body=obj({"new_version": boolean(), "reason": string(maxLength=500)}),
            ok_status="201",
            ok=_PUBLISHED_ITEM,
            errors=(400, 404, 409),
            staff=True,
        )
    },
}
