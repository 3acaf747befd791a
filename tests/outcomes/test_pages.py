"""The outcome pages: the host's minutes, the staff's outcome list and page, the public
outcome (评题) and minutes pages, the links to them from other pages, and the tracking
page's outcome lookup. Each renders for the right people, refuses the others, and the
public ones carry no personal data."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from server.core.auth import Role, token_digest
from server.outcomes import actions as outcomes
from server.topics import actions as topics
from tests.deliberations.helpers import announced, county_dispatcher, key_topics
from tests.factories import City, make_staff
from tests.http_helpers import ctx_of, login
from tests.outcomes.helpers import (
    ended_session,
    inputs,
    outcome_ids,
    publish,
    resolved_by_handler,
)

RESIDENT_NAME = "张秀兰"
RESIDENT_PHONE = "13912345678"


def text_of(html: str) -> str:
    """The page's visible text, roughly: tags dropped, whitespace collapsed."""
    without_scripts = re.sub(r"<script\b.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", without_scripts))


async def _page(client: TestClient[Any, Any], path: str) -> tuple[int, str]:
    response = await client.get(path, allow_redirects=False)
    return response.status, await response.text()


# --- the host's minutes -----------------------------------------------------------------


async def test_host_opens_drafted_minutes_with_a_form_per_topic(
    client: TestClient[Any, Any], city: City
) -> None:
    ctx = ctx_of(client)
    host = await county_dispatcher(ctx, city)
    s = await ended_session(ctx, city, host)
    browser = await login(client, host.username)
    response = await browser.get(f"/staff/deliberations/{s.deliberation_id}/minutes")
    assert response.status == 200
    html = await response.text()
    assert 'src="/static/js/minutes.js"' in html
    assert "会议纪要" in html and "草稿" in html
    for topic_id in s.topic_ids:
        for field in ("decision", "unit_id", "lead", "due_on"):
            assert f'name="outcomes.{topic_id}.{field}"' in html
            assert f'data-for="outcomes.{topic_id}.{field}"' in html
    # The unit select offers the unit the test made, by id.
    assert f'<option value="{s.unit_id}">' in html
    # The drafted facts: the agenda with discussion time, the poll, the body.
    assert "讨论 10 分钟" in html
    assert "同意按楼层分摊吗？" in html
    assert "议定事项：" in html  # the drafted body's last line
    assert "no-store" in response.headers["Cache-Control"]
    # English is available.
    english = await browser.get(f"/staff/deliberations/{s.deliberation_id}/minutes?lang=en")
    assert "Minutes" in await english.text()
    # The session's staff page links to its minutes.
    staff_page = await browser.get(f"/staff/deliberations/{s.deliberation_id}")
    assert f'href="/staff/deliberations/{s.deliberation_id}/minutes"' in await staff_page.text()
    # Not published yet: nothing public.
    assert (await _page(client, f"/minutes/{s.deliberation_id}"))[0] == 404
    public = await _page(client, f"/d/{s.deliberation_id}")
    assert f'href="/minutes/{s.deliberation_id}"' not in public[1]


async def test_minutes_page_refuses_the_wrong_people_and_sessions(
    client: TestClient[Any, Any], city: City
) -> None:
    ctx = ctx_of(client)
    host = await county_dispatcher(ctx, city)
    s = await ended_session(ctx, city, host)
    path = f"/staff/deliberations/{s.deliberation_id}/minutes"
    # Anonymous: to the login page, coming back here.
    status_, _ = await _page(client, path)
    assert status_ == 302
    redirect = await client.get(path, allow_redirects=False)
    assert redirect.headers["Location"].startswith("/staff/login?next=")
    # A handler may not host sessions.
    handler = await make_staff(ctx, Role.HANDLER, city.town, username="handler1")
    refused = await (await login(client, handler.username)).get(path)
    assert refused.status == 403
    assert "无法编辑其会议纪要" in await refused.text()
    # A host elsewhere (the other county) does not cover this room.
    other = await make_staff(ctx, Role.DISPATCHER, city.other_county, username="elsewhere")
    assert (await (await login(client, other.username)).get(path)).status == 403
    browser = await login(client, host.username)
    assert (await browser.get("/staff/deliberations/99999/minutes")).status == 404
    # A session that has not ended has no minutes yet.
    ids = await key_topics(ctx, city, host, 1)
    upcoming = await announced(ctx, host, city, ids)
    early = await browser.get(f"/staff/deliberations/{upcoming.id}/minutes")
    assert early.status == 409
    assert "议事会结束后" in await early.text()
    staff_page = await browser.get(f"/staff/deliberations/{upcoming.id}")
    assert f"/staff/deliberations/{upcoming.id}/minutes" not in await staff_page.text()


