"""Use cases of the statistics feature: the dashboard's snapshot and cache, open data,
Open311. Everything here only reads."""

from server.statistics.actions.dashboard import (
    SNAPSHOT_SECONDS,
    UNCLASSIFIED,
    Snapshots,
    build_snapshot,
    dashboard,
    digest,
    snapshots,
)
from server.statistics.actions.open311 import (
    CLOSED,
    RequestQuery,
    open311_services,
    parse_service_code,
    service_code,
    service_request,
    service_requests,
)
from server.statistics.actions.open_data import iter_open_outcomes, open_figures, open_outcomes

__all__ = [
    "CLOSED",
    "SNAPSHOT_SECONDS",
    "UNCLASSIFIED",
    "RequestQuery",
    "Snapshots",
    "build_snapshot",
    "dashboard",
    "digest",
    "iter_open_outcomes",
    "open311_services",
    "open_figures",
    "open_outcomes",
    "parse_service_code",
    "service_code",
    "service_request",
    "service_requests",
    "snapshots",
]
