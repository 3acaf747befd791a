"""A small time-bounded cache for rows that are read on every request and rarely change."""

from __future__ import annotations

from typing import Generic, TypeVar

from server.core.clock import Clock

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Entries live ``seconds`` (by the injected clock); ``clear()`` drops them at once.

    Writers in this process clear it when they change what it holds; other processes
    see a change after at most ``seconds``.
    """

    def __init__(self, clock: Clock, *, seconds: float, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._seconds = seconds
        self._max = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if self._clock.monotonic() >= expires:
            del self._entries[key]
            return None
        return value

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = (self._clock.monotonic() + self._seconds, value)

    def clear(self) -> None:
        self._entries.clear()
