"""Handling (办理): contact, progress notes, resolving with a result and its photos."""

from __future__ import annotations

import pytest

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Principal, Role
from server.core.context import Context
from server.core.errors import (
    Conflict,
    Forbidden,
    InvalidImage,
    NotFound,
    StaleUpdate,
    ValidationFailed,
)
from server.core.notifier import RecordingNotifier
from server.settings import Settings
from server.topics import actions
from server.topics.actions import Upload, handling
from server.topics.model import TopicStatus
from tests.conftest import files_under
from tests.factories import City, jpeg_with_gps, make_city, make_staff, submission, submit


async def assigned(ctx: Context, city: City) -> tuple[int, str, Principal, Principal]:
    """(topic id, tracking token, dispatcher, handler) for a topic assigned to a town."""
    unit = await accounts.create_unit(
        ctx, None, name="城南街道办", kind=UnitKind.TOWN, region_id=city.town.id
    )
    relay = await accounts.create_unit(
        ctx, None, name="清河区中转", kind=UnitKind.RELAY, region_id=city.county.id
    )
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    handler = await make_staff(ctx, Role.HANDLER, city.town, unit_id=unit.id)
    done = await submit(ctx, city.room)
    await actions.move_topic(ctx, dispatcher, done.topic_id, TopicStatus.ACCEPTED, version=1)
    await actions.route_topic(ctx, dispatcher, done.topic_id, version=2, unit_id=relay.id)
    await actions.route_topic(ctx, dispatcher, done.topic_id, version=3, unit_id=unit.id)
    return done.topic_id, done.tracking_token, dispatcher, handler


async def test_contact_notes_stay_with_the_staff(ctx: Context) -> None:
    city = await make_city(ctx)
    topic_id, token, _dispatcher, handler = await assigned(ctx, city)
    await handling.record_contact(
        ctx, handler, topic_id, method="visit", note="居民张阿姨 13812345678"
    )
    staff_view = await actions.topic_detail(ctx, handler, topic_id)
    assert (staff_view.events[-1].kind, staff_view.events[-1].note) == (
        "contact",
        "visit: 居民张阿姨 13812345678",
    )
    public = (await actions.track_topic(ctx, token)).timeline[-1]
    assert (public.kind, public.note) == ("contact", "visit")
    assert staff_view.topic.version == 4  # records do not bump the version
    with pytest.raises(ValidationFailed):
        await handling.record_contact(ctx, handler, topic_id, method="carrier pigeon")


async def test_progress_notes_are_public_unless_said_otherwise(ctx: Context) -> None:
    city = await make_city(ctx)
    topic_id, token, _dispatcher, handler = await assigned(ctx, city)
    await handling.add_progress(ctx, handler, topic_id, note="已联系供电公司，周五更换灯具")
    await handling.add_progress(ctx, handler, topic_id, note="内部：物业经理不配合", public=False)
    public = [(e.kind, e.note) for e in (await actions.track_topic(ctx, token)).timeline]
    assert ("progress", "已联系供电公司，周五更换灯具") in public
    assert all("物业经理" not in note for _, note in public)
    with pytest.raises(ValidationFailed):
        await handling.add_progress(ctx, handler, topic_id, note="   ")
    with pytest.raises(ValidationFailed):
        await handling.add_progress(ctx, handler, topic_id, note="长" * 1001)


async def test_records_need_an_open_topic_of_ones_own_unit(ctx: Context) -> None:
    city = await make_city(ctx)
    topic_id, _token, dispatcher, _handler = await assigned(ctx, city)
    stranger = await make_staff(ctx, Role.HANDLER, city.town, username="stranger")
    with pytest.raises(Forbidden):
        await handling.record_contact(ctx, stranger, topic_id, method="phone")
    with pytest.raises(Forbidden):
        await handling.add_progress(ctx, stranger, topic_id, note="不是我的")
    fresh = await submit(ctx, city.room, title="新议题还没派单")
    with pytest.raises(Conflict):  # no unit yet: there is nobody to have made contact
        await handling.record_contact(ctx, dispatcher, fresh.topic_id, method="phone")
    await actions.move_topic(
        ctx, dispatcher, fresh.topic_id, TopicStatus.REJECTED, version=1, note="不属于受理范围"
    )
    with pytest.raises(Conflict):
        await handling.add_progress(ctx, dispatcher, fresh.topic_id, note="已拒绝后还记")


