"""HTTP routes of the awards feature: pages and the JSON API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

routes = web.RouteTableDef()
OPENAPI: dict[str, Any] = {}
