"""The bulletin as a table: one header and one row per region or room, for CSV (UTF-8 with
a BOM, so Excel opens the Chinese correctly) and XLSX (one sheet per level).

Reads only a snapshot's ``data``; the snapshot holds no personal data, so neither do
the exports.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from openpyxl import Workbook  # type: ignore[import-untyped]

from server.core.i18n import translate

LEVEL_SHEETS = ("county", "town", "room")

# (i18n key of the column header, how to read it from a line)
Column = tuple[str, Callable[[dict[str, Any]], object]]


def _change(name: str) -> Callable[[dict[str, Any]], object]:
    return lambda line: (line.get("change") or {}).get(name)


COLUMNS: tuple[Column, ...] = (
    ("bulletin.col.rank", lambda r: r.get("rank")),
    ("bulletin.col.name", lambda r: r["name"]),
    ("bulletin.col.county", lambda r: r.get("county") or ""),
    ("bulletin.col.town", lambda r: r.get("town") or ""),
    ("bulletin.col.received", lambda r: r["received"]),
    ("bulletin.col.resolved", lambda r: r["resolution"]["resolved"]),
    ("bulletin.col.resolution_base", lambda r: r["resolution"]["base"]),
    ("bulletin.col.resolution_rate", lambda r: r["resolution"]["rate"]),
    ("bulletin.col.accept_on_time", lambda r: r["acceptance"]["on_time"]),
    ("bulletin.col.accept_late", lambda r: r["acceptance"]["late"]),
    ("bulletin.col.accept_overdue", lambda r: r["acceptance"]["overdue_open"]),
    ("bulletin.col.acceptance_rate", lambda r: r["acceptance"]["rate"]),
    ("bulletin.col.satisfied", lambda r: r["satisfaction"]["satisfied"]),
    ("bulletin.col.basically_satisfied", lambda r: r["satisfaction"]["basically_satisfied"]),
    ("bulletin.col.unsatisfied", lambda r: r["satisfaction"]["unsatisfied"]),
    ("bulletin.col.evaluations", lambda r: r["satisfaction"]["total"]),
    ("bulletin.col.satisfaction_rate", lambda r: r["satisfaction"]["rate"]),
    ("bulletin.col.sessions", lambda r: r["sessions"]),
    ("bulletin.col.overdue_deadlines", lambda r: r["overdue"]["deadlines"]),
    ("bulletin.col.overdue_outcomes", lambda r: r["overdue"]["outcomes"]),
    ("bulletin.col.overdue", lambda r: r["overdue"]["total"]),
    ("bulletin.col.change_rank", _change("rank")),
    ("bulletin.col.change_received", _change("received")),
    ("bulletin.col.change_resolution", _change("resolution_rate")),
    ("bulletin.col.change_acceptance", _change("acceptance_rate")),
    ("bulletin.col.change_satisfaction", _change("satisfaction_rate")),
    ("bulletin.col.change_sessions", _change("sessions")),
    ("bulletin.col.change_overdue", _change("overdue")),
)

# Rates and their changes are fractions (0.2); spreadsheets show them as 20.0%.
PERCENT_COLUMNS = frozenset(
    key
    for key, _ in COLUMNS
    if key.endswith("_rate") or key.endswith(("_resolution", "_acceptance", "_satisfaction"))
)


def header(lang: str) -> list[str]:
    return [translate(lang, key) for key, _ in COLUMNS]


def row(line: dict[str, Any]) -> list[object]:
    return [read(line) for _, read in COLUMNS]


def to_csv(data: dict[str, Any], lang: str) -> bytes:
    """Every level in one file: a first column names the level."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([translate(lang, "bulletin.col.level"), *header(lang)])
    for level in LEVEL_SHEETS:
        name = translate(lang, f"bulletin.level.{level}")
        for line in data["levels"][level]:
            writer.writerow([name, *("" if v is None else v for v in row(line))])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(data: dict[str, Any], lang: str, title: str) -> bytes:
    """One sheet per level (county, town, room), the header frozen."""
    book = Workbook()
    book.remove(book.active)
    for level in LEVEL_SHEETS:
        sheet = book.create_sheet(translate(lang, f"bulletin.level.{level}"))
        sheet.append(header(lang))
        for line in data["levels"][level]:
            sheet.append(row(line))
        for index, (key, _) in enumerate(COLUMNS, start=1):
            if key in PERCENT_COLUMNS:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = "0.0%"
        sheet.freeze_panes = "A2"
    book.properties.title = title
    book.properties.creator = "Mashangyi"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def disposition(filename: str, fallback: str) -> str:
    """An attachment named ``filename`` (UTF-8, RFC 6266), ``fallback`` for old clients."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
