"""Volunteer sign-ups as a spreadsheet (CSV with BOM for Excel, or XLSX), for cadres and CLI."""
from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from core import i18n
from core.i18n import _
from knowledge.directory import Directory
from storage.volunteers import Signup, slot_names

FORMATS = {"csv": "text/csv", "xlsx":
           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def header() -> list[str]:
    return [_("Reference"), _("Team"), _("Community"), _("District"), _("Name"),
            _("Mobile"), _("Available"), _("Signed up"), _("Consent given")]


def rows(directory: Directory, signups: list[Signup], tz: ZoneInfo) -> list[list[str]]:
    """One row per sign-up, place names from the directory, times in the local zone."""
    lang = i18n.current()
    names = slot_names()
    out = []
    for s in signups:
        team = directory.teams.get(s.team_id)
        community = directory.gazetteer.places.get(team.community) if team else None
        district = directory.district_of(team.community) if team else None
        out.append([
            s.ref, team.name(lang) if team else s.team_id,
            community.name(lang) if community else "", district.name(lang) if district else "",
            s.name, s.phone, ", ".join(names.get(a, a) for a in s.availability),
            _local(s.created_at, tz), _local(s.consented_at, tz)])
    return out


def _local(iso: str, tz: ZoneInfo) -> str:
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _safe(cell: str) -> str:
    """Cells starting with = + - @ are formulas to Excel: neutralise them (CSV injection)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def to_csv(table: list[list[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header())
    writer.writerows([[_safe(c) for c in row] for row in table])
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(table: list[list[str]]) -> bytes:
    # openpyxl takes a noticeable part of a second to import; only exports need it.
    from openpyxl import Workbook  # noqa: PLC0415

    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new workbook has one sheet
    ws.title = _("Volunteers")[:31]
    ws.append(header())
    for row in table:
        ws.append([_safe(c) for c in row])
    ws.freeze_panes = "A2"
    for col, width in zip("ABCDEFGHI", (10, 24, 16, 14, 12, 14, 26, 17, 17), strict=True):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def build(fmt: str, directory: Directory, signups: list[Signup], tz: ZoneInfo) -> bytes:
    table = rows(directory, signups, tz)
    return to_csv(table) if fmt == "csv" else to_xlsx(table)


def weekly_counts(signups: list[Signup], tz: ZoneInfo) -> dict[str, Counter[str]]:
    """team id -> ISO week ("2026-W48") -> number of sign-ups made that week."""
    out: dict[str, Counter[str]] = {}
    for s in signups:
        year, week, _day = datetime.fromisoformat(s.created_at).astimezone(tz).isocalendar()
        out.setdefault(s.team_id, Counter())[f"{year}-W{week:02d}"] += 1
    return out
