from __future__ import annotations

import asyncio
import contextlib
import io
import re
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from server.core.auth import Role
from server.core.context import Context
from server.core.errors import (
    Forbidden,
    Gone,
    InvalidImage,
    InvalidTransitionError,
    NotFound,
    RateLimited,
    StaleUpdate,
    ValidationFailed,
)
from server.core.notifier import RecordingNotifier
from server.rooms import actions as rooms
from server.topics import actions
from server.topics.actions import Upload
from server.topics.model import TopicKind, TopicSource, TopicStatus
from server.topics.tables import Topic, TopicEvent, TopicPhoto
from tests.conftest import files_under
from tests.factories import jpeg_with_gps, make_city, make_staff, png, submission, submit


async def topic_rows(ctx: Context) -> tuple[int, int, int]:
    async with ctx.db.read() as s:
        topics = await s.scalar(select(func.count(Topic.id)))
        events = await s.scalar(select(func.count(TopicEvent.id)))
        photos = await s.scalar(select(func.count(TopicPhoto.id)))
    return int(topics or 0), int(events or 0), int(photos or 0)


async def test_submit_numbers_stores_and_tells_exactly_the_territorys_staff(
    ctx: Context, notifier: RecordingNotifier
) -> None:
    city = await make_city(ctx)
    done = await submit(ctx, city.room, name="张三", phone="13812341234", consent=True)
    assert done.number == "HA2026-000001"
    assert done.tracking_url == f"https://msy.example.cn/t/{done.tracking_token}"
    assert len(done.tracking_token) >= 32
    [sent] = notifier.sent
    assert (sent.event, sent.namespace) == ("topic", "/staff")
    ancestors = [int(p) for p in city.community.path.strip("/").split("/")]
    assert sent.rooms == [f"region:{r}" for r in ancestors]
    assert sent.payload["type"] == "topic" and sent.payload["op"] == "submitted"
    topic = sent.payload["topic"]
    assert topic["number"] == done.number and topic["status"] == "submitted"
    assert topic["submitter"] == {"name": "张三", "phone": "138****1234"}
    assert topic["source"] == "qr" and topic["room"]["code"] == city.room.code
    second = await submit(ctx, city.other_room)
    assert second.number == "HA2026-000002"


async def test_tracking_shows_the_public_timeline_only_to_the_token(ctx: Context) -> None:
    city = await make_city(ctx)
    done = await submit(ctx, city.room, phone="13812341234", consent=True)
    tracked = await actions.track_topic(ctx, done.tracking_token)
    assert tracked.number == done.number and tracked.status is TopicStatus.SUBMITTED
    assert [e.status for e in tracked.timeline] == [TopicStatus.SUBMITTED]
    assert "13812341234" not in repr(tracked)
    for bad in ("", "x" * 65, done.tracking_token[:-1] + "A"):
        with pytest.raises(NotFound):
            await actions.track_topic(ctx, bad)


async def test_photos_are_cleaned_and_served_by_token(ctx: Context) -> None:
    city = await make_city(ctx)
    done = await actions.submit_topic(
        ctx,
        submission(),
        [Upload("a.jpg", jpeg_with_gps()), Upload("b.png", png())],
        room_code=city.room.code,
        device_id="d",
        ip="192.0.2.1",
    )
    tracked = await actions.track_topic(ctx, done.tracking_token)
    assert len(tracked.photo_ids) == 2
    data = await actions.tracked_photo(ctx, done.tracking_token, tracked.photo_ids[0])
    assert Image.open(io.BytesIO(data)).format == "JPEG" and b"PhoneMaker" not in data
    assert len(files_under(ctx.settings.uploads_dir)) == 2
    with pytest.raises(NotFound):
        await actions.tracked_photo(ctx, "wrong-token", tracked.photo_ids[0])


