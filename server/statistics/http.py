"""HTTP routes of the statistics feature: the dashboard page and its JSON, open data
(JSON and CSV) and the Open311 GeoReport v2 read endpoints. All public, read-only."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from server.core.clock import LOCAL_TZ
from server.core.errors import AppError, BadRequest
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
from server.core.web import ctx_of, int_param, json_response, lang_of, render
from server.rooms.model import csv_safe
from server.statistics import actions
from server.statistics.model import (
    MAX_PAGE_SIZE,
    OPEN_DATA_MAX_PAGE_SIZE,
    OPEN_DATA_PAGE_SIZE,
    parse_w3c,
)

routes = web.RouteTableDef()

BOM = "\ufeff"
PUBLIC_CACHE = "public, max-age=5"


# --- the dashboard ------------------------------------------------------------------------


def _region_param(request: web.Request) -> int | None:
    return int_param(request.query.get("region"), "region", lo=1)


@routes.get("/dashboard")
async def dashboard_page(request: web.Request) -> web.StreamResponse:
    region = _region_param(request)
    return render(request, "dashboard.html", {"region_id": region})


@routes.get("/api/dashboard")
async def dashboard_json(request: web.Request) -> web.StreamResponse:
    snapshot = await actions.dashboard(ctx_of(request), _region_param(request))
    response = json_response(snapshot)
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return response


# --- open data ---------------------------------------------------------------------------

FIGURE_COLUMNS = (
    "level",
    "region_id",
    "name",
    "parent",
    "topics_collected",
    "sessions_held",
    "petition_risks_defused",
    "livelihood_solved",
    "satisfied",
    "basically_satisfied",
    "unsatisfied",
    "evaluations",
    "satisfaction_rate",
)
OUTCOME_COLUMNS = (
    "topic_number",
    "title",
    "category",
    "city",
    "county",
    "town",
    "community",
    "decision",
    "responsible_unit",
    "lead",
    "due_on",
    "percent",
    "flag",
    "published_at",
    "satisfied",
    "basically_satisfied",
    "unsatisfied",
    "evaluations",
    "satisfaction_rate",
)


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    cells = ["" if v is None else csv_safe(str(v)) for v in values]
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


def _sat_cells(s: dict[str, Any]) -> list[Any]:
    return [s["satisfied"], s["basically_satisfied"], s["unsatisfied"], s["total"], s["rate"]]


async def _csv_response(request: web.Request, filename: str) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": PUBLIC_CACHE,
        }
    )
    await response.prepare(request)
    # A BOM so spreadsheet programs on Chinese Windows read UTF-8.
    await response.write(BOM.encode())
    return response


@routes.get("/api/open/figures.json")
async def figures_json(request: web.Request) -> web.StreamResponse:
    return json_response(await actions.open_figures(ctx_of(request)))


@routes.get("/api/open/figures.csv")
async def figures_csv(request: web.Request) -> web.StreamResponse:
    figures = await actions.open_figures(ctx_of(request))
    response = await _csv_response(request, "figures.csv")
    await response.write(_csv_line(list(FIGURE_COLUMNS)).encode())
    rows = [("overall", figures["overall"])]
    rows += [("county", r) for r in figures["counties"]] + [("town", r) for r in figures["towns"]]
    for level, r in rows:
        cells = [level if level == "overall" else r["level"], r.get("region_id"), r.get("name")]
        cells += [r.get("parent"), r["topics_collected"], r["sessions_held"]]
        cells += [
            r["petition_risks_defused"],
            r["livelihood_solved"],
            *_sat_cells(r["satisfaction"]),
        ]
        await response.write(_csv_line(cells).encode())
    await response.write_eof()
    return response


@routes.get("/api/open/outcomes.json")
async def outcomes_json(request: web.Request) -> web.StreamResponse:
    page = int_param(request.query.get("page"), "page", default=1, lo=1, hi=1_000_000)
    size = int_param(
        request.query.get("page_size"),
        "page_size",
        default=OPEN_DATA_PAGE_SIZE,
        lo=1,
        hi=OPEN_DATA_MAX_PAGE_SIZE,
    )
    assert page is not None and size is not None
    return json_response(await actions.open_outcomes(ctx_of(request), page=page, page_size=size))


@routes.get("/api/open/outcomes.csv")
async def outcomes_csv(request: web.Request) -> web.StreamResponse:
    response = await _csv_response(request, "outcomes.csv")
    await response.write(_csv_line(list(OUTCOME_COLUMNS)).encode())
    async for batch in actions.iter_open_outcomes(ctx_of(request)):
        text = "".join(
            _csv_line([item[c] for c in OUTCOME_COLUMNS[:14]] + _sat_cells(item["satisfaction"]))
            for item in batch
        )
        await response.write(text.encode())
    await response.write_eof()
    return response


# --- Open311 GeoReport v2 (JSON only) ------------------------------------------------------

OPEN311_PREFIXES = ("/open311/v2", "/api/open311/v2")


def _open311_error(status: int, description: str) -> web.Response:
    return json_response([{"code": status, "description": description}], status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _open311(handler: Handler) -> Handler:
    """Refusals in Open311's shape, ``[{"code", "description"}]``, not ours."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except AppError as exc:
            detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
            return _open311_error(exc.status, f"{exc.message} {detail}".strip())

    return wrapped


