"""create_app(settings): wiring only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
import socketio
from aiohttp import web

from server import __version__
from server.accounts import http as accounts_http
from server.awards import http as awards_http
from server.bulletins import http as bulletins_http
from server.core.clock import Clock, SystemClock
from server.core.context import Context
from server.core.db import Database
from server.core.files import FileStore
from server.core.i18n import catalogue
from server.core.notifier import Notifier, SocketIONotifier
from server.core.openapi import document
from server.core.presence import RedisPresence
from server.core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from server.core.sio_manager import DirectEmitManager, DirectEmitRedisManager
from server.core.web import (
    CTX,
    NODE_MODULES,
    SIO,
    STATIC_DIR,
    error_middleware,
    identity_middleware,
    json_response,
    render,
    security_headers_middleware,
)
from server.deliberations import http as deliberations_http
from server.deliberations import media_http as deliberations_media_http
from server.deliberations import pages as deliberation_pages
from server.deliberations import public_http as deliberations_public_http
from server.deliberations.live import LiveNamespace
from server.disclosures import actions as disclosure_actions
from server.disclosures import http as disclosures_http
from server.outcomes import actions as outcome_actions
from server.outcomes import boards as outcomes_boards
from server.outcomes import http as outcomes_http
from server.outcomes import pages as outcomes_pages
from server.rooms import http as rooms_http
from server.settings import ConfigError, Settings
from server.statistics import http as statistics_http
from server.statistics.live import DashboardNamespace
from server.topics import actions as topic_actions
from server.topics import admin_http as routing_http
from server.topics import handling_http
from server.topics import http as topics_http
from server.topics.actions import deadlines, similarity
from server.topics.live import StaffNamespace

log = logging.getLogger(__name__)

# Third-party browser code, installed from npm at setup and served from node_modules.
VENDOR_FILES = {
    "socket.io.min.js": NODE_MODULES / "socket.io-client" / "dist" / "socket.io.min.js",
    "socket.io.min.js.map": NODE_MODULES / "socket.io-client" / "dist" / "socket.io.min.js.map",
    "hls.min.js": NODE_MODULES / "hls.js" / "dist" / "hls.min.js",
    "hls.min.js.map": NODE_MODULES / "hls.js" / "dist" / "hls.min.js.map",
    "echarts.min.js": NODE_MODULES / "echarts" / "dist" / "echarts.min.js",
}

FEATURE_ROUTES = (
    accounts_http.routes,
    rooms_http.routes,
    topics_http.routes,
    handling_http.routes,
    routing_http.routes,
    deliberation_pages.routes,
    deliberations_http.routes,
    deliberations_public_http.routes,
    deliberations_media_http.routes,
    outcomes_http.routes,
    outcomes_boards.routes,
    outcomes_pages.routes,
    disclosures_http.routes,
    bulletins_http.routes,
    statistics_http.routes,
    awards_http.routes,
)
FEATURE_OPENAPI = (
    accounts_http.OPENAPI,
    rooms_http.OPENAPI,
    topics_http.OPENAPI,
    handling_http.OPENAPI,
    deliberations_http.OPENAPI,
    deliberations_public_http.OPENAPI,
    deliberations_media_http.OPENAPI,
    outcomes_http.OPENAPI,
    outcomes_boards.OPENAPI,
    disclosures_http.OPENAPI,
    bulletins_http.OPENAPI,
    statistics_http.OPENAPI,
    awards_http.OPENAPI,
)


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "tags": ["meta"],
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": {}}}}
                },
            }
        },
        "/api/health": {
            "get": {
                "summary": "Liveness and database reachability",
                "tags": ["meta"],
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": {}}}}
                },
            }
        },
    }
    for fragment in FEATURE_OPENAPI:
        paths.update(fragment)
    return document(paths, version=__version__)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    limiter: RateLimiter | None = None,
) -> web.Application:
    """The whole server as one aiohttp application. Resources open and close with it."""
    clock = clock or SystemClock()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            error_middleware,
            security_headers_middleware,
            identity_middleware,
            accounts_http.auth_middleware,
        ],
    )
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(STATIC_DIR / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    aiohttp_jinja2.get_env(app).globals["catalogue"] = catalogue

    manager = (
        DirectEmitRedisManager(settings.redis_url, channel="mashangyi-socketio")
        if settings.redis_url
        else DirectEmitManager()
    )
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=[],
        logger=False,
        engineio_logger=False,
        # Nothing a browser sends over socket.io is large: refuse big packets outright.
        max_http_buffer_size=64 * 1024,
    )
    sio.attach(app)
    app[SIO] = sio

    try:
        deadlines.policy_of(settings)  # an unknown stage in MASHANGYI_DEADLINE_DAYS
    except ValueError as exc:
        raise ConfigError(f"MASHANGYI_DEADLINE_DAYS: {exc}") from None
    db = Database(settings.database_url)
    if limiter is None:
        if settings.redis_url:
            limiter = RedisRateLimiter(_redis(settings.redis_url), clock)
        else:
            limiter = MemoryRateLimiter(clock)
    ctx = Context(
        settings=settings,
        db=db,
        clock=clock,
        notifier=notifier or SocketIONotifier(sio),
        limiter=limiter,
        files=FileStore(settings.uploads_dir),
    )
    app[CTX] = ctx
    outcome_actions.install(ctx)  # resolving a topic records its outcome
    sio.register_namespace(StaffNamespace(ctx))
    live = LiveNamespace(
        ctx, RedisPresence(_redis(settings.redis_url)) if settings.redis_url else None
    )
    sio.register_namespace(live)
    dashboard = DashboardNamespace(ctx)
    sio.register_namespace(dashboard)
    app.on_shutdown.append(dashboard.shutdown)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        # Load (or train) the topic classifier before taking requests, not on the first one.
        await topic_actions.classifier(ctx)
        similar_index = similarity.start_building(ctx)
        reminders = (
            asyncio.get_running_loop().create_task(deadlines.reminder_loop(ctx))
            if settings.reminder_seconds
            else None
        )
        outcome_reminders = (
            asyncio.get_running_loop().create_task(outcome_actions.outcome_reminder_loop(ctx))
            if settings.reminder_seconds
            else None
        )
        disclosures = (  # 月公示: last month's, on the 1st (or now, if the 1st was missed)
            asyncio.get_running_loop().create_task(disclosure_actions.disclosure_loop(ctx))
            if settings.disclosure_check_seconds
            else None
        )
        try:  # what a stopped server left being recorded
            await live.media.recover()
        except Exception:
            log.exception("finalising left-over recordings failed")
        yield
        await live.close()  # send what the live room still has batched
        for task in (reminders, outcome_reminders, disclosures, similar_index):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await limiter.close()
        await manager.close()
        await db.close()

    app.cleanup_ctx.append(resources)
    app.on_shutdown.append(_disconnect_sockets)

    for table in FEATURE_ROUTES:
        app.router.add_routes(table)
    app.router.add_get("/", _home)
    app.router.add_get("/api/openapi.json", _openapi)
    app.router.add_get("/api/health", _health)
    app.router.add_get("/vendor/{name}", _vendor)
    app.router.add_get("/favicon.ico", _favicon)
    app.router.add_static("/static/", STATIC_DIR, name="static", append_version=False)
    _check_vendor()
    return app


def _redis(url: str) -> Any:
    import redis.asyncio as aioredis

    return aioredis.from_url(url)


async def _disconnect_sockets(app: web.Application) -> None:
    sio: Any = app[SIO]
    await sio.shutdown()


async def _home(request: web.Request) -> web.Response:
    return render(request, "home.html", {})


async def _openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())


async def _health(request: web.Request) -> web.Response:
    await request.app[CTX].db.ping()
    return json_response({"ok": True, "version": __version__})


async def _favicon(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("/static/favicon.svg")


async def _vendor(request: web.Request) -> web.StreamResponse:
    path = VENDOR_FILES.get(request.match_info["name"])
    if path is None or not path.exists():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


def _check_vendor() -> None:
    missing = [
        name
        for name, path in VENDOR_FILES.items()
        if not name.endswith(".map") and not Path(path).exists()
    ]
    if missing:
        log.warning(
            "front-end packages missing (%s): run `npm ci` (make run does)", ", ".join(missing)
        )
