"""The live room (议事会直播间): comments, questions, polls, the speaker queue, reactions
and the agenda. The socket.io handlers in ``deliberations/live.py`` call these.

Comments and votes arrive many at a time, so each goes through a group commit
(``server.core.batch``): concurrent writers share one transaction. The one-vote rule is
the ``ballots`` table's unique constraint, so it holds across processes; the batch also
reads each poll's state under a share lock, so a vote can never land after its poll
closed. Functions here return plain views; publishing to browsers is the caller's.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.batch import GroupCommit
from server.core.context import Context
from server.core.errors import (
    Conflict,
    Forbidden,
    InvalidTransitionError,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from server.core.ratelimit import Decision
from server.deliberations import room_store as store
from server.deliberations.actions.common import Identity
from server.deliberations.model import (
    COMMENT_MAX,
    QUESTION_MAX,
    REACTIONS,
    REASON_MAX,
    SPEAKER_SECONDS_DEFAULT,
    SPEAKER_SECONDS_MAX,
    CommentStatus,
    DeliberationStatus,
    Invalid,
    InvitationStatus,
    LiveRole,
    ModerationMode,
    PollKind,
    PollStatus,
    QuestionStatus,
    SpeakerStatus,
    WordFilter,
    require_text,
    validate_choices,
    validate_poll,
)
from server.deliberations.tables import (
    Deliberation,
    LiveComment,
    Poll,
    PollOption,
    Question,
    SpeakerRequest,
)

RECENT_COMMENTS = 50
TOP_QUESTIONS = 30


def _invalid(exc: Invalid) -> ValidationFailed:
    return ValidationFailed(str(exc), fields=exc.fields)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def check_rate(ctx: Context, who: Identity, kind: str) -> None:
    """Per-identity limits: ``comment`` for comments and questions, ``action`` for every
    event (the live room's dispatcher checks it before any handler runs)."""
    limit = ctx.settings.live_comment_rate if kind == "comment" else ctx.settings.live_action_rate
    decision: Decision = await ctx.limiter.hit(
        f"live:{kind}:{who.deliberation_id}:{who.key}", limit.count, limit.seconds
    )
    if not decision.allowed:
        raise RateLimited(
            f"Too fast: wait {decision.retry_after} s.", retry_after=decision.retry_after
        )


def _require_host(who: Identity) -> None:
    if not who.is_host:
        raise Forbidden("Only the host may do that.")


def word_filter(ctx: Context) -> WordFilter:
    cached = ctx.db.shared.get("live.word_filter")
    if cached is None or cached[0] != ctx.settings.sensitive_words:
        cached = (ctx.settings.sensitive_words, WordFilter.of(ctx.settings.sensitive_words))
        ctx.db.shared["live.word_filter"] = cached
    found: WordFilter = cached[1]
    return found


async def _deliberation(session: AsyncSession, deliberation_id: int) -> Deliberation:
    deliberation = await session.get(Deliberation, deliberation_id)
    if deliberation is None:
        raise NotFound("No such deliberation.")
    return deliberation


def _require_live(deliberation: Deliberation) -> None:
    if deliberation.status is not DeliberationStatus.LIVE:
        raise InvalidTransitionError(
            f"The session is {deliberation.status}, not live.",
            fields={"status": deliberation.status},
        )


async def require_live_session(ctx: Context, deliberation_id: int) -> None:
    """Refuse unless the session is live (media peers exist only then)."""
    async with ctx.db.read() as session:
        _require_live(await _deliberation(session, deliberation_id))


async def current_topic(ctx: Context, deliberation_id: int) -> tuple[str, str] | None:
    """(number, title) of the topic under discussion, if any (the livestream's caption)."""
    async with ctx.db.read() as session:
        deliberation = await _deliberation(session, deliberation_id)
        for topic_id, number, title in await store.agenda(session, deliberation_id):
            if topic_id == deliberation.current_topic_id:
                return number, title
    return None


async def live_sessions(ctx: Context, deliberation_ids: list[int]) -> set[int]:
    """Of these sessions, those still live."""
    async with ctx.db.read() as session:
        return await store.live_ids(session, deliberation_ids)


# Comments


@dataclass(frozen=True, slots=True)
class CommentView:
    id: int
    deliberation_id: int
    topic_id: int | None
    author_name: str
    author_role: LiveRole
    body: str
    status: CommentStatus
    reason: str
    created_at: datetime

    def public(self) -> dict[str, Any]:
        """What every viewer may see of a visible comment."""
        return {
            "id": self.id,
            "name": self.author_name,
            "role": self.author_role,
            "body": self.body,
            "topic_id": self.topic_id,
            "at": self.created_at.isoformat(),
        }

    def staff(self) -> dict[str, Any]:
        return {**self.public(), "status": self.status, "reason": self.reason}


def _comment_view(c: LiveComment) -> CommentView:
    return CommentView(
        c.id,
        c.deliberation_id,
        c.topic_id,
        c.author_name,
        c.author_role,
        c.body,
        c.status,
        c.reason,
        c.created_at,
    )


@dataclass(frozen=True, slots=True)
class _NewComment:
    who: Identity
    body: str
    flagged: str  # the sensitive words it contains, if any
    at: datetime


@dataclass(frozen=True, slots=True)
class _Stored:
    id: int
    status: CommentStatus
    reason: str
    topic_id: int | None
    error: str = ""


async def _store_comments(session: AsyncSession, items: list[_NewComment]) -> list[_Stored]:
    states: dict[int, Deliberation | None] = {}
    for item in items:
        if item.who.deliberation_id not in states:
            states[item.who.deliberation_id] = await session.get(
                Deliberation, item.who.deliberation_id
            )
    rows: list[dict[str, Any]] = []
    planned: list[_Stored | None] = []
    for item in items:
        d = states[item.who.deliberation_id]
        if d is None or d.status is not DeliberationStatus.LIVE:
            planned.append(_Stored(0, CommentStatus.HIDDEN, "", None, error="not_live"))
            continue
        status, reason = CommentStatus.VISIBLE, ""
        if item.flagged and not item.who.is_host:
            status, reason = CommentStatus.HELD, f"sensitive: {item.flagged}"
        elif d.moderation is ModerationMode.HOLD and not item.who.is_host:
            status, reason = CommentStatus.HELD, "awaiting approval"
        rows.append(
            {
                "deliberation_id": d.id,
                "topic_id": d.current_topic_id,
                "author_role": item.who.role,
                "author_key": item.who.key,
                "author_name": item.who.name,
                "body": item.body,
                "status": status,
                "reason": reason,
                "created_at": item.at,
            }
        )
        planned.append(_Stored(0, status, reason, d.current_topic_id))
    ids = iter(await store.insert_comments(session, rows) if rows else [])
    return [
        p if p.error else _Stored(next(ids), p.status, p.reason, p.topic_id)
        for p in planned
        if p is not None
    ]


def _comment_queue(ctx: Context) -> GroupCommit[_NewComment, _Stored]:
    queue: GroupCommit[_NewComment, _Stored] | None = ctx.db.shared.get("live.comments")
    if queue is None:
        queue = GroupCommit(ctx.db, _store_comments, max_batch=200)
        ctx.db.shared["live.comments"] = queue
    return queue


async def post_comment(ctx: Context, who: Identity, body: Any) -> CommentView:
    """Store a comment. Visible at once, or held: in hold mode, or when it contains a
    listed word (the host's own comments are never held)."""
    if not isinstance(body, str):
        raise ValidationFailed("body must be text.", fields={"body": "Must be text."})
    try:
        text = require_text("body", body, COMMENT_MAX)
    except Invalid as exc:
        raise _invalid(exc) from None
    await check_rate(ctx, who, "comment")
    flagged = ", ".join(word_filter(ctx).matches(text))
    at = ctx.clock.now()
    stored = await _comment_queue(ctx).submit(_NewComment(who, text, flagged, at))
    if stored.error:
        raise InvalidTransitionError("The session is not live.", fields={"status": "not live"})
    return CommentView(
        stored.id,
        who.deliberation_id,
        stored.topic_id,
        who.name,
        who.role,
        text,
        stored.status,
        stored.reason,
        at,
    )


async def moderate_comment(
    ctx: Context, who: Identity, comment_id: Any, action: Any, reason: Any = ""
) -> tuple[CommentView, CommentStatus]:
    """Hide a comment (with a reason) or approve a held one. Returns the comment and
    its status before, so the caller knows what to tell viewers."""
    _require_host(who)
    if not isinstance(comment_id, int) or isinstance(comment_id, bool):
        raise ValidationFailed("id must be a number.", fields={"id": "Required."})
    if action not in ("hide", "approve"):
        raise ValidationFailed("op must be hide or approve.", fields={"op": "hide or approve."})
    text = ""
    if action == "hide":
        if not isinstance(reason, str):
            raise ValidationFailed("reason must be text.", fields={"reason": "Must be text."})
        try:
            text = require_text("reason", reason, REASON_MAX)
        except Invalid as exc:
            raise _invalid(exc) from None
    async with ctx.db.write() as session:
        comment = await store.get_comment(session, comment_id)
        if comment is None or comment.deliberation_id != who.deliberation_id:
            raise NotFound("No such comment in this session.")
        before = comment.status
        if action == "hide":
            if before is CommentStatus.HIDDEN:
                raise Conflict("That comment is already hidden.", fields={"status": before})
            comment.status, comment.reason = CommentStatus.HIDDEN, text
        else:
            if before is not CommentStatus.HELD:
                raise Conflict("Only a held comment can be approved.", fields={"status": before})
            comment.status, comment.reason = CommentStatus.VISIBLE, ""
        comment.moderated_by_id = who.user_id
        comment.moderated_at = ctx.clock.now()
        view = _comment_view(comment)
    return view, before


# Questions


@dataclass(frozen=True, slots=True)
class QuestionView:
    id: int
    author_name: str
    body: str
    status: QuestionStatus
    votes: int
    topic_id: int | None
    created_at: datetime

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data


def _question_view(q: Question) -> QuestionView:
    return QuestionView(q.id, q.author_name, q.body, q.status, q.votes, q.topic_id, q.created_at)


async def ask_question(ctx: Context, who: Identity, body: Any) -> QuestionView:
    if not isinstance(body, str):
        raise ValidationFailed("body must be text.", fields={"body": "Must be text."})
    try:
        text = require_text("body", body, QUESTION_MAX)
    except Invalid as exc:
        raise _invalid(exc) from None
    await check_rate(ctx, who, "comment")
    flagged = word_filter(ctx).matches(text) and not who.is_host
    async with ctx.db.write() as session:
        deliberation = await _deliberation(session, who.deliberation_id)
        _require_live(deliberation)
        question = Question(
            deliberation_id=deliberation.id,
            topic_id=deliberation.current_topic_id,
            author_key=who.key,
            author_name=who.name,
            body=text,
            status=QuestionStatus.HIDDEN if flagged else QuestionStatus.OPEN,
            votes=0,
            created_at=ctx.clock.now(),
        )
        session.add(question)
        await session.flush()
        return _question_view(question)


async def upvote_question(ctx: Context, who: Identity, question_id: Any) -> QuestionView:
    if not isinstance(question_id, int) or isinstance(question_id, bool):
        raise ValidationFailed("id must be a number.", fields={"id": "Required."})
    try:
        async with ctx.db.write() as session:
            question = await store.get_question(session, question_id)
            if question is None or question.deliberation_id != who.deliberation_id:
                raise NotFound("No such question in this session.")
            if question.status not in (QuestionStatus.OPEN, QuestionStatus.ON_FLOOR):
                raise Conflict("That question is closed.", fields={"status": question.status})
            await store.add_question_vote(session, question.id, who.key, ctx.clock.now())
            await session.refresh(question)
            return _question_view(question)
    except IntegrityError:
        raise Conflict("You already upvoted that question.") from None


async def set_question_status(
    ctx: Context, who: Identity, question_id: Any, status: Any
) -> list[QuestionView]:
    """Put a question to the floor (the one there before counts as answered), mark it
    answered or hide it. Returns every question that changed."""
    _require_host(who)
    if not isinstance(question_id, int) or isinstance(question_id, bool):
        raise ValidationFailed("id must be a number.", fields={"id": "Required."})
    try:
        target = QuestionStatus(status)
    except ValueError:
        raise ValidationFailed("Unknown question state.", fields={"status": "Unknown."}) from None
    if target is QuestionStatus.OPEN:
        raise ValidationFailed("A question cannot be reopened.", fields={"status": "Not open."})
    async with ctx.db.write() as session:
        question = await store.get_question(session, question_id)
        if question is None or question.deliberation_id != who.deliberation_id:
            raise NotFound("No such question in this session.")
        if question.status in (QuestionStatus.ANSWERED, QuestionStatus.HIDDEN):
            raise Conflict("That question is closed.", fields={"status": question.status})
        changed = []
        if target is QuestionStatus.ON_FLOOR:
            for other in await store.top_questions(session, who.deliberation_id, 1000):
                if other.status is QuestionStatus.ON_FLOOR and other.id != question.id:
                    other.status = QuestionStatus.ANSWERED
                    changed.append(other)
            question.floor_at = ctx.clock.now()
        question.status = target
        changed.append(question)
        return [_question_view(q) for q in changed]


# Polls


@dataclass(frozen=True, slots=True)
class PollView:
    id: int
    question: str
    kind: PollKind
    anonymous: bool
    status: PollStatus
    topic_id: int | None
    options: list[tuple[int, str]]
    ballots: int = 0
    votes: dict[int, int] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "kind": self.kind,
            "anonymous": self.anonymous,
            "status": self.status,
            "topic_id": self.topic_id,
            "options": [{"id": oid, "label": label} for oid, label in self.options],
            "tally": self.tally(),
        }

    def tally(self) -> dict[str, Any]:
        return {
            "poll_id": self.id,
            "ballots": self.ballots,
            "votes": {str(oid): self.votes.get(oid, 0) for oid, _ in self.options},
        }


