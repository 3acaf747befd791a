"""The public outcome tracker and the boards hub."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.core.context import Context
from server.core.errors import NotFound, ValidationFailed
from server.outcomes import actions as outcomes
from tests.deliberations.helpers import county_dispatcher
from tests.factories import City, make_city
from tests.http_helpers import ctx_of
from tests.outcomes.helpers import ended_session, inputs, published_session, resolved_by_handler


async def test_the_tracker_lists_published_outcomes_with_their_counts(ctx: Context) -> None:
    city = await make_city(ctx)
    host = await county_dispatcher(ctx, city)
    r = await resolved_by_handler(ctx, city, host)
    await outcomes.rate_outcome(ctx, r.outcome_id, score=5, verdict="satisfied", device_id="a")
    await outcomes.rate_outcome(ctx, r.outcome_id, score=2, verdict="unsatisfied", device_id="b")
    s = await published_session(ctx, city, host, n=1)
    draft = await ended_session(ctx, city, host, n=1)
    m = await outcomes.get_minutes(ctx, host, draft.deliberation_id)
    await outcomes.save_minutes(
        ctx, host, draft.deliberation_id, version=m.version, body="", outcomes=inputs(ctx, draft)
    )
    page = await outcomes.outcome_tracker(ctx)
    assert page.total == 2  # the draft is not public
    by_id = {i.id: i for i in page.items}
    assert by_id[r.outcome_id].satisfaction.as_dict()["rate"] == 0.5
    assert by_id[r.outcome_id].flag == "done"
    ctx.clock.advance(timedelta(days=40))  # type: ignore[attr-defined]
    overdue = await outcomes.outcome_tracker(ctx, flag="overdue")
    assert [i.topic_number for i in overdue.items] == [
        i.topic_number for i in page.items if i.id != r.outcome_id
    ]
    assert (await outcomes.outcome_tracker(ctx, flag="done")).total == 1
    assert (await outcomes.outcome_tracker(ctx, region_id=city.other_county.id)).total == 0
    assert (await outcomes.outcome_tracker(ctx, region_id=city.town.id)).total == 2
    with pytest.raises(ValidationFailed):
        await outcomes.outcome_tracker(ctx, flag="late")
    with pytest.raises(NotFound):
        await outcomes.outcome_tracker(ctx, region_id=9999)
    assert s.topic_ids


async def test_the_tracker_and_hub_pages(client: TestClient[Any, Any], city: City) -> None:
    ctx = ctx_of(client)
    host = await county_dispatcher(ctx, city)
    r = await resolved_by_handler(ctx, city, host)
    hub = await client.get("/public")
    assert hub.status == 200
    text = await hub.text()
    for link in ("/outcomes", "/disclosures", "/bulletins", "/awards", "/dashboard"):
        assert f'href="{link}"' in text
    page = await client.get("/outcomes")
    html = await page.text()
    assert (
        page.status == 200 and f"/outcomes/{r.outcome_id}" in html and "已协调物业修好路灯" in html
    )
    data = await (await client.get("/api/outcomes?flag=done")).json()
    assert [o["id"] for o in data["outcomes"]] == [r.outcome_id]
    assert (await client.get("/api/outcomes?flag=soon")).status == 400
    assert (await client.get("/api/outcomes?region=abc")).status == 400
