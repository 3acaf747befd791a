"""Batched fanout: what viewers see often goes out a few times a second, many items a packet.

A live session with thousands of viewers and dozens of comments a second cannot send
one packet per comment per viewer. Handlers ``add`` items (comments), ``count`` things
(reactions) and ``mark`` values to recompute (a poll's tally) for a socket.io room; every
``interval`` one flusher emits a single ``batch`` event per room that had anything, so
the cost is one encode and one send per viewer per tick, whatever the comment rate.
With a Redis manager that one emit is one Redis message, which every process delivers
to its own viewers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from server.core.notifier import Notifier

log = logging.getLogger(__name__)

Loader = Callable[[], Awaitable[Any]]
Listener = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass
class _Pending:
    items: dict[str, list[Any]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    loaders: dict[str, Loader] = field(default_factory=dict)

    def empty(self) -> bool:
        return not (self.items or self.counts or self.loaders)


class Fanout:
    def __init__(
        self,
        notifier: Notifier,
        *,
        namespace: str,
        interval: float,
        event: str = "batch",
        max_items: int = 500,
    ) -> None:
        self._notifier = notifier
        self._namespace = namespace
        self._interval = interval
        self._event = event
        self._max_items = max_items
        self._pending: dict[str, _Pending] = {}
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []
        self.sent = 0  # batches emitted, for tests and the benchmark

    def on_flush(self, listener: Listener) -> None:
        """``listener(room, batch)`` runs after each batch is sent (e.g. to persist counts)."""
        self._listeners.append(listener)

    def add(self, room: str, key: str, item: Any) -> None:
        items = self._pending.setdefault(room, _Pending()).items.setdefault(key, [])
        if len(items) >= self._max_items:  # a flood waits for the next tick, in order
            items.pop(0)
            log.warning(
                "fanout: %s %s over %d items in one tick; oldest dropped",
                room,
                key,
                self._max_items,
            )
        items.append(item)
        self._wake()

    def count(self, room: str, key: str, name: str, n: int = 1) -> None:
        counts = self._pending.setdefault(room, _Pending()).counts.setdefault(key, {})
        counts[name] = counts.get(name, 0) + n
        self._wake()

    def mark(self, room: str, key: str, loader: Loader) -> None:
        """Recompute ``key`` with ``loader()`` at the next flush (once, however often marked)."""
        self._pending.setdefault(room, _Pending()).loaders[key] = loader
        self._wake()

    def _wake(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        # Wait one interval so a burst gathers, flush, and stop when there is nothing left.
        # Ticks keep their cadence: the time a flush takes comes out of the next wait.
        loop = asyncio.get_running_loop()
        due = loop.time() + self._interval
        while self._pending:
            await asyncio.sleep(max(0.0, due - loop.time()))
            await self.flush()
            due = max(due + self._interval, loop.time())

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for room, p in pending.items():
            if p.empty():
                continue
            batch: dict[str, Any] = {"type": self._event, "op": "update"}
            batch.update(p.items)
            batch.update(p.counts)
            for key, loader in p.loaders.items():
                try:
                    batch[key] = await loader()
                except Exception:
                    log.exception("fanout: computing %s for %s failed", key, room)
            try:
                await self._notifier.emit(
                    self._event, batch, namespace=self._namespace, rooms=[room]
                )
                self.sent += 1
            except Exception:
                log.exception("fanout: sending to %s failed", room)
                continue
            for listener in self._listeners:
                try:
                    await listener(room, batch)
                except Exception:
                    log.exception("fanout: after-flush listener failed for %s", room)

    async def close(self) -> None:
        """Send what is pending and stop."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
