"""The routing table: which unit receives a region's topics, by category and subject."""

from __future__ import annotations

from dataclasses import dataclass

from server.accounts import actions as accounts
from server.core.audit import record_audit
from server.core.auth import Permission, Principal
from server.core.context import Context
from server.core.errors import NotFound, ValidationFailed
from server.rooms import actions as rooms
from server.topics import store
from server.topics.tables import RoutingRule

CATEGORIES = ("petition", "legal", "opinion")


@dataclass(frozen=True, slots=True)
class RuleView:
    id: int
    region_id: int
    region_name: str
    category: str
    subject: str
    unit_id: int


async def list_rules(ctx: Context, actor: Principal) -> list[RuleView]:
    actor.require(Permission.VIEW_TOPICS)
    async with ctx.db.read() as session:
        rows = await store.list_rules(session, under_path=actor.region_path)
    return [RuleView(r.id, g.id, g.name, r.category, r.subject, r.unit_id) for r, g in rows]


async def set_rule(
    ctx: Context,
    actor: Principal | None,
    *,
    region_id: int,
    category: str,
    subject: str,
    unit_id: int,
) -> RuleView:
    """Create or replace the rule for (region, category, subject); empty means any."""
    errors = {}
    if category and category not in CATEGORIES:
        errors["category"] = "Unknown category."
    if len(subject) > 32 or (subject and not subject.replace("_", "").isalpha()):
        errors["subject"] = "Unknown subject."
    if errors:
        raise ValidationFailed("The rule is not valid.", fields=errors)
    region = await rooms.get_region(ctx, region_id)
    if region is None:
        raise ValidationFailed("Unknown region.", fields={"region_id": "No such region."})
    if actor is not None:
        actor.require(Permission.MANAGE_ROUTING, region.path)
    unit = await accounts.get_unit(ctx, unit_id)
    if unit is None:
        raise ValidationFailed("Unknown unit.", fields={"unit_id": "No such unit."})
    if not region.path.startswith(unit.region_path):
        raise ValidationFailed(
            f"{unit.name} does not serve {region.name}.",
            fields={"unit_id": "Serves another region."},
        )
    now = ctx.clock.now()
    async with ctx.db.write(on_conflict="The rule changed meanwhile; try again.") as session:
        rule = await store.get_rule(session, region.id, category, subject)
        if rule is None:
            rule = RoutingRule(
                region_id=region.id,
                category=category,
                subject=subject,
                unit_id=unit.id,
                updated_at=now,
            )
            session.add(rule)
        else:
            rule.unit_id, rule.updated_at = unit.id, now
        await session.flush()
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id if actor else None,
            action="routing.set",
            target=f"rule:{rule.id}",
            detail={
                "region_id": region.id,
                "category": category,
                "subject": subject,
                "unit_id": unit.id,
            },
        )
        return RuleView(rule.id, region.id, region.name, category, subject, unit.id)


async def delete_rule(ctx: Context, actor: Principal, rule_id: int) -> None:
    async with ctx.db.write() as session:
        rule = await store.get_rule_by_id(session, rule_id)
        if rule is None:
            raise NotFound(f"No routing rule {rule_id}.")
        region = await rooms.get_region(ctx, rule.region_id)
        assert region is not None
        actor.require(Permission.MANAGE_ROUTING, region.path)
        await session.delete(rule)
        record_audit(
            session,
            at=ctx.clock.now(),
            actor_id=actor.user_id,
            action="routing.delete",
            target=f"rule:{rule_id}",
        )