def _bad(field: str, message: str) -> BadRequest:
    return BadRequest(message, fields={field: message})


async def _services(request: web.Request) -> web.StreamResponse:
    return json_response(actions.open311_services(lang_of(request)))


async def _requests(request: web.Request) -> web.StreamResponse:
    q = request.query
    numbers = tuple(n.strip() for n in q.get("service_request_id", "").split(",") if n.strip())
    if len(numbers) > MAX_PAGE_SIZE:
        raise _bad("service_request_id", f"At most {MAX_PAGE_SIZE} ids.")
    code = q.get("service_code") or None
    if code is not None:
        try:
            actions.parse_service_code(code)
        except ValueError:
            raise _bad("service_code", f"Unknown service_code {code!r}.") from None
    dates = {}
    for name in ("start_date", "end_date"):
        if q.get(name):
            try:
                dates[name] = parse_w3c(q[name], LOCAL_TZ)
            except ValueError:
                raise _bad(name, f"{name} must be a W3C datetime.") from None
    if "start_date" in dates and "end_date" in dates and dates["start_date"] > dates["end_date"]:
        raise _bad("start_date", "start_date is after end_date.")
    status = q.get("status") or None
    if status is not None and status not in ("open", "closed"):
        raise _bad("status", "status must be open or closed.")
    page = int_param(q.get("page"), "page", default=1, lo=1, hi=1_000_000)
    size = int_param(q.get("page_size"), "page_size", default=MAX_PAGE_SIZE, lo=1, hi=MAX_PAGE_SIZE)
    assert page is not None and size is not None
    query = actions.RequestQuery(
        numbers=numbers,
        service_code=code,
        start=dates.get("start_date"),
        end=dates.get("end_date"),
        status=status,
        page=page,
        page_size=size,
    )
    return json_response(await actions.service_requests(ctx_of(request), query, lang_of(request)))


async def _request(request: web.Request) -> web.StreamResponse:
    item = await actions.service_request(
        ctx_of(request), request.match_info["number"], lang_of(request)
    )
    return json_response([item])


async def _other(request: web.Request) -> web.StreamResponse:
    tail = request.match_info["tail"]
    stem, dot, fmt = tail.rpartition(".")
    known = stem in ("services", "requests") or stem.startswith("requests/")
    if dot and known and fmt != "json":
        return _open311_error(
            400, f"Format {fmt!r} is not supported: this server answers JSON only (.json)."
        )
    return _open311_error(404, f"No Open311 resource {tail!r}.")


