"""Hooks: what a lower feature lets a higher one add to its transactions.

The topics feature sits below outcomes (outcomes read topics, never the reverse), yet a
handler resolving a one-person topic must record that topic's outcome in the same
transaction. Topics calls the hooks installed here; outcomes installs its own at start
(``server.outcomes.actions.install``). Hooks run inside the caller's write transaction:
an exception rolls the whole move back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class TopicResolved:
    """A topic was just resolved (办结), in the open transaction."""

    topic_id: int
    unit_id: int | None
    result: str  # the resolution note the submitter reads
    event_id: int
    actor_id: int | None
    at: datetime


TopicResolvedHook = Callable[[AsyncSession, TopicResolved], Awaitable[None]]


@dataclass(slots=True)
class Hooks:
    topic_resolved: list[TopicResolvedHook] = field(default_factory=list)

    async def resolved(self, session: AsyncSession, event: TopicResolved) -> None:
        for hook in self.topic_resolved:
            await hook(session, event)
