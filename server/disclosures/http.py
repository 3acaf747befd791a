"""HTTP routes of the disclosures feature: public pages and the JSON API (no login).

Pages render the stored snapshot as it was published; nothing here reads live rows
beyond the archive's list and the version list.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from markupsafe import Markup

from server.core.clock import LOCAL_TZ
from server.core.openapi import (
    array,
    integer,
    obj,
    operation,
    path_param,
    query_param,
    string,
)
from server.core.web import ctx_of, int_param, json_response, render
from server.disclosures import actions
from server.disclosures.actions import DisclosureView
from server.rooms.qr import qr_svg

routes = web.RouteTableDef()
PAGE = 50


def _id(request: web.Request) -> int:
    return int(request.match_info["disclosure_id"])


def _filters(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {
        "month": q.get("month") or None,
        "region_id": int_param(q.get("region_id"), "region_id", lo=1),
        "offset": int_param(q.get("offset"), "offset", default=0) or 0,
    }


def _cached(response: web.Response) -> web.Response:
    # Published content never changes; a short cache still lets a new version show soon.
    # Only the JSON: pages depend on the reader's language (a cookie).
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


# --- pages ---------------------------------------------------------------------------------


@routes.get("/disclosures")
async def archive_page(request: web.Request) -> web.Response:
    f = _filters(request)
    archive = await actions.list_disclosures(ctx_of(request), limit=PAGE, **f)
    return render(
        request,
        "disclosures.html",
        {
            "archive": archive,
            "month": f["month"] or "",
            "region_id": f["region_id"],
            "offset": f["offset"],
            "page": PAGE,
        },
    )


def _page_context(view: DisclosureView) -> dict[str, Any]:
    return {
        "d": view,
        "c": view.content,
        "published": view.published_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"),
        # An inline SVG QR, generated here from a URL the server built.
        "qr": Markup(qr_svg(view.url)),
    }


@routes.get(r"/disclosures/{disclosure_id:\d+}")
async def disclosure_page(request: web.Request) -> web.Response:
    view = await actions.get_disclosure(ctx_of(request), _id(request))
    return render(request, "disclosure.html", _page_context(view))


@routes.get(r"/disclosures/{disclosure_id:\d+}/print")
async def print_page(request: web.Request) -> web.Response:
    view = await actions.get_disclosure(ctx_of(request), _id(request))
    return render(request, "disclosure_print.html", _page_context(view))


# --- the API -------------------------------------------------------------------------------


@routes.get("/api/disclosures")
async def list_api(request: web.Request) -> web.Response:
    f = _filters(request)
    limit = int_param(request.query.get("limit"), "limit", default=PAGE, lo=1, hi=200) or PAGE
    archive = await actions.list_disclosures(ctx_of(request), limit=limit, **f)
    return _cached(
        json_response(
            {
                "disclosures": [i.public() for i in archive.items],
                "total": archive.total,
                "months": archive.months,
            }
        )
    )


@routes.get(r"/api/disclosures/{disclosure_id:\d+}")
async def get_api(request: web.Request) -> web.Response:
    view = await actions.get_disclosure(ctx_of(request), _id(request))
    return _cached(json_response(view.public()))


# --- OpenAPI -------------------------------------------------------------------------------


def _op(summary: str, **kw: Any) -> dict[str, Any]:
    return operation(summary, tag="disclosures", **kw)


_COUNTS = obj(
    {
        name: integer()
        for name in (
            "topics",
            "dispatched",
            "escalated",
            "deliberated",
            "resolved",
            "reopened",
            "petition_resolved",
            "in_progress",
            "outcomes",
            "overdue",
            "sessions",
        )
    }
)
_REGION = obj({"id": integer(), "level": string(enum=["town", "community"]), "name": string()})
_ITEM = obj(
    {
        "id": integer(),
        "month": string(pattern=r"^\d{4}-\d{2}$"),
        "version": integer(),
        "region": _REGION,
        "topic_count": integer(),
        "counts": _COUNTS,
        "reason": string(description="why this version replaced the previous one"),
        "published_at": string(format="date-time"),
        "url": string(format="uri"),
    }
)
_EVENT = obj(
    {
        "at": string(format="date-time"),
        "kind": string(description="move, contact, progress, pause or resume"),
        "status": string(description="the topic's status after the event"),
        "note": string(),
    }
)
_OUTCOME = obj(
    {
        "id": integer(description="its public page is /outcomes/{id}"),
        "source": string(enum=["deliberation", "handler"]),
        "decision": string(),
        "unit": string(nullable=True),
        "lead": string(),
        "due_on": string(format="date"),
        "published_at": string(format="date-time"),
        "percent": integer(description="as of the month's end"),
        "flag": string(enum=["ok", "near", "overdue", "done"]),
        "latest_update": obj(
            {"at": string(format="date-time"), "percent": integer(), "note": string()}
        ),
    }
)
_TOPIC = obj(
    {
        "id": integer(),
        "number": string(),
        "title": string(),
        "kind": string(),
        "category": string(nullable=True),
        "subject": string(nullable=True),
        "room": obj({"id": integer(), "name": string()}),
        "status": string(description="as of the month's end"),
        "unit": string(nullable=True),
        "lead": string(),
        "in_month": array(string()),
        "timeline": array(_EVENT),
        "sessions": array(
            obj({"id": integer(), "title": string(), "at": string(format="date-time")})
        ),
        "result": obj(
            {"kind": string(enum=["decision", "resolution", "rejection"]), "text": string()}
        ),
        "outcome": _OUTCOME,
    }
)
_CONTENT = obj(
    {
        "schema": integer(),
        "month": string(),
        "region": obj(
            {**_REGION["properties"], "chain": array(string())},
        ),
        "period": obj(
            {
                "start": string(format="date-time"),
                "end": string(format="date-time", description="exclusive"),
                "last_day": string(format="date"),
            }
        ),
        "generated_at": string(format="date-time"),
        "counts": _COUNTS,
        "sessions": array(
            obj(
                {
                    "id": integer(),
                    "title": string(),
                    "at": string(format="date-time"),
                    "room": string(),
                }
            )
        ),
        "topics": array(_TOPIC),
    }
)
_VERSION = obj(
    {
        "id": integer(),
        "version": integer(),
        "reason": string(),
        "published_at": string(format="date-time"),
    }
)

OPENAPI: dict[str, Any] = {
    "/api/disclosures": {
        "get": _op(
            "The archive of monthly disclosures (月公示): every published version, newest "
            "month first; one month's (YYYY-MM) and one county's, park's or town's if asked",
            params=[
                query_param("month", string(pattern=r"^\d{4}-\d{2}$")),
                query_param("region_id", integer(), "a county, park or town: its subtree"),
                query_param("limit", integer()),
                query_param("offset", integer()),
            ],
            ok=obj({"disclosures": array(_ITEM), "total": integer(), "months": array(string())}),
            errors=(400, 404),
        )
    },
    "/api/disclosures/{disclosure_id}": {
        "get": _op(
            "One published disclosure as generated (its snapshot never changes), with the "
            "list of its region-month's versions",
            params=[path_param("disclosure_id", integer())],
            ok=obj(
                {
                    "id": integer(),
                    "month": string(),
                    "version": integer(),
                    "latest": {"type": "boolean"},
                    "reason": string(),
                    "published_at": string(format="date-time"),
                    "url": string(format="uri"),
                    "versions": array(_VERSION),
                    "content": _CONTENT,
                }
            ),
            errors=(404,),
        )
    },
}
