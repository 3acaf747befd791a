"""HTTP routes of the quarterly bulletin: public pages, exports and JSON (no login), and
the administrator's publish action and page.

Published pages render the stored snapshot as it was published; only the current
quarter, before it is published, is computed live and labelled provisional.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.bulletins import actions, export
from server.bulletins.actions import BulletinView
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
    ctx_of,
    int_param,
    json_response,
    lang_of,
    read_json,
    render,
    require_staff,
    staff_page,
    translate_for,
)

routes = web.RouteTableDef()
Q = r"{quarter:[^/.]+}"


def _quarter(request: web.Request) -> str:
    return request.match_info["quarter"]


def _version(request: web.Request) -> int | None:
    return int_param(request.query.get("version"), "version", lo=1)


async def _view(request: web.Request) -> BulletinView:
    return await actions.get_bulletin(ctx_of(request), _quarter(request), _version(request))


def _cache(response: web.StreamResponse, view: BulletinView) -> web.StreamResponse:
    # A published version never changes; a provisional one changes with every action.
    response.headers["Cache-Control"] = "no-store" if view.provisional else "public, max-age=300"
    return response


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def signed(value: float | int | None, *, rate: bool = False) -> str:
    """A change: "+3", "−2", "+4.5 pt" for rates, "—" when there is nothing to compare."""
    if value is None:
        return "—"
    shown = f"{abs(value) * 100:.1f}" if rate else str(abs(value))
    if value == 0:
        return "0" if not rate else "0.0"
    return ("+" if value > 0 else "−") + shown


def _page_context(view: BulletinView) -> dict[str, Any]:
    return {
        "b": view,
        "d": view.data,
        "levels": export.LEVEL_SHEETS,
        "pct": pct,
        "signed": signed,
        "published": (
            view.published_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
            if view.published_at
            else ""
        ),
        "as_of": view.data["as_of"][:16].replace("T", " "),
        "suffix": f"?version={view.version}" if view.version and not view.latest else "",
    }


# --- pages -----------------------------------------------------------------------------------


@routes.get("/bulletins")
async def list_page(request: web.Request) -> web.Response:
    items = await actions.list_bulletins(ctx_of(request))
    return render(request, "bulletins.html", {"items": items})


@routes.get(f"/bulletins/{Q}.csv")
async def csv_export(request: web.Request) -> web.StreamResponse:
    view = await _view(request)
    name = _filename(request, view, "csv")
    response = web.Response(
        body=export.to_csv(view.data, lang_of(request)),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": export.disposition(name, _ascii(view, "csv"))},
    )
    return _cache(response, view)


@routes.get(f"/bulletins/{Q}.xlsx")
async def xlsx_export(request: web.Request) -> web.StreamResponse:
    view = await _view(request)
    name = _filename(request, view, "xlsx")
    body = export.to_xlsx(view.data, lang_of(request), name.rsplit(".", 1)[0])
    response = web.Response(
        body=body,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": export.disposition(name, _ascii(view, "xlsx"))},
    )
    return _cache(response, view)


def _ascii(view: BulletinView, ext: str) -> str:
    tail = "-provisional" if view.provisional else f"-v{view.version}"
    return f"bulletin-{view.quarter}{tail}.{ext}"


def _filename(request: web.Request, view: BulletinView, ext: str) -> str:
    title = translate_for(request, "bulletin.file", quarter=view.quarter)
    tail = (
        translate_for(request, "bulletin.provisional_short")
        if view.provisional
        else f"v{view.version}"
    )
    return f"{title}-{tail}.{ext}"


@routes.get(f"/bulletins/{Q}")
async def bulletin_page(request: web.Request) -> web.StreamResponse:
    view = await _view(request)
    return _cache(render(request, "bulletin.html", _page_context(view)), view)


@routes.get(f"/bulletins/{Q}/print")
async def print_page(request: web.Request) -> web.StreamResponse:
    view = await _view(request)
    return _cache(render(request, "bulletin_print.html", _page_context(view)), view)


@routes.get("/staff/bulletins")
async def staff_bulletins_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    quarters = await actions.staff_quarters(ctx_of(request), principal)
    return render(request, "bulletin_staff.html", {"quarters": quarters})


# --- the API ---------------------------------------------------------------------------------


@routes.get("/api/bulletins")
async def list_api(request: web.Request) -> web.Response:
    items = await actions.list_bulletins(ctx_of(request))
    return json_response({"bulletins": [i.public() for i in items]})


@routes.get(f"/api/bulletins/{Q}")
async def get_api(request: web.Request) -> web.StreamResponse:
    view = await _view(request)
    return _cache(json_response(view.public()), view)


@routes.post(f"/api/bulletins/{Q}/publish")
async def publish_api(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    new_version = data.get("new_version", False)
    if not isinstance(new_version, bool):
        raise ValidationFailed(
            "new_version must be true or false.", fields={"new_version": "true or false."}
        )
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        raise ValidationFailed("reason must be text.", fields={"reason": "Must be text."})
    done = await actions.publish_bulletin(
        ctx_of(request), principal, _quarter(request), new_version=new_version, reason=reason
    )
    return json_response(
        {
            "quarter": done.quarter,
            "version": done.version,
            "reason": done.reason,
            "published_at": done.published_at.isoformat(),
            "url": f"/bulletins/{done.quarter}",
        },
        status=201,
    )


# --- OpenAPI ---------------------------------------------------------------------------------


def _op(summary: str, **kw: Any) -> dict[str, Any]:
    return operation(summary, tag="bulletins", **kw)


_RATE = number(nullable=True, description="0..1, null when there is nothing to measure")
_DELTA = number(nullable=True)
_FIGURES: dict[str, Any] = {
    "received": integer(description="topics created in the quarter"),
    "resolution": obj(
        {
            "resolved": integer(),
            "rejected_or_merged": integer(),
            "base": integer(description="received less rejected or merged"),
            "rate": _RATE,
        }
    ),
    "acceptance": obj(
        {
            "on_time": integer(),
            "late": integer(),
            "overdue_open": integer(description="still open at the end, past due"),
            "pending": integer(description="still open at the end, not yet due; not counted"),
            "base": integer(),
            "rate": _RATE,
        }
    ),
    "satisfaction": obj(
        {
            "satisfied": integer(),
            "basically_satisfied": integer(),
            "unsatisfied": integer(),
            "total": integer(),
            "rate": _RATE,
        }
    ),
    "sessions": integer(),
    "overdue": obj({"deadlines": integer(), "outcomes": integer(), "total": integer()}),
    "change": obj(
        {
            name: _DELTA
            for name in (
                "received",
                "resolution_rate",
                "acceptance_rate",
                "satisfaction_rate",
                "sessions",
                "overdue",
                "rank",
            )
        }
    ),
}
_LINE = obj(
    {
        "id": integer(description="region id (county, park, town) or room id"),
        "name": string(),
        "kind": string(description="county lines: county or park"),
        "county": string(nullable=True),
        "town": string(nullable=True),
        "rank": integer(nullable=True, description="null: unranked (too few topics)"),
        **_FIGURES,
    }
)
_DATA = obj(
    {
        "schema": integer(),
        "quarter": string(pattern=r"^\d{4}-Q[1-4]$"),
        "previous_quarter": string(),
        "period": obj({"start": string(format="date-time"), "end": string(format="date-time")}),
        "as_of": string(format="date-time"),
        "provisional": boolean(),
        "min_topics": integer(description="fewer topics received: unranked"),
        "city": obj(_FIGURES),
        "levels": obj({"county": array(_LINE), "town": array(_LINE), "room": array(_LINE)}),
    }
)
_VERSION = obj(
    {"version": integer(), "reason": string(), "published_at": string(format="date-time")}
)
_QUARTER = path_param("quarter", string(pattern=r"^\d{4}-Q[1-4]$"))

OPENAPI: dict[str, Any] = {
    "/api/bulletins": {
        "get": _op(
            "The quarterly bulletins (季通报): each published quarter's latest version, newest "
            "first, and the current quarter as provisional until it is published",
            ok=obj(
                {
                    "bulletins": array(
                        obj(
                            {
                                "quarter": string(),
                                "provisional": boolean(),
                                "version": integer(nullable=True),
                                "published_at": string(format="date-time", nullable=True),
                                "reason": string(),
                                "url": string(),
                            }
                        )
                    )
                }
            ),
        )
    },
    "/api/bulletins/{quarter}": {
        "get": _op(
            "One quarter's bulletin: figures, ranks and changes per county (and park), town "
            "and room. A published version (the latest unless ?version=) never changes; the "
            "current quarter before publication is computed live (provisional: true)",
            params=[_QUARTER, query_param("version", integer())],
            ok=obj(
                {
                    "quarter": string(),
                    "provisional": boolean(),
                    "version": integer(nullable=True),
                    "latest": boolean(),
                    "reason": string(),
                    "published_at": string(format="date-time", nullable=True),
                    "versions": array(_VERSION),
                    "data": _DATA,
                }
            ),
            errors=(400, 404),
        )
    },
    "/api/bulletins/{quarter}/publish": {
        "post": _op(
            "Publish an ended quarter's bulletin as a snapshot (administrators). A published "
            "quarter is never rewritten: new_version with a reason adds version N+1",
            params=[_QUARTER],
            body=obj(
                {"new_version": boolean(), "reason": string(minLength=4, maxLength=500)},
            ),
            ok_status="201",
            ok=obj(
                {
                    "quarter": string(),
                    "version": integer(),
                    "reason": string(),
                    "published_at": string(format="date-time"),
                    "url": string(),
                }
            ),
            errors=(400, 409),
            staff=True,
        )
    },
}
