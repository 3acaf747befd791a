"""The outcome pages: the host's minutes, the staff's outcome list and outcome page, and the
public outcome (评题) and minutes pages.

Each page renders what the actions return (readable without scripts); the forms on them
(``static/js/minutes.js``, ``outcome_staff.js``, ``outcome_public.js``) write through the
JSON API in ``server/outcomes/http.py``. A refusal is an error page in the reader's
language: 404 for what does not exist or is not public, 403 outside one's territory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from server.accounts import actions as accounts
from server.core.auth import Permission, Principal
from server.core.clock import LOCAL_TZ
from server.core.errors import Conflict, Forbidden, NotFound
from server.core.web import ctx_of, int_param, render, staff_page
from server.outcomes import actions
from server.outcomes.model import (
    COMMENT_MAX,
    DECISION_LIMITS,
    LEAD_MAX,
    MAX_PHOTOS,
    MINUTES_TEXT_MAX,
    NOTE_LIMITS,
    Verdict,
)

routes = web.RouteTableDef()

LIST_LIMIT = 50
LIMITS = {
    "decision": DECISION_LIMITS[1],
    "lead": LEAD_MAX,
    "note": NOTE_LIMITS[1],
    "comment": COMMENT_MAX,
    "body": MINUTES_TEXT_MAX,
    "photos": MAX_PHOTOS,
}


def local_time(value: datetime | str | None) -> str:
    """A moment in Beijing time, as the pages print it (scripts re-render it locally)."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def _id(request: web.Request, name: str) -> int:
    return int(request.match_info[name])


def _refusal(request: web.Request, status: int, code: str, message: str) -> web.Response:
    response = render(
        request, "error.html", {"status": status, "code": code, "message": message}, status=status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(request: web.Request, template: str, context: dict[str, Any]) -> web.Response:
    response = render(request, template, {"limits": LIMITS, "local_time": local_time, **context})
    response.headers["Cache-Control"] = "no-store"
    return response


def _speaker_roles(facts: dict[str, Any]) -> list[tuple[str, int, int]]:
    """Who had the floor, by role: (role, turns, seconds), most turns first."""
    found: dict[str, list[int]] = {}
    for s in facts.get("speakers", []):
        entry = found.setdefault(str(s.get("role", "")), [0, 0])
        entry[0] += 1
        entry[1] += int(s.get("seconds", 0))
    return sorted(((r, n, sec) for r, (n, sec) in found.items()), key=lambda x: (-x[1], x[0]))


# --- staff -----------------------------------------------------------------------------------


@routes.get(r"/staff/deliberations/{deliberation_id:\d+}/minutes")
async def minutes_page(request: web.Request) -> web.StreamResponse:
    """The host's minutes (会议纪要) of an ended session: the drafted facts, the text and an
    outcome form for each agenda topic; read-only once published."""
    principal = staff_page(request)
    ctx = ctx_of(request)
    deliberation_id = _id(request, "deliberation_id")
    try:
        view = await actions.get_minutes(ctx, principal, deliberation_id)
    except NotFound:
        return _refusal(request, 404, "not_found", "outcomes.page.no_session")
    except Forbidden:
        return _refusal(request, 403, "forbidden", "outcomes.page.not_host")
    except Conflict:
        return _refusal(request, 409, "conflict", "outcomes.page.not_ended")
    units = await accounts.list_units(ctx, principal)
    today = ctx.clock.now().astimezone(LOCAL_TZ).date()
    return _page(
        request,
        "minutes_staff.html",
        {
            "m": view,
            "speaker_roles": _speaker_roles(view.facts),
            "units": units,
            "today": today.isoformat(),
        },
    )


@routes.get("/staff/outcomes")
async def outcomes_page(request: web.Request) -> web.StreamResponse:
    """Outcomes in the reader's territory (a handler's: its unit's), with deadline flags."""
    principal = staff_page(request)
    overdue = request.query.get("overdue") in ("1", "true")
    mine = request.query.get("mine") in ("1", "true")
    before = int_param(request.query.get("before"), "before")
    try:
        rows = await actions.list_outcomes(
            ctx_of(request),
            principal,
            overdue=overdue,
            mine=mine,
            before_id=before,
            limit=LIST_LIMIT,
        )
    except Forbidden:
        return _refusal(request, 403, "forbidden", "outcomes.page.no_access")
    return _page(
        request,
        "outcomes_staff.html",
        {
            "rows": rows,
            "overdue": overdue,
            "mine": mine,
            "before": before,
            "more": rows[-1].id if len(rows) == LIST_LIMIT else None,
        },
    )


def _may_update(principal: Principal, view: actions.OutcomeView) -> bool:
    """Whether to offer the progress form (the action decides; this only hides a form
    that would be refused)."""
    if principal.can(Permission.DISPATCH_TOPICS) and principal.covers(view.region_path):
        return True
    return principal.can(Permission.HANDLE_TOPICS) and view.unit_id == principal.unit_id


@routes.get(r"/staff/outcomes/{outcome_id:\d+}")
async def outcome_staff_page(request: web.Request) -> web.StreamResponse:
    """One outcome for staff: its decision, progress with photos, the progress form for
    its unit, and every comment with moderation."""
    principal = staff_page(request)
    ctx = ctx_of(request)
    outcome_id = _id(request, "outcome_id")
    try:
        view = await actions.staff_outcome(ctx, principal, outcome_id)
    except NotFound:
        return _refusal(request, 404, "not_found", "outcomes.page.no_outcome")
    except Forbidden:
        return _refusal(request, 403, "forbidden", "outcomes.page.no_access")
    moderates = principal.can(Permission.HOST_DELIBERATIONS) and principal.covers(view.region_path)
    held: dict[int, str] = {}
    if moderates:
        held = {
            int(e["id"]): str(e["comment_text"])
            for e in await actions.held_comments(ctx, principal)
            if e["outcome_id"] == outcome_id
        }
    return _page(
        request,
        "outcome_staff.html",
        {
            "o": view,
            "data": view.staff(),
            "may_update": _may_update(principal, view) and view.status == "published",
            "moderates": moderates,
            "held": held,
        },
    )


# --- public ----------------------------------------------------------------------------------


@routes.get(r"/outcomes/{outcome_id:\d+}")
async def outcome_public_page(request: web.Request) -> web.StreamResponse:
    """A published outcome for anyone (评题): progress, satisfaction beside its counts,
    comments and the rating form. A draft is not found, as if it did not exist."""
    try:
        view = await actions.public_outcome(ctx_of(request), _id(request, "outcome_id"))
    except NotFound:
        return _refusal(request, 404, "not_found", "outcomes.page.no_outcome")
    return _page(
        request,
        "outcome_public.html",
        {"o": view.public(), "verdicts": list(Verdict)},
    )


@routes.get(r"/minutes/{deliberation_id:\d+}")
async def minutes_public_page(request: web.Request) -> web.StreamResponse:
    """A session's published minutes; each topic links to its outcome. 404 until published."""
    try:
        view = await actions.public_minutes(ctx_of(request), _id(request, "deliberation_id"))
    except NotFound:
        return _refusal(request, 404, "not_found", "outcomes.page.no_minutes")
    return _page(
        request,
        "minutes_public.html",
        {"m": view, "speaker_roles": _speaker_roles(view.facts)},
    )
