"""No personal data in any public output (PIPL): a seeded city's every public page, export
and API is fetched — by following every link from the public entry points and the public
routes — and searched for the residents' names and phone numbers, the tracking token and
its digest, the device id, and the staff's usernames and names.

Pages a person reaches only with their own secret (the tracking page, the sign-up and
check-in pages, a guest's invitation) and the staff's pages are not public, so they are
not crawled; everything else is.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.test_utils import TestClient

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.awards import actions as awards
from server.bulletins import actions as bulletins
from server.core.auth import Role
from server.core.clock import FakeClock
from server.deliberations.actions import schedule, signup
from server.disclosures import actions as disclosures
from server.outcomes import actions as outcomes
from server.topics import actions as topics
from server.topics.actions import handling
from server.topics.model import TopicStatus
from tests.deliberations.helpers import announced, county_dispatcher, key_topics
from tests.factories import City, make_staff
from tests.http_helpers import ctx_of
from tests.outcomes.helpers import Session, publish

CANARY = "楼道灯坏了半个月"  # the resident's topic title: public, so it must be found
RESIDENT_NAME = "欧阳娜娜"
RESIDENT_PHONE = "13912345678"
ATTENDEE_NAME = "司马光明"
ATTENDEE_PHONE = "13787654321"
HANDLER_USERNAME = "zhuge.handler"
HANDLER_NAME = "诸葛小明专员"

PRIVATE_PREFIXES = (
    "/staff",
    "/api/staff",
    "/t/",
    "/api/track/",
    "/signup/",
    "/api/signup/",
    "/checkin/",
    "/join/",
    "/host/",
    "/api/auth",
    "/static/",
    "/vendor/",
    "/socket.io",
    "/media/",  # video and audio files: nothing textual to leak
)
LINK = re.compile(r"""(?:href|src|action)=["'](/[^"'#\s]*)""")
JSON_PATH = re.compile(r'"(/(?:[a-z0-9_.-]+/)*[a-z0-9_.{}-]+(?:\?[^"]*)?)"')


async def _seed(client: TestClient[Any, Any], city: City) -> dict[str, str]:
    """A month of a city's life: a resident's topic resolved and rated by its proposer,
    a session with a named attendee whose outcome is published, a handler with a name;
    then the month's disclosures. Returns the secrets that must never appear."""
    ctx = ctx_of(client)
    clock: FakeClock = ctx.clock  # type: ignore[assignment]
    async with aiohttp.ClientSession(
        base_url=client.make_url("/"), cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as phone:
        await phone.get(f"/r/{city.room.code}")
        raised = await phone.post(
            f"/api/rooms/{city.room.code}/topics",
            json={
                "title": CANARY,
                "description": "3号楼楼道灯坏了半个月，晚上上下楼看不清台阶，老人已经摔过一次。",
                "kind": "demand",
                "name": RESIDENT_NAME,
                "phone": RESIDENT_PHONE,
                "consent": True,
            },
        )
        assert raised.status == 201, await raised.text()
        body = await raised.json()
        token, topic_id = body["tracking_token"], body["id"]
        device = next(c.value for c in phone.cookie_jar if c.key == "msy_device")

    dispatcher = await county_dispatcher(ctx, city)
    unit = await accounts.create_unit(
        ctx, None, name="城南街道办事处", kind=UnitKind.TOWN, region_id=city.town.id
    )
    relay = await accounts.create_unit(
        ctx, None, name="清河区中转", kind=UnitKind.RELAY, region_id=city.county.id
    )
    await accounts.create_user(
        ctx,
        None,
        username=HANDLER_USERNAME,
        display_name=HANDLER_NAME,
        role=Role.HANDLER,
        region_id=city.town.id,
        password="correct horse battery",
        unit_id=unit.id,
    )
    handler = (
        await accounts.login(
            ctx, username=HANDLER_USERNAME, password="correct horse battery", ip="10.0.0.2"
        )
    ).principal
    await topics.move_topic(ctx, dispatcher, topic_id, TopicStatus.ACCEPTED, version=1)
    await topics.route_topic(ctx, dispatcher, topic_id, version=2, unit_id=relay.id)
    await topics.route_topic(ctx, dispatcher, topic_id, version=3, unit_id=unit.id)
    await topics.move_topic(ctx, handler, topic_id, TopicStatus.HANDLING, version=4)
    await handling.record_contact(
        ctx, handler, topic_id, method="phone", note=f"{RESIDENT_NAME} {RESIDENT_PHONE}"
    )
    await handling.resolve_topic(ctx, handler, topic_id, version=5, result="已更换楼道灯")
    outcome_id = await outcomes.outcome_for_topic(ctx, topic_id)
    assert outcome_id is not None
    await outcomes.rate_outcome(
        ctx, outcome_id, score=4, verdict="basically_satisfied", comment="修好了", token=token
    )

    ids = await key_topics(ctx, city, dispatcher, 1)
    created = await announced(ctx, dispatcher, city, ids)
    await signup.register(
        ctx,
        created.id,
        signup.SignUp(ATTENDEE_NAME, "resident", ATTENDEE_PHONE, consent=True),
        device_id="attendee-device",
    )
    clock.advance(timedelta(days=3))
    await schedule.start(ctx, dispatcher, created.id)
    await schedule.end(ctx, dispatcher, created.id)
    other = await accounts.create_unit(
        ctx, None, name="清河区住建局", kind=UnitKind.DEPARTMENT, region_id=city.county.id
    )
    await publish(ctx, Session(created.id, ids, dispatcher, other.id))
    await make_staff(ctx, Role.ROOM_CHIEF, city.community)

    clock.advance(timedelta(days=31))  # into the next month: last month can be published
    last = (clock.now() - timedelta(days=20)).strftime("%Y-%m")
    await disclosures.publish_disclosures(ctx, last)
    admin = await make_staff(ctx, Role.ADMIN, city.city)
    clock.advance(timedelta(days=60))  # the quarter has ended: its bulletin is published
    quarter = f"{clock.now().year}-Q{(clock.now().month - 1) // 3}"
    await bulletins.publish_bulletin(ctx, admin, quarter)
    year = clock.now().year  # 十佳百优, with the proposer among the residents
    await awards.open_round(ctx, admin, year, excellent=3, best=1)
    await awards.appoint_reviewer(ctx, admin, year, username=admin.username)
    await awards.generate_candidates(ctx, admin, year)
    detail = await awards.round_detail(ctx, admin, year)
    for items in detail["candidates"].values():
        for candidate in items:
            await awards.score_candidate(ctx, admin, year, candidate["id"], score=90)
    assert any(c["title"].startswith(RESIDENT_NAME[0]) for c in detail["candidates"]["resident"])
    await awards.close_review(ctx, admin, year)
    await awards.publish_awards(ctx, admin, year)
    return {
        "resident name": RESIDENT_NAME,
        "resident phone": RESIDENT_PHONE,
        "attendee name": ATTENDEE_NAME,
        "attendee phone": ATTENDEE_PHONE,
        "tracking token": token,
        "tracking digest": hashlib.sha256(token.encode()).hexdigest(),
        "device id": device,
        "handler username": HANDLER_USERNAME,
        "handler name": HANDLER_NAME,
    }


def _public(path: str) -> bool:
    return not any(path.startswith(p) for p in PRIVATE_PREFIXES)


def _text_of(body: bytes) -> str:
    if body[:2] == b"PK":  # XLSX and other zipped documents: every member's text
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return body.decode("utf-8", "replace")


def _links(text: str) -> set[str]:
    found = {m.replace("&amp;", "&") for m in LINK.findall(text)}
    found |= {m for m in JSON_PATH.findall(text) if "{" not in m}
    return found


def _seeds(client: TestClient[Any, Any], city: City) -> set[str]:
    """Every public GET route without parameters, and the parametrised ones filled in."""
    seeds = {"/", "/public", f"/r/{city.room.code}", f"/api/rooms/{city.room.code}"}
    for resource in client.app.router.resources():
        info = resource.get_info()
        path = info.get("path")
        if path and _public(path) and any(r.method == "GET" for r in resource):
            seeds.add(path)
    return seeds


async def test_no_public_output_holds_personal_data(
    client: TestClient[Any, Any], city: City
) -> None:
    secrets = await _seed(client, city)
    numbers = re.findall(r"[A-Z]{2}\d{4}-\d{6}", await (await client.get("/api/outcomes")).text())
    assert numbers
    queue = sorted(_seeds(client, city))
    for number in numbers:
        queue += [
            f"/api/topics/{number}/deliberations",
            f"/api/topics/{number}/outcome",
            f"/open311/v2/requests/{number}.json",
        ]
    seen: set[str] = set()
    fetched: dict[str, int] = {}
    carried: set[str] = set()  # outputs showing the topic's (public) title
    leaks: list[str] = []
    while queue and len(fetched) < 400:
        path = queue.pop(0)
        if path in seen or not _public(urlsplit(path).path):
            continue
        seen.add(path)
        async with client.get(path, allow_redirects=False) as response:
            body = await response.read()
            fetched[path] = response.status
            if response.status in (301, 302, 303, 307, 308):
                queue.append(response.headers["Location"])
                continue
        text = _text_of(body)
        for what, value in secrets.items():
            if value in text:
                leaks.append(f"{path}: {what}")
        if CANARY in text:
            carried.add(path)
        if body[:2] != b"PK":
            queue += sorted(p for p in _links(text) if p not in seen)
        if response.status == 200 and not path.startswith("/api/"):
            queue.append("/api" + path)  # a page's JSON twin, where there is one
            if m := re.fullmatch(r"/d/(\d+)", path):
                queue.append(f"/api/deliberations/{m[1]}/minutes")
    assert not leaks, leaks
    # The text of every kind of output was really read: the public title is found in it.
    for kind in (
        r"/outcomes/\d+",
        r"/api/open/outcomes\.csv",
        r"/disclosures/\d+/print",
        r"/open311/v2/requests/.+\.json",
        r"/api/disclosures/\d+",
    ):
        assert any(re.fullmatch(kind, p) for p in carried), kind
    ok = {p for p, status in fetched.items() if status == 200}
    # The crawl reached every kind of public output, so an empty scan cannot pass.
    for expected in (
        "/outcomes",
        "/disclosures",
        "/dashboard",
        "/api/open/outcomes.csv",
        "/api/open/figures.json",
        "/open311/v2/requests.json",
        "/bulletins",
        "/deliberations",
        "/awards",
    ):
        assert any(p == expected or p.startswith(expected + "?") for p in ok), expected
    assert any(re.fullmatch(r"/outcomes/\d+", p) for p in ok)
    assert any(re.fullmatch(r"/disclosures/\d+/print", p) for p in ok)
    assert any(re.fullmatch(r"/minutes/\d+", p) for p in ok)
    assert any(re.fullmatch(r"/awards/\d{4}", p) for p in ok)
    assert any(re.fullmatch(r"/open311/v2/requests/[A-Z0-9-]+\.json", p) for p in ok)
