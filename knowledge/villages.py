"""Village-affairs disclosure data: items, rules (how often, due when) and the tracked villages.

Loaded from knowledge/disclosure/{rules,villages*}.yaml. Periods are keys like "2026-11"
(a month) or "2026-Q4" (a quarter); all dates are local dates in the bot's time zone.
"""
from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from core import i18n
from core.areas import PlaceArea
from knowledge.files import layered
from knowledge.places import Place

_KEY = re.compile(r"^(\d{4})-(?:Q([1-4])|(0[1-9]|1[0-2]))$")


@dataclass(frozen=True)
class Item:
    id: str
    name_zh: str
    name_en: str

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


@dataclass(frozen=True)
class DRule:
    id: str
    name_zh: str
    name_en: str
    items: tuple[str, ...]
    period: str  # month | quarter
    due: str  # end | next:N
    applies: str  # all | monthly_finance | quarterly_finance

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


@dataclass(frozen=True)
class Village:
    id: str
    place: Place
    township: str = ""
    monthly_finance: bool = False
    noticeboard: str = ""
    example: bool = False

    def name(self, lang: str) -> str:
        return self.place.name(lang)


# --- periods ------------------------------------------------------------------------------
def period_of(day: date, kind: str) -> str:
    if kind == "month":
        return f"{day.year}-{day.month:02d}"
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


_QUARTERS_ZH = "一二三四"
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")


def period_label(key: str) -> str:
    """A period as people write it: 2026年第四季度 / Q4 2026, 2026年12月 / December 2026."""
    m = _KEY.match(key)
    if not m:
        return key
    year = int(m.group(1))
    if m.group(2):
        q = int(m.group(2))
        return i18n.pick(f"{year}年第{_QUARTERS_ZH[q - 1]}季度", f"Q{q} {year}")
    month = int(m.group(3))
    return i18n.pick(f"{year}年{month}月", f"{_MONTHS_EN[month - 1]} {year}")


@lru_cache(maxsize=4096)
def bounds(key: str) -> tuple[date, date]:
    """First and last day of a period."""
    m = _KEY.match(key)
    if not m:
        raise ValueError(f"not a period: {key!r}")
    year = int(m.group(1))
    if m.group(2):
        first_month = (int(m.group(2)) - 1) * 3 + 1
        last_month = first_month + 2
    else:
        first_month = last_month = int(m.group(3))
    return (date(year, first_month, 1),
            date(year, last_month, calendar.monthrange(year, last_month)[1]))


def kind_of(key: str) -> str:
    return "quarter" if "Q" in key else "month"


def shift(key: str, n: int) -> str:
    """The period n periods later (n < 0: earlier)."""
    first, last = bounds(key)
    if kind_of(key) == "month":
        months = first.year * 12 + first.month - 1 + n
    else:
        months = first.year * 12 + first.month - 1 + 3 * n
    return period_of(date(months // 12, months % 12 + 1, 1), kind_of(key))


@lru_cache(maxsize=4096)
def due_date(rule: DRule, key: str) -> date:
    """By when the disclosure of period `key` is due under `rule`."""
    _first, last = bounds(key)
    if rule.due.startswith("next:"):
        nxt = last + timedelta(days=1)
        day = min(int(rule.due.split(":", 1)[1]), calendar.monthrange(nxt.year, nxt.month)[1])
        return nxt.replace(day=day)
    return last


@lru_cache(maxsize=256)
def periods_between(kind: str, start: date, end: date) -> tuple[str, ...]:
    """Periods of a kind that overlap [start, end], oldest first."""
    out, key = [], period_of(start, kind)
    while bounds(key)[0] <= end:
        out.append(key)
        key = shift(key, 1)
    return tuple(out)


def covers(record_period: str, items: tuple[str, ...], rule: DRule, key: str) -> bool:
    """Does a record (its period and items) satisfy `rule` for period `key`? A month's record
    counts for its quarter; a quarter's record does not count for a month."""
    if not set(items) & set(rule.items):
        return False
    r_first, r_last = bounds(record_period)
    p_first, p_last = bounds(key)
    return p_first <= r_first and r_last <= p_last


# --- data ---------------------------------------------------------------------------------
class DisclosureBook:
    """Items, rules and villages, with the rules that apply to each village."""

    def __init__(self, items: list[Item], rules: list[DRule], villages: list[Village],
                 tracking_starts: date) -> None:
        self.items = {i.id: i for i in items}
        self.rules = {r.id: r for r in rules}
        self.villages = {v.id: v for v in villages}
        self.tracking_starts = tracking_starts

    def rules_for(self, village: Village) -> list[DRule]:
        out = []
        for rule in self.rules.values():
            if rule.applies == "all" or (rule.applies == "monthly_finance"
                                         and village.monthly_finance) or (
                    rule.applies == "quarterly_finance" and not village.monthly_finance):
                out.append(rule)
        return out

    def area(self, village: Village, districts: dict[str, Place], city: str) -> PlaceArea:
        """Where the village lies, for matching cadres' areas."""
        district = districts.get(village.place.district)
        street = village.township or village.place.street or None
        return PlaceArea(city, district.name_zh if district else None, street,
                         village.place.name_zh)


def load(folder: Path, places: dict[str, Place], read: Callable[[Path], Any],
         overlay: Path | None = None) -> tuple[DisclosureBook, list[Place]]:
    """The book, and the new places (villages not in places.yaml) for the gazetteer; the
    operator's village lists (`overlay`) after the shipped ones."""
    rules_data = read(folder / "rules.yaml") if (folder / "rules.yaml").exists() else {}
    rules_data = rules_data or {}
    items = [Item(str(i["id"]), str(i["name_zh"]), str(i["name_en"]))
             for i in rules_data.get("items") or ()]
    rules = [DRule(str(r["id"]), str(r["name_zh"]), str(r["name_en"]),
                   tuple(str(x) for x in r.get("items") or ()), str(r.get("period", "quarter")),
                   str(r.get("due", "end")), str(r.get("applies", "all")))
             for r in rules_data.get("rules") or ()]
    start = rules_data.get("tracking_starts") or date(2026, 10, 1)
    start = start if isinstance(start, date) else date.fromisoformat(str(start))
    villages: list[Village] = []
    new_places: list[Place] = []
    for path in layered(folder, "villages*.yaml", overlay):
        for raw in (read(path) or {}).get("villages") or ():
            vid = str(raw.get("id", ""))
            place = places.get(vid)
            if place is None and raw.get("name_zh"):
                place = Place(id=vid, kind="community", name_zh=str(raw["name_zh"]),
                              name_en=str(raw.get("name_en") or raw["name_zh"]),
                              aliases=tuple(str(a) for a in raw.get("aliases") or ()),
                              district=str(raw.get("district") or ""),
                              street=str(raw.get("township") or ""))
                new_places.append(place)
            if place is None:
                continue  # reported by kb check
            villages.append(Village(vid, place, str(raw.get("township") or ""),
                                    bool(raw.get("monthly_finance")),
                                    str(raw.get("noticeboard") or ""),
                                    bool(raw.get("example"))))
    return DisclosureBook(items, rules, villages, start), new_places
