"""Outcomes over HTTP: the host's minutes, progress with a photo, the public's ratings."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from server.core.auth import Role
from tests.deliberations.helpers import county_dispatcher
from tests.factories import City, jpeg_with_gps, make_staff
from tests.http_helpers import ctx_of, login
from tests.outcomes.helpers import due, ended_session, resolved_by_handler


async def _error(response: aiohttp.ClientResponse) -> dict[str, Any]:
    error: dict[str, Any] = (await response.json())["error"]
    return error


async def test_minutes_and_progress_over_http(client: TestClient[Any, Any], city: City) -> None:
    ctx = ctx_of(client)
    host = await county_dispatcher(ctx, city)
    s = await ended_session(ctx, city, host)
    browser = await login(client, host.username)
    path = f"/api/staff/deliberations/{s.deliberation_id}/minutes"
    got = await browser.get(path)
    assert got.status == 200
    minutes = await got.json()
    assert minutes["status"] == "draft" and len(minutes["facts"]["agenda"]) == 2
    entries = [
        {
            "topic_id": t,
            "decision": "按楼层分摊费用，住建局牵头",
            "unit_id": s.unit_id,
            "lead": "县住建局 王局长",
            "due_on": due(ctx).isoformat(),
        }
        for t in s.topic_ids
    ]
    bad = await browser.session.put(
        browser.url(path),
        json={
            "version": minutes["version"],
            "body": "纪要",
            "outcomes": [{**entries[0], "due_on": "明天"}],
        },
        headers={"X-CSRF-Token": browser.csrf},
    )
    assert bad.status == 400
    assert f"outcomes.{s.topic_ids[0]}.due_on" in (await _error(bad))["fields"]
    no_csrf = await browser.session.put(
        browser.url(path), json={"version": minutes["version"], "body": "纪要", "outcomes": entries}
    )
    assert no_csrf.status == 403
    saved = await browser.session.put(
        browser.url(path),
        json={"version": minutes["version"], "body": "纪要", "outcomes": entries},
        headers={"X-CSRF-Token": browser.csrf},
    )
    assert saved.status == 200, await saved.text()
    version = (await saved.json())["version"]
    assert (await client.get(f"/api/deliberations/{s.deliberation_id}/minutes")).status == 404
    published = await browser.post(f"{path}/publish", json={"version": version})
    assert published.status == 200, await published.text()
    topics_ = (await published.json())["topics"]
    oid = topics_[0]["outcome"]["id"]
    assert (await client.get(f"/api/deliberations/{s.deliberation_id}/minutes")).status == 200
    again = await browser.post(f"{path}/publish", json={"version": version + 1})
    assert again.status == 409

    handler = await make_staff(ctx, Role.HANDLER, city.county, username="zjj", unit_id=s.unit_id)
    unit_browser = await login(client, handler.username)
    form = aiohttp.FormData()
    form.add_field("version", "2")
    form.add_field("percent", "30")
    form.add_field("note", "施工队已进场")
    form.add_field("photos", jpeg_with_gps(), filename="site.jpg", content_type="image/jpeg")
    progress = await unit_browser.post(f"/api/staff/outcomes/{oid}/progress", data=form)
    assert progress.status == 201, await progress.text()
    body = await progress.json()
    assert body["percent"] == 30
    photo = body["updates"][0]["photos"][0]["id"]
    image = await client.get(f"/api/outcomes/{oid}/photos/{photo}")
    assert image.status == 200 and image.content_type == "image/jpeg"
    back = await unit_browser.post(
        f"/api/staff/outcomes/{oid}/progress",
        json={"version": body["version"], "percent": 10, "note": "倒退"},
    )
    assert back.status == 400 and "percent" in (await _error(back))["fields"]
    listed = await (await unit_browser.get("/api/staff/outcomes")).json()
    assert {o["id"] for o in listed["outcomes"]} == {t["outcome"]["id"] for t in topics_}


async def test_rating_over_http_once_per_device(
    client: TestClient[Any, Any], city: City, resident: aiohttp.ClientSession
) -> None:
    ctx = ctx_of(client)
    dispatcher = await county_dispatcher(ctx, city)
    r = await resolved_by_handler(ctx, city, dispatcher)
    page = await resident.get(f"/api/outcomes/{r.outcome_id}")
    assert page.status == 200
    public = await page.json()
    assert public["satisfaction"]["total"] == 0 and "version" not in public
    path = f"/api/outcomes/{r.outcome_id}/evaluations"
    missing = await client.post(
        "/api/outcomes/999/evaluations", json={"score": 4, "verdict": "satisfied"}
    )
    assert missing.status == 404
    not_json = await client.post(path, data="score=5")
    assert not_json.status == 400
    missing = await client.post(
        "/api/outcomes/999/evaluations", json={"score": 4, "verdict": "satisfied"}
    )
    assert missing.status == 404
    not_json = await client.post(path, data="score=5")
    assert not_json.status == 400
    bad = await resident.post(path, json={"score": 7, "verdict": "satisfied"})
    assert bad.status == 400 and set((await _error(bad))["fields"]) == {"score"}
    rated = await resident.post(path, json={"score": 4, "verdict": "basically_satisfied"})
    assert rated.status == 201
    assert (await rated.json())["satisfaction"]["basically_satisfied"] == 1
    twice = await resident.post(path, json={"score": 5, "verdict": "satisfied"})
    assert twice.status == 409
    assert (await _error(twice))["message"] == "You have already rated this outcome."
    proposer = await client.post(
        path, json={"score": 1, "verdict": "unsatisfied", "token": r.tracking_token}
    )
    assert proposer.status == 201 and (await proposer.json())["reopened"] is True
    final = await (await resident.get(f"/api/outcomes/{r.outcome_id}")).json()
    assert final["satisfaction"] == {
        "satisfied": 0,
        "basically_satisfied": 1,
        "unsatisfied": 1,
        "total": 2,
        "rate": 0.5,
    }
