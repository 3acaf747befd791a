"""Queries for the live room: comments, questions, polls, the speaker queue, reactions
and the agenda. Each takes the session first and never raises HTTP errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.deliberations.model import (
    CommentStatus,
    DeliberationStatus,
    PollStatus,
    QuestionStatus,
    SpeakerStatus,
)
from server.deliberations.tables import (
    AgendaItem,
    AgendaMark,
    Ballot,
    BallotChoice,
    Deliberation,
    Invitation,
    LiveComment,
    Poll,
    PollOption,
    Question,
    QuestionVote,
    ReactionCount,
    SpeakerRequest,
)
from server.topics.tables import Topic


async def lock_deliberation(session: AsyncSession, deliberation_id: int) -> Deliberation | None:
    return (
        await session.execute(
            select(Deliberation).where(Deliberation.id == deliberation_id).with_for_update()
        )
    ).scalar_one_or_none()


async def agenda(session: AsyncSession, deliberation_id: int) -> list[tuple[int, str, str]]:
    """(topic id, number, title) in agenda order."""
    rows = await session.execute(
        select(Topic.id, Topic.number, Topic.title)
        .join(AgendaItem, AgendaItem.topic_id == Topic.id)
        .where(AgendaItem.deliberation_id == deliberation_id)
        .order_by(AgendaItem.position)
    )
    return [(r[0], r[1], r[2]) for r in rows]


def new_mark(**values: Any) -> AgendaMark:
    return AgendaMark(**values)


async def marks(session: AsyncSession, deliberation_id: int) -> list[AgendaMark]:
    return list(
        (
            await session.scalars(
                select(AgendaMark)
                .where(AgendaMark.deliberation_id == deliberation_id)
                .order_by(AgendaMark.id)
            )
        ).all()
    )


# Comments


async def insert_comments(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    result = await session.execute(insert(LiveComment).returning(LiveComment.id), rows)
    return list(result.scalars().all())


async def get_comment(session: AsyncSession, comment_id: int) -> LiveComment | None:
    return await session.get(LiveComment, comment_id)


async def recent_comments(
    session: AsyncSession, deliberation_id: int, statuses: Sequence[CommentStatus], limit: int
) -> list[LiveComment]:
    rows = await session.scalars(
        select(LiveComment)
        .where(LiveComment.deliberation_id == deliberation_id, LiveComment.status.in_(statuses))
        .order_by(LiveComment.id.desc())
        .limit(limit)
    )
    return list(reversed(rows.all()))


async def count_comments(session: AsyncSession, deliberation_id: int) -> dict[CommentStatus, int]:
    rows = await session.execute(
        select(LiveComment.status, func.count())
        .where(LiveComment.deliberation_id == deliberation_id)
        .group_by(LiveComment.status)
    )
    return {status: n for status, n in rows.all()}


async def last_comment_id(session: AsyncSession, deliberation_id: int) -> int:
    value = await session.scalar(
        select(func.max(LiveComment.id)).where(LiveComment.deliberation_id == deliberation_id)
    )
    return int(value or 0)


# Questions


async def get_question(session: AsyncSession, question_id: int) -> Question | None:
    return await session.get(Question, question_id)


async def top_questions(session: AsyncSession, deliberation_id: int, limit: int) -> list[Question]:
    rows = await session.scalars(
        select(Question)
        .where(
            Question.deliberation_id == deliberation_id,
            Question.status.in_((QuestionStatus.OPEN, QuestionStatus.ON_FLOOR)),
        )
        .order_by(Question.votes.desc(), Question.id)
        .limit(limit)
    )
    return list(rows.all())


async def upvoted_by(
    session: AsyncSession, question_ids: Sequence[int], voter_key: str
) -> list[int]:
    if not question_ids:
        return []
    rows = await session.scalars(
        select(QuestionVote.question_id).where(
            QuestionVote.question_id.in_(question_ids), QuestionVote.voter_key == voter_key
        )
    )
    return sorted(rows.all())


async def add_question_vote(
    session: AsyncSession, question_id: int, voter_key: str, at: Any
) -> int:
    """Record one upvote (the unique constraint refuses a second) and return the count."""
    session.add(QuestionVote(question_id=question_id, voter_key=voter_key, created_at=at))
    await session.flush()
    await session.execute(
        update(Question).where(Question.id == question_id).values(votes=Question.votes + 1)
    )
    votes = await session.scalar(select(Question.votes).where(Question.id == question_id))
    return int(votes or 0)


# Polls


async def get_poll(session: AsyncSession, poll_id: int, *, lock: bool = False) -> Poll | None:
    query = select(Poll).where(Poll.id == poll_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def poll_options(session: AsyncSession, poll_ids: Sequence[int]) -> list[PollOption]:
    if not poll_ids:
        return []
    rows = await session.scalars(
        select(PollOption)
        .where(PollOption.poll_id.in_(poll_ids))
        .order_by(PollOption.poll_id, PollOption.position)
    )
    return list(rows.all())


async def polls_of(session: AsyncSession, deliberation_id: int) -> list[Poll]:
    rows = await session.scalars(
        select(Poll).where(Poll.deliberation_id == deliberation_id).order_by(Poll.id)
    )
    return list(rows.all())


async def open_poll(session: AsyncSession, deliberation_id: int) -> Poll | None:
    return (
        await session.scalars(
            select(Poll)
            .where(Poll.deliberation_id == deliberation_id, Poll.status == PollStatus.OPEN)
            .order_by(Poll.id.desc())
            .limit(1)
        )
    ).first()


async def last_closed_poll(session: AsyncSession, deliberation_id: int) -> Poll | None:
    return (
        await session.scalars(
            select(Poll)
            .where(Poll.deliberation_id == deliberation_id, Poll.status == PollStatus.CLOSED)
            .order_by(Poll.closed_at.desc(), Poll.id.desc())
            .limit(1)
        )
    ).first()


async def poll_states(session: AsyncSession, poll_ids: Sequence[int]) -> dict[int, PollStatus]:
    """The polls' states, read under a share lock so a closing poll waits for the votes."""
    query = select(Poll.id, Poll.status).where(Poll.id.in_(poll_ids))
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    return {pid: status for pid, status in (await session.execute(query)).all()}


