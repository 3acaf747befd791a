"""The staff consoles' live channel: socket.io namespace ``/staff``.

A console joins the room of its own region and so receives events for every
topic raised at or below it, and for nothing outside its territory. A handler's
console joins its unit's room and receives the topics assigned to that unit.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import socketio

from server.accounts import actions as accounts
from server.core.auth import Permission
from server.core.context import Context
from server.core.web import SESSION_COOKIE
from server.topics.actions import STAFF_NAMESPACE, region_room, unit_room
from server.topics.actions.common import user_room


class StaffNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, ctx: Context) -> None:
        super().__init__(STAFF_NAMESPACE)
        self._ctx = ctx

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        morsel = cookie.get(SESSION_COOKIE)
        principal = await accounts.authenticate(self._ctx, morsel.value) if morsel else None
        if principal is None:
            raise socketio.exceptions.ConnectionRefusedError("not_authenticated")
        if principal.must_change_password:
            raise socketio.exceptions.ConnectionRefusedError("forbidden")
        if principal.can(Permission.VIEW_TOPICS):
            await self.enter_room(sid, region_room(principal.region_id))
        elif principal.can(Permission.HANDLE_TOPICS) and principal.unit_id is not None:
            await self.enter_room(sid, unit_room(principal.unit_id))
        else:
            raise socketio.exceptions.ConnectionRefusedError("forbidden")
        await self.enter_room(sid, user_room(principal.user_id))  # their notifications
        await self.save_session(sid, {"user_id": principal.user_id})