async def test_published_minutes_are_read_only_and_public(
    client: TestClient[Any, Any], city: City
) -> None:
    ctx = ctx_of(client)
    host = await county_dispatcher(ctx, city)
    s = await ended_session(ctx, city, host)
    await publish(ctx, s)
    ids = await outcome_ids(ctx, s)
    browser = await login(client, host.username)
    html = await (await browser.get(f"/staff/deliberations/{s.deliberation_id}/minutes")).text()
    assert 'name="body"' not in html and "minutes.js" not in html
    assert f'href="/minutes/{s.deliberation_id}"' in html
    assert "已公布" in html
    status_, public = await _page(client, f"/minutes/{s.deliberation_id}")
    assert status_ == 200
    for oid in ids:
        assert f'href="/outcomes/{oid}"' in public
    assert "按楼层分摊加装电梯费用，住建局牵头施工" in public
    assert "同意按楼层分摊吗？" in public
    # The session's public page links to its minutes now.
    assert (
        f'href="/minutes/{s.deliberation_id}"'
        in (await _page(client, f"/d/{s.deliberation_id}"))[1]
    )
    assert (await _page(client, "/minutes/99999"))[0] == 404


# --- the public outcome page -------------------------------------------------------------


async def test_a_draft_outcome_is_not_found_and_a_published_one_shows_everything(
    client: TestClient[Any, Any], city: City
) -> None:
    ctx = ctx_of(client)
    host = await county_dispatcher(ctx, city)
    s = await ended_session(ctx, city, host)
    m = await outcomes.get_minutes(ctx, host, s.deliberation_id)
    await outcomes.save_minutes(
        ctx, host, s.deliberation_id, version=m.version, body=m.body, outcomes=inputs(ctx, s)
    )
    draft_id = (await outcome_ids(ctx, s))[0]
    assert (await _page(client, f"/outcomes/{draft_id}"))[0] == 404
    assert (await _page(client, "/outcomes/99999"))[0] == 404
    m = await outcomes.get_minutes(ctx, host, s.deliberation_id)
    await outcomes.publish_minutes(ctx, host, s.deliberation_id, version=m.version)
    first, second = await outcome_ids(ctx, s)
    for device, verdict, score in (
        ("d1", "satisfied", 5),
        ("d2", "basically_satisfied", 4),
        ("d3", "unsatisfied", 1),
        ("d4", "satisfied", 4),
    ):
        await outcomes.rate_outcome(
            ctx, first, score=score, verdict=verdict, comment=f"意见{device}", device_id=device
        )
    status_, html = await _page(client, f"/outcomes/{first}")
    assert status_ == 200
    text = text_of(html)
    assert "按楼层分摊加装电梯费用，住建局牵头施工" in text
    assert "县住建局 王局长" in text  # the lead
    assert f"县住建局{s.deliberation_id}" in text  # the responsible unit
    assert city.room.name in text
    # The rate is always beside its counts.
    assert "75.0%" in text
    assert "满意 2 · 基本满意 1 · 不满意 1 · 共 4" in text
    assert "3.5" in text  # the average score
    assert "意见d1" in text
    assert 'id="rate-form"' in html and 'src="/static/js/outcome_public.js"' in html
    assert 'class="flag flag-ok"' in html
    assert 'style="width: 0%"' in html
    # Nobody has rated the other one yet: no rate, counts of zero.
    other = text_of((await _page(client, f"/outcomes/{second}"))[1])
    assert "满意率 —" in other and "共 0" in other
    assert "Satisfaction" in (await _page(client, f"/outcomes/{first}?lang=en"))[1]


