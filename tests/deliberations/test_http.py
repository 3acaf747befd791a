"""Sessions over HTTP: the staff API and pages, the public pages and API, sign-up and
check-in, invitations; every refusal with its status and named fields."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Role
from server.core.clock import LOCAL_TZ, FakeClock
from server.topics import actions as topics
from tests.deliberations.helpers import county_dispatcher, key_topics, to_town
from tests.factories import City, make_staff
from tests.http_helpers import Staff, ctx_of, login, staff

BASE = "/api/staff/deliberations"


async def error_of(response: aiohttp.ClientResponse) -> dict[str, Any]:
    error: dict[str, Any] = (await response.json())["error"]
    return error


def local(clock: FakeClock, days: int, hours: int = 0) -> str:
    """A time as the form sends it: Beijing time, no zone."""
    return (
        (clock.now() + timedelta(days=days, hours=hours))
        .astimezone(LOCAL_TZ)
        .strftime("%Y-%m-%dT%H:%M")
    )


def body(city: City, clock: FakeClock, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "room_id": city.room.id,
        "title": "加装电梯协商议事会",
        "description": "议一议加装电梯的费用怎么分摊",
        "place": "党群服务中心二楼",
        "starts_at": local(clock, 3),
        "ends_at": local(clock, 3, 2),
        "capacity": 2,
        "moderation": "post",
        "host_name": "王室长",
        "moderators": "",
    }
    values.update(overrides)
    return values


async def host_with_topics(
    client: TestClient[Any, Any], city: City, n: int = 2
) -> tuple[Staff, list[int], list[str]]:
    ctx = ctx_of(client)
    dispatcher = await county_dispatcher(ctx, city)
    ids = await key_topics(ctx, city, dispatcher, n)
    numbers = [(await topics.topic_detail(ctx, dispatcher, i)).topic.number for i in ids]
    return await login(client, "dispatcher"), ids, numbers


async def announced_over_http(
    client: TestClient[Any, Any], city: City, clock: FakeClock, **overrides: Any
) -> tuple[Staff, dict[str, Any], list[str]]:
    host, _ids, numbers = await host_with_topics(client, city)
    created = await host.post(BASE, json=body(city, clock, agenda=numbers, **overrides))
    assert created.status == 201, await created.text()
    data = await created.json()
    moved = await host.post(f"{BASE}/{data['id']}/moves", json={"to": "announced", "version": 1})
    assert moved.status == 200, await moved.text()
    return host, await moved.json(), numbers


async def test_a_host_schedules_announces_and_runs_a_session(
    client: TestClient[Any, Any], city: City, resident: aiohttp.ClientSession, clock: FakeClock
) -> None:
    host, ids, numbers = await host_with_topics(client, city)
    created = await host.post(BASE, json=body(city, clock, agenda=[numbers[1]]))
    assert created.status == 201, await created.text()
    session = await created.json()
    sid = session["id"]
    assert session["status"] == "draft" and session["moves"] == ["announced", "cancelled"]
    assert session["starts_at"] == (clock.now() + timedelta(days=3)).replace(second=0).isoformat()
    edited = await host.patch(
        f"{BASE}/{sid}", json={**body(city, clock, capacity=40), "version": 1}
    )
    assert edited.status == 200 and (await edited.json())["capacity"] == 40
    agenda = await host.session.put(
        host.url(f"{BASE}/{sid}/agenda"),
        json={"version": 2, "agenda": [numbers[0], ids[1]]},
        headers={"X-CSRF-Token": host.csrf},
    )
    assert agenda.status == 200
    assert [a["number"] for a in (await agenda.json())["agenda"]] == numbers
    looked_up = await host.get(f"/api/staff/agenda-topics?number={numbers[0].lower()}")
    assert (await looked_up.json())["eligible"] is True
    page = await (await host.get(f"/staff/deliberations/{sid}")).text()
    assert "加装电梯协商议事会" in page and 'id="agenda-form"' in page
    listing = await (await host.get("/staff/deliberations")).text()
    assert f'href="/staff/deliberations/{sid}"' in listing and numbers[0] in listing
    assert (await resident.get(f"/d/{sid}")).status == 404  # a draft is not public

    announced = await host.post(f"{BASE}/{sid}/moves", json={"to": "announced", "version": 3})
    assert announced.status == 200
    detail = await (await host.get(f"/api/staff/topics/{ids[0]}")).json()
    assert detail["status"] == "scheduled"
    public_page = await resident.get(f"/d/{sid}")
    text = await public_page.text()
    assert public_page.status == 200 and 'id="signup-form"' in text and numbers[1] in text
    assert f'href="/d/{sid}.ics"' in text and "/watch/" not in text
    listed = await (await resident.get("/api/deliberations")).json()
    assert [d["id"] for d in listed["deliberations"]] == [sid] and listed["total"] == 1
    item = listed["deliberations"][0]
    assert item["seats_left"] == 40 and item["url"] == f"http://msy.example.cn/d/{sid}"
    assert [a["number"] for a in item["agenda"]] == numbers
    room = await (await resident.get(f"/api/rooms/{city.room.code}/deliberations")).json()
    assert [d["id"] for d in room["deliberations"]] == [sid]
    other_room = await resident.get(f"/api/rooms/{city.other_room.code}/deliberations")
    assert (await other_room.json())["deliberations"] == []
    by_topic = await (await resident.get(f"/api/topics/{numbers[0]}/deliberations")).json()
    assert [d["id"] for d in by_topic["deliberations"]] == [sid]
    assert (await resident.get("/api/topics/HA2026-999999/deliberations")).status == 404
    room_page = await (await resident.get(f"/r/{city.room.code}")).text()
    assert f'data-deliberations-src="/api/rooms/{city.room.code}/deliberations"' in room_page
    public_list = await (await resident.get("/deliberations")).text()
    assert f'href="/d/{sid}"' in public_list

    ics = await resident.get(f"/d/{sid}.ics")
    assert ics.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert ics.headers["Content-Disposition"] == f'attachment; filename="deliberation-{sid}.ics"'
    raw = await ics.read()
    assert raw.count(b"\r\n") > 10 and b"\n" not in raw.replace(b"\r\n", b"")
    unfolded = raw.decode().replace("\r\n ", "")
    assert f"UID:deliberation-{sid}@msy.example.cn\r\n" in unfolded
    assert "SEQUENCE:4\r\n" in unfolded and "SUMMARY:加装电梯协商议事会\r\n" in unfolded

    clock.advance(timedelta(days=3))
    host = await login(client, "dispatcher")  # a staff session lasts hours, not days
    live = await host.post(f"{BASE}/{sid}/moves", json={"to": "live"})
    assert live.status == 200, await live.text()
    assert (await live.json())["status"] == "live"
    watch = await (await resident.get(f"/d/{sid}")).text()
    assert f'href="/watch/{sid}"' in watch
    ended = await host.post(f"{BASE}/{sid}/moves", json={"to": "ended"})
    assert (await ended.json())["status"] == "ended"
    detail = await (await host.get(f"/api/staff/topics/{ids[0]}")).json()
    assert detail["status"] == "deliberated"
    past = await (await resident.get("/api/deliberations?when=past")).json()
    assert [d["id"] for d in past["deliberations"]] == [sid]
    tracking_page = await resident.get(f"/api/topics/{numbers[0]}/deliberations")
    assert [d["status"] for d in (await tracking_page.json())["deliberations"]] == ["ended"]


async def test_malformed_requests_get_400_naming_the_fields(
    client: TestClient[Any, Any], city: City, clock: FakeClock
) -> None:
    host, _ids, numbers = await host_with_topics(client, city, 1)
    not_json = await host.post(BASE, data="title=x", headers={"Content-Type": "text/plain"})
    assert not_json.status == 400 and (await error_of(not_json))["code"] == "bad_request"
    broken = await host.post(BASE, data="{", headers={"Content-Type": "application/json"})
    assert broken.status == 400
    array = await host.post(BASE, json=[1, 2])
    assert array.status == 400
    bad = await host.post(
        BASE,
        json=body(city, clock, title=7, capacity="30", starts_at="next tuesday", ends_at=None),
    )
    assert bad.status == 400
    assert set((await error_of(bad))["fields"]) == {"title", "capacity", "starts_at", "ends_at"}
    no_room = await host.post(BASE, json=body(city, clock, room_id="1"))
    assert set((await error_of(no_room))["fields"]) == {"room_id"}
    bad_agenda = await host.post(BASE, json=body(city, clock, agenda="HA2026-000001"))
    assert (await error_of(bad_agenda))["fields"] == {"agenda": "A list."}
    rules = await host.post(BASE, json=body(city, clock, title="", capacity=0, place=""))
    assert set((await error_of(rules))["fields"]) == {"title", "capacity", "place"}
    created = await (await host.post(BASE, json=body(city, clock, agenda=numbers))).json()
    moves = f"{BASE}/{created['id']}/moves"
    unknown = await host.post(moves, json={"to": "postponed"})
    assert (await error_of(unknown))["fields"] == {"to": "Unknown status."}
    published = await host.post(moves, json={"to": "published"})
    assert published.status == 400
    bad_version = await host.post(moves, json={"to": "announced", "version": "1"})
    assert set((await error_of(bad_version))["fields"]) == {"version"}
    checkin = await host.post(f"{BASE}/{created['id']}/checkins", json={"token": 5})
    assert (await error_of(checkin))["fields"] == {"token": "Must be text."}
    invite = await host.post(
        f"{BASE}/{created['id']}/invitations", json={"role": "king", "display_name": ""}
    )
    assert set((await error_of(invite))["fields"]) == {"role", "display_name"}
    hours = await host.post(
        f"{BASE}/{created['id']}/invitations",
        json={"role": "expert", "display_name": "刘教授", "hours": 721},
    )
    assert set((await error_of(hours))["fields"]) == {"hours"}
    assert (await host.get(f"{BASE}?status=bogus")).status == 400
    assert (await host.get("/api/staff/agenda-topics")).status == 400
    assert (await host.get("/api/deliberations?when=someday")).status == 400


async def test_refusals_name_the_state_and_guard_the_territory(
    client: TestClient[Any, Any], city: City, clock: FakeClock, resident: aiohttp.ClientSession
) -> None:
    host, session, _numbers = await announced_over_http(client, city, clock)
    sid = session["id"]
    again = await host.post(f"{BASE}/{sid}/moves", json={"to": "announced"})
    assert again.status == 409
    error = await error_of(again)
    assert error["code"] == "invalid_transition" and error["fields"] == {"status": "announced"}
    assert "announced" in error["message"]
    stale = await host.patch(f"{BASE}/{sid}", json={**body(city, clock), "version": 1})
    assert stale.status == 409 and (await error_of(stale))["code"] == "stale_update"
    no_csrf = await host.post(f"{BASE}/{sid}/moves", csrf=False, json={"to": "live"})
    assert no_csrf.status == 403 and (await error_of(no_csrf))["code"] == "csrf_failed"
    anonymous = await resident.post(BASE, json=body(city, clock))
    assert anonymous.status == 401
    assert (await resident.get(f"{BASE}/{sid}")).status == 401
    other = await staff(client, Role.DISPATCHER, city.other_county)
    for response in (
        await other.get(f"{BASE}/{sid}"),
        await other.post(f"{BASE}/{sid}/moves", json={"to": "live"}),
        await other.post(BASE, json=body(city, clock)),
        await other.get(f"{BASE}/{sid}/registrations"),
        await other.post(
            f"{BASE}/{sid}/invitations", json={"role": "expert", "display_name": "刘教授"}
        ),
    ):
        assert response.status == 403, await response.text()
    assert (await other.get(f"/staff/deliberations/{sid}")).status == 403
    handler = await staff(client, Role.HANDLER, city.town)
    assert (await handler.get("/staff/deliberations")).status == 403
    assert (await host.get(f"{BASE}/9999")).status == 404
    no_reason = await host.post(f"{BASE}/{sid}/moves", json={"to": "cancelled"})
    assert (await error_of(no_reason))["fields"] == {"reason": "Required."}
    cancelled = await host.post(f"{BASE}/{sid}/moves", json={"to": "cancelled", "reason": "改期"})
    assert cancelled.status == 200
    page = await (await resident.get(f"/d/{sid}")).text()
    assert "已取消：改期" in page and 'id="signup-form"' not in page
    ics = (await (await resident.get(f"/d/{sid}.ics")).read()).decode()
    assert "METHOD:CANCEL" in ics and "STATUS:CANCELLED" in ics


async def test_an_agenda_outside_the_rules_is_refused_and_nothing_written(
    client: TestClient[Any, Any], city: City, clock: FakeClock
) -> None:
    host, _ids, numbers = await host_with_topics(client, city, 1)
    ctx = ctx_of(client)
    admin = await make_staff(ctx, Role.ADMIN, city.city, username="admin")
    (assigned,) = await key_topics(ctx, city, admin, 1, escalate=False)
    assigned_number = (await topics.topic_detail(ctx, admin, assigned)).topic.number
    other_room_topics = await key_topics(ctx, city, admin, 1, room=city.other_room)
    refused = await host.post(BASE, json=body(city, clock, agenda=[*numbers, assigned_number]))
    assert refused.status == 400
    assert (await error_of(refused))["fields"] == {"agenda": f"{assigned_number} is assigned."}
    elsewhere = await host.post(BASE, json=body(city, clock, agenda=other_room_topics))
    assert elsewhere.status == 403
    assert (await (await host.get(BASE)).json())["total"] == 0
    picked = await host.get(f"/api/staff/agenda-topics?number={assigned_number}")
    assert (await picked.json())["problem"] == f"{assigned_number} is assigned: not a key topic."
    everyone = await login(client, "admin")
    assert (await (await everyone.get(BASE)).json())["total"] == 0


async def test_sign_up_check_in_and_cancel(
    client: TestClient[Any, Any], city: City, clock: FakeClock, resident: aiohttp.ClientSession
) -> None:
    host, session, _numbers = await announced_over_http(client, city, clock, capacity=1)
    sid = session["id"]
    signup_url = f"/api/deliberations/{sid}/registrations"
    bad = await resident.post(signup_url, json={"name": "", "kind": "alien", "consent": "yes"})
    assert bad.status == 400
    assert set((await error_of(bad))["fields"]) == {"name", "kind", "consent"}
    first = await resident.post(
        signup_url,
        json={"name": "张阿姨", "kind": "resident", "phone": "13812345678", "consent": True},
    )
    assert first.status == 201 and first.headers["Cache-Control"] == "no-store"
    mine = await first.json()
    assert mine["registration"]["status"] == "registered"
    assert mine["registration"]["phone"] == "138****5678"
    assert mine["url"] == f"http://msy.example.cn/signup/{mine['token']}"
    second = await (
        await resident.post(
            signup_url, json={"name": "李大爷", "kind": "party_member", "consent": True}
        )
    ).json()
    assert (second["registration"]["status"], second["registration"]["position"]) == (
        "waitlisted",
        1,
    )

    page = await resident.get(f"/signup/{mine['token']}")
    html = await page.text()
    assert page.status == 200 and page.headers["Cache-Control"] == "no-store"
    assert "<svg" in html and 'id="checkin-qr"' in html and "138****5678" in html
    assert "13812345678" not in html
    waiting = await (await resident.get(f"/signup/{second['token']}")).text()
    assert 'id="checkin-qr"' not in waiting and "候补名单第 1 位" in waiting
    assert (await resident.get("/signup/not-a-token")).status == 404
    status = await (await resident.get(f"/api/signup/{mine['token']}")).json()
    assert status["registration"]["status"] == "registered" and status["may_cancel"] is True

    # The host scans the QR: the check-in page, then the confirmation.
    anonymous = await resident.get(f"/checkin/{mine['token']}", allow_redirects=False)
    assert anonymous.status == 302 and anonymous.headers["Location"].startswith("/staff/login")
    confirm = await host.get(f"/checkin/{mine['token']}")
    assert confirm.status == 200 and 'id="checkin-confirm"' in await confirm.text()
    other = await staff(client, Role.DISPATCHER, city.other_county)
    assert (await other.get(f"/checkin/{mine['token']}")).status == 403
    checkins = f"{BASE}/{sid}/checkins"
    scanned_url = f"http://msy.example.cn/checkin/{mine['token']}"
    done = await host.post(checkins, json={"token": scanned_url})
    assert done.status == 200 and (await done.json())["checked_in_at"] == clock.now().isoformat()
    clock.advance(timedelta(minutes=2))
    twice = await host.post(checkins, json={"token": mine["token"]})
    assert twice.status == 409
    assert (await error_of(twice))["fields"] == {
        "checked_in_at": (clock.now() - timedelta(minutes=2)).isoformat()
    }
    waitlisted = await host.post(checkins, json={"registration_id": second["registration"]["id"]})
    assert waitlisted.status == 409 and (await error_of(waitlisted))["fields"] == {
        "status": "waitlisted"
    }
    assert (await host.post(checkins, json={})).status == 400
    assert (await host.post(checkins, json={"token": "nope"})).status == 404
    listed = await (await host.get(f"{BASE}/{sid}/registrations")).json()
    assert listed["counts"] == {"registered": 1, "waitlisted": 1, "checked_in": 1}
    assert listed["by_kind"] == {"resident": {"registered": 1, "checked_in": 1}}
    assert [a["phone"] for a in listed["attendees"]] == ["138****5678", ""]
    page = await (await host.get(f"/staff/deliberations/{sid}")).text()
    assert "138****5678" in page and "13812345678" not in page

    # A checked-in seat is not given up; the waiting person's cancellation frees nothing.
    kept = await resident.post(f"/api/signup/{mine['token']}/cancel")
    assert kept.status == 409
    gone = await resident.post(f"/api/signup/{second['token']}/cancel")
    assert gone.status == 200 and (await gone.json())["registration"]["status"] == "cancelled"
    twice_cancelled = await resident.post(f"/api/signup/{second['token']}/cancel")
    assert twice_cancelled.status == 409
    assert (await error_of(twice_cancelled))["fields"]["status"] == "cancelled"


async def test_cancelling_over_http_promotes_the_next_in_line(
    client: TestClient[Any, Any], city: City, clock: FakeClock, resident: aiohttp.ClientSession
) -> None:
    _host, session, _numbers = await announced_over_http(client, city, clock, capacity=1)
    url = f"/api/deliberations/{session['id']}/registrations"
    tokens = []
    for name in ("甲", "乙"):
        response = await resident.post(
            url, json={"name": name, "kind": "resident", "consent": True}
        )
        tokens.append((await response.json())["token"])
    await resident.post(f"/api/signup/{tokens[0]}/cancel")
    promoted = await (await resident.get(f"/api/signup/{tokens[1]}")).json()
    assert promoted["registration"]["status"] == "registered"
    assert promoted["registration"]["promoted_at"] == clock.now().isoformat()
    page = await (await resident.get(f"/d/{session['id']}")).text()
    assert "剩余" not in page and "名额已满，候补 0 人" in page


async def test_sign_ups_from_one_phone_are_rate_limited(
    client: TestClient[Any, Any], city: City, clock: FakeClock, resident: aiohttp.ClientSession
) -> None:
    _host, session, _numbers = await announced_over_http(client, city, clock, capacity=50)
    url = f"/api/deliberations/{session['id']}/registrations"
    await resident.get(f"/d/{session['id']}")  # the phone gets its device cookie
    limit = ctx_of(client).settings.rate_limit_device.count
    for i in range(limit):
        ok = await resident.post(
            url, json={"name": f"家人{i}", "kind": "resident", "consent": True}
        )
        assert ok.status == 201
    flood = await resident.post(url, json={"name": "再一个", "kind": "resident", "consent": True})
    assert flood.status == 429 and int(flood.headers["Retry-After"]) > 0


async def test_invitations_links_qr_expiry_and_removal(
    client: TestClient[Any, Any], city: City, clock: FakeClock, resident: aiohttp.ClientSession
) -> None:
    host, session, _numbers = await announced_over_http(client, city, clock)
    url = f"{BASE}/{session['id']}/invitations"
    made = await host.post(
        url,
        json={"role": "official", "display_name": "王局长", "organisation": "县住建局", "hours": 2},
    )
    assert made.status == 201
    guest = await made.json()
    token = guest["link"].rsplit("/join/", 1)[1]
    assert guest["link"].startswith("http://msy.example.cn/join/")
    qr = await host.get(f"/api/staff/invitations/{guest['id']}/qr.svg")
    assert qr.status == 200 and qr.content_type == "image/svg+xml"
    assert (await qr.text()).lstrip().startswith("<")
    assert (await resident.get(f"/join/{token}")).status == 200
    ident, expires, signature = token.split(".")
    forged = await resident.get(f"/join/{ident}.{int(expires) + 86400}.{signature}")
    assert forged.status == 403
    page = await (await host.get(f"/staff/deliberations/{session['id']}")).text()
    assert guest["link"] in page and "王局长" in page
    listed = await (await host.get(url)).json()
    assert [g["status"] for g in listed["invitations"]] == ["invited"]
    admitted = await host.post(f"/api/staff/invitations/{guest['id']}/admit")
    assert (await admitted.json())["status"] == "admitted"
    removed = await host.post(
        f"/api/staff/invitations/{guest['id']}/remove", json={"reason": "不再需要"}
    )
    assert (await removed.json())["removed_reason"] == "不再需要"
    assert (await resident.get(f"/join/{token}")).status == 410
    assert (await host.get(f"/api/staff/invitations/{guest['id']}/qr.svg")).status == 404
    again = await host.post(f"/api/staff/invitations/{guest['id']}/remove", json={})
    assert again.status == 409

    short = await (
        await host.post(url, json={"role": "expert", "display_name": "刘教授", "hours": 1})
    ).json()
    clock.advance(timedelta(hours=1, seconds=1))
    expired = await host.post(f"/api/staff/invitations/{short['id']}/admit")
    assert expired.status == 410
    assert (await resident.get(short["link"].replace("http://msy.example.cn", ""))).status == 410
    assert (await host.post("/api/staff/invitations/9999/admit")).status == 404


async def test_text_is_stored_as_given_and_escaped_everywhere(
    client: TestClient[Any, Any], city: City, clock: FakeClock, resident: aiohttp.ClientSession
) -> None:
    evil = '<script>alert("x")</script>'
    host, session, _numbers = await announced_over_http(
        client, city, clock, title="议事会" + evil[:40], place=evil
    )
    sid = session["id"]
    assert session["place"] == evil
    for page in (
        await (await resident.get(f"/d/{sid}")).text(),
        await (await host.get(f"/staff/deliberations/{sid}")).text(),
        await (await host.get("/staff/deliberations")).text(),
        await (await resident.get("/deliberations")).text(),
    ):
        assert "<script>alert" not in page
    assert "&lt;script&gt;" in await (await resident.get(f"/d/{sid}")).text()
    registered = await resident.post(
        f"/api/deliberations/{sid}/registrations",
        json={"name": "<b>张</b>", "kind": "resident", "consent": True},
    )
    token = (await registered.json())["token"]
    assert "<b>张</b>" not in await (await resident.get(f"/signup/{token}")).text()
    attendance = await (await host.get(f"/staff/deliberations/{sid}")).text()
    assert "&lt;b&gt;张&lt;/b&gt;" in attendance


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_pages_render_in_both_languages(
    client: TestClient[Any, Any],
    city: City,
    clock: FakeClock,
    resident: aiohttp.ClientSession,
    lang: str,
) -> None:
    host, session, _numbers = await announced_over_http(client, city, clock)
    sid = session["id"]
    for who, path in (
        (host, f"/staff/deliberations?lang={lang}"),
        (host, f"/staff/deliberations/{sid}?lang={lang}"),
    ):
        response = await who.get(path)
        text = await response.text()
        assert response.status == 200
        assert not re.search(r">\s*delib\.[a-z_.]+\s*<", text), "an untranslated key"
    for path in (f"/deliberations?lang={lang}", f"/d/{sid}?lang={lang}"):
        response = await resident.get(path)
        text = await response.text()
        assert response.status == 200
        assert not re.search(r">\s*delib\.[a-z_.]+\s*<", text), "an untranslated key"
    nav = await (await host.get(f"/staff/?lang={lang}")).text()
    assert 'href="/staff/deliberations"' in nav


async def test_the_residents_tracking_page_shows_the_session_that_takes_up_their_topic(
    client: TestClient[Any, Any], city: City, clock: FakeClock, resident: aiohttp.ClientSession
) -> None:
    raised = await resident.post(
        f"/api/rooms/{city.room.code}/topics",
        json={
            "title": "三号楼加装电梯",
            "description": "三号楼老人多，希望加装电梯，费用怎么分摊需要大家商量。",
            "kind": "demand",
        },
    )
    mine = await raised.json()
    ctx = ctx_of(client)
    dispatcher = await county_dispatcher(ctx, city)
    relay = await accounts.create_unit(
        ctx, None, name="清河中转", kind=UnitKind.RELAY, region_id=city.county.id
    )
    town = await accounts.create_unit(
        ctx, None, name="城南街道办", kind=UnitKind.TOWN, region_id=city.town.id
    )
    await to_town(ctx, dispatcher, mine["id"], relay.id, town.id)
    host = await login(client, "dispatcher")
    tracking = await (await resident.get(f"/t/{mine['tracking_token']}")).text()
    src = f'data-deliberations-src="/api/topics/{mine["number"]}/deliberations"'
    assert src in tracking
    before = await resident.get(f"/api/topics/{mine['number']}/deliberations")
    assert (await before.json())["deliberations"] == []
    created = await host.post(BASE, json=body(city, clock, agenda=[mine["number"]]))
    sid = (await created.json())["id"]
    draft_only = await resident.get(f"/api/topics/{mine['number']}/deliberations")
    assert (await draft_only.json())["deliberations"] == []  # a draft is not public
    await host.post(f"{BASE}/{sid}/moves", json={"to": "announced"})
    after = await (await resident.get(f"/api/topics/{mine['number']}/deliberations")).json()
    assert [(d["id"], d["status"]) for d in after["deliberations"]] == [(sid, "announced")]
    timeline = await (await resident.get(f"/api/track/{mine['tracking_token']}")).json()
    assert timeline["status"] == "scheduled"
    assert "加装电梯协商议事会" in timeline["timeline"][-1]["note"]