@pytest.mark.parametrize(
    ("uploads", "error"),
    [
        ([Upload("a.jpg", jpeg_with_gps()), Upload("x.jpg", b"GIF89a not really")], InvalidImage),
        ([Upload("a.jpg", jpeg_with_gps())] * 4, ValidationFailed),
        ([Upload("big.jpg", b"\xff" * (5 * 1024 * 1024 + 1))], ValidationFailed),
    ],
    ids=["one-bad-photo", "four-photos", "over-5mb"],
)
async def test_a_refused_submission_leaves_no_row_and_no_file(
    ctx: Context, notifier: RecordingNotifier, uploads: list[Upload], error: type[Exception]
) -> None:
    city = await make_city(ctx)
    with pytest.raises(error):
        await actions.submit_topic(
            ctx, submission(), uploads, room_code=city.room.code, device_id="d", ip="192.0.2.1"
        )
    assert await topic_rows(ctx) == (0, 0, 0)
    assert files_under(ctx.settings.uploads_dir) == []
    assert notifier.sent == []


async def test_a_failed_transaction_removes_the_photos_it_placed(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    city = await make_city(ctx)

    async def broken_events(session: object, rows: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(actions.store, "insert_events", broken_events)
    with pytest.raises(RuntimeError):
        await actions.submit_topic(
            ctx,
            submission(),
            [Upload("a.jpg", jpeg_with_gps())],
            room_code=city.room.code,
            device_id="d",
            ip="192.0.2.1",
        )
    assert await topic_rows(ctx) == (0, 0, 0)
    assert files_under(ctx.settings.uploads_dir) == []


async def test_invalid_fields_and_unknown_rooms_are_refused(ctx: Context) -> None:
    city = await make_city(ctx)
    with pytest.raises(ValidationFailed) as caught:
        await submit(ctx, city.room, title="", phone="123")
    assert set(caught.value.fields) == {"title", "phone"}
    with pytest.raises(NotFound):
        await actions.submit_topic(ctx, submission(), [], room_code="ZZZZZZ", ip="192.0.2.1")
    await rooms.rotate_room_code(ctx, None, city.room.id)
    retired = await submit(ctx, city.room)  # the old poster still works
    assert retired.number.endswith("000001")
    await rooms.revoke_room_code(ctx, None, city.room.code)
    with pytest.raises(Gone):
        await submit(ctx, city.room)
    assert (await topic_rows(ctx))[0] == 1


async def test_floods_are_limited_per_device_and_per_ip(ctx: Context) -> None:
    city = await make_city(ctx)
    limit = ctx.settings.rate_limit_device.count
    for i in range(limit):
        await actions.submit_topic(
            ctx, submission(), [], room_code=city.room.code, device_id="phone-1", ip=f"192.0.2.{i}"
        )
    with pytest.raises(RateLimited) as caught:
        await actions.submit_topic(
            ctx, submission(), [], room_code=city.room.code, device_id="phone-1", ip="192.0.2.200"
        )
    assert 0 < caught.value.retry_after <= ctx.settings.rate_limit_device.seconds
    ip_limit = ctx.settings.rate_limit_ip.count
    for i in range(ip_limit):
        await actions.submit_topic(
            ctx,
            submission(),
            [],
            room_code=city.room.code,
            device_id=f"phone-{i + 10}",
            ip="198.51.100.7",
        )
    with pytest.raises(RateLimited):
        await actions.submit_topic(
            ctx,
            submission(),
            [],
            room_code=city.room.code,
            device_id="fresh-phone",
            ip="198.51.100.7",
        )
    assert (await topic_rows(ctx))[0] == limit + ip_limit


async def test_info_officer_enters_offline_topics_in_their_town_only(
    ctx: Context, notifier: RecordingNotifier
) -> None:
    city = await make_city(ctx)
    officer = await make_staff(ctx, Role.INFO_OFFICER, city.town)
    done = await actions.submit_topic(ctx, submission(), [], room_id=city.room.id, actor=officer)
    listed = await actions.list_topics(ctx, officer)
    assert [t.number for t in listed.topics] == [done.number]
    assert listed.topics[0].source is TopicSource.OFFLINE
    with pytest.raises(Forbidden):
        await actions.submit_topic(ctx, submission(), [], room_id=city.other_room.id, actor=officer)
    with pytest.raises(ValidationFailed):
        await actions.submit_topic(ctx, submission(), [], room_id=99999, actor=officer)
    chief = await make_staff(ctx, Role.ROOM_CHIEF, city.community)
    with pytest.raises(Forbidden):
        await actions.submit_topic(ctx, submission(), [], room_id=city.room.id, actor=chief)
    assert (await topic_rows(ctx))[0] == 1
    assert len(notifier.sent) == 1


async def test_staff_queue_filters_within_territory(ctx: Context) -> None:
    city = await make_city(ctx)
    for i in range(3):
        await submit(ctx, city.room, title=f"第{i}个议题标题", kind="suggestion" if i else "demand")
    await submit(ctx, city.other_room, title="园区的议题标题")
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    admin = await make_staff(ctx, Role.ADMIN, city.city)
    handler = await make_staff(ctx, Role.HANDLER, city.town)
    assert (await actions.list_topics(ctx, dispatcher)).total == 3
    assert (await actions.list_topics(ctx, admin)).total == 4
    page = await actions.list_topics(ctx, admin, limit=2)
    assert [t.number[-1] for t in page.topics] == ["4", "3"] and page.next_before_id is not None
    rest = await actions.list_topics(ctx, admin, limit=2, before_id=page.next_before_id)
    assert [t.number[-1] for t in rest.topics] == ["2", "1"] and rest.next_before_id is None
    assert (await actions.list_topics(ctx, admin, kind=TopicKind.SUGGESTION)).total == 2
    assert (await actions.list_topics(ctx, admin, region_id=city.other_county.id)).total == 1
    assert (await actions.list_topics(ctx, admin, search="HA2026-000004")).total == 1
    assert (await actions.list_topics(ctx, admin, statuses=(TopicStatus.RESOLVED,))).total == 0
    with pytest.raises(Forbidden):
        await actions.list_topics(ctx, dispatcher, region_id=city.other_county.id)
    assert (await actions.list_topics(ctx, handler)).total == 0  # nothing assigned to its unit


async def test_200_concurrent_submissions_get_unique_consecutive_numbers(ctx: Context) -> None:
    city = await make_city(ctx)
    results = await asyncio.gather(
        *(
            actions.submit_topic(
                ctx,
                submission(title=f"并发议题{i:03d}"),
                [],
                room_code=city.room.code,
                device_id=f"phone-{i}",
                ip=f"10.1.{i // 50}.{i % 50}",
            )
            for i in range(200)
        )
    )
    numbers = sorted(r.number for r in results)
    assert numbers == [f"HA2026-{n:06d}" for n in range(1, 201)]
    assert all(re.fullmatch(r"HA2026-\d{6}", n) for n in numbers)
    assert (await topic_rows(ctx))[:2] == (200, 200)


async def test_one_bad_topic_in_a_batch_fails_alone(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent submissions share a transaction; a failure must not take the others down."""
    city = await make_city(ctx)
    original_insert = actions.store.insert_topics

    async def refuses_poison(session: Any, rows: list[dict[str, Any]]) -> list[int]:
        if any(row["title"] == "有毒的议题标题" for row in rows):
            raise RuntimeError("poison")
        return await original_insert(session, rows)

    monkeypatch.setattr(actions.store, "insert_topics", refuses_poison)
    titles = [f"正常议题{i:02d}号" for i in range(9)]
    titles.insert(4, "有毒的议题标题")
    results = await asyncio.gather(
        *(
            actions.submit_topic(
                ctx,
                submission(title=t),
                [Upload("a.jpg", jpeg_with_gps())],
                room_code=city.room.code,
                device_id=f"d{i}",
                ip=f"10.9.0.{i}",
            )
            for i, t in enumerate(titles)
        ),
        return_exceptions=True,
    )
    failed = [r for r in results if isinstance(r, Exception)]
    assert len(failed) == 1 and str(failed[0]) == "poison"
    assert isinstance(results[4], RuntimeError)
    numbers = sorted(r.number for r in results if not isinstance(r, Exception))
    assert len(numbers) == 9 and len(set(numbers)) == 9
    assert await topic_rows(ctx) == (9, 9, 9)
    assert len(files_under(ctx.settings.uploads_dir)) == 9


async def test_a_caller_that_goes_away_does_not_lose_its_topic(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    city = await make_city(ctx)
    real = actions.store.take_numbers
    writing = asyncio.Event()

    async def slow(session: Any, key: str, count: int) -> int:
        writing.set()
        await asyncio.sleep(0.2)
        return await real(session, key, count)

    monkeypatch.setattr(actions.store, "take_numbers", slow)
    task = asyncio.create_task(submit(ctx, city.room))
    await asyncio.wait_for(writing.wait(), 5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()
    for _ in range(100):
        if (await topic_rows(ctx))[0] == 1:
            break
        await asyncio.sleep(0.02)
    assert await topic_rows(ctx) == (1, 1, 0)


async def test_moves_follow_the_workflow_and_leave_a_public_timeline(
    ctx: Context, notifier: RecordingNotifier
) -> None:
    city = await make_city(ctx)
    done = await submit(ctx, city.room)
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    notifier.sent.clear()
    accepted = await actions.move_topic(
        ctx, dispatcher, done.topic_id, TopicStatus.ACCEPTED, version=1, note="属实，受理"
    )
    assert (accepted.status, accepted.version) == (TopicStatus.ACCEPTED, 2)
    [sent] = notifier.sent
    assert sent.payload["op"] == "moved" and sent.payload["topic"]["status"] == "accepted"
    assert sent.rooms[-1] == f"region:{city.community.id}"
    tracked = await actions.track_topic(ctx, done.tracking_token)
    assert [(e.status, e.note) for e in tracked.timeline] == [
        (TopicStatus.SUBMITTED, ""),
        (TopicStatus.ACCEPTED, "属实，受理"),
    ]


async def test_illegal_and_stale_moves_change_nothing(
    ctx: Context, notifier: RecordingNotifier
) -> None:
    city = await make_city(ctx)
    done = await submit(ctx, city.room)
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    notifier.sent.clear()
    with pytest.raises(InvalidTransitionError, match="from submitted to resolved") as caught:
        await actions.move_topic(ctx, dispatcher, done.topic_id, TopicStatus.RESOLVED, version=1)
    assert caught.value.fields == {"status": "submitted"}
    with pytest.raises(StaleUpdate, match="now submitted \\(version 1\\)"):
        await actions.move_topic(ctx, dispatcher, done.topic_id, TopicStatus.ACCEPTED, version=7)
    with pytest.raises(ValidationFailed):
        await actions.move_topic(ctx, dispatcher, done.topic_id, TopicStatus.REJECTED, version=1)
    with pytest.raises(NotFound):
        await actions.move_topic(ctx, dispatcher, 9999, TopicStatus.ACCEPTED, version=1)
    tracked = await actions.track_topic(ctx, done.tracking_token)
    assert tracked.status is TopicStatus.SUBMITTED and len(tracked.timeline) == 1
    assert notifier.sent == []


async def test_two_dispatchers_at_once_one_wins(ctx: Context) -> None:
    city = await make_city(ctx)
    done = await submit(ctx, city.room)
    first = await make_staff(ctx, Role.DISPATCHER, city.county)
    second = await make_staff(ctx, Role.ADMIN, city.city)
    results = await asyncio.gather(
        actions.move_topic(ctx, first, done.topic_id, TopicStatus.ACCEPTED, version=1),
        actions.move_topic(
            ctx, second, done.topic_id, TopicStatus.REJECTED, version=1, note="不属于受理范围"
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and len(losers) == 1 and isinstance(losers[0], StaleUpdate)
    tracked = await actions.track_topic(ctx, done.tracking_token)
    assert tracked.status is winners[0].status and len(tracked.timeline) == 2


async def test_only_dispatchers_in_the_territory_move_topics(ctx: Context) -> None:
    city = await make_city(ctx)
    done = await submit(ctx, city.room)
    for role, region in (
        (Role.DISPATCHER, city.other_county),
        (Role.INFO_OFFICER, city.town),
        (Role.HANDLER, city.town),
        (Role.ROOM_CHIEF, city.community),
    ):
        staff = await make_staff(ctx, role, region)
        with pytest.raises(Forbidden):
            await actions.move_topic(ctx, staff, done.topic_id, TopicStatus.ACCEPTED, version=1)
    assert (await actions.track_topic(ctx, done.tracking_token)).status is TopicStatus.SUBMITTED


async def test_merged_duplicates_follow_the_surviving_topic(ctx: Context) -> None:
    city = await make_city(ctx)
    survivor = await submit(ctx, city.room, title="公交站台没有遮雨棚")
    duplicate = await submit(ctx, city.other_room, title="车站下雨没地方躲")
    admin = await make_staff(ctx, Role.ADMIN, city.city)
    merged = await actions.merge_topic(
        ctx, admin, duplicate.topic_id, survivor.topic_id, version=1, note="同一站台"
    )
    assert merged.status is TopicStatus.MERGED
    await actions.move_topic(ctx, admin, survivor.topic_id, TopicStatus.ACCEPTED, version=1)
    tracked = await actions.track_topic(ctx, duplicate.tracking_token)
    assert tracked.status is TopicStatus.MERGED and tracked.followed is not None
    assert tracked.followed.number == survivor.number
    assert tracked.followed.status is TopicStatus.ACCEPTED
    assert [e.status for e in tracked.timeline][-1] is TopicStatus.MERGED
    # nothing is deleted: the duplicate still lists in the queue, as merged
    listed = await actions.list_topics(ctx, admin, statuses=(TopicStatus.MERGED,))
    assert [t.number for t in listed.topics] == [duplicate.number]


async def test_bad_merges_change_nothing(ctx: Context) -> None:
    city = await make_city(ctx)
    a = await submit(ctx, city.room, title="第一个议题标题")
    b = await submit(ctx, city.room, title="第二个议题标题")
    c = await submit(ctx, city.other_room, title="第三个议题标题")
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    admin = await make_staff(ctx, Role.ADMIN, city.city)
    with pytest.raises(ValidationFailed, match="into itself"):
        await actions.merge_topic(ctx, admin, a.topic_id, a.topic_id, version=1)
    with pytest.raises(Forbidden):  # c is outside the county dispatcher's territory
        await actions.merge_topic(ctx, dispatcher, a.topic_id, c.topic_id, version=1)
    with pytest.raises(StaleUpdate):
        await actions.merge_topic(ctx, admin, a.topic_id, b.topic_id, version=3)
    await actions.merge_topic(ctx, admin, b.topic_id, c.topic_id, version=1)
    with pytest.raises(InvalidTransitionError, match="it is merged"):
        await actions.merge_topic(ctx, admin, a.topic_id, b.topic_id, version=1)
    with pytest.raises(InvalidTransitionError, match="from merged to merged"):
        await actions.merge_topic(ctx, admin, b.topic_id, a.topic_id, version=2)
    with pytest.raises(ValidationFailed):
        await actions.merge_topic(ctx, admin, a.topic_id, 99999, version=1)
    assert (await actions.track_topic(ctx, a.tracking_token)).status is TopicStatus.SUBMITTED
    assert (await actions.track_topic(ctx, a.tracking_token)).followed is None