async def test_public_pages_carry_no_personal_data(
    client: TestClient[Any, Any], city: City
) -> None:
    ctx = ctx_of(client)
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county, username="li.pd77")
    r = await resolved_by_handler(
        ctx, city, dispatcher, name=RESIDENT_NAME, phone=RESIDENT_PHONE, consent=True
    )
    await outcomes.rate_outcome(
        ctx, r.outcome_id, score=5, verdict="satisfied", comment="修得很快", token=r.tracking_token
    )
    s = await ended_session(ctx, city, dispatcher)
    await publish(ctx, s)
    (oid, _) = await outcome_ids(ctx, s)
    await outcomes.add_progress(ctx, dispatcher, oid, version=2, percent=40, note="施工队已进场")
    topic = await topics.track_topic(ctx, r.tracking_token)
    secrets = [
        RESIDENT_NAME,
        RESIDENT_PHONE,
        r.tracking_token,
        token_digest(r.tracking_token),
        "dev-proposer",
        r.handler.username,
        r.handler.display_name,
        dispatcher.username,
        dispatcher.display_name,
    ]
    pages = [
        f"/outcomes/{r.outcome_id}",
        f"/outcomes/{oid}",
        f"/minutes/{s.deliberation_id}",
        f"/api/topics/{topic.number}/outcome",
    ]
    for path in pages:
        status_, body = await _page(client, path)
        assert status_ == 200, path
        # The page's text catalogue is the same for everyone: leave it out of the scan.
        body = re.sub(r'<script type="application/json" id="msy-i18n">.*?</script>', "", body)
        for secret in secrets:
            assert secret not in body, (path, secret)
    proposer_page = text_of((await _page(client, f"/outcomes/{r.outcome_id}"))[1])
    assert "修得很快" in proposer_page and "提议人" in proposer_page
    assert "已协调物业修好路灯" in proposer_page  # the handler's result is the decision
    assert "施工队已进场" in text_of((await _page(client, f"/outcomes/{oid}"))[1])


async def test_tracking_page_finds_its_outcome(client: TestClient[Any, Any], city: City) -> None:
    ctx = ctx_of(client)
    dispatcher = await county_dispatcher(ctx, city)
    r = await resolved_by_handler(ctx, city, dispatcher)
    topic = await topics.track_topic(ctx, r.tracking_token)
    found = await client.get(f"/api/topics/{topic.number}/outcome")
    assert found.status == 200
    assert await found.json() == {"outcome_id": r.outcome_id}
    status_, html = await _page(client, f"/t/{r.tracking_token}")
    assert status_ == 200
    assert f'data-outcome-src="/api/topics/{topic.number}/outcome"' in html
    assert 'src="/static/js/outcome_link.js"' in html
    missing = await client.get("/api/topics/NO-SUCH-1/outcome")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"
    # A topic still being handled has no outcome: null, and its page does not ask.
    s = await ended_session(ctx, city, dispatcher)
    view = await outcomes.get_minutes(ctx, dispatcher, s.deliberation_id)
    number = view.topics[0]["number"]
    none = await client.get(f"/api/topics/{number}/outcome")
    assert none.status == 200 and await none.json() == {"outcome_id": None}


# --- staff: the outcome list and an outcome's page ---------------------------------------


