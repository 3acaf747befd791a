"""Group commit: concurrent writers of the same kind share one transaction.

Under load, most of a small write's cost is the transaction around it (begin, a round
trip per statement, commit, and on SQLite the single writer lock). A ``GroupCommit``
queues items and a single flusher writes everything queued so far in one transaction,
so N concurrent submissions cost one transaction instead of N. Nothing waits on a
timer: while one batch commits, the next one gathers (as PostgreSQL groups WAL flushes).

If a batch fails, each of its items is retried in a transaction of its own, so a bad
item fails only its own caller and the others still commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.db import Database

T = TypeVar("T")
R = TypeVar("R")

Apply = Callable[[AsyncSession, list[T]], Awaitable[list[R]]]


@dataclass
class _Waiting(Generic[T, R]):
    item: T
    future: asyncio.Future[R] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        db: Database,
        apply: Apply[T, R],
        *,
        on_failure: Callable[[T], None] | None = None,
        max_batch: int = 100,
    ) -> None:
        """``apply(session, items)`` writes the items in the open transaction and returns one
        result per item, in order. It may run more than once for an item (batch, then alone)
        and must not commit. ``on_failure(item)`` cleans up after an item that could not be
        written at all (it runs even if the submitter has gone away)."""
        self._db = db
        self._apply = apply
        self._on_failure = on_failure
        self._max_batch = max_batch
        self._queue: list[_Waiting[T, R]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Write ``item`` and return its result once its transaction has committed.

        Cancelling the caller does not cancel the write: once submitted, the item is
        written or handed to ``on_failure``."""
        waiting: _Waiting[T, R] = _Waiting(item)
        self._queue.append(waiting)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(waiting.future)

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            try:
                async with self._db.write() as session:
                    results = await self._apply(session, [w.item for w in batch])
            except Exception:
                for waiting in batch:
                    await self._alone(waiting)
                continue
            for waiting, result in zip(batch, results, strict=True):
                if not waiting.future.done():
                    waiting.future.set_result(result)

    async def _alone(self, waiting: _Waiting[T, R]) -> None:
        try:
            async with self._db.write() as session:
                [result] = await self._apply(session, [waiting.item])
        except Exception as exc:
            if self._on_failure is not None:
                self._on_failure(waiting.item)
            if not waiting.future.done():
                waiting.future.set_exception(exc)
        else:
            if not waiting.future.done():
                waiting.future.set_result(result)
