"""The routing admin page (派单规则): receiving units and the routing table.

The page only reads; adding units and setting or deleting rules go through the JSON
APIs (``/api/staff/units``, ``/api/staff/routing-rules``) from ``static/js/routing.js``.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from server.accounts.actions import UnitView, list_units
from server.accounts.model import UnitKind
from server.core.auth import Permission
from server.core.web import ctx_of, render, staff_page
from server.rooms.actions import get_region, list_region_tree
from server.topics import actions
from server.topics.classify import CATEGORIES, SUBJECTS

routes = web.RouteTableDef()

_KIND_ORDER = {kind: i for i, kind in enumerate(UnitKind)}


@dataclass(frozen=True, slots=True)
class UnitRow:
    id: int
    name: str
    kind: UnitKind
    region_id: int
    region_name: str
    region_path: str


@routes.get("/staff/routing")
async def routing_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    principal.require(Permission.MANAGE_ROUTING)
    ctx = ctx_of(request)
    regions = await list_region_tree(ctx, principal)
    units = await list_units(ctx, principal)
    rules = await actions.list_rules(ctx, principal)
    names = {r.id: r.name for r in regions}
    # Units serving a region above the actor's own are listed too (topics may go to them);
    # their regions are outside the actor's tree, so look their names up.
    for unit in units:
        if unit.region_id not in names:
            region = await get_region(ctx, unit.region_id)
            names[unit.region_id] = region.name if region else f"#{unit.region_id}"
    rows = sorted(
        (_unit_row(u, names[u.region_id]) for u in units),
        key=lambda u: (u.region_path, _KIND_ORDER[u.kind], u.name),
    )
    return render(
        request,
        "staff_routing.html",
        {
            "regions": regions,
            "units": rows,
            "unit_names": {u.id: u.name for u in rows},
            "rules": rules,
            "kinds": list(UnitKind),
            "categories": CATEGORIES,
            "subjects": SUBJECTS,
            "can_add_units": principal.can(Permission.MANAGE_USERS),
        },
    )


def _unit_row(unit: UnitView, region_name: str) -> UnitRow:
    return UnitRow(unit.id, unit.name, unit.kind, unit.region_id, region_name, unit.region_path)