def _poll_view(
    poll: Poll, options: list[PollOption], counts: tuple[int, dict[int, int]]
) -> PollView:
    return PollView(
        poll.id,
        poll.question,
        poll.kind,
        poll.anonymous,
        poll.status,
        poll.topic_id,
        [(o.id, o.label) for o in options],
        counts[0],
        counts[1],
    )


async def _poll_in(session: AsyncSession, who: Identity, poll_id: Any, *, lock: bool) -> Poll:
    if not isinstance(poll_id, int) or isinstance(poll_id, bool):
        raise ValidationFailed("id must be a number.", fields={"id": "Required."})
    poll = await store.get_poll(session, poll_id, lock=lock)
    if poll is None or poll.deliberation_id != who.deliberation_id:
        raise NotFound("No such poll in this session.")
    return poll


async def create_poll(
    ctx: Context,
    who: Identity,
    *,
    question: Any,
    options: Any,
    kind: Any = "single",
    anonymous: Any = False,
) -> PollView:
    _require_host(who)
    if not isinstance(question, str) or not isinstance(options, list):
        raise ValidationFailed(
            "A poll needs a question and a list of options.",
            fields={"question": "Text.", "options": "A list."},
        )
    if not all(isinstance(o, str) for o in options) or not isinstance(anonymous, bool):
        raise ValidationFailed("Options are text.", fields={"options": "Text."})
    try:
        draft = validate_poll(question, options, kind if isinstance(kind, str) else "", anonymous)
    except Invalid as exc:
        raise _invalid(exc) from None
    async with ctx.db.write() as session:
        deliberation = await _deliberation(session, who.deliberation_id)
        if deliberation.status not in (DeliberationStatus.ANNOUNCED, DeliberationStatus.LIVE):
            raise InvalidTransitionError(
                f"The session is {deliberation.status}.", fields={"status": deliberation.status}
            )
        poll = Poll(
            deliberation_id=deliberation.id,
            topic_id=deliberation.current_topic_id,
            question=draft.question,
            kind=draft.kind,
            anonymous=draft.anonymous,
            status=PollStatus.DRAFT,
            results={},
            created_by_id=who.user_id,
            created_at=ctx.clock.now(),
        )
        session.add(poll)
        await session.flush()
        rows = [
            PollOption(poll_id=poll.id, position=i, label=label)
            for i, label in enumerate(draft.options)
        ]
        session.add_all(rows)
        await session.flush()
        return _poll_view(poll, rows, (0, {}))