async def test_resolving_with_result_photos(
    ctx: Context, settings: Settings, notifier: RecordingNotifier
) -> None:
    city = await make_city(ctx)
    topic_id, token, _dispatcher, handler = await assigned(ctx, city)
    await actions.move_topic(ctx, handler, topic_id, TopicStatus.HANDLING, version=4)
    notifier.sent.clear()
    resolved = await handling.resolve_topic(
        ctx,
        handler,
        topic_id,
        version=5,
        result="已更换楼道灯具，经居民确认照明恢复。",
        photos=[Upload("after.jpg", jpeg_with_gps())],
    )
    assert resolved.status is TopicStatus.RESOLVED
    detail = await actions.topic_detail(ctx, handler, topic_id)
    last = detail.events[-1]
    assert (last.to_status, last.note) == ("resolved", "已更换楼道灯具，经居民确认照明恢复。")
    assert len(last.photo_ids) == 1 and detail.photo_ids == []  # not the resident's photos
    stored = await actions.staff_photo(ctx, handler, topic_id, last.photo_ids[0])
    assert stored.startswith(b"\xff\xd8") and b"PhoneMaker" not in stored  # EXIF stripped
    tracked = await actions.track_topic(ctx, token)
    assert tracked.timeline[-1].photo_ids == last.photo_ids and tracked.photo_ids == ()
    assert await actions.tracked_photo(ctx, token, last.photo_ids[0]) == stored
    assert len(files_under(settings.uploads_dir)) == 1
    assert [s.payload["op"] for s in notifier.sent] == ["moved"]


@pytest.mark.usefixtures("no_leftover_files")
async def test_a_refused_resolution_leaves_no_file_and_no_change(ctx: Context) -> None:
    city = await make_city(ctx)
    topic_id, _token, dispatcher, handler = await assigned(ctx, city)
    await actions.move_topic(ctx, handler, topic_id, TopicStatus.HANDLING, version=4)
    photo = [Upload("after.jpg", jpeg_with_gps())]
    with pytest.raises(ValidationFailed):
        await handling.resolve_topic(ctx, handler, topic_id, version=5, result="", photos=photo)
    with pytest.raises(InvalidImage):
        await handling.resolve_topic(
            ctx, handler, topic_id, version=5, result="修好了。", photos=[Upload("x.jpg", b"no")]
        )
    with pytest.raises(StaleUpdate):
        await handling.resolve_topic(
            ctx, handler, topic_id, version=4, result="修好了，谢谢。", photos=photo
        )
    stranger = await make_staff(ctx, Role.HANDLER, city.town, username="stranger")
    with pytest.raises(Forbidden):
        await handling.resolve_topic(
            ctx, stranger, topic_id, version=5, result="修好了，谢谢。", photos=photo
        )
    with pytest.raises(ValidationFailed):  # the generic move needs the result too
        await actions.move_topic(ctx, handler, topic_id, TopicStatus.RESOLVED, version=5)
    detail = await actions.topic_detail(ctx, dispatcher, topic_id)
    assert detail.topic.status is TopicStatus.HANDLING and detail.topic.version == 5
    assert [e.to_status for e in detail.events][-1] == "handling"


async def test_a_merged_topics_submitter_sees_the_survivors_result_photos(ctx: Context) -> None:
    city = await make_city(ctx)
    topic_id, _token, dispatcher, handler = await assigned(ctx, city)
    resident_photo = [Upload("mine.jpg", jpeg_with_gps())]
    duplicate = await actions.submit_topic(
        ctx, submission(title="楼道灯也坏了"), [], room_code=city.room.code, device_id="d2"
    )
    await actions.merge_topic(ctx, dispatcher, duplicate.topic_id, topic_id, version=1)
    await actions.move_topic(ctx, handler, topic_id, TopicStatus.HANDLING, version=4)
    await handling.resolve_topic(
        ctx, handler, topic_id, version=5, result="灯已换好。", photos=resident_photo
    )
    followed = (await actions.track_topic(ctx, duplicate.tracking_token)).followed
    assert followed is not None
    (result_photo,) = followed.timeline[-1].photo_ids
    assert (await actions.tracked_photo(ctx, duplicate.tracking_token, result_photo)).startswith(
        b"\xff\xd8"
    )
    # The survivor's own (resident's) photos are not the duplicate submitter's to see.
    survivor = await actions.submit_topic(
        ctx, submission(), resident_photo, room_code=city.room.code, device_id="d3"
    )
    other = await actions.submit_topic(
        ctx, submission(title="同一盏灯"), [], room_code=city.room.code, device_id="d4"
    )
    await actions.merge_topic(ctx, dispatcher, other.topic_id, survivor.topic_id, version=1)
    (own,) = (await actions.topic_detail(ctx, dispatcher, survivor.topic_id)).photo_ids
    with pytest.raises(NotFound):
        await actions.tracked_photo(ctx, other.tracking_token, own)
