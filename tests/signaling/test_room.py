"""The media room with real aiortc peers on loopback: everyone sees and hears everyone else,
forwarded without re-encoding, and a bad peer or a stalled one harms nobody else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from signaling import _aiortc
from signaling.forwarding import ForwardTrack
from signaling.messages import Candidate, MessageError
from signaling.room import MediaRoom
from tests.signaling.peers import Participant, close_to, events_into, eventually

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)


@pytest.fixture
async def people() -> AsyncIterator[dict[str, Participant]]:
    made: dict[str, Participant] = {}
    yield made
    for p in made.values():
        await p.close()


@pytest.fixture
async def room(people: dict[str, Participant]) -> AsyncIterator[MediaRoom]:
    r = MediaRoom(on_event=events_into(people))
    yield r
    await r.close()


async def test_each_participant_sees_and_hears_every_other_and_not_themselves(
    room: MediaRoom, people: dict[str, Participant]
) -> None:
    for pid, colour, hz in (("host", RED, 440), ("g1", GREEN, 660), ("g2", BLUE, 880)):
        people[pid] = Participant(pid, colour, hz)
        await people[pid].join(room)
    colours = {"host": RED, "g1": GREEN, "g2": BLUE}

    def everyone_has_everyone() -> bool:
        return all(
            p.received(other, "video") >= 5 and p.received(other, "audio") >= 10
            for p in people.values()
            for other in people
            if other != p.id
        )

    await eventually(everyone_has_everyone)
    for p in people.values():
        assert {s["participant"] for s in p.slots.values()} == set(people) - {p.id}
        for other in set(people) - {p.id}:
            assert close_to(p.colour_from(other), colours[other]), (p.id, other)
    stats = await room.stats()
    assert all(s["forwarded"] > 0 for s in stats.values())


async def test_a_leaver_frees_the_slot_and_a_rejoiner_gets_media_again(
    room: MediaRoom, people: dict[str, Participant]
) -> None:
    for pid, colour in (("host", RED), ("g1", GREEN)):
        people[pid] = Participant(pid, colour, 440)
        await people[pid].join(room)
    await eventually(lambda: people["host"].received("g1", "video") >= 3)

    assert await room.leave("g1")
    await eventually(lambda: people["host"].slots == {})
    assert room.participants == ["host"]
    await people.pop("g1").close()

    people["g1"] = Participant("g1", BLUE, 440)  # the guest's page reconnects
    await people["g1"].join(room)
    await eventually(lambda: people["host"].mid_of("g1", "video") is not None)
    await eventually(lambda: close_to(people["host"].colour_from("g1"), BLUE))
    assert not await room.leave("nobody")


async def test_a_second_offer_from_the_same_participant_replaces_its_peer(
    room: MediaRoom, people: dict[str, Participant]
) -> None:
    people["host"] = Participant("host", RED, 440)
    await people["host"].join(room)
    first = Participant("g1", GREEN, 440)
    await first.join(room)
    people["g1"] = Participant("g1", BLUE, 440)
    await people["g1"].join(room)
    await first.close()
    await eventually(lambda: people["host"].received("g1", "video") >= 3)
    await eventually(lambda: close_to(people["host"].colour_from("g1"), BLUE))
    assert room.participants == ["host", "g1"]


async def test_a_muted_participant_is_not_heard_but_still_seen(
    room: MediaRoom, people: dict[str, Participant]
) -> None:
    for pid in ("host", "g1"):
        people[pid] = Participant(pid, RED, 440)
        await people[pid].join(room)
    await eventually(lambda: people["host"].received("g1", "audio") >= 10)
    room.mute("g1", True)
    heard = people["host"].received("g1", "audio")
    seen = people["host"].received("g1", "video")
    await eventually(lambda: people["host"].received("g1", "video") >= seen + 15)
    assert people["host"].received("g1", "audio") <= heard + 5  # what was in flight
    room.mute("g1", False)
    await eventually(lambda: people["host"].received("g1", "audio") >= heard + 20)
    with pytest.raises(MessageError):
        room.mute("nobody", True)


@pytest.mark.parametrize(
    ("sdp", "code"),
    [
        ("v=0\r\nthis is not sdp", "bad_sdp"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "bad_sdp"),
    ],
)
async def test_a_malformed_offer_is_refused_and_leaves_nothing(
    room: MediaRoom, sdp: str, code: str
) -> None:
    with pytest.raises(MessageError) as caught:
        await room.join("g1", "g1", "guest", sdp)
    assert caught.value.code == code
    assert room.participants == []


async def test_an_offer_without_vp8_is_refused_and_closes_only_that_peer(
    room: MediaRoom, people: dict[str, Participant]
) -> None:
    people["host"] = Participant("host", RED, 440)
    await people["host"].join(room)
    bad = Participant("g1", GREEN, 440)
    offer = await bad.pc.createOffer()
    await bad.pc.setLocalDescription(offer)
    sdp = "\r\n".join(
        line
        for line in bad.pc.localDescription.sdp.split("\r\n")
        if "VP8" not in line  # strip VP8's rtpmap: the m-line still lists the type
    )
    with pytest.raises(MessageError) as caught:
        await room.join("g1", "g1", "guest", sdp)
    assert caught.value.code == "bad_sdp"
    await bad.close()
    assert room.participants == ["host"]
    people["g2"] = Participant("g2", BLUE, 440)
    await people["g2"].join(room)
    await eventually(lambda: people["host"].received("g2", "video") >= 3)


async def test_bad_candidates_get_a_clear_error(
    room: MediaRoom, people: dict[str, Participant]
) -> None:
    with pytest.raises(MessageError) as caught:
        await room.candidate("g1", Candidate("candidate:1 1 udp 1 1.2.3.4 5 typ host", "0", 0))
    assert caught.value.code == "not_joined"
    people["g1"] = Participant("g1", RED, 440)
    await people["g1"].join(room)
    with pytest.raises(MessageError) as caught:
        await room.candidate("g1", Candidate("candidate:garbage", "0", 0))
    assert caught.value.code == "bad_candidate"
    await room.candidate("g1", Candidate("", None, None))  # end of candidates: accepted
    assert room.participants == ["g1"]


async def test_a_closed_room_refuses_offers(room: MediaRoom) -> None:
    await room.close()
    with pytest.raises(MessageError) as caught:
        await room.join("g1", "g1", "guest", "v=0\r\n")
    assert caught.value.code == "gone"


def test_a_stalled_subscriber_drops_to_the_next_keyframe_and_audio_drops_oldest() -> None:
    asked: list[str] = []
    video = ForwardTrack("video", max_queued=3)
    video.attach("g1", lambda: asked.append("pli"))
    assert asked == ["pli"]  # a new subscriber starts with a keyframe
    video.push(b"\x01delta", 0)  # not a keyframe: nothing to decode from yet
    assert video.dropped == 1
    for i in range(3):
        video.push(b"\x00key" if i == 0 else b"\x01delta", 3000 * (i + 1))
    video.push(b"\x01delta", 12000)  # the subscriber has not read: a backlog
    assert video.dropped == 5 and asked == ["pli", "pli"]
    video.push(b"\x01delta", 15000)  # still waiting for a keyframe
    video.push(b"\x00key", 18000)
    assert video.dropped == 6

    audio = ForwardTrack("audio", max_queued=2)
    audio.attach("g1", lambda: None)
    for i in range(4):
        audio.push(bytes([i]), 960 * i)
    assert audio.dropped == 2
    assert [bytes(p) for p in audio._queue] == [b"\x02", b"\x03"]


def test_a_slot_keeps_counting_forward_when_its_source_changes() -> None:
    track = ForwardTrack("audio")
    track.attach("g1", lambda: None)
    track.push(b"a", 50_000)
    track.push(b"b", 50_960)
    before: list[Any] = [p.pts for p in track._queue]
    assert before == [0, 960]
    track.attach("g2", lambda: None)
    track.push(b"c", 10)  # another source's clock starts elsewhere
    track.push(b"d", 970)
    assert [p.pts for p in track._queue] == [1920, 2880]  # after g1's last, one step on


def test_the_aiortc_internals_forwarding_relies_on_are_there() -> None:
    _aiortc.check()  # fails loudly, naming what moved, after an aiortc upgrade


async def test_a_stalled_subscriber_does_not_hold_up_the_others(
    room: MediaRoom, people: dict[str, Participant]
) -> None:
    for pid, colour in (("host", RED), ("g1", GREEN), ("g2", BLUE)):
        people[pid] = Participant(pid, colour, 440)
        await people[pid].join(room)
    await eventually(lambda: people["g2"].received("g1", "video") >= 5)

    # The host's network stalls: its slot carrying g1's video is no longer read.
    stalled = room._participants["host"].slot_of("g1")
    assert stalled is not None
    never = asyncio.Event()

    async def stuck() -> Any:
        await never.wait()

    stalled.video.recv = stuck  # type: ignore[method-assign]
    seen = people["g2"].received("g1", "video")
    await asyncio.sleep(2.0)
    # g2 still gets g1's video at the full rate; the stalled queue stays bounded.
    assert people["g2"].received("g1", "video") - seen >= 40
    assert len(stalled.video._queue) <= 30
    assert stalled.video.dropped > 0
    never.set()