async def open_poll(ctx: Context, who: Identity, poll_id: Any) -> PollView:
    """Open a draft poll; only one poll is open at a time in a session."""
    _require_host(who)
    async with ctx.db.write() as session:
        deliberation = await store.lock_deliberation(session, who.deliberation_id)
        if deliberation is None:
            raise NotFound("No such deliberation.")
        _require_live(deliberation)
        poll = await _poll_in(session, who, poll_id, lock=True)
        if poll.status is not PollStatus.DRAFT:
            raise InvalidTransitionError(
                f"The poll is {poll.status}; only a draft opens.", fields={"status": poll.status}
            )
        current = await store.open_poll(session, who.deliberation_id)
        if current is not None:
            raise Conflict("Close the open poll first.", fields={"poll_id": str(current.id)})
        poll.status = PollStatus.OPEN
        poll.opened_at = ctx.clock.now()
        options = await store.poll_options(session, [poll.id])
        return _poll_view(poll, options, (0, {}))


async def close_poll(ctx: Context, who: Identity, poll_id: Any) -> PollView:
    """Close an open poll and store its final tally with it."""
    _require_host(who)
    async with ctx.db.write() as session:
        poll = await _poll_in(session, who, poll_id, lock=True)
        if poll.status is not PollStatus.OPEN:
            raise InvalidTransitionError(
                f"The poll is {poll.status}; only an open poll closes.",
                fields={"status": poll.status},
            )
        counts = await store.tally(session, poll.id)
        poll.status = PollStatus.CLOSED
        poll.closed_at = ctx.clock.now()
        poll.results = {"ballots": counts[0], "votes": {str(k): v for k, v in counts[1].items()}}
        options = await store.poll_options(session, [poll.id])
        return _poll_view(poll, options, counts)


