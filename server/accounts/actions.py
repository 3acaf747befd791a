"""Use cases for staff accounts: login, logout, sessions, users, passwords."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from server.accounts import store
from server.accounts.model import (
    UnitKind,
    check_display_name,
    check_password,
    check_unit_name,
    check_username,
    one_time_password,
)
from server.accounts.tables import StaffSession, StaffUser, Unit
from server.core.audit import AuditEntry, list_audit, record_audit
from server.core.auth import (
    PERMISSIONS,
    Permission,
    Principal,
    Role,
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotAuthenticated, NotFound, ValidationFailed
from server.core.ratelimit import enforce
from server.rooms import actions as rooms

# Verified against when the username is unknown, so both paths take as long.
_DUMMY_HASH: str | None = None


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    principal: Principal


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    username: str
    display_name: str
    role: Role
    region_id: int
    region_name: str
    active: bool
    must_change_password: bool


@dataclass(frozen=True, slots=True)
class NewUser:
    user: UserView
    one_time_password: str


def _principal(row: StaffSession, user: StaffUser, region_path: str) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        region_id=user.region_id,
        region_path=region_path,
        session_id=row.id,
        csrf_token=row.csrf_token,
        must_change_password=user.must_change_password,
        unit_id=user.unit_id,
    )


async def login(ctx: Context, *, username: str, password: str, ip: str) -> LoginResult:
    """Check the password and open a session; raise NotAuthenticated on any mismatch.

    Rate-limited per address and per username, so guessing is slow from one place
    and against one account.
    """
    global _DUMMY_HASH
    limit = ctx.settings.rate_limit_login
    username = username.strip().lower()
    await enforce(
        ctx.limiter,
        [
            (f"login-ip:{ip}", limit.count, limit.seconds),
            (f"login-user:{username}", limit.count, limit.seconds),
        ],
    )
    async with ctx.db.read() as session:
        user = await store.get_user_by_username(session, username)
    if user is None or not user.active:
        _DUMMY_HASH = _DUMMY_HASH or await hash_password(secrets.token_hex(8))
        await verify_password(_DUMMY_HASH, password)
        raise NotAuthenticated("Wrong username or password.")
    if not await verify_password(user.password_hash, password):
        raise NotAuthenticated("Wrong username or password.")
    token = new_token(32)
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = StaffSession(
            id=token_digest(token),
            user_id=user.id,
            csrf_token=new_token(24),
            created_at=now,
            expires_at=now + timedelta(hours=ctx.settings.session_hours),
        )
        await store.insert_session(session, row)
        await store.delete_expired_sessions(session, now)
        record_audit(
            session,
            at=now,
            actor_id=user.id,
            action="staff.login",
            target=f"staff:{user.id}",
            detail={"ip": ip},
        )
        found = await store.get_session_with_user(session, row.id, now)
        assert found is not None
        return LoginResult(token, _principal(row, user, found[2].path))


async def authenticate(ctx: Context, token: str) -> Principal | None:
    """The principal behind a session cookie, or None if it is unknown or expired."""
    if not token or len(token) > 128:
        return None
    async with ctx.db.read() as session:
        found = await store.get_session_with_user(session, token_digest(token), ctx.clock.now())
    if found is None:
        return None
    row, user, region = found
    return _principal(row, user, region.path)


async def logout(ctx: Context, actor: Principal) -> None:
    async with ctx.db.write() as session:
        await store.delete_session(session, actor.session_id)
        record_audit(
            session,
            at=ctx.clock.now(),
            actor_id=actor.user_id,
            action="staff.logout",
            target=f"staff:{actor.user_id}",
        )


async def change_password(ctx: Context, actor: Principal, *, current: str, new: str) -> None:
    """Replace the actor's password; ends their other sessions."""
    if (problem := check_password(new, username=actor.username)) is not None:
        raise ValidationFailed("The new password is not acceptable.", fields={"new": problem})
    async with ctx.db.read() as session:
        user = await store.get_user(session, actor.user_id)
    if user is None or not await verify_password(user.password_hash, current):
        raise ValidationFailed(
            "The current password is wrong.", fields={"current": "Wrong password."}
        )
    if current == new:
        raise ValidationFailed(
            "Choose a different password.", fields={"new": "Same as the old one."}
        )
    new_hash = await hash_password(new)
    async with ctx.db.write() as session:
        user = await store.get_user(session, actor.user_id)
        assert user is not None
        user.password_hash, user.must_change_password = new_hash, False
        user.updated_at = ctx.clock.now()
        await store.delete_user_sessions(session, user.id, keep=actor.session_id)
        record_audit(
            session,
            at=ctx.clock.now(),
            actor_id=actor.user_id,
            action="staff.change_password",
            target=f"staff:{user.id}",
        )


