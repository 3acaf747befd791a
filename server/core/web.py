"""HTTP plumbing shared by every feature's handlers: keys, errors, identity, parsing."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from server.core.auth import Principal
from server.core.context import Context
from server.core.errors import (
    AppError,
    BadRequest,
    CsrfFailed,
    Forbidden,
    NotAuthenticated,
    ValidationFailed,
)
from server.core.i18n import pick_language, translate

log = logging.getLogger(__name__)

CTX = web.AppKey("ctx", Context)
SIO = web.AppKey("sio", object)
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("msy_principal")
LANG = web.RequestKey("msy_lang", str)
DEVICE = web.RequestKey("msy_device", str)

SESSION_COOKIE = "msy_session"
DEVICE_COOKIE = "msy_device"
LANG_COOKIE = "msy_lang"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = ROOT / "static"
NODE_MODULES = ROOT / "node_modules"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def ctx_of(request: web.Request) -> Context:
    return request.app[CTX]


def principal_of(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)


def require_staff(request: web.Request, *, allow_password_change: bool = False) -> Principal:
    """The logged-in staff member; for writes, also checks the CSRF header.

    Raises NotAuthenticated without a session, CsrfFailed on a cookie-authenticated
    write whose header does not match the session's token.
    """
    principal = principal_of(request)
    if principal is None:
        raise NotAuthenticated("Log in first.")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
            raise CsrfFailed("Missing or wrong CSRF token; reload the page.")
    if principal.must_change_password and not allow_password_change:
        raise Forbidden("Change your one-time password first.")
    return principal


def staff_page(request: web.Request) -> Principal:
    """For pages: the principal, or a redirect to the login page (or to set a password)."""
    principal = principal_of(request)
    if principal is None:
        raise web.HTTPFound(f"/staff/login?next={quote(request.path_qs)}")
    if principal.must_change_password and request.path != "/staff/password":
        raise web.HTTPFound("/staff/password")
    return principal


def client_ip(request: web.Request) -> str:
    if ctx_of(request).settings.trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.remote or "unknown"


def device_id(request: web.Request) -> str | None:
    return request.get(DEVICE)


def lang_of(request: web.Request) -> str:
    return request.get(LANG) or "zh-CN"


async def read_json(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise BadRequest("Send JSON (Content-Type: application/json).")
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    return data


def json_int(data: dict[str, Any], name: str) -> int:
    """A required whole number from a JSON body (booleans are not numbers)."""
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationFailed(f"{name} must be a number.", fields={name: "Required."})
    return value


def json_optional_int(data: dict[str, Any], name: str) -> int | None:
    return None if data.get(name) is None else json_int(data, name)


def json_str(data: dict[str, Any], name: str, *, required: bool = False) -> str:
    """Text from a JSON body; absent is empty unless required."""
    value = data.get(name, "")
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be text.", fields={name: "Must be text."})
    if required and not value:
        raise ValidationFailed(f"{name} is required.", fields={name: "Required."})
    return value


def int_param(
    value: str | None, name: str, *, default: int | None = None, lo: int = 0, hi: int = 2**31 - 1
) -> int | None:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(
            f"{name} must be a whole number.", fields={name: "Not a number."}
        ) from None
    if not lo <= number <= hi:
        raise BadRequest(f"{name} must be between {lo} and {hi}.", fields={name: "Out of range."})
    return number


def json_response(data: Any, *, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    lang = lang_of(request)
    principal = principal_of(request)
    base = {
        "lang": lang,
        "t": lambda key, **kw: translate(lang, key, **kw),
        "principal": principal,
        "csrf_token": principal.csrf_token if principal else "",
        "path": request.path,
    }
    response = aiohttp_jinja2.render_template(template, request, {**base, **context})
    response.set_status(status)
    return response


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/socket.io")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal becomes ``{"error": {code, message, fields}}`` (or a page for browsers)."""
    try:
        return await handler(request)
    except AppError as exc:
        return _error_response(
            request,
            exc.status,
            exc.code,
            exc.message,
            exc.fields,
            retry_after=getattr(exc, "retry_after", None),
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status, "http_error"
        )
        message = {413: "The request body is too large."}.get(exc.status, exc.reason)
        return _error_response(request, exc.status, code, message, {})
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error_response(
            request, 500, "internal_error", "Something went wrong on our side.", {}
        )


def _error_response(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    fields: dict[str, str],
    *,
    retry_after: int | None = None,
) -> web.Response:
    if _wants_json(request):
        response = json_response(
            {"error": {"code": code, "message": message, "fields": fields}}, status=status
        )
    else:
        response = render(
            request,
            "error.html",
            {"status": status, "code": code, "message": message},
            status=status,
        )
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@web.middleware
async def identity_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Language and the anonymous device id, read from cookies and set when missing."""
    lang = pick_language(request.query.get("lang"), request.cookies.get(LANG_COOKIE))
    request[LANG] = lang
    device = request.cookies.get(DEVICE_COOKIE)
    fresh_device = None
    if not device or len(device) > 64:
        device = fresh_device = secrets.token_urlsafe(18)
    request[DEVICE] = device
    response = await handler(request)
    secure = ctx_of(request).settings.secure_cookies
    if fresh_device and not response.prepared:
        response.set_cookie(
            DEVICE_COOKIE,
            fresh_device,
            max_age=3 * 365 * 86400,
            httponly=True,
            samesite="Lax",
            secure=secure,
        )
    if request.query.get("lang") == lang and not response.prepared:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax", secure=secure)
    return response


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:
        h = response.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        # Tracking links carry a secret token in the path: never send it on as a Referer.
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
            # hls.js feeds the livestream through Media Source (blob: URLs) from a worker.
            "media-src 'self' blob:; worker-src 'self' blob:",
        )
    return response


def translate_for(request: web.Request, key: str, **values: object) -> str:
    return translate(lang_of(request), key, **values)