@dataclass(frozen=True, slots=True)
class _PollMeta:
    deliberation_id: int
    kind: PollKind
    anonymous: bool
    option_ids: tuple[int, ...]


async def _poll_meta(ctx: Context, poll_id: int) -> _PollMeta | None:
    """A poll's kind and options never change, so each process keeps them."""
    cache: dict[int, _PollMeta] = ctx.db.shared.setdefault("live.poll_meta", {})
    meta = cache.get(poll_id)
    if meta is None:
        async with ctx.db.read() as session:
            poll = await store.get_poll(session, poll_id)
            if poll is None:
                return None
            options = await store.poll_options(session, [poll_id])
        meta = _PollMeta(
            poll.deliberation_id, poll.kind, poll.anonymous, tuple(o.id for o in options)
        )
        if len(cache) > 10_000:
            cache.clear()
        cache[poll_id] = meta
    return meta


@dataclass(frozen=True, slots=True)
class _Vote:
    poll_id: int
    voter_key: str
    voter_name: str
    choices: list[int]
    at: datetime


async def _store_votes(session: AsyncSession, items: list[_Vote]) -> list[str]:
    """Write a batch of ballots; per vote "" (counted), "closed" or "duplicate"."""
    states = await store.poll_states(session, sorted({v.poll_id for v in items}))
    voted: dict[int, set[str]] = {}
    for poll_id in states:
        keys = [v.voter_key for v in items if v.poll_id == poll_id]
        voted[poll_id] = await store.existing_voters(session, poll_id, keys)
    results: list[str] = []
    rows: list[dict[str, Any]] = []
    for vote in items:
        if states.get(vote.poll_id) is not PollStatus.OPEN:
            results.append("closed")
        elif vote.voter_key in voted[vote.poll_id]:
            results.append("duplicate")
        else:
            voted[vote.poll_id].add(vote.voter_key)
            rows.append(
                {
                    "poll_id": vote.poll_id,
                    "voter_key": vote.voter_key,
                    "voter_name": vote.voter_name,
                    "created_at": vote.at,
                    "choices": vote.choices,
                }
            )
            results.append("")
    # A vote racing in through another process still meets the unique constraint: the
    # batch fails, each vote is retried alone, and only that one is refused.
    await store.insert_ballots(session, rows)
    return results


