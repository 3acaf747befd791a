"""The minimal reference for benchmarks/live_fanout.py: a bare python-socketio server that
broadcasts each comment the moment it arrives, one packet per comment per viewer. No
database, no identities, no batching: what a first version of a live room would do.

    python benchmarks/live_reference.py PORT
"""

from __future__ import annotations

import sys
from typing import Any

import socketio
from aiohttp import web


def make_app() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", logger=False, engineio_logger=False)
    app = web.Application()
    sio.attach(app)

    @sio.on("connect", namespace="/live")
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await sio.enter_room(sid, "room", namespace="/live")

    @sio.on("comment", namespace="/live")
    async def comment(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.emit("comment", {"body": data.get("body")}, room="room", namespace="/live")
        return {"ok": True}

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/api/health", health)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
