"""Media through the live room: the host console and an admitted guest join by WebRTC over
``/live`` signalling (real server, real socket.io clients, real aiortc peers on loopback)."""

# The live-room fixtures are imported from test_live, so test arguments shadow them.
# ruff: noqa: F811
from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aiortc import RTCSessionDescription

from server.app import create_app
from server.core.clock import FakeClock
from server.core.context import Context
from server.deliberations import live_media
from server.deliberations.actions import recordings, schedule
from server.settings import Settings
from tests.deliberations.live_helpers import LiveClient, Session, live_session
from tests.deliberations.test_live import (  # noqa: F401 (fixtures)
    DEVICE_A,
    city,
    clients,
    ctx,
    host,
    invite,
    new_client,
    server,
    settings,
    viewer,
)
from tests.factories import City
from tests.signaling.peers import Participant, close_to, eventually

RED, GREEN = (220, 30, 30), (30, 200, 30)
ROOT = Path(__file__).resolve().parents[2]


class OnVideo:
    """A page on video: its /live client and its peer, slots routed from ``media`` events."""

    def __init__(self, client: LiveClient, key: str, rgb: tuple[int, int, int]) -> None:
        self.client = client
        self.peer = Participant(key, rgb, 440, slots=2)

        @client.sio.on("media", namespace="/live")
        async def _media(data: dict[str, Any]) -> None:
            client.received.append(("media", data))
            if data.get("op") == "slots":
                self.peer.slots = data["slots"]

    async def offer(self) -> dict[str, Any]:
        offer = await self.peer.pc.createOffer()
        await self.peer.pc.setLocalDescription(offer)
        ack = await self.client.call("media", "offer", sdp=self.peer.pc.localDescription.sdp)
        if ack["ok"]:
            await self.peer.pc.setRemoteDescription(RTCSessionDescription(ack["answer"], "answer"))
        return ack

    async def close(self) -> None:
        await self.peer.close()


async def admitted_guest(
    ctx: Context, server: TestServer, session: Session, staff: LiveClient, new_client: Any
) -> tuple[LiveClient, int, str]:
    invitation_id, token = await invite(ctx, session)
    guest: LiveClient = new_client()
    await guest.connect(server, session.id, invite=token)
    assert (await staff.call("lobby", "admit", id=invitation_id))["ok"]
    await guest.wait_for(lambda: guest.events("lobby", "admitted"))
    await guest.sync()
    return guest, invitation_id, token


@pytest.fixture
async def pages() -> Any:
    made: list[OnVideo] = []
    yield made
    for p in made:
        await p.close()


async def test_host_and_guest_see_each_other_and_the_session_sees_who_is_on_video(
    ctx: Context, city: City, server: TestServer, new_client: Any, pages: list[OnVideo]
) -> None:
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    snapshot = await staff.sync()
    assert snapshot["media"]["config"] == {"ice_servers": [], "slots": 9}
    watcher = await viewer(new_client, server, session, DEVICE_A)
    assert "config" not in (await watcher.sync())["media"]  # viewers get no peer
    guest, invitation_id, _ = await admitted_guest(ctx, server, session, staff, new_client)

    room_cam = OnVideo(staff, f"staff:{session.host.user_id}", RED)
    remote = OnVideo(guest, f"guest:{invitation_id}", GREEN)
    pages += [room_cam, remote]
    assert (await room_cam.offer())["participant"] == room_cam.peer.id
    assert (await remote.offer())["ok"]
    await eventually(lambda: room_cam.peer.received(remote.peer.id, "video") >= 3)
    await eventually(lambda: remote.peer.received(room_cam.peer.id, "video") >= 3)
    assert close_to(room_cam.peer.colour_from(remote.peer.id), GREEN)
    assert close_to(remote.peer.colour_from(room_cam.peer.id), RED)
    status = await watcher.wait_for(
        lambda: [
            e
            for e in watcher.events("media", "status")
            if {p["id"] for p in e["participants"]} == {room_cam.peer.id, remote.peer.id}
        ]
    )
    guest_entry = next(p for p in status[-1]["participants"] if p["id"] == remote.peer.id)
    assert guest_entry["name"] == "王局长" and guest_entry["role"] == "部门负责人"

    # The floor drives the spotlight; the host mutes and unmutes the guest.
    raised = await guest.call("queue", "raise")
    await staff.call("queue", "give", id=raised["queue"][0]["id"], seconds=120)
    await watcher.wait_for(
        lambda: any(e["spotlight"] == remote.peer.id for e in watcher.events("media", "status"))
    )
    assert (await staff.call("media", "mute", participant=remote.peer.id, muted=True))["ok"]
    await guest.wait_for(lambda: guest.events("media", "muted"))
    assert (await guest.call("media", "mute", participant=room_cam.peer.id, muted=True))["error"][
        "code"
    ] == "forbidden"


