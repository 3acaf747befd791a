"""The public boards (`/public`): the hub of everything the programme publishes, and the
outcome tracker (`/outcomes`) with its JSON."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.core.openapi import array, integer, obj, operation, query_param, string
from server.core.web import ctx_of, int_param, json_response, render
from server.outcomes import actions
from server.outcomes.actions.tracker import TRACKER_FLAGS

routes = web.RouteTableDef()


def _query(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {
        "region_id": int_param(q.get("region"), "region"),
        "flag": q.get("flag") or None,
        "offset": int_param(q.get("offset"), "offset", default=0, lo=0) or 0,
    }


@routes.get("/public")
async def boards(request: web.Request) -> web.Response:
    return render(request, "public_boards.html", {})


@routes.get("/outcomes")
async def tracker_page(request: web.Request) -> web.Response:
    query = _query(request)
    page = await actions.outcome_tracker(ctx_of(request), **query)
    return render(
        request,
        "tracker.html",
        {
            "page": page,
            "flag": query["flag"] or "",
            "flags": TRACKER_FLAGS,
            "region": query["region_id"],
        },
    )


@routes.get("/api/outcomes")
async def tracker_json(request: web.Request) -> web.Response:
    page = await actions.outcome_tracker(ctx_of(request), **_query(request))
    return json_response(page.as_json())


OPENAPI: dict[str, Any] = {
    "/api/outcomes": {
        "get": operation(
            "Published outcomes (the public tracker), most recently updated first, 20 a page",
            tag="outcomes",
            params=[
                query_param("region", integer(), "only topics raised in this region's subtree"),
                query_param("flag", string(enum=list(TRACKER_FLAGS))),
                query_param("offset", integer(minimum=0)),
            ],
            ok=obj(
                {
                    "outcomes": array({"type": "object"}),
                    "total": integer(),
                    "offset": integer(),
                }
            ),
            errors=(400, 404),
        )
    }
}
