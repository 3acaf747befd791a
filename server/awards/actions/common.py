"""What the awards' use cases share: who may manage a year, the year's bounds in local
time, the round looked up (or refused), and errors from the pure rules."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.awards import store
from server.awards.model import Invalid, RoundStatus, check_year
from server.awards.tables import AwardRound
from server.core.auth import Permission, Principal
from server.core.clock import LOCAL_TZ
from server.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


def invalid(
    exc: Invalid, message: str = "Please check the highlighted fields."
) -> ValidationFailed:
    return ValidationFailed(message, fields=exc.fields)


def require_manager(actor: Principal) -> None:
    """Awards are the city's: an administrator of the whole city manages them."""
    actor.require(Permission.MANAGE_AWARDS)
    if actor.region_path.count("/") > 2:
        raise Forbidden("Only a city-level administrator manages the awards.")


def parse_year(value: object, now: datetime) -> int:
    """A year from 2000 to this local year; ValidationFailed otherwise."""
    try:
        return check_year(value, now.astimezone(LOCAL_TZ).year)
    except Invalid as exc:
        raise invalid(exc, f"{value!s:.10} is not a year that can have awards.") from None


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """[1 January, next 1 January) in local time."""
    return datetime(year, 1, 1, tzinfo=LOCAL_TZ), datetime(year + 1, 1, 1, tzinfo=LOCAL_TZ)


async def round_of(session: AsyncSession, year: int, *, lock: bool = False) -> AwardRound:
    found = await store.get_round(session, year, lock=lock)
    if found is None:
        raise NotFound(f"The awards of {year} have not been opened.")
    return found


def require_open(r: AwardRound, doing: str) -> None:
    """Refuse ``doing`` unless the review of the year is still open, naming its state."""
    if r.status is not RoundStatus.OPEN:
        state = "closed" if r.status is RoundStatus.CLOSED else "published"
        raise Conflict(f"Cannot {doing}: the review of {r.year} is {state}.")


def resident_key(phone: str, device_id: str | None) -> str | None:
    """A resident's subject key: a digest of the normalised phone, else of the device; None
    when neither is known. The phone itself never leaves the topics and nominations."""
    if phone:
        raw = f"phone:{phone}"
    elif device_id:
        raw = f"device:{device_id}"
    else:
        return None
    return "resident:" + hashlib.sha256(raw.encode()).hexdigest()