def _vote_queue(ctx: Context) -> GroupCommit[_Vote, str]:
    queue: GroupCommit[_Vote, str] | None = ctx.db.shared.get("live.votes")
    if queue is None:
        queue = GroupCommit(ctx.db, _store_votes, max_batch=200)
        ctx.db.shared["live.votes"] = queue
    return queue


def _ballot_key(ctx: Context, poll_id: int, who: Identity, anonymous: bool) -> str:
    if not anonymous:
        return who.key
    digest = hmac.new(
        ctx.settings.secret_key.encode(), f"ballot:{poll_id}:{who.key}".encode(), hashlib.sha256
    )
    return "anon:" + digest.hexdigest()[:40]


async def vote(ctx: Context, who: Identity, poll_id: Any, choices: Any) -> None:
    """Cast one identity's ballot. A second ballot, a closed poll or a bad choice is refused."""
    if not isinstance(poll_id, int) or isinstance(poll_id, bool):
        raise ValidationFailed("id must be a number.", fields={"id": "Required."})
    if (
        not isinstance(choices, list)
        or not all(isinstance(c, int) and not isinstance(c, bool) for c in choices)
        or len(choices) > 20
    ):
        raise ValidationFailed("choices must be a list of option ids.", fields={"choices": "Ids."})
    meta = await _poll_meta(ctx, poll_id)
    if meta is None or meta.deliberation_id != who.deliberation_id:
        raise NotFound("No such poll in this session.")
    try:
        chosen = validate_choices(meta.kind, choices, meta.option_ids)
    except Invalid as exc:
        raise _invalid(exc) from None
    ballot = _Vote(
        poll_id,
        _ballot_key(ctx, poll_id, who, meta.anonymous),
        "" if meta.anonymous else who.name,
        chosen,
        ctx.clock.now(),
    )
    try:
        outcome = await _vote_queue(ctx).submit(ballot)
    except IntegrityError:
        raise Conflict("You have already voted in this poll.") from None
    if outcome == "closed":
        raise InvalidTransitionError("The poll is not open.", fields={"status": "not open"})
    if outcome == "duplicate":
        raise Conflict("You have already voted in this poll.")


async def poll_tally(ctx: Context, poll_id: int) -> dict[str, Any] | None:
    async with ctx.db.read() as session:
        poll = await store.get_poll(session, poll_id)
        if poll is None:
            return None
        options = await store.poll_options(session, [poll_id])
        return _poll_view(poll, options, await store.tally(session, poll_id)).tally()