async def test_who_may_not_join_or_sends_garbage_gets_an_error_ack_and_changes_nothing(
    ctx: Context, city: City, server: TestServer, new_client: Any, pages: list[OnVideo]
) -> None:
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    watcher = await viewer(new_client, server, session, DEVICE_A)
    peek = OnVideo(watcher, "viewer", RED)
    pages.append(peek)
    assert (await peek.offer())["error"]["code"] == "forbidden"

    invitation_id, token = await invite(ctx, session)
    waiting: LiveClient = new_client()
    await waiting.connect(server, session.id, invite=token)
    lobby = OnVideo(waiting, f"guest:{invitation_id}", GREEN)
    pages.append(lobby)
    assert (await lobby.offer())["error"]["code"] == "forbidden"  # still in the lobby

    cases = [
        ({"sdp": "not sdp"}, "bad_sdp"),
        ({"sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"}, "bad_sdp"),
        ({"sdp": "v=0" + "x" * 61_000}, "bad_sdp"),  # longer than any real offer
        ({"sdp": "v=0" + "x" * 63_600}, "bad_request"),  # over the media event's cap
    ]
    for data, code in cases:
        ack = await staff.call("media", "offer", **data)
        assert ack["error"]["code"] == code, data
    assert (await staff.call("media", "candidate", candidate="candidate:x", sdpMid="0"))["error"][
        "code"
    ] == "not_joined"
    assert (await staff.call("media", "dance"))["error"]["code"] == "bad_request"
    assert (await staff.sync())["media"]["participants"] == []


async def test_a_guest_who_drops_leaves_the_host_on_video_and_rejoins_on_reconnect(
    ctx: Context, city: City, server: TestServer, new_client: Any, pages: list[OnVideo]
) -> None:
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    guest, invitation_id, token = await admitted_guest(ctx, server, session, staff, new_client)
    room_cam = OnVideo(staff, f"staff:{session.host.user_id}", RED)
    remote = OnVideo(guest, f"guest:{invitation_id}", GREEN)
    pages += [room_cam, remote]
    await room_cam.offer()
    await remote.offer()
    await eventually(lambda: room_cam.peer.received(remote.peer.id, "video") >= 3)

    await guest.close()  # the guest's network drops
    await staff.wait_for(
        lambda: any(
            [p["id"] for p in e["participants"]] == [room_cam.peer.id]
            for e in staff.events("media", "status")
        )
    )
    await eventually(lambda: room_cam.peer.slots == {})

    again: LiveClient = new_client()  # the page reconnects with the same link
    await again.connect(server, session.id, invite=token)
    await again.sync()
    back = OnVideo(again, remote.peer.id, (30, 30, 220))
    pages.append(back)
    assert (await back.offer())["ok"]
    await eventually(lambda: room_cam.peer.received(back.peer.id, "video") >= 3)


async def test_ending_the_session_closes_every_peer(
    ctx: Context,
    city: City,
    server: TestServer,
    new_client: Any,
    pages: list[OnVideo],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_media, "SWEEP_SECONDS", 0.1)
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    room_cam = OnVideo(staff, f"staff:{session.host.user_id}", RED)
    pages.append(room_cam)
    await room_cam.offer()
    await eventually(lambda: room_cam.peer.pc.connectionState == "connected")
    await schedule.end(ctx, session.host, session.id)
    await eventually(lambda: room_cam.peer.pc.connectionState in ("closed", "failed"), 20)
    late = OnVideo(staff, room_cam.peer.id, RED)
    pages.append(late)
    assert (await late.offer())["error"]["code"] == "invalid_transition"