for _prefix in OPEN311_PREFIXES:
    routes.get(f"{_prefix}/services.json")(_open311(_services))
    routes.get(f"{_prefix}/requests.json")(_open311(_requests))
    routes.get(f"{_prefix}/requests/{{number}}.json")(_open311(_request))
    routes.get(f"{_prefix}/{{tail:.*}}")(_open311(_other))


# --- OpenAPI -----------------------------------------------------------------------------

_SAT = obj(
    {
        "satisfied": integer(),
        "basically_satisfied": integer(),
        "unsatisfied": integer(),
        "total": integer(),
        "rate": number(nullable=True),
    }
)
_FIGURES = {
    "topics_collected": integer(),
    "sessions_held": integer(),
    "petition_risks_defused": integer(),
    "livelihood_solved": integer(),
    "satisfaction": _SAT,
}
_REGION_FIGURES = obj(
    {
        "region_id": integer(),
        "name": string(),
        "level": string(),
        "parent": string(nullable=True),
        **_FIGURES,
    }
)
_REGION = obj({"id": integer(), "name": string(), "level": string()})
_SNAPSHOT = obj(
    {
        "region": {**_REGION, "nullable": True},
        "breadcrumbs": array(_REGION),
        "figures": obj({k: v for k, v in _FIGURES.items() if k != "satisfaction"}),
        "trend": obj(
            {
                "months": array(string()),
                "received": array(integer()),
                "resolved": array(integer()),
                "sessions": array(integer()),
            }
        ),
        "categories": array(
            obj({"category": string(), "topics": integer(), "resolved": integer()})
        ),
        "subjects": array(obj({"subject": string(), "topics": integer()})),
        "children": array(
            obj(
                {
                    "id": integer(),
                    "name": string(),
                    "level": string(),
                    "topics": integer(),
                    "resolved": integer(),
                    "petition_resolved": integer(),
                    "sessions": integer(),
                    "satisfaction": _SAT,
                }
            )
        ),
        "satisfaction": _SAT,
        "overdue": obj(
            {
                "deadlines": integer(),
                "deadlines_by_stage": {"type": "object", "additionalProperties": integer()},
                "outcomes": integer(),
                "outcome_flags": {"type": "object", "additionalProperties": integer()},
            }
        ),
        "live": array(
            obj(
                {
                    "id": integer(),
                    "title": string(),
                    "room": string(),
                    "started_at": string(format="date-time", nullable=True),
                    "url": string(),
                }
            )
        ),
        "version": string(description="Changes exactly when the figures change"),
        "generated_at": string(format="date-time"),
    }
)
_OUTCOME = obj(
    {
        "topic_number": string(),
        "title": string(),
        "category": string(nullable=True),
        "city": string(nullable=True),
        "county": string(nullable=True),
        "town": string(nullable=True),
        "community": string(nullable=True),
        "decision": string(),
        "responsible_unit": string(nullable=True),
        "lead": string(),
        "due_on": string(format="date"),
        "percent": integer(),
        "flag": string(enum=["ok", "near", "overdue", "done"]),
        "published_at": string(format="date-time", nullable=True),
        "satisfaction": _SAT,
    }
)
_SERVICE = obj(
    {
        "service_code": string(),
        "service_name": string(),
        "description": string(),
        "metadata": boolean(),
        "type": string(enum=["realtime"]),
        "keywords": string(),
        "group": string(),
    }
)
_SERVICE_REQUEST = obj(
    {
        "service_request_id": string(description="The topic's number"),
        "status": string(enum=["open", "closed"]),
        "status_notes": string(nullable=True),
        "service_name": string(),
        "service_code": string(),
        "description": string(),
        "agency_responsible": string(nullable=True),
        "service_notice": string(nullable=True),
        "requested_datetime": string(format="date-time"),
        "updated_datetime": string(format="date-time"),
        "expected_datetime": string(format="date-time", nullable=True),
        "address": string(description="Region names and the room's name, never a person's"),
        "address_id": string(nullable=True),
        "zipcode": string(nullable=True),
        "lat": number(nullable=True),
        "long": number(nullable=True),
        "media_url": string(nullable=True),
    }
)
_OPEN311_ERRORS = (
    "Also served at the same path without the /api prefix. Errors use Open311's shape, "
    '`[{"code": 400, "description": "..."}]`; only JSON is served (a .xml path answers 400).'
)
_PAGE = query_param("page", integer(minimum=1), "1-based page")


