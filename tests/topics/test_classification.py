"""Classification at intake, dispatchers' corrections, and retraining with them."""

from __future__ import annotations

import json

import pytest

from server.core.auth import Role
from server.core.context import Context
from server.core.errors import Forbidden, StaleUpdate, ValidationFailed
from server.core.notifier import RecordingNotifier
from server.topics import actions
from server.topics.classify import CATEGORIES, SUBJECTS, topic_text
from tests.factories import make_city, make_staff, submit

WAGES = (
    "工地拖欠工资半年了",
    "我们十几个工人在开发区工地干了半年活，老板一直拖欠工资不给，"
    "找劳动监察也没结果，想申请仲裁但不懂流程。",
)


async def test_intake_classifies_and_shows_why(ctx: Context, notifier: RecordingNotifier) -> None:
    city = await make_city(ctx)
    done = await submit(ctx, city.room, title=WAGES[0], description=WAGES[1])
    model = await actions.classifier(ctx)
    category, subject = model.classify(*WAGES)
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    topic = (await actions.topic_detail(ctx, dispatcher, done.topic_id)).topic
    assert (topic.category, topic.subject) == (category.label, subject.label)
    assert topic.category in CATEGORIES and topic.subject in SUBJECTS
    assert topic.category_confidence is not None and 0 < topic.category_confidence <= 1
    text = topic_text(*WAGES)
    words = topic.evidence["category"] + topic.evidence["subject"]
    assert words and all(word in text for word in words)
    sent = notifier.sent[0].payload["topic"]["classification"]
    assert sent["category"] == topic.category and sent["evidence"] == topic.evidence


async def test_a_correction_is_kept_and_checked(ctx: Context) -> None:
    city = await make_city(ctx)
    done = await submit(ctx, city.room, title=WAGES[0], description=WAGES[1])
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    before = (await actions.topic_detail(ctx, dispatcher, done.topic_id)).topic
    new_category = next(c for c in CATEGORIES if c != before.category)
    with pytest.raises(ValidationFailed):
        await actions.correct_classification(
            ctx, dispatcher, done.topic_id, version=1, category="crime"
        )
    with pytest.raises(ValidationFailed):
        await actions.correct_classification(ctx, dispatcher, done.topic_id, version=1)
    with pytest.raises(StaleUpdate):
        await actions.correct_classification(
            ctx, dispatcher, done.topic_id, version=9, category=new_category
        )
    chief = await make_staff(ctx, Role.ROOM_CHIEF, city.community)
    with pytest.raises(Forbidden):
        await actions.correct_classification(
            ctx, chief, done.topic_id, version=1, category=new_category
        )
    fixed = await actions.correct_classification(
        ctx, dispatcher, done.topic_id, version=1, category=new_category
    )
    assert fixed.category == new_category and fixed.category_confidence is None
    assert fixed.subject == before.subject and fixed.version == 2
    async with ctx.db.read() as session:
        assert await actions.store.list_corrections(session) == [
            (f"{WAGES[0]}\n{WAGES[1]}", "category", new_category)
        ]


async def test_retraining_uses_corrections_and_reports_held_out_quality(ctx: Context) -> None:
    city = await make_city(ctx)
    done = await submit(ctx, city.room, title=WAGES[0], description=WAGES[1])
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    await actions.correct_classification(ctx, dispatcher, done.topic_id, version=1, subject="other")
    result = await actions.train_classifier(ctx)
    assert result.corrections == 1 and result.examples >= 661
    assert result.category.macro_f1 >= 0.85
    saved = json.loads(result.path.read_text("utf-8"))
    assert saved  # the server loads this on its next start
    reloaded = await actions.classifier(ctx)
    assert reloaded.classify(*WAGES)[1].label in SUBJECTS
