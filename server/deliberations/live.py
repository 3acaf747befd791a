"""The live room over socket.io: namespace ``/live``.

Identity is settled at connect and never taken from a later message:

- a staff session cookie of someone who may host the session → ``host`` (joins the
  staff room too: control events, held comments, the lobby);
- ``auth.invite``: a guest's signed invitation → ``guest``, in the lobby until admitted;
- otherwise a device id (the ``msy_device`` cookie, or ``auth.device``) → ``viewer``.

Anything else is refused at connect with a reason (``connect_error`` on the client).

Every client event is named by its ``type`` and carries an ``op``; each is answered by
an ack ``{"ok": true, ...}`` or ``{"ok": false, "error": {code, message, fields}}`` and
never raises to the client or disturbs anyone else. Viewer-bound traffic (comments,
tallies, reactions, presence) goes out batched through ``server.core.fanout``; control
events (agenda, polls opening and closing, the queue, the lobby) go out at once.
A client calls ``sync`` after every (re)connect and gets the whole state in its ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any

import socketio

from server.accounts import actions as accounts
from server.core.auth import Principal
from server.core.context import Context
from server.core.errors import AppError, BadRequest, Forbidden, RateLimited
from server.core.fanout import Fanout
from server.core.presence import LocalPresence, PresenceBoard
from server.core.web import DEVICE_COOKIE, SESSION_COOKIE
from server.deliberations.actions import common, invites, room
from server.deliberations.actions.common import (
    LIVE_NAMESPACE,
    Identity,
    deliberation_room,
    invitation_room,
    staff_room,
)
from server.deliberations.live_media import LiveMedia
from server.deliberations.model import (
    DEVICE_RE,
    CommentStatus,
    DeliberationStatus,
    InvitationStatus,
    LiveRole,
)

log = logging.getLogger(__name__)

MAX_EVENT_BYTES = 8 * 1024
MAX_MEDIA_BYTES = 62 * 1024  # an SDP offer with its receive slots; the engine caps at 64 KiB
PRESENCE_SECONDS = 10  # how often each process re-reports its counts (see core.presence)

Handler = Callable[[str, Identity, dict[str, Any]], Awaitable[dict[str, Any]]]


def refuse(reason: str) -> socketio.exceptions.ConnectionRefusedError:
    return socketio.exceptions.ConnectionRefusedError(reason)


class LiveNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, ctx: Context, presence: PresenceBoard | None = None) -> None:
        super().__init__(LIVE_NAMESPACE)
        self._ctx = ctx
        self._board: PresenceBoard = presence or LocalPresence()
        self._heartbeat: asyncio.Task[None] | None = None
        self.fanout = Fanout(
            ctx.notifier, namespace=LIVE_NAMESPACE, interval=ctx.settings.live_batch_ms / 1000
        )
        # This process's connections: who each is, for presence and for the handlers.
        self._who: dict[str, Identity] = {}
        self._reactions: dict[int, Counter[str]] = {}  # gathered, saved at the next tick
        self._tokens: dict[str, str] = {}  # hosts' session tokens, re-checked for staff acts
        self._handlers: dict[str, dict[str, Handler]] = {
            "comment": {
                "post": self._comment_post,
                "hide": self._comment_hide,
                "approve": self._comment_approve,
            },
            "question": {
                "ask": self._question_ask,
                "upvote": self._question_upvote,
                "floor": self._question_status,
                "answered": self._question_status,
                "hide": self._question_status,
            },
            "poll": {
                "create": self._poll_create,
                "open": self._poll_open,
                "close": self._poll_close,
                "vote": self._poll_vote,
                "list": self._poll_list,
            },
            "queue": {
                "raise": self._queue_raise,
                "withdraw": self._queue_withdraw,
                "give": self._queue_give,
                "take": self._queue_take,
            },
            "agenda": {"goto": self._agenda_goto},
            "reaction": {"send": self._reaction_send},
            "lobby": {
                "list": self._lobby_list,
                "admit": self._lobby_admit,
                "remove": self._lobby_remove,
            },
            "sync": {"snapshot": self._sync},
            "media": dict.fromkeys(
                ("offer", "candidate", "bye", "mute", "spotlight", "live", "record"), self._media
            ),
        }
        self.media = LiveMedia(ctx, self._to_participant, self._media_status)

    # Connecting

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if not isinstance(auth, dict) or not isinstance(auth.get("deliberation"), int):
            raise refuse("deliberation_required")
        deliberation_id: int = auth["deliberation"]
        try:
            who = await self._identify(deliberation_id, environ, auth)
            token = _session_token(environ) if who.is_host else None
        except AppError as exc:
            log.info("live: refused a connection to %s: %s", deliberation_id, exc.message)
            raise refuse(exc.code) from None
        self._who[sid] = who
        if token is not None:
            self._tokens[sid] = token
        await self.save_session(sid, {"key": who.key})
        if who.role is LiveRole.GUEST:
            assert who.invitation_id is not None
            await self.enter_room(sid, invitation_room(who.invitation_id))
            await room.set_guest_connection(self._ctx, who.invitation_id, sid)
            status = await room.guest_status(self._ctx, who.invitation_id)
            if status is InvitationStatus.ADMITTED:
                await self.enter_room(sid, deliberation_room(deliberation_id))
            await self._publish_lobby(deliberation_id)
        else:
            await self.enter_room(sid, deliberation_room(deliberation_id))
            if who.is_host:
                await self.enter_room(sid, staff_room(deliberation_id))
        self._mark_presence(deliberation_id)

    async def _identify(
        self, deliberation_id: int, environ: dict[str, Any], auth: dict[str, Any]
    ) -> Identity:
        async with self._ctx.db.read() as session:
            place = await common.load(session, deliberation_id)
            invite = auth.get("invite")
            if invite is not None:
                if not isinstance(invite, str):
                    raise Forbidden("That invitation link is not valid.")
                invitation = await common.check_invitation(self._ctx, session, invite)
                if invitation.deliberation_id != deliberation_id:
                    raise Forbidden("That invitation is for another session.")
                who = common.guest_identity(invitation)
            else:
                who = await self._staff_or_viewer(place, environ, auth)
        status = place.deliberation.status
        if not who.is_host and status in (DeliberationStatus.DRAFT, DeliberationStatus.CANCELLED):
            raise Forbidden(f"The session is {status}.")
        return who

    async def _staff_or_viewer(
        self, place: common.Place, environ: dict[str, Any], auth: dict[str, Any]
    ) -> Identity:
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        deliberation_id = place.deliberation.id
        token = _session_token(environ)
        if token is not None:
            principal = await accounts.authenticate(self._ctx, token)
            if principal is not None and common.may_host(principal, place.region_path):
                return common.staff_identity(principal, deliberation_id)
        device_morsel = cookie.get(DEVICE_COOKIE)
        device = device_morsel.value if device_morsel is not None else auth.get("device")
        if not isinstance(device, str) or not DEVICE_RE.match(device):
            raise BadRequest("A device id is required to join as a viewer.")
        return common.viewer_identity(device, deliberation_id)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        who = self._who.pop(sid, None)
        self._tokens.pop(sid, None)
        if who is None:
            return
        if who.role is LiveRole.GUEST and who.invitation_id is not None:
            try:
                await room.set_guest_connection(self._ctx, who.invitation_id, None, only_if=sid)
                await self._publish_lobby(who.deliberation_id)
            except Exception:
                log.exception("live: forgetting guest %s's connection failed", who.invitation_id)
        self._mark_presence(who.deliberation_id)
        if who.role is not LiveRole.VIEWER and not any(
            w.key == who.key and w.deliberation_id == who.deliberation_id
            for w in self._who.values()
        ):  # the page's last connection: its peer goes (the stream and recording go on)
            await self.media.leave(who.deliberation_id, who.key)

    # Dispatching client events

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Route ``event`` (the message type) to its op handler; always answer with an ack."""
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid = args[0]
        data = args[1] if len(args) > 1 else None
        who = self._who.get(sid)
        if who is None:
            return _error("not_connected", "Connect first.")
        ops = self._handlers.get(event)
        try:
            if ops is None:
                raise BadRequest(f"Unknown event {event!r}.")
            if not isinstance(data, dict):
                raise BadRequest("Send an object with an op.")
            limit = MAX_MEDIA_BYTES if event == "media" else MAX_EVENT_BYTES
            if len(json.dumps(data, ensure_ascii=False).encode()) > limit:
                raise BadRequest(f"The message is larger than {limit} bytes.")
            op = data.get("op")
            handler = ops.get(op) if isinstance(op, str) else None
            if handler is None:
                raise BadRequest(f"Unknown op for {event}: {op!r}.", fields={"op": "Unknown."})
            await room.check_rate(self._ctx, who, "action")
            if who.role is LiveRole.GUEST and event != "sync":
                await self._require_admitted(who)
            result = await handler(sid, who, data)
            return {"ok": True, **result}
        except AppError as exc:
            log.info(
                "live: refused %s.%s from %s: %s",
                event,
                data.get("op") if isinstance(data, dict) else None,
                who.key,
                exc.message,
            )
            error: dict[str, Any] = dict(exc.to_json()["error"])  # type: ignore[call-overload]
            if isinstance(exc, RateLimited):
                error["retry_after"] = exc.retry_after
            return {"ok": False, "error": error}
        except Exception:
            log.exception("live: %s from %s failed", event, who.key)
            return _error("internal", "Something went wrong; try again.")

    async def _require_admitted(self, who: Identity) -> None:
        assert who.invitation_id is not None
        status = await room.guest_status(self._ctx, who.invitation_id)
        if status is InvitationStatus.REMOVED:
            raise Forbidden("The host has removed you from this session.")
        if status is not InvitationStatus.ADMITTED:
            raise Forbidden("Wait in the lobby until the host lets you in.")

    # Handlers: each returns the ack's payload and publishes what others should see.

    async def _sync(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        if who.role is LiveRole.GUEST:
            assert who.invitation_id is not None
            status = await room.guest_status(self._ctx, who.invitation_id)
            if status is not InvitationStatus.ADMITTED:
                return {
                    "snapshot": {
                        "type": "snapshot",
                        "op": "lobby",
                        "me": {"role": who.role, "name": who.name, "status": status},
                    }
                }
            await self.enter_room(sid, deliberation_room(who.deliberation_id))
        snapshot = await room.snapshot(self._ctx, who)
        snapshot["presence"] = await self._presence(who.deliberation_id)
        snapshot["media"] = self.media.status(who.deliberation_id)
        if who.role is not LiveRole.VIEWER:  # what a page on video needs before it offers
            snapshot["media"]["config"] = self.media.client_config()
        return {"snapshot": snapshot}

    async def _comment_post(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        comment = await room.post_comment(self._ctx, who, data.get("body"))
        if comment.status.value == "visible":
            self.fanout.add(deliberation_room(who.deliberation_id), "comments", comment.public())
        else:
            await self._emit(
                staff_room(who.deliberation_id),
                "comment",
                {"op": "held", "comment": comment.staff()},
            )
        return {"comment": comment.public() | {"status": comment.status}}

    async def _comment_hide(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        comment, before = await room.moderate_comment(
            self._ctx, who, data.get("id"), "hide", data.get("reason", "")
        )
        room_name = deliberation_room(who.deliberation_id)
        # Viewers saw it only if it was visible; a refused held comment concerns the staff.
        audience = room_name if before is CommentStatus.VISIBLE else staff_room(who.deliberation_id)
        await self._emit(audience, "comment", {"op": "hidden", "id": comment.id})
        self.fanout.mark(room_name, "moderation", lambda: self._moderation(who.deliberation_id))
        return {"comment": comment.staff()}

    async def _comment_approve(
        self, sid: str, who: Identity, data: dict[str, Any]
    ) -> dict[str, Any]:
        comment, _ = await room.moderate_comment(self._ctx, who, data.get("id"), "approve")
        self.fanout.add(deliberation_room(who.deliberation_id), "comments", comment.public())
        await self._emit(
            staff_room(who.deliberation_id), "comment", {"op": "approved", "id": comment.id}
        )
        return {"comment": comment.staff()}

    async def _moderation(self, deliberation_id: int) -> dict[str, int]:
        return await room.moderation_counts(self._ctx, deliberation_id)

    async def _question_ask(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        question = await room.ask_question(self._ctx, who, data.get("body"))
        if question.status.value == "open":
            self.fanout.add(deliberation_room(who.deliberation_id), "questions", question.public())
        return {"question": question.public()}

    async def _question_upvote(
        self, sid: str, who: Identity, data: dict[str, Any]
    ) -> dict[str, Any]:
        question = await room.upvote_question(self._ctx, who, data.get("id"))
        self.fanout.add(deliberation_room(who.deliberation_id), "questions", question.public())
        return {"question": question.public()}

    async def _question_status(
        self, sid: str, who: Identity, data: dict[str, Any]
    ) -> dict[str, Any]:
        target = {"floor": "on_floor", "answered": "answered", "hide": "hidden"}[data["op"]]
        changed = await room.set_question_status(self._ctx, who, data.get("id"), target)
        views = [q.public() for q in changed]
        await self._emit(
            deliberation_room(who.deliberation_id), "question", {"op": "update", "questions": views}
        )
        return {"questions": views}

    async def _poll_create(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        poll = await room.create_poll(
            self._ctx,
            who,
            question=data.get("question"),
            options=data.get("options"),
            kind=data.get("kind", "single"),
            anonymous=data.get("anonymous", False),
        )
        await self._emit(
            staff_room(who.deliberation_id), "poll", {"op": "created", "poll": poll.public()}
        )
        return {"poll": poll.public()}

    async def _poll_open(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        poll = await room.open_poll(self._ctx, who, data.get("id"))
        await self._emit(
            deliberation_room(who.deliberation_id), "poll", {"op": "opened", "poll": poll.public()}
        )
        return {"poll": poll.public()}

    async def _poll_close(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        poll = await room.close_poll(self._ctx, who, data.get("id"))
        await self._emit(
            deliberation_room(who.deliberation_id), "poll", {"op": "closed", "poll": poll.public()}
        )
        return {"poll": poll.public()}

    async def _poll_vote(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        poll_id = data.get("id")
        await room.vote(self._ctx, who, poll_id, data.get("choices"))
        assert isinstance(poll_id, int)
        self.fanout.mark(
            deliberation_room(who.deliberation_id),
            "tally",
            lambda: room.poll_tally(self._ctx, poll_id),
        )
        return {"voted": poll_id}

    async def _poll_list(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        if not who.is_host:
            raise Forbidden("Only the host may do that.")
        return {"polls": await room.polls(self._ctx, who)}

    async def _queue_raise(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        queue = await room.raise_hand(self._ctx, who, name=data.get("name"), role=data.get("role"))
        return await self._publish_queue(who, queue)

    async def _queue_withdraw(
        self, sid: str, who: Identity, data: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._publish_queue(
            who, await room.withdraw_hand(self._ctx, who, data.get("id"))
        )

    async def _queue_give(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        queue = await room.give_floor(self._ctx, who, data.get("id"), data.get("seconds"))
        await self.media.follow_floor(who.deliberation_id, queue)
        return await self._publish_queue(who, queue)

    async def _queue_take(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        queue = await room.take_floor(self._ctx, who, data.get("id"))
        await self.media.follow_floor(who.deliberation_id, queue)
        return await self._publish_queue(who, queue)

    async def _media(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        return await self.media.handle(who, data)

    async def _to_participant(
        self, deliberation_id: int, key: str, payload: dict[str, Any]
    ) -> None:
        """A media event for one participant's page(s) in this process."""
        for sid, who in list(self._who.items()):
            if who.key == key and who.deliberation_id == deliberation_id:
                await self._emit(sid, "media", payload)

    async def _media_status(self, deliberation_id: int, payload: dict[str, Any]) -> None:
        await self._emit(deliberation_room(deliberation_id), "media", payload)

    async def _publish_queue(self, who: Identity, queue: list[dict[str, Any]]) -> dict[str, Any]:
        payload = {"op": "state", "queue": queue, "now": self._ctx.clock.now().isoformat()}
        await self._emit(deliberation_room(who.deliberation_id), "queue", payload)
        return {"queue": queue}

    async def _agenda_goto(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        agenda = await room.goto_topic(self._ctx, who, data.get("topic_id"))
        self.media.on_agenda(who.deliberation_id, agenda)
        await self._emit(
            deliberation_room(who.deliberation_id), "agenda", {"op": "current", **agenda}
        )
        return {"agenda": agenda}

    async def _reaction_send(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        kind = room.check_reaction(data.get("kind"))
        pending = self._reactions.setdefault(who.deliberation_id, Counter())
        pending[kind] += 1
        deliberation_id = who.deliberation_id
        self.fanout.mark(
            deliberation_room(deliberation_id),
            "reactions",
            lambda: self._reaction_totals(deliberation_id),
        )
        return {}

    async def _reaction_totals(self, deliberation_id: int) -> dict[str, int]:
        """Save what this process gathered since the last tick; viewers get the totals."""
        pending = self._reactions.pop(deliberation_id, Counter())
        try:
            return await room.save_reactions(self._ctx, deliberation_id, dict(pending))
        except Exception:
            self._reactions.setdefault(deliberation_id, Counter()).update(pending)  # next tick
            raise

    async def _lobby_list(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        if not who.is_host:
            raise Forbidden("Only the host may do that.")
        return {"guests": await room.lobby(self._ctx, who.deliberation_id)}

    async def _lobby_admit(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        actor = await self._principal(sid, who)
        invitation = await invites.admit(self._ctx, actor, _int(data, "id"))
        if invitation.deliberation_id != who.deliberation_id:
            raise Forbidden("That guest is invited to another session.")
        if invitation.live_sid:  # wherever the guest is connected (any process)
            await self.enter_room(invitation.live_sid, deliberation_room(who.deliberation_id))
        return {"guests": await room.lobby(self._ctx, who.deliberation_id)}

    async def _lobby_remove(self, sid: str, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        actor = await self._principal(sid, who)
        invitation = await invites.remove(
            self._ctx, actor, _int(data, "id"), data.get("reason", "")
        )
        if invitation.deliberation_id != who.deliberation_id:
            raise Forbidden("That guest is invited to another session.")
        if invitation.live_sid:  # the link stopped working; the connection stops too
            await self.disconnect(invitation.live_sid)
        await self.media.leave(who.deliberation_id, common.guest_key(invitation.id))
        return {"guests": await room.lobby(self._ctx, who.deliberation_id)}

    async def _principal(self, sid: str, who: Identity) -> Principal:
        if not who.is_host or who.user_id is None:
            raise Forbidden("Only the host may do that.")
        token = self._tokens.get(sid)
        principal = await accounts.authenticate(self._ctx, token) if token else None
        if principal is None or principal.user_id != who.user_id:
            raise Forbidden("Your staff account is no longer active.")
        return principal

    # Publishing

    async def _emit(self, room_name: str, event: str, payload: dict[str, Any]) -> None:
        await self._ctx.notifier.emit(
            event, {"type": event, **payload}, namespace=LIVE_NAMESPACE, rooms=[room_name]
        )

    async def _publish_lobby(self, deliberation_id: int) -> None:
        guests = await room.lobby(self._ctx, deliberation_id)
        await self._emit(staff_room(deliberation_id), "lobby", {"op": "state", "guests": guests})

    def _mark_presence(self, deliberation_id: int) -> None:
        if self._who and (self._heartbeat is None or self._heartbeat.done()):
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat())
        self.fanout.mark(
            deliberation_room(deliberation_id), "presence", lambda: self._presence(deliberation_id)
        )

    async def _presence(self, deliberation_id: int) -> dict[str, Any]:
        """Who is here, by role, summed over every process (see server.core.presence)."""
        counts: Counter[str] = Counter(
            w.role.value for w in self._who.values() if w.deliberation_id == deliberation_id
        )
        room_name = deliberation_room(deliberation_id)
        await self._board.report(
            room_name,
            {"viewers": counts["viewer"], "guests": counts["guest"], "hosts": counts["host"]},
        )
        total = await self._board.total(room_name)
        return {role: total.get(role, 0) for role in ("viewers", "guests", "hosts")}

    async def _beat(self) -> None:
        """Keep this process's counts fresh on the board while it has connections, and
        let everyone see the others' changes."""
        while self._who:
            await asyncio.sleep(PRESENCE_SECONDS)
            for deliberation_id in {w.deliberation_id for w in self._who.values()}:
                self._mark_presence(deliberation_id)

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        await self.media.close()
        await self.fanout.close()
        await self._board.close()


def _session_token(environ: dict[str, Any]) -> str | None:
    morsel = SimpleCookie(environ.get("HTTP_COOKIE", "")).get(SESSION_COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


def _int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{name} must be a number.", fields={name: "Required."})
    return value


def _error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message, "fields": {}}}
