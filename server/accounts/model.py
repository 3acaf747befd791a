"""Pure rules for staff accounts."""

from __future__ import annotations

import re
import secrets
from enum import StrEnum

USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{2,31}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 128
MAX_DISPLAY_NAME = 40


def check_username(username: str) -> str | None:
    if not USERNAME_RE.match(username):
        return "3-32 lower-case letters, digits, '.', '_' or '-', starting with a letter."
    return None


def check_password(password: str, *, username: str = "") -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"At least {MIN_PASSWORD} characters."
    if len(password) > MAX_PASSWORD:
        return f"At most {MAX_PASSWORD} characters."
    if username and username.lower() in password.lower():
        return "Must not contain the username."
    return None


def check_display_name(name: str) -> str | None:
    if not name.strip():
        return "A name is needed."
    if len(name) > MAX_DISPLAY_NAME:
        return f"At most {MAX_DISPLAY_NAME} characters."
    return None


# Read aloud and typed from paper: no look-alike characters.
_OTP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def one_time_password() -> str:
    """Printed once for a new or reset account; its holder must change it at first login."""
    groups = ["".join(secrets.choice(_OTP_ALPHABET) for _ in range(4)) for _ in range(4)]
    return "-".join(groups)


class UnitKind(StrEnum):
    """Who receives dispatched topics (派单): the county relay, a town, a department."""

    RELAY = "relay"  # 县区中转: receives from the city platform and forwards
    TOWN = "town"  # 镇(街道)
    DEPARTMENT = "department"  # 县区部门, e.g. 住建局; its head may lead escalated topics


MAX_UNIT_NAME = 60


def check_unit_name(name: str) -> str | None:
    if not name.strip():
        return "A unit needs a name."
    if len(name) > MAX_UNIT_NAME:
        return f"At most {MAX_UNIT_NAME} characters."
    return None