async def test_staff_outcome_list_filters_and_flags(
    client: TestClient[Any, Any], city: City
) -> None:
    ctx = ctx_of(client)
    host = await county_dispatcher(ctx, city)
    s = await ended_session(ctx, city, host)
    await publish(ctx, s)
    first, second = await outcome_ids(ctx, s)
    assert (await client.get("/staff/outcomes", allow_redirects=False)).status == 302
    browser = await login(client, host.username)
    html = await (await browser.get("/staff/outcomes")).text()
    for oid in (first, second):
        assert f'href="/staff/outcomes/{oid}"' in html
    assert 'class="flag flag-ok"' in html
    assert 'href="/staff/outcomes"' in html  # the staff nav
    assert 'id="no-outcomes"' in await (await browser.get("/staff/outcomes?overdue=1")).text()
    ctx.clock.advance(timedelta(days=31))  # type: ignore[attr-defined]
    browser = await login(client, host.username)  # the old login has expired by now
    late = await (await browser.get("/staff/outcomes?overdue=1")).text()
    assert 'class="flag flag-overdue"' in late and f"/staff/outcomes/{first}" in late
    assert 'name="overdue" value="1" checked' in late
    # A handler sees its own unit's outcomes only.
    stranger = await make_staff(ctx, Role.HANDLER, city.town, username="stranger")
    theirs = await (await login(client, stranger.username)).get("/staff/outcomes")
    assert theirs.status == 200
    assert f"/staff/outcomes/{first}" not in await theirs.text()


async def test_staff_outcome_page_offers_progress_to_its_unit_and_moderation_to_hosts(
    client: TestClient[Any, Any], city: City
) -> None:
    ctx = ctx_of(client)
    host = await county_dispatcher(ctx, city)
    s = await ended_session(ctx, city, host)
    m = await outcomes.get_minutes(ctx, host, s.deliberation_id)
    await outcomes.save_minutes(
        ctx, host, s.deliberation_id, version=m.version, body=m.body, outcomes=inputs(ctx, s)
    )
    first, _ = await outcome_ids(ctx, s)
    browser = await login(client, host.username)
    draft = await (await browser.get(f"/staff/outcomes/{first}")).text()
    assert 'id="progress-form"' not in draft and "纪要公布后" in draft
    m = await outcomes.get_minutes(ctx, host, s.deliberation_id)
    await outcomes.publish_minutes(ctx, host, s.deliberation_id, version=m.version)
    word = ctx.settings.sensitive_words[0]
    held = await outcomes.rate_outcome(
        ctx, first, score=1, verdict="unsatisfied", comment=f"这是{word}", device_id="d1"
    )
    await outcomes.rate_outcome(
        ctx, first, score=5, verdict="satisfied", comment="很好", device_id="d2"
    )
    unit_handler = await make_staff(
        ctx, Role.HANDLER, city.county, username="zjj", unit_id=s.unit_id
    )
    mine = await (await login(client, unit_handler.username)).get(f"/staff/outcomes/{first}")
    assert mine.status == 200
    html = await mine.text()
    assert 'id="progress-form"' in html and 'name="photos"' in html
    assert f"这是{word}" not in html  # a handler does not moderate: no held text
    assert 'form class="moderation' not in html
    hosted = await (await browser.get(f"/staff/outcomes/{first}")).text()
    assert f"这是{word}" in hosted  # the held text, for the moderator
    assert f'data-evaluation="{held.evaluation["id"]}"' in hosted
    assert 'class="moderation inline"' in hosted and 'src="/static/js/outcome_staff.js"' in hosted
    assert 'id="progress-form"' in hosted  # a dispatcher covering the region may update
    # Another unit's handler may not read it; an unknown outcome is not found.
    stranger = await make_staff(ctx, Role.HANDLER, city.town, username="stranger")
    other = await login(client, stranger.username)
    assert (await other.get(f"/staff/outcomes/{first}")).status == 403
    assert (await browser.get("/staff/outcomes/99999")).status == 404
    assert (await client.get(f"/staff/outcomes/{first}", allow_redirects=False)).status == 302