async def polls(ctx: Context, who: Identity) -> list[dict[str, Any]]:
    """Every poll of the session with its tally (for the host console and the minutes)."""
    async with ctx.db.read() as session:
        rows = await store.polls_of(session, who.deliberation_id)
        options = await store.poll_options(session, [p.id for p in rows])
        views = []
        for poll in rows:
            mine = [o for o in options if o.poll_id == poll.id]
            views.append(_poll_view(poll, mine, await store.tally(session, poll.id)).public())
        return views


# The speaker queue


def _speaker(r: SpeakerRequest) -> dict[str, Any]:
    ends = r.floor_at + timedelta(seconds=r.seconds) if r.floor_at else None
    return {
        "id": r.id,
        "name": r.name,
        "role": r.role,
        "on_site": r.on_site,
        # A guest's page finds its own raised hand by this.
        "invitation_id": int(r.speaker_key.split(":")[1])
        if r.speaker_key.startswith("guest:")
        else None,
        "status": r.status,
        "seconds": r.seconds,
        "floor_at": _iso(r.floor_at),
        "ends_at": _iso(ends),
    }


async def speaker_queue(ctx: Context, deliberation_id: int) -> list[dict[str, Any]]:
    async with ctx.db.read() as session:
        return [_speaker(r) for r in await store.speaker_queue(session, deliberation_id)]


async def raise_hand(
    ctx: Context, who: Identity, *, name: Any = None, role: Any = None
) -> list[dict[str, Any]]:
    """A guest raises their hand; the host adds an on-site attendee by name."""
    on_site = who.is_host and name is not None
    if who.role is LiveRole.VIEWER or (who.is_host and not on_site):
        raise Forbidden("Guests raise hands; the host adds people in the room by name.")
    speaker_key, speaker_name, speaker_role = who.key, who.name, str(who.guest_role or "")
    if on_site:
        if not isinstance(name, str) or not isinstance(role, str | None):
            raise ValidationFailed("name must be text.", fields={"name": "Text."})
        try:
            speaker_name = require_text("name", name, 30)
            speaker_role = require_text("role", role or "resident", 24)
        except Invalid as exc:
            raise _invalid(exc) from None
        speaker_key = f"onsite:{speaker_name}"
    async with ctx.db.write() as session:
        deliberation = await store.lock_deliberation(session, who.deliberation_id)
        if deliberation is None:
            raise NotFound("No such deliberation.")
        _require_live(deliberation)
        queue = await store.speaker_queue(session, deliberation.id)
        if any(r.speaker_key == speaker_key for r in queue):
            raise Conflict(f"{speaker_name} is already in the queue.")
        session.add(
            SpeakerRequest(
                deliberation_id=deliberation.id,
                topic_id=deliberation.current_topic_id,
                speaker_key=speaker_key,
                name=speaker_name,
                role=speaker_role,
                on_site=on_site,
                status=SpeakerStatus.WAITING,
                seconds=SPEAKER_SECONDS_DEFAULT,
                requested_at=ctx.clock.now(),
            )
        )
        await session.flush()
        return [_speaker(r) for r in await store.speaker_queue(session, deliberation.id)]


async def _queue_request(session: AsyncSession, who: Identity, request_id: Any) -> SpeakerRequest:
    if not isinstance(request_id, int) or isinstance(request_id, bool):
        raise ValidationFailed("id must be a number.", fields={"id": "Required."})
    request = await store.get_speaker_request(session, request_id)
    if request is None or request.deliberation_id != who.deliberation_id:
        raise NotFound("No such request in the queue.")
    return request


async def withdraw_hand(ctx: Context, who: Identity, request_id: Any) -> list[dict[str, Any]]:
    async with ctx.db.write() as session:
        request = await _queue_request(session, who, request_id)
        if not who.is_host and request.speaker_key != who.key:
            raise Forbidden("That is someone else's raised hand.")
        if request.status is not SpeakerStatus.WAITING:
            raise Conflict(f"That request is {request.status}.", fields={"status": request.status})
        request.status = SpeakerStatus.WITHDRAWN
        request.ended_at = ctx.clock.now()
        await session.flush()
        return [_speaker(r) for r in await store.speaker_queue(session, who.deliberation_id)]