def _open311_op(summary: str, ok: dict[str, Any], params: list[dict[str, Any]]) -> dict[str, Any]:
    op = operation(summary, tag="open311", ok=ok, params=params)
    op["description"] = _OPEN311_ERRORS
    return op


OPENAPI: dict[str, Any] = {
    "/api/dashboard": {
        "get": operation(
            "The dashboard's snapshot for a region's subtree (cached a few seconds)",
            tag="statistics",
            params=[query_param("region", integer(), "Region id; the whole city without")],
            ok=_SNAPSHOT,
            errors=(400, 404),
        )
    },
    "/api/open/figures.json": {
        "get": operation(
            "Open data: the headline figures and satisfaction overall, per county and town",
            tag="open data",
            ok=obj(
                {
                    "generated_at": string(format="date-time"),
                    "overall": obj(_FIGURES),
                    "counties": array(_REGION_FIGURES),
                    "towns": array(_REGION_FIGURES),
                }
            ),
        )
    },
    "/api/open/figures.csv": {
        "get": operation(
            "Open data: the figures as CSV (UTF-8 with BOM), one row per level and region",
            tag="open data",
            ok=string(),
            ok_type="text/csv",
        )
    },
    "/api/open/outcomes.json": {
        "get": operation(
            "Open data: published outcomes, one page at a time, without personal data",
            tag="open data",
            params=[
                _PAGE,
                query_param(
                    "page_size", integer(minimum=1, maximum=OPEN_DATA_MAX_PAGE_SIZE), "Default 100"
                ),
            ],
            ok=obj(
                {
                    "page": integer(),
                    "page_size": integer(),
                    "total": integer(),
                    "items": array(_OUTCOME),
                }
            ),
            errors=(400,),
        )
    },
    "/api/open/outcomes.csv": {
        "get": operation(
            "Open data: every published outcome as CSV (UTF-8 with BOM), streamed",
            tag="open data",
            ok=string(),
            ok_type="text/csv",
        )
    },
    "/api/open311/v2/services.json": {
        "get": _open311_op("Open311: the service list (category × subject)", array(_SERVICE), [])
    },
    "/api/open311/v2/requests.json": {
        "get": _open311_op(
            "Open311: topics as service requests, newest first (default: the last 90 days)",
            array(_SERVICE_REQUEST),
            [
                query_param(
                    "service_request_id",
                    string(),
                    "Topic numbers, comma-separated; overrides the other filters",
                ),
                query_param(
                    "service_code", string(), "category.subject, a category, or unclassified"
                ),
                query_param("start_date", string(format="date-time"), "W3C datetime"),
                query_param("end_date", string(format="date-time"), "W3C datetime"),
                query_param("status", string(enum=["open", "closed"])),
                _PAGE,
                query_param("page_size", integer(minimum=1, maximum=MAX_PAGE_SIZE), "Default 1000"),
            ],
        )
    },
    "/api/open311/v2/requests/{number}.json": {
        "get": _open311_op(
            "Open311: one topic as a service request (a list of one)",
            array(_SERVICE_REQUEST),
            [path_param("number")],
        )
    },
    "/api/open311/v2/{tail}": {
        "get": _open311_op(
            "Open311: any other path answers an Open311 error (400 for a format other than "
            "JSON, else 404)",
            array(obj({"code": integer(), "description": string()})),
            [path_param("tail")],
        )
    },
}