async def insert_ballots(session: AsyncSession, ballots: list[dict[str, Any]]) -> None:
    """Insert ballots (poll_id, voter_key, voter_name, created_at, choices) in two statements."""
    if not ballots:
        return
    ids = (
        await session.scalars(
            insert(Ballot).returning(Ballot.id, sort_by_parameter_order=True),
            [{k: v for k, v in b.items() if k != "choices"} for b in ballots],
        )
    ).all()
    await session.execute(
        insert(BallotChoice),
        [
            {"ballot_id": ballot_id, "poll_id": b["poll_id"], "option_id": option}
            for ballot_id, b in zip(ids, ballots, strict=True)
            for option in b["choices"]
        ],
    )


async def existing_voters(
    session: AsyncSession, poll_id: int, voter_keys: Sequence[str]
) -> set[str]:
    rows = await session.scalars(
        select(Ballot.voter_key).where(Ballot.poll_id == poll_id, Ballot.voter_key.in_(voter_keys))
    )
    return set(rows.all())


async def has_ballot(session: AsyncSession, poll_id: int, voter_key: str) -> bool:
    return bool(await existing_voters(session, poll_id, [voter_key]))


async def tally(session: AsyncSession, poll_id: int) -> tuple[int, dict[int, int]]:
    """(ballots, votes per option id) straight from the rows."""
    ballots = await session.scalar(select(func.count()).where(Ballot.poll_id == poll_id))
    rows = await session.execute(
        select(BallotChoice.option_id, func.count())
        .where(BallotChoice.poll_id == poll_id)
        .group_by(BallotChoice.option_id)
    )
    return int(ballots or 0), {option: n for option, n in rows.all()}


# The speaker queue


async def speaker_queue(session: AsyncSession, deliberation_id: int) -> list[SpeakerRequest]:
    rows = await session.scalars(
        select(SpeakerRequest)
        .where(
            SpeakerRequest.deliberation_id == deliberation_id,
            SpeakerRequest.status.in_((SpeakerStatus.WAITING, SpeakerStatus.SPEAKING)),
        )
        .order_by(SpeakerRequest.id)
    )
    return list(rows.all())


async def get_speaker_request(session: AsyncSession, request_id: int) -> SpeakerRequest | None:
    return await session.get(SpeakerRequest, request_id)


# Reactions


async def add_reactions(
    session: AsyncSession, deliberation_id: int, counts: dict[str, int]
) -> None:
    existing = {
        row.kind: row
        for row in (
            await session.scalars(
                select(ReactionCount)
                .where(ReactionCount.deliberation_id == deliberation_id)
                .with_for_update()
            )
        ).all()
    }
    for kind, n in counts.items():
        if kind in existing:
            existing[kind].count += n
        else:
            session.add(ReactionCount(deliberation_id=deliberation_id, kind=kind, count=n))


async def reaction_totals(session: AsyncSession, deliberation_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(ReactionCount.kind, ReactionCount.count).where(
            ReactionCount.deliberation_id == deliberation_id
        )
    )
    return {kind: n for kind, n in rows.all()}


# Guests in the room


async def guests(session: AsyncSession, deliberation_id: int) -> list[Invitation]:
    rows = await session.scalars(
        select(Invitation)
        .where(Invitation.deliberation_id == deliberation_id)
        .order_by(Invitation.id)
    )
    return list(rows.all())


async def get_invitation(session: AsyncSession, invitation_id: int) -> Invitation | None:
    return await session.get(Invitation, invitation_id)


async def topic_id_by_number(session: AsyncSession, number: str) -> int | None:
    found: int | None = await session.scalar(select(Topic.id).where(Topic.number == number))
    return found


async def live_ids(session: AsyncSession, deliberation_ids: Sequence[int]) -> set[int]:
    """Of these sessions, those live now."""
    if not deliberation_ids:
        return set()
    query = select(Deliberation.id).where(
        Deliberation.id.in_(deliberation_ids), Deliberation.status == DeliberationStatus.LIVE
    )
    return set((await session.scalars(query)).all())
