"""Reminders for outcomes falling due (协商结果督办), like the dispatch deadlines': the
responsible unit hears once when an unfinished outcome is within NEAR_DAYS of its due
date and once when it is overdue — in the app, live, and by the optional webhook."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from server.accounts import actions as accounts
from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.core.webhook import post_json
from server.outcomes import store
from server.outcomes.model import NEAR_DAYS, Flag, outcome_flag
from server.topics.actions.deadlines import notify, push

log = logging.getLogger(__name__)


async def run_outcome_reminders(ctx: Context, *, limit: int = 500) -> int:
    """One sweep; safe in several processes at once (each reminder is claimed by a
    conditional update). Returns how many outcomes were reminded."""
    today = ctx.clock.now().astimezone(LOCAL_TZ).date()
    async with ctx.db.read() as session:
        rows = await store.due_outcomes(
            session, until=today + timedelta(days=NEAR_DAYS), limit=limit
        )
    sent = 0
    for outcome, topic, path in rows:
        level = outcome_flag(outcome.due_on, outcome.percent, today)
        if level not in (Flag.NEAR, Flag.OVERDUE) or outcome.reminded is level:
            continue
        recipients = await accounts.responsible_staff(
            ctx, unit_id=outcome.unit_id, region_path=path
        )
        data = {
            "number": topic.number,
            "title": topic.title,
            "flag": str(level),
            "due_at": outcome.due_on.isoformat(),
            "outcome_id": outcome.id,
            "unit_id": outcome.unit_id,
        }
        kind = f"outcome.{level}"
        async with ctx.db.write() as session:
            if not await store.mark_reminded(
                session, outcome.id, was=outcome.reminded, now_flag=level
            ):
                continue
            users = await notify(
                ctx, recipients, kind=kind, topic_id=topic.id, data=data, session=session
            )
        sent += 1
        await push(ctx, users, kind, {**data, "topic_id": topic.id})
        if ctx.settings.webhook_url:
            await post_json(
                ctx.settings.webhook_url,
                {"event": kind, "topic_id": topic.id, **data},
                secret=ctx.settings.webhook_secret,
            )
    return sent


async def outcome_reminder_loop(ctx: Context) -> None:
    """Sweep every ``reminder_seconds`` until cancelled."""
    while True:
        try:
            sent = await run_outcome_reminders(ctx)
            if sent:
                log.info("sent %d outcome reminders", sent)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the outcome reminder sweep failed; trying again next time")
        await asyncio.sleep(ctx.settings.reminder_seconds)
