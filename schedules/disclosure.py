"""Which village disclosures are due, on time, late or missing; and what the reminder service
owes for them (a reminder to the village's cadre, the township's list after a grace period,
a monthly summary per district for administrators)."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from core.areas import LEVELS, AreaPath, PlaceArea
from knowledge.base import KnowledgeBase
from knowledge.villages import (
    DisclosureBook,
    DRule,
    Village,
    bounds,
    covers,
    due_date,
    period_of,
    periods_between,
    shift,
)
from schedules.kinds import Plan
from schedules.rules import Instant
from storage.disclosures import DisclosureRepo, Record
from storage.reminder_types import (
    DeliveryKind,
    DisclosureCheck,
    DisclosureDueBody,
    DisclosureOverdueBody,
    DisclosureSummaryBody,
    MessageKind,
    Rule,
    RuleKind,
)
from storage.reminders import Delivery, Owed
from storage.users import CadreArea, UserRepo

STATES = ("on_time", "late", "missing")
CadreIndex = dict[tuple[str, str | None], list[CadreArea]]


def index_cadres(cadres: list[CadreArea]) -> CadreIndex:
    """(level, the last name of the area path) -> cadres: a village finds its own quickly."""
    out: CadreIndex = defaultdict(list)
    for c in cadres:
        out[(c.level, c.area_path.split("/")[-1])].append(c)
    return out


@dataclass(frozen=True)
class PeriodStatus:
    village_id: str
    rule_id: str
    period: str
    due: date
    state: str  # on_time | late | missing | open (not due yet, nothing recorded)
    recorded_on: date | None = None


def statuses(book: DisclosureBook, village: Village, records: list[Record], today: date,
             tz: ZoneInfo) -> list[PeriodStatus]:
    """Every period of every rule for the village since tracking started, up to today's."""
    out = []
    recs = [(*bounds(r.period), set(r.items), r.at.astimezone(tz).date()) for r in records]
    for rule in book.rules_for(village):
        wanted = set(rule.items)
        for key in periods_between(rule.period, book.tracking_starts, today):
            first, last = bounds(key)
            if first < book.tracking_starts:
                continue
            due = due_date(rule, key)
            # same test as knowledge.villages.covers, with the record bounds computed once
            days = sorted(day for r_first, r_last, items, day in recs
                          if items & wanted and first <= r_first and r_last <= last)
            if days:
                state = "on_time" if days[0] <= due else "late"
                out.append(PeriodStatus(village.id, rule.id, key, due, state, days[0]))
            else:
                out.append(PeriodStatus(village.id, rule.id, key, due,
                                        "missing" if today > due else "open"))
    return out


def next_due(book: DisclosureBook, village: Village, records: list[Record], today: date,
             tz: ZoneInfo) -> list[tuple[DRule, PeriodStatus]]:
    """Per rule: overdue periods, then the next period still to disclose."""
    out: list[tuple[DRule, PeriodStatus]] = []
    by_rule: dict[str, list[PeriodStatus]] = defaultdict(list)
    for st in statuses(book, village, records, today, tz):
        by_rule[st.rule_id].append(st)
    for rule in book.rules_for(village):
        sts = by_rule.get(rule.id, [])
        out += [(rule, st) for st in sts if st.state == "missing"]
        current = period_of(today, rule.period)
        pending = [st for st in sts if st.state == "open"]
        if pending:
            out.append((rule, pending[0]))
        else:  # this period is disclosed already (or tracking starts later): the next one
            key = shift(current, 1) if any(st.period == current for st in sts) else current
            out.append((rule, PeriodStatus(village.id, rule.id, key, due_date(rule, key),
                                           "open")))
    return out


def monthly_counts(sts: list[PeriodStatus], months: list[str]) -> dict[str, Counter[str]]:
    """Month ("2026-11") -> on_time / late / missing of the periods due that month."""
    out: dict[str, Counter[str]] = {m: Counter() for m in months}
    for st in sts:
        key = st.due.isoformat()[:7]
        if key in out and st.state in STATES:
            out[key][st.state] += 1
    return out