async def test_the_host_goes_live_and_records_and_the_end_attaches_the_recording(
    ctx: Context,
    city: City,
    server: TestServer,
    new_client: Any,
    pages: list[OnVideo],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_media, "SWEEP_SECONDS", 0.1)
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    watcher = await viewer(new_client, server, session, DEVICE_A)
    guest, invitation_id, _ = await admitted_guest(ctx, server, session, staff, new_client)
    assert (await watcher.call("media", "live", on=True))["error"]["code"] == "forbidden"
    assert (await guest.call("media", "record", on=True))["error"]["code"] == "forbidden"

    room_cam = OnVideo(staff, f"staff:{session.host.user_id}", RED)
    remote = OnVideo(guest, f"guest:{invitation_id}", GREEN)
    pages += [room_cam, remote]
    await room_cam.offer()
    await remote.offer()
    first, second = session.topics
    assert (await staff.call("agenda", "goto", topic_id=first))["ok"]
    on_air = await staff.call("media", "live", on=True)
    assert on_air["ok"] and on_air["media"]["hls"] == f"/media/live/{session.id}/index.m3u8"
    assert (await staff.call("media", "record", on=True))["media"]["recording"]
    status = await watcher.wait_for(
        lambda: [e for e in watcher.events("media", "status") if e["live"] and e["recording"]]
    )
    hls = status[-1]["hls"]

    # The playlist appears, uncached; its segments are served as immutable fMP4.
    async with aiohttp.ClientSession() as client:
        playlist = ""
        for _ in range(100):
            async with client.get(server.make_url(hls)) as response:
                if response.status == 200:
                    playlist = await response.text()
                    assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
                    assert "no-cache" in response.headers["Cache-Control"]
                    if playlist.count("#EXTINF") >= 2:
                        break
            await asyncio.sleep(0.1)
        assert playlist.count("#EXTINF") >= 2, playlist
        segment = next(line for line in playlist.splitlines() if line and not line.startswith("#"))
        async with client.get(server.make_url(hls.rsplit("/", 1)[0] + "/" + segment)) as response:
            assert response.status == 200
            assert "immutable" in response.headers["Cache-Control"]
        for bad in ("../secret_key", "index.m3u8.bak", "x" * 70 + ".m4s"):
            async with client.get(server.make_url(f"/media/live/{session.id}/{bad}")) as response:
                assert response.status == 404, bad

    await asyncio.sleep(1.2)
    assert (await staff.call("agenda", "goto", topic_id=second))["ok"]
    # The guest's network drops mid-session: the stream and the recording go on.
    await guest.close()
    await staff.wait_for(
        lambda: any(
            len(e["participants"]) == 1 and e["live"] and e["recording"]
            for e in staff.events("media", "status")
        )
    )
    await asyncio.sleep(1.2)
    assert (await staff.sync())["media"]["recording"]
    await schedule.end(ctx, session.host, session.id)
    found = None
    for _ in range(200):
        found = await recordings.of_deliberation(ctx, session.id)
        if found is not None:
            break
        await asyncio.sleep(0.1)
    assert found is not None, "the recording was not attached"
    assert found.duration is not None and found.duration >= 2.0
    assert set(found.streams) == {"video:h264", "audio:aac"}
    assert [c.topic_id for c in found.chapters] == [first, second]
    assert found.chapters[0].start < found.chapters[1].start
    # Each topic links to its own chapter; the file is served with range requests.
    links = await recordings.for_topic(ctx, second)
    assert links[0]["page"].startswith(f"/recordings/{found.id}?t=")
    number = (await schedule.agenda(ctx, session.id))[1].number
    async with aiohttp.ClientSession() as client:
        async with client.get(server.make_url(f"/api/topics/{number}/deliberations")) as response:
            listed = (await response.json())["deliberations"]
    assert [d["recording"] for d in listed] == [links[0]["page"]]  # the tracking page's link
    async with aiohttp.ClientSession() as client:
        async with client.get(server.make_url(f"/api/recordings/{found.id}")) as response:
            assert (await response.json())["chapters"][1]["topic_id"] == second
        url = server.make_url(f"/media/recordings/{found.id}.mp4")
        async with client.get(url, headers={"Range": "bytes=0-99"}) as response:
            assert response.status == 206 and len(await response.read()) == 100
        async with client.get(server.make_url(f"/recordings/{found.id}?t=3")) as response:
            page = await response.text()
            assert response.status == 200 and 'data-start="3"' in page


async def test_a_recording_left_by_a_killed_server_is_finalised_at_the_next_start(
    ctx: Context, city: City, settings: Settings, clock: FakeClock, aiohttp_server: Any
) -> None:
    session = await live_session(ctx, city)
    directory = settings.recordings_dir / str(session.id)
    await recordings.started(ctx, session.id, str(session.id), clock.now())
    child = await asyncio.create_subprocess_exec(  # a server recording it, then killed
        sys.executable,
        "-m",
        "tests.signaling.pipeline_child",
        str(directory),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        assert (await child.stdout.readline()).strip() == b"recording"
        await asyncio.sleep(2.5)
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert await recordings.unfinished(ctx) == [(session.id, str(session.id))]

    # While the session is live a restart leaves the recording to go on; once it has
    # ended, the next start finalises it with its chapters.
    await aiohttp_server(create_app(settings, clock=clock))
    assert await recordings.unfinished(ctx) == [(session.id, str(session.id))]
    await schedule.end(ctx, session.host, session.id)
    await aiohttp_server(create_app(settings, clock=clock))
    found = await recordings.of_deliberation(ctx, session.id)
    assert found is not None and found.duration is not None and found.duration > 1.0
    assert [c.title for c in found.chapters] == ["开场", "议题一"]
    assert (directory / "recording.mp4").is_file()