async def give_floor(
    ctx: Context, who: Identity, request_id: Any, seconds: Any = None
) -> list[dict[str, Any]]:
    """The host gives the floor: whoever had it is done; the timer starts now."""
    _require_host(who)
    if seconds is None:
        seconds = SPEAKER_SECONDS_DEFAULT
    if (
        not isinstance(seconds, int)
        or isinstance(seconds, bool)
        or not 10 <= seconds <= SPEAKER_SECONDS_MAX
    ):
        raise ValidationFailed(
            f"seconds must be 10 to {SPEAKER_SECONDS_MAX}.", fields={"seconds": "Out of range."}
        )
    async with ctx.db.write() as session:
        deliberation = await store.lock_deliberation(session, who.deliberation_id)
        if deliberation is None:
            raise NotFound("No such deliberation.")
        _require_live(deliberation)
        request = await _queue_request(session, who, request_id)
        if request.status is not SpeakerStatus.WAITING:
            raise Conflict(f"That request is {request.status}.", fields={"status": request.status})
        now = ctx.clock.now()
        for other in await store.speaker_queue(session, who.deliberation_id):
            if other.status is SpeakerStatus.SPEAKING:
                other.status, other.ended_at = SpeakerStatus.DONE, now
        request.status, request.floor_at, request.seconds = SpeakerStatus.SPEAKING, now, seconds
        await session.flush()
        return [_speaker(r) for r in await store.speaker_queue(session, who.deliberation_id)]


async def take_floor(ctx: Context, who: Identity, request_id: Any) -> list[dict[str, Any]]:
    _require_host(who)
    async with ctx.db.write() as session:
        request = await _queue_request(session, who, request_id)
        if request.status is not SpeakerStatus.SPEAKING:
            raise Conflict(f"That request is {request.status}.", fields={"status": request.status})
        request.status, request.ended_at = SpeakerStatus.DONE, ctx.clock.now()
        await session.flush()
        return [_speaker(r) for r in await store.speaker_queue(session, who.deliberation_id)]


# The agenda


async def agenda_state(ctx: Context, deliberation_id: int) -> dict[str, Any]:
    async with ctx.db.read() as session:
        deliberation = await _deliberation(session, deliberation_id)
        return await _agenda_state(session, deliberation)


async def _agenda_state(session: AsyncSession, deliberation: Deliberation) -> dict[str, Any]:
    items = await store.agenda(session, deliberation.id)
    return {
        "current_topic_id": deliberation.current_topic_id,
        "items": [{"topic_id": t, "number": n, "title": title} for t, n, title in items],
    }


async def goto_topic(ctx: Context, who: Identity, topic_id: Any) -> dict[str, Any]:
    """The host moves the session to an agenda topic; the moment is a chapter mark."""
    _require_host(who)
    if not isinstance(topic_id, int) or isinstance(topic_id, bool):
        raise ValidationFailed("topic_id must be a number.", fields={"topic_id": "Required."})
    async with ctx.db.write() as session:
        deliberation = await store.lock_deliberation(session, who.deliberation_id)
        if deliberation is None:
            raise NotFound("No such deliberation.")
        _require_live(deliberation)
        items = await store.agenda(session, deliberation.id)
        if topic_id not in {t for t, _, _ in items}:
            raise ValidationFailed(
                "That topic is not on the agenda.", fields={"topic_id": "Not on the agenda."}
            )
        if deliberation.current_topic_id == topic_id:
            raise Conflict("The session is already on that topic.")
        deliberation.current_topic_id = topic_id
        session.add(
            store.new_mark(
                deliberation_id=deliberation.id,
                topic_id=topic_id,
                at=ctx.clock.now(),
                by_id=who.user_id,
            )
        )
        await session.flush()
        return await _agenda_state(session, deliberation)


# Reactions


def check_reaction(kind: Any) -> str:
    """A known reaction; the live room aggregates them and calls ``save_reactions``."""
    if kind not in REACTIONS:
        raise ValidationFailed(
            f"kind must be one of {', '.join(REACTIONS)}.", fields={"kind": "Unknown."}
        )
    return str(kind)


async def save_reactions(
    ctx: Context, deliberation_id: int, counts: dict[str, int]
) -> dict[str, int]:
    """Add this process's new reactions to the session's counters; return the totals
    (every process's), which is what viewers are sent."""
    for attempt in range(2):  # two processes may create the same counter row at once
        try:
            async with ctx.db.write() as session:
                if counts:
                    await store.add_reactions(session, deliberation_id, counts)
                    await session.flush()
                return await store.reaction_totals(session, deliberation_id)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


# Guests and the snapshot


async def set_guest_connection(
    ctx: Context, invitation_id: int, sid: str | None, *, only_if: str | None = None
) -> None:
    """Remember (or forget) which connection a guest is on, so any process can reach it."""
    async with ctx.db.write() as session:
        invitation = await store.get_invitation(session, invitation_id)
        if invitation is None:
            return
        if only_if is not None and invitation.live_sid != only_if:
            return
        invitation.live_sid = sid


