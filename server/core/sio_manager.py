"""socket.io client managers whose room broadcasts cost one encode and no task per recipient.

python-socketio's ``AsyncManager.emit`` encodes a broadcast once, then creates one asyncio
task per recipient and waits for them all. Handing a packet to an engine.io socket never
blocks (it is a put on an unbounded queue), so those tasks buy nothing, and with thousands
of viewers in a live room they are most of the cost of a broadcast: a batch to 3,000
viewers spent more time creating and scheduling tasks than sending. These managers hand
the packet to each socket in turn instead. Emits with an ack callback (one id per
recipient) keep the upstream path.

Upstream's tasks also meant that one recipient's failure never stopped the others; here
a failure is logged and the loop goes on.

The recipients are read before the first send: a send can close a socket whose pings
stopped, and closing leaves its rooms while the loop would still be walking them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet

logger = logging.getLogger(__name__)


class DirectEmitManager(socketio.AsyncManager):  # type: ignore[misc]
    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:
            await super().emit(
                event,
                data,
                namespace,
                room=room,
                skip_sid=skip_sid,
                callback=callback,
                to=to,
                **kwargs,
            )
            return
        room = to or room
        if namespace not in self.rooms:
            return
        if isinstance(data, tuple):
            args = list(data)
        elif data is not None:
            args = [data]
        else:
            args = []
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        recipients = [
            eio_sid for sid, eio_sid in self.get_participants(namespace, room) if sid not in skip
        ]
        if not recipients:
            return
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        frames = [
            eio_packet.Packet(eio_packet.MESSAGE, p)
            for p in (encoded if isinstance(encoded, list) else [encoded])
        ]
        send = self.server._send_eio_packet
        for eio_sid in recipients:
            try:
                for frame in frames:
                    await send(eio_sid, frame)
            except Exception:  # one broken socket must not cost the others their packet
                logger.exception("broadcast %r to %s failed", event, eio_sid)

    async def close(self) -> None:
        """Nothing to release in process; the Redis manager stops its listener."""


class DirectEmitRedisManager(socketio.AsyncRedisManager, DirectEmitManager):  # type: ignore[misc]
    """The Redis manager, delivering what it receives with ``DirectEmitManager.emit``.

    ``AsyncPubSubManager.emit`` publishes; the listener's ``_handle_emit`` then calls
    ``super().emit``, which in this class's order is ``DirectEmitManager.emit``."""

    async def close(self) -> None:
        """Stop the listener and close the Redis connections (on app cleanup)."""
        thread = getattr(self, "thread", None)
        if thread is not None and not thread.done():
            thread.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await thread
        if self.pubsub is not None:
            await self.pubsub.aclose()
        if self.redis is not None:
            await self.redis.aclose()