class DisclosureWatch:
    """The reminder service's strategy for the `disclosure` rule kind: a daily check of overdue
    periods (the village's cadres, then the township's list) and a monthly summary."""

    rule_kinds = (RuleKind.DISCLOSURE,)

    def __init__(self, kb: KnowledgeBase, repo: DisclosureRepo, users: UserRepo,
                 tz: ZoneInfo) -> None:
        self.kb = kb
        self.book = kb.villages
        self.repo = repo
        self.users = users
        self.tz = tz
        self._districts = {p.id: p for p in kb.gazetteer.districts()}

    def area(self, village: Village) -> PlaceArea:
        return self.book.area(village, self._districts, self.kb.gazetteer.city.name_zh)

    def cadres_of(self, village: Village, cadres: CadreIndex, level: str) -> list[int]:
        area = self.area(village)
        name = area.names[LEVELS.index(level)]
        return sorted({c.user_id for c in cadres.get((level, name), ())
                       if AreaPath.parse(c.area_path).covers(area)})

    async def all_statuses(self, today: date,
                           villages: list[Village] | None = None) -> list[PeriodStatus]:
        """Statuses of the given villages; by default of those confirmed by the operator
        (villages marked `example` are not chased: nobody confirmed they still exist)."""
        if villages is None:
            villages = [v for v in self.book.villages.values() if not v.example]
        by_village: dict[str, list[Record]] = defaultdict(list)
        for r in await self.repo.current([v.id for v in villages]):
            by_village[r.village_id].append(r)
        return [st for v in villages
                for st in statuses(self.book, v, by_village[v.id], today, self.tz)]

    async def owed(self, rule: Rule, inst: Instant, plan: Plan) -> list[Owed]:
        today = plan.now.astimezone(self.tz).date()
        not_before, late = plan.not_before, plan.late
        if inst.kind == "summary":
            return await self._summary(inst, today, not_before)
        schedule = rule.schedule
        days = schedule.escalate_days if isinstance(schedule, DisclosureCheck) else 7
        grace = timedelta(days=days)
        cadres = index_cadres(await self.users.list_cadres())
        out: list[Owed] = []
        lists: dict[tuple[int, str, str], list[str]] = defaultdict(list)
        for st in await self.all_statuses(today):
            if st.state != "missing":
                continue
            village = self.book.villages[st.village_id]
            rule_ = self.book.rules[st.rule_id]
            body = DisclosureDueBody(
                village=village.id, rule=st.rule_id, period=st.period, due=st.due.isoformat(),
                names=[village.name("zh"), village.name("en"), rule_.name("zh"),
                       rule_.name("en")])
            for uid in self.cadres_of(village, cadres, "village"):
                out.append(Owed(uid, DeliveryKind.REMINDER, MessageKind.DISCLOSURE_DUE, body,
                                not_before, late,
                                f"disc/{village.id}/{st.rule_id}/{st.period}",
                                st.due.isoformat()))
            if today >= st.due + grace:
                for uid in self._bosses(village, cadres):
                    lists[(uid, st.rule_id, st.period)].append(village.id)
        for (uid, rule_id, period), villages in lists.items():
            drule = self.book.rules[rule_id]
            due = due_date(drule, period).isoformat()
            overdue = DisclosureOverdueBody(
                villages=villages, rule=rule_id, period=period, due=due,
                names=[[self.book.villages[v].name("zh") for v in villages],
                       [self.book.villages[v].name("en") for v in villages],
                       drule.name("zh"), drule.name("en")])
            out.append(Owed(uid, DeliveryKind.ESCALATION, MessageKind.DISCLOSURE_OVERDUE,
                            overdue, not_before, late, f"disc-esc/{rule_id}/{period}", due))
        return out

    def _bosses(self, village: Village, cadres: CadreIndex) -> list[int]:
        for level in ("township", "district", "city"):
            found = self.cadres_of(village, cadres, level)
            if found:
                return found
        return []

    async def _summary(self, inst: Instant, today: date, not_before: datetime) -> list[Owed]:
        """On the first of a month: last month's on time / late / missing per district."""
        month = (date.fromisoformat(inst.due + "-01") - timedelta(days=1)).isoformat()[:7]
        table: dict[str, Counter[str]] = defaultdict(Counter)
        for st in await self.all_statuses(today):
            if st.due.isoformat()[:7] == month and st.state in STATES:
                district = self._districts.get(self.book.villages[st.village_id].place.district)
                table[district.name_zh if district else "?"][st.state] += 1
        if not table:
            return []
        body = DisclosureSummaryBody(
            month=month, summary={d: dict(c) for d, c in sorted(table.items())})
        return [Owed(u.id, DeliveryKind.WARNING, MessageKind.DISCLOSURE_SUMMARY, body,
                     not_before, False) for u in await self.users.admins()]

    async def still_due(self, d: Delivery, rule: Rule) -> bool:
        """A disclosure reminder is moot once the period is recorded."""
        if d.message != MessageKind.DISCLOSURE_DUE:
            return True
        body = cast(DisclosureDueBody, d.body)
        village = self.book.villages.get(str(body.get("village")))
        drule = self.book.rules.get(str(body.get("rule")))
        if village is None or drule is None:
            return False
        records = await self.repo.current([village.id])
        return not any(covers(r.period, r.items, drule, str(body["period"])) for r in records)