async def create_user(
    ctx: Context,
    actor: Principal | None,
    *,
    username: str,
    display_name: str,
    role: Role,
    region_id: int,
    password: str | None = None,
    unit_id: int | None = None,
) -> NewUser:
    """Create a staff account in a region the actor covers.

    Without ``password`` a one-time password is generated and returned, and must be
    changed at first login.
    """
    username = username.strip().lower()
    errors = {}
    if (problem := check_username(username)) is not None:
        errors["username"] = problem
    if (problem := check_display_name(display_name)) is not None:
        errors["display_name"] = problem
    if password is not None and (problem := check_password(password, username=username)):
        errors["password"] = problem
    if errors:
        raise ValidationFailed("The account is not valid.", fields=errors)
    region = await rooms.get_region(ctx, region_id)
    if region is None:
        raise ValidationFailed("Unknown region.", fields={"region_id": "No such region."})
    if actor is not None:
        actor.require(Permission.MANAGE_USERS, region.path)
        if role is Role.ADMIN and not actor.covers(region.path):
            raise Forbidden("Admins are created within your own region only.")
    if role is Role.HANDLER and unit_id is None:
        raise ValidationFailed("A handler works for a unit.", fields={"unit_id": "Required."})
    if unit_id is not None:
        unit = await get_unit(ctx, unit_id)
        if unit is None:
            raise ValidationFailed("Unknown unit.", fields={"unit_id": "No such unit."})
        if not region.path.startswith(unit.region_path):
            raise ValidationFailed(
                "The account's region must lie within its unit's region.",
                fields={"unit_id": "Serves another region."},
            )
        if actor is not None:
            actor.require(Permission.MANAGE_USERS, unit.region_path)
    secret = password or one_time_password()
    pw_hash = await hash_password(secret)
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        if await store.get_user_by_username(session, username) is not None:
            raise Conflict(f"The username {username} is taken.")
        user = StaffUser(
            username=username,
            display_name=display_name.strip(),
            role=role,
            region_id=region.id,
            unit_id=unit_id,
            password_hash=pw_hash,
            must_change_password=password is None,
            active=True,
            created_at=now,
            updated_at=now,
        )
        session.add(user)
        await session.flush()
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id if actor else None,
            action="staff.create",
            target=f"staff:{user.id}",
            detail={"username": username, "role": role, "region_id": region.id},
        )
        view = UserView(
            user.id,
            user.username,
            user.display_name,
            user.role,
            region.id,
            region.name,
            True,
            user.must_change_password,
        )
    return NewUser(view, secret if password is None else "")


async def reset_password(ctx: Context, actor: Principal | None, *, username: str) -> str:
    """Give an account a new one-time password and end its sessions; return the password."""
    async with ctx.db.read() as session:
        found = await store.get_user_by_username(session, username.strip().lower())
    if found is None:
        raise NotFound(f"No account named {username}.")
    if actor is not None:
        region = await rooms.get_region(ctx, found.region_id)
        assert region is not None
        actor.require(Permission.MANAGE_USERS, region.path)
    secret = one_time_password()
    pw_hash = await hash_password(secret)
    async with ctx.db.write() as session:
        user = await store.get_user(session, found.id)
        assert user is not None
        user.password_hash, user.must_change_password = pw_hash, True
        user.updated_at = ctx.clock.now()
        await store.delete_user_sessions(session, user.id)
        record_audit(
            session,
            at=ctx.clock.now(),
            actor_id=actor.user_id if actor else None,
            action="staff.reset_password",
            target=f"staff:{user.id}",
        )
    return secret


