"""Classification (分类识别): which model intake uses, dispatchers' corrections, retraining."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from server.core.audit import record_audit
from server.core.auth import Permission, Principal
from server.core.context import Context
from server.core.errors import NotFound, StaleUpdate, ValidationFailed
from server.topics import store
from server.topics.actions.common import StaffTopic, publish_for_region
from server.topics.actions.queue import topic_detail
from server.topics.classify import (
    CATEGORIES,
    SUBJECTS,
    Classifier,
    Example,
    Report,
    evaluate,
    load_corpus,
)

log = logging.getLogger(__name__)
MODEL_FILE = "classifier.json"


@cache
def corpus_classifier() -> Classifier:
    """The model trained on the shipped corpus alone: deterministic, so built once."""
    return Classifier.train(load_corpus())


def model_path(ctx: Context) -> Path:
    return ctx.settings.data_dir / MODEL_FILE


async def classifier(ctx: Context) -> Classifier:
    """The model intake uses: the one `mashangyi train-classifier` last wrote (corpus plus
    dispatchers' corrections) if there is one, else the corpus model. Loaded once per
    process, off the event loop."""
    loaded: Classifier | None = ctx.db.shared.get("topics.classifier")
    if loaded is None:
        path = model_path(ctx)

        def load() -> Classifier:
            if path.exists():
                return Classifier.from_json(json.loads(path.read_text("utf-8")))
            return corpus_classifier()

        loaded = await asyncio.to_thread(load)
        ctx.db.shared["topics.classifier"] = loaded
    return loaded


@dataclass(frozen=True, slots=True)
class TrainingResult:
    category: Report
    subject: Report
    examples: int
    corrections: int
    path: Path


async def train_classifier(ctx: Context) -> TrainingResult:
    """Retrain from the corpus and every correction; report on the corpus's held-out split.

    The reports come from a model trained without the held-out topics; the saved model
    is then trained on everything.
    """
    async with ctx.db.read() as session:
        corrections = await store.list_corrections(session)
    fixes = _correction_examples(corrections)

    def work() -> TrainingResult:
        corpus = load_corpus()
        train_part = [e for e in corpus if e.split == "train"]
        test_part = [e for e in corpus if e.split == "test"]
        held_out = Classifier.train([*train_part, *fixes])
        category = evaluate(held_out.category, [(e.text, e.category) for e in test_part])
        subject = evaluate(held_out.subject, [(e.text, e.subject) for e in test_part])
        final = Classifier.train([*corpus, *fixes])
        path = model_path(ctx)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(final.to_json(), ensure_ascii=False), "utf-8")
        tmp.replace(path)
        return TrainingResult(category, subject, len(corpus) + len(fixes), len(corrections), path)

    result = await asyncio.to_thread(work)
    ctx.db.shared.pop("topics.classifier", None)
    return result


def _correction_examples(corrections: list[tuple[str, str, str]]) -> list[Example]:
    """A correction fixes one label; the other comes from the latest state of the topic."""
    latest: dict[str, dict[str, str]] = {}
    for text, field, label in corrections:
        latest.setdefault(text, {})[field] = label
    examples = []
    for text, labels in latest.items():
        title, _, description = text.partition("\n")
        examples.append(
            Example(
                title, description, labels.get("category", ""), labels.get("subject", ""), "train"
            )
        )
    return [e for e in examples if e.category and e.subject]


async def correct_classification(
    ctx: Context,
    actor: Principal,
    topic_id: int,
    *,
    version: int,
    category: str | None = None,
    subject: str | None = None,
) -> StaffTopic:
    """A dispatcher fixes the automatic category or subject; kept for the next training."""
    errors = {}
    if category is not None and category not in CATEGORIES:
        errors["category"] = "Unknown category."
    if subject is not None and subject not in SUBJECTS:
        errors["subject"] = "Unknown subject."
    if category is None and subject is None:
        errors["category"] = "Give a category or a subject."
    if errors:
        raise ValidationFailed("The correction is not valid.", fields=errors)
    async with ctx.db.read() as session:
        found = await store.get_topic_with_place(session, topic_id)
    if found is None:
        raise NotFound(f"No topic with id {topic_id}.")
    _topic, _room, region = found
    actor.require(Permission.DISPATCH_TOPICS, region.path)
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        topic = await store.get_topic(session, topic_id)
        assert topic is not None
        if topic.version != version:
            raise StaleUpdate(
                f"The topic changed since you loaded it (version {topic.version}).",
                fields={"status": topic.status, "version": str(topic.version)},
            )
        # Kept as "title\ndescription" so the training example can be rebuilt.
        stored = f"{topic.title}\n{topic.description}"
        values: dict[str, object] = {}
        for field, label, before in (
            ("category", category, topic.category),
            ("subject", subject, topic.subject),
        ):
            if label is None or label == before:
                continue
            values[field] = label
            values[f"{field}_confidence"] = None
            session.add(
                store.new_correction(
                    topic_id=topic_id,
                    actor_id=actor.user_id,
                    at=now,
                    field=field,
                    from_label=before,
                    to_label=label,
                    text=stored,
                )
            )
        if values and not await store.update_topic(
            session, topic_id, expected_version=version, now=now, values=values
        ):
            raise StaleUpdate("The topic changed while you were acting; reload it.")
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="topic.classify",
            target=f"topic:{topic_id}",
            detail={k: v for k, v in values.items() if v is not None},
        )
    detail = await topic_detail(ctx, actor, topic_id)
    await publish_for_region(ctx, region.path, "classified", detail.topic)
    return detail.topic
