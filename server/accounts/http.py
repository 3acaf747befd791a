"""Staff login, sessions and accounts over HTTP; the middleware that knows who is asking."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.accounts import actions
from server.accounts.actions import UnitView, UserView
from server.accounts.model import UnitKind
from server.core.auth import Permission, Principal, Role
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
    PRINCIPAL,
    SESSION_COOKIE,
    Handler,
    client_ip,
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

routes = web.RouteTableDef()


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        request[PRINCIPAL] = await actions.authenticate(ctx_of(request), token)
    return await handler(request)


def principal_json(p: Principal) -> dict[str, Any]:
    return {
        "id": p.user_id,
        "username": p.username,
        "display_name": p.display_name,
        "role": p.role,
        "region_id": p.region_id,
        "must_change_password": p.must_change_password,
        "csrf_token": p.csrf_token,
        "permissions": sorted(perm.value for perm in Permission if p.can(perm)),
    }


def user_json(u: UserView) -> dict[str, Any]:
    return {
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "role": u.role,
        "region": {"id": u.region_id, "name": u.region_name},
        "active": u.active,
        "must_change_password": u.must_change_password,
    }


# --- pages -----------------------------------------------------------------------------------


@routes.get("/staff/login")
async def login_page(request: web.Request) -> web.Response:
    return render(request, "staff_login.html", {"next": request.query.get("next", "/staff/")})


@routes.get("/staff/password")
async def password_page(request: web.Request) -> web.Response:
    staff_page(request)
    return render(request, "staff_password.html", {})


@routes.get("/staff/")
async def staff_home(request: web.Request) -> web.Response:
    principal = staff_page(request)
    return render(
        request, "staff_home.html", {"perms": {p.value for p in Permission if principal.can(p)}}
    )


@routes.get("/staff/users")
async def users_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    principal.require(Permission.MANAGE_USERS)
    users = await actions.list_users(ctx_of(request), principal)
    return render(request, "staff_users.html", {"users": users, "roles": list(Role)})


@routes.get("/staff/audit")
async def audit_page(request: web.Request) -> web.Response:
    entries = await actions.audit_log(ctx_of(request), staff_page(request), limit=200)
    return render(request, "staff_audit.html", {"entries": entries})


# --- API -------------------------------------------------------------------------------------


@routes.post("/api/auth/login")
async def login(request: web.Request) -> web.Response:
    data = await read_json(request)
    ctx = ctx_of(request)
    result = await actions.login(
        ctx,
        username=json_str(data, "username", required=True),
        password=json_str(data, "password", required=True),
        ip=client_ip(request),
    )
    response = json_response(principal_json(result.principal))
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        httponly=True,
        samesite="Lax",
        secure=ctx.settings.secure_cookies,
        path="/",
        max_age=ctx.settings.session_hours * 3600,
    )
    return response


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    principal = require_staff(request, allow_password_change=True)
    await actions.logout(ctx_of(request), principal)
    response = json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/api/auth/me")
async def me(request: web.Request) -> web.Response:
    return json_response(principal_json(require_staff(request, allow_password_change=True)))


@routes.post("/api/auth/password")
async def change_password(request: web.Request) -> web.Response:
    principal = require_staff(request, allow_password_change=True)
    data = await read_json(request)
    await actions.change_password(
        ctx_of(request),
        principal,
        current=json_str(data, "current", required=True),
        new=json_str(data, "new", required=True),
    )
    return json_response({"ok": True})


@routes.get("/api/staff/users")
async def list_users(request: web.Request) -> web.Response:
    users = await actions.list_users(ctx_of(request), require_staff(request))
    return json_response({"users": [user_json(u) for u in users]})


@routes.post("/api/staff/users")
async def create_user(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    try:
        role = Role(json_str(data, "role", required=True))
    except ValueError:
        raise ValidationFailed("Unknown role.", fields={"role": "Unknown role."}) from None
    region_id = json_int(data, "region_id")
    created = await actions.create_user(
        ctx_of(request),
        principal,
        username=json_str(data, "username", required=True),
        display_name=json_str(data, "display_name", required=True),
        role=role,
        region_id=region_id,
    )
    return json_response(
        {"user": user_json(created.user), "one_time_password": created.one_time_password},
        status=201,
    )


@routes.post("/api/staff/users/{username}/reset-password")
async def reset_password(request: web.Request) -> web.Response:
    principal = require_staff(request)
    secret = await actions.reset_password(
        ctx_of(request), principal, username=request.match_info["username"]
    )
    return json_response({"one_time_password": secret})


@routes.get("/api/staff/units")
async def list_units(request: web.Request) -> web.Response:
    units = await actions.list_units(ctx_of(request), require_staff(request))
    return json_response({"units": [unit_json(u) for u in units]})


@routes.post("/api/staff/units")
async def create_unit(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    try:
        kind = UnitKind(json_str(data, "kind", required=True))
    except ValueError:
        raise ValidationFailed("Unknown kind.", fields={"kind": "Unknown kind."}) from None
    region_id = json_int(data, "region_id")
    unit = await actions.create_unit(
        ctx_of(request),
        principal,
        name=json_str(data, "name", required=True),
        kind=kind,
        region_id=region_id,
    )
    return json_response(unit_json(unit), status=201)


def unit_json(u: UnitView) -> dict[str, Any]:
    return {"id": u.id, "name": u.name, "kind": u.kind, "region_id": u.region_id}


@routes.get("/api/staff/audit")
async def audit(request: web.Request) -> web.Response:
    principal = require_staff(request)
    before = int_param(request.query.get("before_id"), "before_id", lo=1)
    limit = int_param(request.query.get("limit"), "limit", default=100, lo=1, hi=500)
    assert limit is not None
    entries = await actions.audit_log(ctx_of(request), principal, limit=limit, before_id=before)
    return json_response(
        {
            "entries": [
                {
                    "id": e.id,
                    "at": e.at.isoformat(),
                    "actor_id": e.actor_id,
                    "action": e.action,
                    "target": e.target,
                    "detail": e.detail,
                }
                for e in entries
            ]
        }
    )


_PRINCIPAL = obj(
    {
        "id": integer(),
        "username": string(),
        "display_name": string(),
        "role": string(),
        "region_id": integer(),
        "must_change_password": boolean(),
        "csrf_token": string(),
        "permissions": array(string()),
    }
)
_USER = obj(
    {
        "id": integer(),
        "username": string(),
        "display_name": string(),
        "role": string(),
        "region": obj({"id": integer(), "name": string()}),
        "active": boolean(),
        "must_change_password": boolean(),
    }
)
_OK = obj({"ok": boolean()})
_UNIT = obj({"id": integer(), "name": string(), "kind": string(), "region_id": integer()})

OPENAPI = {
    "/api/auth/login": {
        "post": operation(
            "Log in; sets the session cookie and returns the CSRF token",
            tag="auth",
            body=obj({"username": string(), "password": string()}, ["username", "password"]),
            ok=_PRINCIPAL,
            errors=(400, 401, 429),
        )
    },
    "/api/auth/logout": {"post": operation("Log out", tag="auth", ok=_OK, staff=True)},
    "/api/auth/me": {
        "get": operation("The logged-in staff member", tag="auth", ok=_PRINCIPAL, staff=True)
    },
    "/api/auth/password": {
        "post": operation(
            "Change one's own password",
            tag="auth",
            staff=True,
            ok=_OK,
            errors=(400,),
            body=obj({"current": string(), "new": string(minLength=10)}, ["current", "new"]),
        )
    },
    "/api/staff/users": {
        "get": operation(
            "Staff accounts in one's region",
            tag="staff",
            staff=True,
            ok=obj({"users": array(_USER)}),
        ),
        "post": operation(
            "Create a staff account; returns its one-time password",
            tag="staff",
            staff=True,
            ok_status="201",
            errors=(400, 409),
            body=obj(
                {
                    "username": string(),
                    "display_name": string(),
                    "role": string(enum=[r.value for r in Role]),
                    "region_id": integer(),
                },
                ["username", "display_name", "role", "region_id"],
            ),
            ok=obj({"user": _USER, "one_time_password": string()}),
        ),
    },
    "/api/staff/users/{username}/reset-password": {
        "post": operation(
            "Reset an account's password to a new one-time password",
            tag="staff",
            staff=True,
            params=[path_param("username")],
            ok=obj({"one_time_password": string()}),
            errors=(404,),
        )
    },
    "/api/staff/units": {
        "get": operation(
            "Receiving units in one's territory",
            tag="staff",
            staff=True,
            ok=obj({"units": array(_UNIT)}),
        ),
        "post": operation(
            "Add a receiving unit (county relay, town office or department)",
            tag="staff",
            staff=True,
            ok_status="201",
            ok=_UNIT,
            errors=(400, 409),
            body=obj(
                {
                    "name": string(),
                    "kind": string(enum=[k.value for k in UnitKind]),
                    "region_id": integer(),
                },
                ["name", "kind", "region_id"],
            ),
        ),
    },
    "/api/staff/audit": {
        "get": operation(
            "The audit log, newest first",
            tag="staff",
            staff=True,
            errors=(400,),
            params=[query_param("before_id", integer()), query_param("limit", integer())],
            ok=obj(
                {
                    "entries": array(
                        obj(
                            {
                                "id": integer(),
                                "at": string(format="date-time"),
                                "actor_id": integer(nullable=True),
                                "action": string(),
                                "target": string(),
                                "detail": {"type": "object"},
                            }
                        )
                    )
                }
            ),
        )
    },
}