async def list_users(ctx: Context, actor: Principal) -> list[UserView]:
    actor.require(Permission.MANAGE_USERS)
    async with ctx.db.read() as session:
        rows = await store.list_users(session, under_path=actor.region_path)
    return [
        UserView(
            u.id, u.username, u.display_name, u.role, r.id, r.name, u.active, u.must_change_password
        )
        for u, r in rows
    ]


async def audit_log(
    ctx: Context, actor: Principal, *, limit: int = 100, before_id: int | None = None
) -> list[AuditEntry]:
    """The audit log, newest first; admins only."""
    actor.require(Permission.VIEW_AUDIT)
    async with ctx.db.read() as session:
        return await list_audit(session, limit=limit, before_id=before_id)


@dataclass(frozen=True, slots=True)
class UnitView:
    id: int
    name: str
    kind: UnitKind
    region_id: int
    region_path: str


async def create_unit(
    ctx: Context, actor: Principal | None, *, name: str, kind: UnitKind, region_id: int
) -> UnitView:
    """Add a receiving unit (county relay, town office or department) in a region."""
    name = name.strip()
    if (problem := check_unit_name(name)) is not None:
        raise ValidationFailed("The unit is not valid.", fields={"name": problem})
    region = await rooms.get_region(ctx, region_id)
    if region is None:
        raise ValidationFailed("Unknown region.", fields={"region_id": "No such region."})
    if actor is not None:
        actor.require(Permission.MANAGE_USERS, region.path)
    taken = f"A unit named {name} already exists there."
    async with ctx.db.write(on_conflict=taken) as session:
        if await store.get_unit_by_name(session, region.id, name) is not None:
            raise Conflict(taken)
        unit = Unit(region_id=region.id, name=name, kind=kind, created_at=ctx.clock.now())
        session.add(unit)
        await session.flush()
        record_audit(
            session,
            at=ctx.clock.now(),
            actor_id=actor.user_id if actor else None,
            action="unit.create",
            target=f"unit:{unit.id}",
            detail={"name": name, "kind": kind, "region_id": region.id},
        )
        return UnitView(unit.id, unit.name, unit.kind, region.id, region.path)


async def list_units(ctx: Context, actor: Principal | None) -> list[UnitView]:
    """Units in the actor's territory (and those above it, which it may dispatch to)."""
    async with ctx.db.read() as session:
        rows = await store.list_units(session)
    views = [UnitView(u.id, u.name, u.kind, r.id, r.path) for u, r in rows]
    if actor is None:
        return views
    return [
        v
        for v in views
        if actor.covers(v.region_path)
        or v.region_path.startswith(actor.region_path)
        or actor.region_path.startswith(v.region_path)
    ]


async def get_unit(ctx: Context, unit_id: int) -> UnitView | None:
    async with ctx.db.read() as session:
        found = await store.get_unit_with_region(session, unit_id)
    if found is None:
        return None
    unit, region = found
    return UnitView(unit.id, unit.name, unit.kind, region.id, region.path)


async def responsible_staff(ctx: Context, *, unit_id: int | None, region_path: str) -> list[int]:
    """Who answers for a topic's stage: the unit's staff, or with no unit the staff who
    dispatch topics in the region (those whose territory holds it)."""
    if unit_id is not None:
        async with ctx.db.read() as session:
            rows = await store.active_users_with_regions(session, unit_id=unit_id, roles=())
        return [user_id for user_id, _role, _path in rows]
    roles = tuple(r for r, perms in PERMISSIONS.items() if Permission.DISPATCH_TOPICS in perms)
    async with ctx.db.read() as session:
        rows = await store.active_users_with_regions(session, unit_id=None, roles=roles)
    return [user_id for user_id, _role, path in rows if region_path.startswith(path)]
