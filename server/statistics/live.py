"""The dashboard's live channel: socket.io namespace ``/dashboard``.

Anyone may connect (the figures are public). A screen says which region it shows with
``dashboard`` ``{"op": "watch", "region": id | null}`` and is answered with the
snapshot; it then sits in the socket.io room of that region and gets
``dashboard`` ``{"op": "snapshot", "snapshot": {...}}`` whenever the figures changed.
While anyone is connected, a loop in each process looks at every watched region every
``interval`` seconds through the per-process snapshot cache, and broadcasts only the
regions whose figures changed: a hundred screens cost one computation per region, and
an idle city costs nothing on the wire. Room names carry this process's own token, so
with the Redis manager a process's broadcast reaches only its own screens (each process
runs its own loop for the screens it holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

import socketio

from server.core.context import Context
from server.core.errors import AppError
from server.statistics import actions

log = logging.getLogger(__name__)

DASHBOARD_NAMESPACE = "/dashboard"
PUSH_SECONDS = 5.0


class DashboardNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, ctx: Context, *, interval: float = PUSH_SECONDS) -> None:
        super().__init__(DASHBOARD_NAMESPACE)
        self._ctx = ctx
        self.interval = interval
        self._node = secrets.token_hex(6)
        self._watching: dict[str, int | None] = {}  # sid → region (None: the whole city)
        self._sent: dict[int | None, str] = {}  # region → version last broadcast
        self._task: asyncio.Task[None] | None = None

    def room(self, region_id: int | None) -> str:
        return f"dashboard:{self._node}:{'all' if region_id is None else region_id}"

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        return None

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self._watching.pop(sid, None)
        if not self._watching:
            await self.close()

    async def on_dashboard(self, sid: str, data: Any = None) -> dict[str, Any]:
        """``{"op": "watch", "region": id | null}``: follow that region; acks the
        snapshot, or an error (``bad_request``, ``not_found``)."""
        if not isinstance(data, dict) or data.get("op") != "watch":
            return _error("bad_request", 'Send {"op": "watch", "region": id or null}.')
        region = data.get("region")
        if region is not None and (not isinstance(region, int) or isinstance(region, bool)):
            return _error("bad_request", "region must be a region id or null.")
        try:
            snapshot = await actions.dashboard(self._ctx, region)
        except AppError as exc:
            return _error(exc.code, exc.message)
        previous = self._watching.get(sid, -1)
        if previous != region:
            if previous != -1:
                await self.leave_room(sid, self.room(previous))
            await self.enter_room(sid, self.room(region))
            self._watching[sid] = region
        self._sent.setdefault(region, snapshot["version"])
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._push_loop())
        return {"ok": True, "snapshot": snapshot}

    async def _push_loop(self) -> None:
        while self._watching:
            await asyncio.sleep(self.interval)
            for region in set(self._watching.values()):
                try:
                    snapshot = await actions.dashboard(self._ctx, region)
                except Exception:
                    log.exception("dashboard snapshot of region %s failed", region)
                    continue
                if snapshot["version"] == self._sent.get(region):
                    continue
                self._sent[region] = snapshot["version"]
                await self.emit(
                    "dashboard", {"op": "snapshot", "snapshot": snapshot}, room=self.room(region)
                )

    async def shutdown(self, app: object) -> None:
        """aiohttp's on_shutdown hook."""
        await self.close()

    async def close(self) -> None:
        """Stop the push loop (the last screen left, or the server stops)."""
        task, self._task = self._task, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message, "fields": {}}}
