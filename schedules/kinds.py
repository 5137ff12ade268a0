"""The kinds of reminder, each a strategy the reminder service is built with (schedules/
service.py): what a rule's send instant owes to whom, and whether a reminder is still wanted
when its turn to be sent comes.

- CadreReminders: quarterly inspections, city special inspections and administrators' custom
  reminders: cadres of the rule's levels in its scope, then their superiors when they have not
  acknowledged two days after the due date.
- SpecialInspectionCheck: early December, the administrators are warned when fewer than two
  city special inspections are planned for the coming year.
- schedules/disclosure.py's DisclosureWatch: overdue village disclosures.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.areas import LEVELS, AreaPath
from schedules.rules import Instant
from storage.reminder_types import (
    DeliveryKind,
    EscalationBody,
    EscalationItem,
    MessageKind,
    Rule,
    RuleKind,
    Special,
    SpecialCheckBody,
)
from storage.reminders import Delivery, Owed, ReminderRepo
from storage.users import CadreArea, UserRepo


@dataclass(frozen=True)
class Plan:
    """The moment an instant is planned: when it may be sent, and whether it is late."""

    now: datetime
    not_before: datetime
    late: bool


class ReminderKind(Protocol):
    """One kind of reminder, handed to the reminder service when it is built."""

    @property
    def rule_kinds(self) -> tuple[RuleKind, ...]:
        """The rule kinds this strategy serves (each kind is served by one strategy)."""
        ...

    async def owed(self, rule: Rule, inst: Instant, plan: Plan) -> list[Owed]:
        """The deliveries one send instant of the rule owes (planned once, in one transaction)."""
        ...

    async def still_due(self, d: Delivery, rule: Rule) -> bool:
        """Just before a reminder is sent: is it still wanted (not acknowledged, not moot)?"""
        ...


class CadreReminders:
    """Reminders to cadres, acknowledged with Done; escalated to their superiors when not."""

    rule_kinds = (RuleKind.QUARTERLY, RuleKind.SPECIAL, RuleKind.CUSTOM)

    def __init__(self, users: UserRepo, repo: ReminderRepo) -> None:
        self.users = users
        self.repo = repo

    async def owed(self, rule: Rule, inst: Instant, plan: Plan) -> list[Owed]:
        if inst.kind == "escalation":
            return [Owed(uid, DeliveryKind.ESCALATION, MessageKind.ESCALATION, body,
                         plan.not_before, plan.late)
                    for uid, body in (await self._escalations(rule, inst)).items()]
        acks = await self.repo.acks(rule.id, inst.due)
        return [Owed(uid, DeliveryKind.REMINDER, MessageKind.REMINDER, {}, plan.not_before,
                     plan.late)
                for uid in await self.recipients(rule)
                if not (uid in acks and acks[uid].status == "done")]

    async def still_due(self, d: Delivery, rule: Rule) -> bool:
        ack = (await self.repo.acks(rule.id, d.due)).get(d.recipient_id)
        return ack is None or ack.status != "done"

    async def recipients(self, rule: Rule) -> list[int]:
        """Cadres of the rule's levels whose area lies in its scope (or anywhere: no scope)."""
        scope = [AreaPath.parse(s) for s in rule.scope]
        out: list[int] = []
        for area in await self.users.list_cadres():
            if area.level not in rule.levels:
                continue
            if scope and not any(s.overlaps(AreaPath.parse(area.area_path)) for s in scope):
                continue
            if area.user_id not in out:
                out.append(area.user_id)
        return out

    async def _escalations(self, rule: Rule, inst: Instant) -> dict[int, EscalationBody]:
        """Superior -> the list of their cadres who have not acknowledged."""
        acks = await self.repo.acks(rule.id, inst.due)
        owed = {d.recipient_id for d in await self.repo.deliveries(rule.id, inst.due)
                if d.kind == DeliveryKind.REMINDER}
        missing = sorted(uid for uid in owed if not (uid in acks and acks[uid].status == "done"))
        if not missing:
            return {}
        cadres = await self.users.list_cadres()
        admins = [u.id for u in await self.users.admins()]
        out: dict[int, EscalationBody] = {}
        for uid in missing:
            for area in (a for a in cadres if a.user_id == uid):
                for boss in superiors(area, cadres) or admins:
                    if boss == uid:
                        continue
                    item = EscalationItem(
                        who=f"{area.channel}:{area.external_id}", level=area.level,
                        area=area.area_path,
                        snoozed=uid in acks and acks[uid].status == "snoozed")
                    body = out.setdefault(boss, EscalationBody(due=inst.due, items=[]))
                    if item not in body["items"]:
                        body["items"].append(item)
        return out


def superiors(area: CadreArea, cadres: list[CadreArea]) -> list[int]:
    """The nearest level above whose area contains this cadre's area (user ids)."""
    rank = LEVELS.index(area.level)
    path = AreaPath.parse(area.area_path)
    for level in reversed(LEVELS[:rank]):
        found = sorted({c.user_id for c in cadres
                        if c.level == level and AreaPath.parse(c.area_path).contains(path)})
        if found:
            return found
    return []


class SpecialInspectionCheck:
    """Early December: fewer than two city special inspections planned for the coming year?"""

    rule_kinds = (RuleKind.SPECIAL_CHECK,)

    def __init__(self, users: UserRepo, repo: ReminderRepo) -> None:
        self.users = users
        self.repo = repo

    async def owed(self, rule: Rule, inst: Instant, plan: Plan) -> list[Owed]:
        year = int(inst.due[:4]) + 1
        specials = [r for r in await self.repo.rules(active_only=True)
                    if isinstance(r.schedule, Special) and r.schedule.date.startswith(str(year))]
        if len(specials) >= 2:
            return []
        body = SpecialCheckBody(year=year, count=len(specials), titles=[
            f"{r.schedule.date} {r.title_zh}" for r in specials
            if isinstance(r.schedule, Special)])
        return [Owed(u.id, DeliveryKind.WARNING, MessageKind.SPECIAL_CHECK, body,
                     plan.not_before, plan.late) for u in await self.users.admins()]

    async def still_due(self, d: Delivery, rule: Rule) -> bool:
        return True
