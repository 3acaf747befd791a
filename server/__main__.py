"""The `mashangyi` command: serve, migrate, demo, import-rooms, create-user,
publish-disclosures and the operators' other tasks."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from server import migrations
from server.accounts import actions as accounts
from server.core.auth import Role
from server.core.clock import Clock, SystemClock
from server.core.context import Context
from server.core.db import Database
from server.core.errors import AppError
from server.core.files import FileStore
from server.core.notifier import NullNotifier
from server.core.ratelimit import MemoryRateLimiter
from server.deliberations.actions import recordings
from server.demo import demo_file, load_demo
from server.disclosures import actions as disclosures
from server.outcomes import actions as outcomes
from server.rooms import actions as rooms
from server.rooms.qr import qr_text
from server.settings import ConfigError, Settings
from server.topics import actions as topics


@asynccontextmanager
async def cli_context(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Context]:
    """A Context for one command-line run (or a benchmark, with its own clock): no
    browsers listening, no rate limits shared."""
    clock = clock or SystemClock()
    db = Database(settings.database_url, pool_size=2)
    try:
        ctx = Context(
            settings=settings,
            db=db,
            clock=clock,
            notifier=NullNotifier(),
            limiter=MemoryRateLimiter(clock),
            files=FileStore(settings.uploads_dir),
        )
        outcomes.install(ctx)
        yield ctx
    finally:
        await db.close()


async def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    await migrations.upgrade(settings.database_url)
    print(f"database is up to date ({_safe_url(settings.database_url)})")
    return 0


async def _demo(settings: Settings, args: argparse.Namespace) -> int:
    async with cli_context(settings) as ctx:
        result = await load_demo(ctx)
    if result.created:
        print("demo city created; one-time passwords (change at first login):")
        for login in result.logins:
            print(f"  {login['role']:<13} {login['username']:<18} {login['password']}")
    else:
        print("database already has regions; demo not loaded")
    return 0


async def _import_rooms(settings: Settings, args: argparse.Namespace) -> int:
    data = await asyncio.to_thread(Path(args.file).read_bytes)
    async with cli_context(settings) as ctx:
        report = await rooms.import_rooms(ctx, None, data)
    print(
        f"regions created {report.regions_created}, rooms created {report.rooms_created}, "
        f"updated {report.rooms_updated}, unchanged {report.rooms_unchanged}"
    )
    return 0


async def _create_user(settings: Settings, args: argparse.Namespace) -> int:
    async with cli_context(settings) as ctx:
        if args.reset:
            secret = await accounts.reset_password(ctx, None, username=args.username)
            print(f"new one-time password for {args.username}: {secret}")
            return 0
        if args.role is None or args.region is None or args.name is None:
            print(
                "mashangyi: create-user needs --role, --region and --name (or --reset)",
                file=sys.stderr,
            )
            return 2
        created = await accounts.create_user(
            ctx,
            None,
            username=args.username,
            display_name=args.name,
            role=Role(args.role),
            region_id=args.region,
        )
    print(
        f"created {created.user.username} ({created.user.role}, {created.user.region_name}); "
        f"one-time password: {created.one_time_password}"
    )
    return 0


async def _train_classifier(settings: Settings, _args: argparse.Namespace) -> int:
    async with cli_context(settings) as ctx:
        result = await topics.train_classifier(ctx)
    print(f"trained on {result.examples} topics ({result.corrections} dispatcher corrections)")
    print("\ncategory, on the corpus's held-out split:")
    print(result.category.format())
    print("\nsubject, on the corpus's held-out split:")
    print(result.subject.format())
    print(f"\nsaved {result.path}; restart the server to use it")
    return 0


async def _purge_recordings(settings: Settings, args: argparse.Namespace) -> int:
    days = args.older_than if args.older_than is not None else settings.recording_retention_days
    if days < 1:
        print("mashangyi: --older-than must be at least 1 day", file=sys.stderr)
        return 2
    async with cli_context(settings) as ctx:
        expired = await recordings.expired(ctx, days)
        for view in expired:
            size = f"{(view.size or 0) / 1e6:.1f} MB"
            print(
                f"{'would remove' if args.dry_run else 'removing'} recording {view.id} of "
                f"session {view.deliberation_id} ({view.started_at:%Y-%m-%d}, {size})"
            )
            if not args.dry_run:
                await recordings.purge(ctx, settings.recordings_dir, view)
    print(
        f"{len(expired)} recording(s) older than {days} days"
        + (" (dry run: nothing removed)" if args.dry_run else " removed")
    )
    return 0


async def _publish_disclosures(settings: Settings, args: argparse.Namespace) -> int:
    if args.new_version and not (args.reason or "").strip():
        print("mashangyi: --new-version needs --reason saying why", file=sys.stderr)
        return 2
    if args.reason and not args.new_version:
        print("mashangyi: --reason goes with --new-version", file=sys.stderr)
        return 2
    async with cli_context(settings) as ctx:
        try:
            result = await disclosures.publish_disclosures(
                ctx, args.month, new_version_reason=args.reason if args.new_version else ""
            )
        except AppError as exc:  # refused: nothing was written
            print(f"mashangyi: {exc.message}", file=sys.stderr)
            return 2
    if not result.disclosures:
        print(f"{result.month}: no towns or communities yet; nothing published")
        return 0
    what = f"version {result.version}" if result.new_version else "version 1"
    print(
        f"published {result.month} ({what}): {result.disclosures} disclosures "
        f"({result.towns} towns, {result.communities} communities), {result.topics} topics"
    )
    return 0


async def _revision(settings: Settings, args: argparse.Namespace) -> int:
    await migrations.revision(settings.database_url, args.message)
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from server.app import create_app

    host = args.host or settings.host
    port = args.port or settings.port
    if "MASHANGYI_PUBLIC_BASE_URL" not in os.environ:
        settings = replace(settings, host=host, port=port, public_base_url=f"http://{host}:{port}")
    asyncio.run(_announce(settings, host, port))
    app = create_app(settings)
    _tune_gc(app)
    web.run_app(
        app,
        host=host,
        port=port,
        print=None,
        access_log=None if args.quiet else logging.getLogger("aiohttp.access"),
        loop=_event_loop(settings),
    )
    return 0


# The collector's thresholds `serve` runs with (see _tune_gc); benchmarks use them too.
SERVE_GC_THRESHOLDS = (50_000, 20, 10)


def _tune_gc(app: web.Application) -> None:
    """Keep the cyclic garbage collector from pausing a busy server for half a second.

    With thousands of live-room connections the process holds ~400,000 container objects
    (each connection keeps coroutines, tasks and buffers), and a full collection over them
    took 450-530 ms here. At the default thresholds the objects in flight during every
    broadcast (tasks, futures, timers) survive the frequent young collections, get promoted,
    and trigger a full collection every few seconds: the pauses, not the CPU, were the
    live room's p99 (benchmarks/README.md). A larger first threshold lets that short-lived
    churn die by reference counting before any collection sees it; what the server loaded
    at startup is frozen out of later collections."""
    gc.set_threshold(*SERVE_GC_THRESHOLDS)

    async def freeze(_app: web.Application) -> None:
        gc.collect()
        gc.freeze()

    app.on_startup.append(freeze)


def _event_loop(settings: Settings) -> asyncio.AbstractEventLoop:
    """uvloop where installed (the default on Linux), else asyncio's own loop.

    A live room's broadcasts are thousands of small socket writes and task wake-ups a
    second; uvloop does both in C (benchmarks/README.md has the before and after)."""
    if settings.event_loop == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


async def _announce(settings: Settings, host: str, port: int) -> None:
    print(
        f"码上议 Mashangyi serving on http://{host}:{port}  (database: "
        f"{_safe_url(settings.database_url)}, socket.io: "
        f"{'redis' if settings.redis_url else 'in-process'})"
    )
    path = demo_file(settings.data_dir)
    if not path.exists():
        return
    async with cli_context(settings) as ctx:
        result = await load_demo(ctx)
        if not result.room_id:
            return
        try:
            room, _ = await rooms.get_room(ctx, None, result.room_id)
        except AppError:
            return
    print(f"\nDemo room {room.name}: {room.public_url}\n{qr_text(room.public_url)}")
    print(f"Staff: http://{host}:{port}/staff/  (one-time passwords, changed at first login)")
    for login in result.logins:
        print(f"  {login['role']:<13} {login['username']:<18} {login['password']}")
    print()


def _safe_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mashangyi", description="码上议 Mashangyi server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the web app")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--quiet", action="store_true", help="no access log")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("demo", help="load the demo city into an empty database")
    imp = sub.add_parser("import-rooms", help="import regions and rooms from a CSV file")
    imp.add_argument("file")
    user = sub.add_parser("create-user", help="create a staff account, or --reset its password")
    user.add_argument("username")
    user.add_argument("--role", choices=[r.value for r in Role])
    user.add_argument("--region", type=int, help="region id")
    user.add_argument("--name", help="display name")
    user.add_argument("--reset", action="store_true", help="issue a new one-time password")
    sub.add_parser("train-classifier", help="retrain the topic classifier with corrections")
    purge = sub.add_parser(
        "purge-recordings",
        help="remove session recordings past their age (never those of sessions whose "
        "minutes and outcomes are not published)",
    )
    purge.add_argument("--older-than", type=int, metavar="DAYS", help="default: the setting")
    purge.add_argument("--dry-run", action="store_true", help="list, remove nothing")
    pub = sub.add_parser(
        "publish-disclosures",
        help="publish a past month's disclosures (月公示) for every town and community",
    )
    pub.add_argument("--month", required=True, help="YYYY-MM, local time; must have ended")
    pub.add_argument(
        "--new-version",
        action="store_true",
        help="the month is already published: add the next version beside it",
    )
    pub.add_argument("--reason", help="why a new version is published (with --new-version)")
    rev = sub.add_parser("revision", help="(developers) autogenerate a migration")
    rev.add_argument("-m", "--message", required=True)
    return parser


ASYNC_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "migrate": _migrate,
    "demo": _demo,
    "import-rooms": _import_rooms,
    "create-user": _create_user,
    "train-classifier": _train_classifier,
    "purge-recordings": _purge_recordings,
    "publish-disclosures": _publish_disclosures,
    "revision": _revision,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"mashangyi: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "serve":
            return _serve(settings, args)
        return asyncio.run(ASYNC_COMMANDS[args.command](settings, args))
    except AppError as exc:
        print(f"mashangyi: {exc.message}", file=sys.stderr)
        for field, problem in exc.fields.items():
            print(f"  {field}: {problem}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"mashangyi: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