async def lobby(ctx: Context, deliberation_id: int) -> list[dict[str, Any]]:
    """The session's guests: in the lobby (connected, not admitted), admitted, removed."""
    async with ctx.db.read() as session:
        return [
            {
                "id": g.id,
                "name": g.display_name,
                "role": g.role,
                "organisation": g.organisation,
                "status": g.status,
                "connected": g.live_sid is not None,
            }
            for g in await store.guests(session, deliberation_id)
            if g.status is not InvitationStatus.REMOVED
        ]


async def moderation_counts(ctx: Context, deliberation_id: int) -> dict[str, int]:
    """The published moderation count: how many comments moderators hid."""
    async with ctx.db.read() as session:
        counts = await store.count_comments(session, deliberation_id)
    return {"hidden": counts.get(CommentStatus.HIDDEN, 0)}


async def guest_status(ctx: Context, invitation_id: int) -> InvitationStatus | None:
    async with ctx.db.read() as session:
        invitation = await store.get_invitation(session, invitation_id)
        return None if invitation is None else invitation.status


async def snapshot(ctx: Context, who: Identity) -> dict[str, Any]:
    """Everything a (re)connecting client needs, in one message: the session's state,
    agenda and current topic, the open poll (or else the last closed one) with its tally
    and whether this identity voted, the last comments, top questions (and which of them
    this identity backed), the queue and the reaction totals. ``cursor`` is the newest
    comment id included; clients deduplicate comments by id (an approved held comment
    arrives later with its older id)."""
    async with ctx.db.read() as session:
        deliberation = await _deliberation(session, who.deliberation_id)
        statuses = (
            (CommentStatus.VISIBLE, CommentStatus.HELD) if who.is_host else (CommentStatus.VISIBLE,)
        )
        comments = await store.recent_comments(session, deliberation.id, statuses, RECENT_COMMENTS)
        cursor = await store.last_comment_id(session, deliberation.id)
        counts = await store.count_comments(session, deliberation.id)
        # The open poll, or else the last result: a late arrival sees how the vote went.
        poll = await store.open_poll(session, deliberation.id) or await store.last_closed_poll(
            session, deliberation.id
        )
        poll_data = None
        if poll is not None:
            options = await store.poll_options(session, [poll.id])
            poll_data = _poll_view(poll, options, await store.tally(session, poll.id)).public()
            poll_data["voted"] = await store.has_ballot(
                session, poll.id, _ballot_key(ctx, poll.id, who, poll.anonymous)
            )
        questions = await store.top_questions(session, deliberation.id, TOP_QUESTIONS)
        queue = await store.speaker_queue(session, deliberation.id)
        data: dict[str, Any] = {
            "type": "snapshot",
            "op": "full",
            "deliberation": {
                "id": deliberation.id,
                "title": deliberation.title,
                "status": deliberation.status,
                "moderation": deliberation.moderation,
                "starts_at": deliberation.starts_at.isoformat(),
                "ends_at": deliberation.ends_at.isoformat(),
            },
            "agenda": await _agenda_state(session, deliberation),
            "poll": poll_data,
            "comments": [
                _comment_view(c).staff() if who.is_host else _comment_view(c).public()
                for c in comments
            ],
            "cursor": cursor,
            "moderation": {"hidden": counts.get(CommentStatus.HIDDEN, 0)},
            "questions": [_question_view(q).public() for q in questions],
            "queue": [_speaker(r) for r in queue],
            "reactions": await store.reaction_totals(session, deliberation.id),
            "me": {
                "role": who.role,
                "name": who.name,
                "guest_role": who.guest_role,
                "invitation_id": who.invitation_id,
            },
            "upvoted": await store.upvoted_by(session, [q.id for q in questions], who.key),
            "now": ctx.clock.now().isoformat(),
        }
    if who.is_host:
        data["lobby"] = await lobby(ctx, who.deliberation_id)
        data["polls"] = await polls(ctx, who)
    return data


async def wind_down(session: AsyncSession, deliberation_id: int, now: datetime) -> list[int]:
    """When a session ends, inside its transaction: close the open poll (storing its final
    tally) and end the turns still waiting or speaking. Returns the polls it closed."""
    closed = []
    for poll in await store.polls_of(session, deliberation_id):
        if poll.status is PollStatus.OPEN:
            ballots, votes = await store.tally(session, poll.id)
            poll.status, poll.closed_at = PollStatus.CLOSED, now
            poll.results = {"ballots": ballots, "votes": {str(k): v for k, v in votes.items()}}
            closed.append(poll.id)
    for request in await store.speaker_queue(session, deliberation_id):
        request.status = (
            SpeakerStatus.DONE
            if request.status is SpeakerStatus.SPEAKING
            else SpeakerStatus.WITHDRAWN
        )
        request.ended_at = now
    return closed
