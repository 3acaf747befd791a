"""Public evaluation (评题): anyone may score a published outcome, say whether they are
satisfied, and comment; one evaluation per identity.

The identity is the proposer (the topic's tracking token, or the device that raised the
topic) or else a keyed digest of the device id, so the table never holds a device id.
The unique constraint on (outcome, identity) is the one-rating rule, under any
concurrency. Comments pass the live room's sensitive-word filter (a match is held for a
moderator) and may be hidden with a reason, never deleted. An unsatisfied proposer
reopens a resolved topic for follow-up (回访) in the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from server.core.audit import record_audit
from server.core.auth import Permission, Principal, token_digest
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.core.ratelimit import enforce
from server.deliberations.actions.room import word_filter
from server.deliberations.model import CommentStatus
from server.outcomes import store
from server.outcomes.actions.progress import comment_json
from server.outcomes.model import (
    Invalid,
    OutcomeStatus,
    Satisfaction,
    check_evaluation,
    reopens,
)
from server.outcomes.tables import Evaluation
from server.topics import actions as topics
from server.topics.model import TopicStatus

PROPOSER = "proposer"
REASON_MAX = 200


@dataclass(frozen=True, slots=True)
class Rated:
    evaluation: dict[str, Any]
    satisfaction: Satisfaction
    reopened: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "evaluation": self.evaluation,
            "satisfaction": self.satisfaction.as_dict(),
            "reopened": self.reopened,
        }


def device_key(ctx: Context, device_id: str) -> str:
    digest = hmac.new(
        ctx.settings.secret_key.encode(), f"evaluation:{device_id}".encode(), hashlib.sha256
    )
    return "device:" + digest.hexdigest()[:40]


async def rate_outcome(
    ctx: Context,
    outcome_id: int,
    *,
    score: object,
    verdict: object,
    comment: object = None,
    device_id: str | None = None,
    token: str | None = None,
    ip: str = "",
) -> Rated:
    """Record one identity's evaluation of a published outcome.

    Rate-limited per device and IP like other public writes. Refused with nothing
    written: bad fields (ValidationFailed), an unknown outcome (NotFound), an unpublished
    one (Conflict), a tracking token of another topic (Forbidden), a second evaluation
    by the same identity (Conflict). An unsatisfied proposer of a resolved topic
    reopens it; the staff consoles hear of it after the commit."""
    checks = [
        (f"rate-ip:{ip}", ctx.settings.rate_limit_ip.count, ctx.settings.rate_limit_ip.seconds)
    ]
    if device_id:
        checks.append(
            (
                f"rate-dev:{device_id}",
                ctx.settings.rate_limit_device.count,
                ctx.settings.rate_limit_device.seconds,
            )
        )
    await enforce(ctx.limiter, checks)
    try:
        value, choice, text = check_evaluation(score, verdict, comment)
    except Invalid as exc:
        raise ValidationFailed("The evaluation needs attention.", fields=exc.fields) from None
    if not device_id and not token:
        raise ValidationFailed("Rate from a browser or with your tracking link.")
    flagged = word_filter(ctx).matches(text) if text else []
    now = ctx.clock.now()
    moves: list[topics.TopicMove] = []
    try:
        async with ctx.db.write() as session:
            found = await store.get_outcome(session, outcome_id, lock=True)
            if found is None:
                raise NotFound("No such outcome.")
            outcome, topic = found[0], found[1]
            if outcome.status is not OutcomeStatus.PUBLISHED:
                raise Conflict("This outcome is not published yet; it cannot be rated.")
            proposer = False
            if token:
                owner = await store.topic_id_by_tracking(session, token_digest(token))
                if owner != topic.id:
                    raise Forbidden("This tracking link belongs to another topic.")
                proposer = True
            elif device_id and topic.device_id and hmac.compare_digest(device_id, topic.device_id):
                proposer = True
            key = PROPOSER if proposer else device_key(ctx, device_id or "")
            if await store.has_evaluation(session, outcome.id, key):
                raise Conflict("You have already rated this outcome.")
            evaluation = Evaluation(
                outcome_id=outcome.id,
                region_id=topic.region_id,
                identity_key=key,
                proposer=proposer,
                score=value,
                verdict=choice,
                comment=text,
                comment_status=CommentStatus.HELD if flagged else CommentStatus.VISIBLE,
                reason=("sensitive: " + ", ".join(flagged))[:REASON_MAX] if flagged else "",
                created_at=now,
            )
            session.add(evaluation)
            await session.flush()
            if reopens(choice, proposer=proposer) and topic.status is TopicStatus.RESOLVED:
                moves = await topics.move_in_transaction(
                    ctx,
                    session,
                    None,
                    [topic.id],
                    TopicStatus.REOPENED,
                    note="首提者不满意，回访" + (f"：{text}" if text else ""),
                    action="topic.reopen",
                )
            record_audit(
                session,
                at=now,
                actor_id=None,
                action="outcome.rate",
                target=f"outcome:{outcome.id}",
                detail={"verdict": choice, "score": value, "proposer": proposer},
            )
            result = comment_json(evaluation)
            counts = Satisfaction.of(await store.verdict_counts(session, outcome.id))
    except IntegrityError:  # the same identity, at the same moment, from elsewhere
        raise Conflict("You have already rated this outcome.") from None
    await topics.publish_moves(ctx, moves)
    return Rated(result, counts, bool(moves))


async def moderate_evaluation(
    ctx: Context, actor: Principal, evaluation_id: int, *, visible: bool, reason: str = ""
) -> dict[str, Any]:
    """Show a held comment or hide one (with a reason the record keeps). Staff who may
    host sessions in the topic's region moderate, as in the live room."""
    reason = reason.strip()
    if not visible and not reason:
        raise ValidationFailed("Say why the comment is hidden.", fields={"reason": "Required."})
    if len(reason) > REASON_MAX:
        raise ValidationFailed(
            "The reason is too long.", fields={"reason": f"At most {REASON_MAX}."}
        )
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        evaluation = await store.get_evaluation(session, evaluation_id, lock=True)
        if evaluation is None:
            raise NotFound("No such evaluation.")
        found = await store.get_outcome(session, evaluation.outcome_id)
        assert found is not None
        actor.require(Permission.HOST_DELIBERATIONS, found[2])
        if not evaluation.comment:
            raise Conflict("This evaluation has no comment to moderate.")
        evaluation.comment_status = CommentStatus.VISIBLE if visible else CommentStatus.HIDDEN
        evaluation.reason = "" if visible else reason
        evaluation.moderated_by_id = actor.user_id
        evaluation.moderated_at = now
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="evaluation.show" if visible else "evaluation.hide",
            target=f"evaluation:{evaluation.id}",
            detail={"reason": reason},
        )
        await session.flush()
        return {**comment_json(evaluation), "comment_text": evaluation.comment}


async def held_comments(ctx: Context, actor: Principal) -> list[dict[str, Any]]:
    """Comments waiting for a moderator in the actor's territory."""
    actor.require(Permission.HOST_DELIBERATIONS)
    async with ctx.db.read() as session:
        rows = await store.held_evaluations(session, actor.region_path)
    return [
        {
            **comment_json(e),
            "comment_text": e.comment,
            "outcome_id": e.outcome_id,
            "topic_number": n,
        }
        for e, n in rows
    ]
