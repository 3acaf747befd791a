"""Batched fanout: many items per packet, one packet per room per tick."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.core.fanout import Fanout
from server.core.notifier import RecordingNotifier


async def test_items_counts_and_loaders_go_out_in_one_batch_per_room() -> None:
    notifier = RecordingNotifier()
    fanout = Fanout(notifier, namespace="/live", interval=0.05)
    loads = 0

    async def tally() -> dict[str, int]:
        nonlocal loads
        loads += 1
        return {"ballots": 3}

    for i in range(40):
        fanout.add("deliberation:1", "comments", {"id": i})
    fanout.count("deliberation:1", "reactions", "applause")
    fanout.count("deliberation:1", "reactions", "applause", 2)
    fanout.count("deliberation:1", "reactions", "like")
    for _ in range(10):
        fanout.mark("deliberation:1", "tally", tally)
    fanout.add("deliberation:2", "comments", {"id": 99})
    assert notifier.sent == []  # nothing goes out before the tick
    await asyncio.sleep(0.15)

    by_room = {e.rooms[0]: e for e in notifier.sent}
    assert len(notifier.sent) == 2 and set(by_room) == {"deliberation:1", "deliberation:2"}
    one = by_room["deliberation:1"]
    assert one.event == "batch" and one.namespace == "/live"
    assert [c["id"] for c in one.payload["comments"]] == list(range(40))  # in order
    assert one.payload["reactions"] == {"applause": 3, "like": 1}
    assert one.payload["tally"] == {"ballots": 3} and loads == 1  # computed once
    assert by_room["deliberation:2"].payload["comments"] == [{"id": 99}]
    assert fanout.sent == 2


async def test_a_quiet_fanout_sends_nothing_and_close_flushes_what_is_pending() -> None:
    notifier = RecordingNotifier()
    fanout = Fanout(notifier, namespace="/live", interval=10)
    await asyncio.sleep(0.05)
    assert notifier.sent == []
    fanout.add("deliberation:1", "comments", {"id": 1})
    await fanout.close()
    assert [e.payload["comments"] for e in notifier.sent] == [[{"id": 1}]]


async def test_a_flood_keeps_the_newest_items_and_a_failing_loader_spares_the_rest() -> None:
    notifier = RecordingNotifier()
    fanout = Fanout(notifier, namespace="/live", interval=10, max_items=5)

    async def broken() -> int:
        raise RuntimeError("db down")

    for i in range(12):
        fanout.add("r", "comments", i)
    fanout.mark("r", "tally", broken)
    await fanout.flush()
    [batch] = notifier.sent
    assert batch.payload["comments"] == [7, 8, 9, 10, 11]
    assert "tally" not in batch.payload


async def test_listeners_see_each_sent_batch() -> None:
    notifier = RecordingNotifier()
    fanout = Fanout(notifier, namespace="/live", interval=10)
    seen: list[tuple[str, dict[str, object]]] = []

    async def listener(room: str, batch: dict[str, object]) -> None:
        seen.append((room, batch))

    fanout.on_flush(listener)
    fanout.count("r", "reactions", "heart")
    await fanout.flush()
    assert seen == [("r", {"type": "batch", "op": "update", "reactions": {"heart": 1}})]


async def test_a_slow_flush_comes_out_of_the_next_wait_not_on_top_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Recorded: every sleep the fanout asks for. A flush that takes 60 ms of a 100 ms tick
    # leaves at most 40 ms (plus scheduling slack) to wait before the next one; a fanout
    # that slept a full interval after every flush would fall behind under load.
    real_sleep = asyncio.sleep
    waits: list[float] = []

    class SlowNotifier(RecordingNotifier):
        async def emit(self, *args: Any, **kwargs: Any) -> None:
            await real_sleep(0.06)
            await super().emit(*args, **kwargs)

    async def recording_sleep(delay: float, *args: Any) -> Any:
        waits.append(delay)
        return await real_sleep(delay, *args)

    notifier = SlowNotifier()
    fanout = Fanout(notifier, namespace="/live", interval=0.1)
    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    for i in range(12):  # never empty for long, so the flusher keeps ticking
        fanout.add("deliberation:1", "comments", {"id": i})
        await real_sleep(0.03)
    await real_sleep(0.3)
    assert len(notifier.sent) >= 3
    assert [c["id"] for e in notifier.sent for c in e.payload["comments"]] == list(range(12))
    assert 0.09 <= waits[0] <= 0.1  # the first wait gathers a burst
    assert all(w <= 0.055 for w in waits[1:]), waits
