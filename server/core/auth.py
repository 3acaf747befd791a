"""Staff roles, permissions, the authenticated principal and password hashing.

Which role may do what is one table here; which region a principal covers is its
region's materialised path (a principal covers every region below its own).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.core.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    HANDLER = "handler"
    ROOM_CHIEF = "room_chief"
    INFO_OFFICER = "info_officer"


class Permission(StrEnum):
    MANAGE_USERS = "manage_users"
    MANAGE_REGIONS = "manage_regions"
    MANAGE_ROOMS = "manage_rooms"
    VIEW_ROOMS = "view_rooms"
    PRINT_POSTERS = "print_posters"
    VIEW_AUDIT = "view_audit"
    VIEW_TOPICS = "view_topics"
    ENTER_TOPICS = "enter_topics"
    DISPATCH_TOPICS = "dispatch_topics"
    HANDLE_TOPICS = "handle_topics"
    MANAGE_ROUTING = "manage_routing"
    HOST_DELIBERATIONS = "host_deliberations"
    MANAGE_AWARDS = "manage_awards"  # open a year of 十佳百优, appoint reviewers, publish


P = Permission
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.DISPATCHER: frozenset(
        {
            P.VIEW_ROOMS,
            P.PRINT_POSTERS,
            P.VIEW_TOPICS,
            P.ENTER_TOPICS,
            P.DISPATCH_TOPICS,
            P.HOST_DELIBERATIONS,
        }
    ),
    Role.HANDLER: frozenset({P.VIEW_ROOMS, P.HANDLE_TOPICS}),
    Role.ROOM_CHIEF: frozenset(
        {P.VIEW_ROOMS, P.PRINT_POSTERS, P.VIEW_TOPICS, P.HOST_DELIBERATIONS}
    ),
    Role.INFO_OFFICER: frozenset({P.VIEW_ROOMS, P.VIEW_TOPICS, P.ENTER_TOPICS}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """A logged-in staff member as the request sees them."""

    user_id: int
    username: str
    display_name: str
    role: Role
    region_id: int
    region_path: str
    session_id: str
    csrf_token: str
    must_change_password: bool = False
    unit_id: int | None = None

    def can(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]

    def covers(self, region_path: str) -> bool:
        return region_path.startswith(self.region_path)

    def require(self, permission: Permission, region_path: str | None = None) -> None:
        """Raise Forbidden unless the role has the permission (within the region, if given)."""
        if self.must_change_password:
            raise Forbidden("Change your one-time password first.")
        if not self.can(permission):
            raise Forbidden(f"The role {self.role} may not {permission.replace('_', ' ')}.")
        if region_path is not None and not self.covers(region_path):
            raise Forbidden("That is outside your region.")


_hasher = PasswordHasher()


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def new_token(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """What the database keeps of a bearer token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()
