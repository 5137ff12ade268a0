"""The reminder service: turns due send instants into deliveries (once), and sends them.

`tick(now)` is all there is: plan the instants since the last tick (each one once, recorded in
reminder_runs with its deliveries in one transaction), then send what is due, outside quiet
hours, paced under Telegram's limits. APScheduler (schedules/scheduler.py) only decides when to
call it; tests call it with an injected clock.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from datetime import datetime, timedelta

from core.clock import Clock
from core.outbox import Outbox
from core.settings import Settings
from schedules import messages
from schedules.rules import Instant, Rule, in_quiet, instants, parse_quiet
from storage.reminders import Delivery, Owed, ReminderRepo
from storage.users import LEVELS, CadreArea, UserRepo

if TYPE_CHECKING:
    from schedules.disclosure import DisclosureWatch

log = logging.getLogger(__name__)
LATE_AFTER = timedelta(minutes=5)
MAX_ATTEMPTS = 6
BATCH = 200
IN_FLIGHT = 8  # sends awaiting Telegram at once (a 429's retry_after wait holds one)
DEFAULT_RULES = (
    ("quarterly", "季度村务公开督查 Quarterly village-affairs disclosure inspection",
     ("district", "township"), {"leads": ["month_start", "7d"], "at": "09:00"}),
    ("special_check", "市级专项督查计划检查 City special inspections planned", (),
     {"month": 12, "day": 1, "at": "09:00"}),
    ("disclosure", "村务公开按期检查 Village-affairs disclosure on time", ("village",),
     {"at": "09:00", "escalate_days": 7, "summary_day": 1}),
)


class Pacer:
    """Keeps sends under `rate` a second overall, counted as Telegram counts them: over the
    last second of actual send times (a stalled event loop cannot cause a burst), and one a
    second per chat."""

    def __init__(self, rate: float, margin: int = 1) -> None:
        self._limit = max(1, int(rate) - margin) if rate > 0 else 0
        self._gap = 1.0 / rate if rate > 0 else 0.0
        self._sent: deque[float] = deque()
        self._per_chat: dict[str, float] = {}

    async def wait(self, chat: str) -> None:
        while self._limit:
            now = time.monotonic()
            while self._sent and now - self._sent[0] >= 1.0:
                self._sent.popleft()
            last = self._sent[-1] if self._sent else -1.0
            ready = max(last + self._gap, self._per_chat.get(chat, 0.0))
            if len(self._sent) >= self._limit:
                ready = max(ready, self._sent[0] + 1.0)
            if ready <= now:
                self._sent.append(now)
                self._per_chat[chat] = now + 1.0
                return
            await asyncio.sleep(ready - now)

    def new_round(self) -> None:
        """Per-chat spacing matters within one round of sends, not between rounds."""
        self._per_chat.clear()


@dataclass
class TickReport:
    planned: int = 0
    skipped: list[str] = field(default_factory=list)
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    quiet: bool = False


def contains(upper: str, lower: str) -> bool:
    """Does area path `upper` contain area path `lower` (whole segments)?"""
    up, low = upper.split("/"), lower.split("/")
    return len(up) <= len(low) and low[: len(up)] == up


class ReminderService:
    def __init__(self, *, settings: Settings, users: UserRepo, repo: ReminderRepo,
                 outbox: Outbox, clock: Clock) -> None:
        self.settings = settings
        self.tz = settings.tz
        self.users = users
        self.repo = repo
        self.outbox = outbox
        self.clock = clock
        self.quiet = parse_quiet(settings.reminder_quiet_hours)
        self.grace = timedelta(hours=settings.reminder_grace_hours)
        self.escalate_days = settings.reminder_escalate_days
        self.pacer = Pacer(settings.telegram_max_rate)
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self.listeners: list[Callable[[], None]] = []  # told when rules change
        self.disclosure: DisclosureWatch | None = None  # overdue village disclosures
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """At start: deliveries a crash left half-sent go out again; default rules exist."""
        released = await self.repo.release_unfinished()
        if released:
            log.warning("%d delivery(ies) were being sent when the bot stopped; sending again",
                        released)
        if await self.repo.state("defaults") is None:
            now = self.clock.now()
            for kind, title, levels, schedule in DEFAULT_RULES:
                await self.repo.add_rule(kind, title, levels, (), schedule, now, by="default")
            await self.repo.set_state("defaults", now.isoformat())

    def rules_changed(self) -> None:
        for listener in self.listeners:
            listener()

    async def tick(self, now: datetime | None = None) -> TickReport:
        """Plan what fell due since the last tick, then send what is due now."""
        async with self._lock:
            now = now or self.clock.now()
            report = TickReport()
            await self._plan(now, report)
            if in_quiet(now, self.quiet, self.tz):
                report.quiet = True
            else:
                await self._send_due(now, report)
            return report

    # --- planning -------------------------------------------------------------------------
    async def _plan(self, now: datetime, report: TickReport) -> None:
        last = await self.repo.state("last_tick")
        after = datetime.fromisoformat(last) if last else now - self.grace
        if after >= now:
            return
        for rule in await self.repo.rules(active_only=True):
            created = datetime.fromisoformat(rule.created_at)
            for inst in instants(rule, after, now, self.tz, self.escalate_days):
                if inst.send_at <= created:
                    continue  # before the rule existed
                if inst.send_at < now - self.grace:
                    if await self.repo.record_run(rule.id, inst.occurrence, inst.due,
                                                  inst.send_at, "skipped", now):
                        log.warning("rule %s: %s was due at %s, more than the grace period "
                                    "ago; skipped", rule.id, inst.occurrence, inst.send_at)
                        report.skipped.append(f"{rule.id}:{inst.occurrence}")
                    continue
                rows = await self._deliveries_for(rule, inst, now)
                if await self.repo.record_run(rule.id, inst.occurrence, inst.due, inst.send_at,
                                              "planned", now, rows):
                    report.planned += len(rows)
        await self.repo.set_state("last_tick", now.isoformat())

    async def _deliveries_for(self, rule: Rule, inst: Instant, now: datetime) -> list[Owed]:
        late = now - inst.send_at > LATE_AFTER
        not_before = max(inst.send_at, now - self.grace)
        if inst.kind in ("disclosure", "summary"):
            if self.disclosure is None:
                return []
            return await self.disclosure.owed(rule, inst, now, not_before, late)
        if inst.kind == "warning":
            body = await self._special_check(inst)
            if body is None:
                return []
            return [Owed(u.id, "warning", body, not_before, late)
                    for u in await self.users.admins()]
        if inst.kind == "escalation":
            return [Owed(uid, "escalation", body, not_before, late)
                    for uid, body in (await self._escalations(rule, inst)).items()]
        acks = await self.repo.acks(rule.id, inst.due)
        return [Owed(uid, "reminder", {}, not_before, late)
                for uid in await self.recipients(rule)
                if not (uid in acks and acks[uid].status == "done")]

    async def recipients(self, rule: Rule) -> list[int]:
        """Cadres of the rule's levels whose area lies in its scope (or anywhere: no scope)."""
        out: list[int] = []
        for area in await self.users.list_cadres():
            if area.level not in rule.levels:
                continue
            if rule.scope and not any(contains(s, area.area_path) or contains(area.area_path, s)
                                      for s in rule.scope):
                continue
            if area.user_id not in out:
                out.append(area.user_id)
        return out

    async def _escalations(self, rule: Rule, inst: Instant) -> dict[int, dict]:
        """Superior -> the summary of their cadres who have not acknowledged."""
        acks = await self.repo.acks(rule.id, inst.due)
        owed = {d.recipient_id for d in await self.repo.deliveries(rule.id, inst.due)
                if d.kind == "reminder"}
        missing = sorted(uid for uid in owed if not (uid in acks and acks[uid].status == "done"))
        if not missing:
            return {}
        cadres = await self.users.list_cadres()
        admins = [u.id for u in await self.users.admins()]
        out: dict[int, dict] = {}
        for uid in missing:
            for area in (a for a in cadres if a.user_id == uid):
                for boss in superiors(area, cadres) or admins:
                    if boss == uid:
                        continue
                    item = {"who": f"{area.channel}:{area.external_id}", "level": area.level,
                            "area": area.area_path,
                            "snoozed": uid in acks and acks[uid].status == "snoozed"}
                    body = out.setdefault(boss, {"title": rule.title, "due": inst.due,
                                                 "items": []})
                    if item not in body["items"]:
                        body["items"].append(item)
        return out

    async def _special_check(self, inst: Instant) -> dict | None:
        """Early December: fewer than two city special inspections for the coming year?"""
        year = int(inst.due[:4]) + 1
        specials = [r for r in await self.repo.rules(active_only=True) if r.kind == "special"
                    and str(r.schedule.get("date", "")).startswith(str(year))]
        if len(specials) >= 2:
            return None
        return {"year": year, "count": len(specials),
                "titles": [f"{r.schedule['date']} {r.title}" for r in specials]}

    # --- sending --------------------------------------------------------------------------
    async def _send_due(self, now: datetime, report: TickReport) -> None:
        self.pacer.new_round()
        while True:
            batch = await self.repo.claim(now, BATCH)
            if not batch:
                return
            results = await asyncio.gather(*(self._send_limited(d) for d in batch))
            for status in results:
                if status == "sent":
                    report.sent += 1
                elif status == "blocked":
                    report.blocked += 1
                elif status == "failed":
                    report.failed += 1

    async def _send_limited(self, d: Delivery) -> str:
        """Few sends in flight: queued requests would reach Telegram in bursts."""
        async with self._in_flight:
            return await self._send_one(d)

    async def _send_one(self, d: Delivery) -> str:
        user = await self.users.get_by_id(d.recipient_id)
        rule = await self.repo.rule(d.rule_id)
        if user is None or rule is None:
            await self.repo.finish(d.id, "skipped", self.clock.now(), "recipient or rule gone")
            return "skipped"
        if d.kind == "reminder":
            ack = (await self.repo.acks(rule.id, d.due)).get(user.id)
            done = ack is not None and ack.status == "done"
            if rule.kind == "disclosure" and self.disclosure is not None:
                done = not await self.disclosure.still_due(d)
            if not rule.active or done:
                await self.repo.finish(d.id, "skipped", self.clock.now(), "acknowledged")
                return "skipped"
        replies = messages.build(d, rule, user, self.tz)
        if user.channel == "telegram":  # Telegram's limits; other channels have their own
            await self.pacer.wait(user.external_id)
        status = await self.outbox.send(user.channel, user.external_id, replies)
        now = self.clock.now()
        if status == "sent":
            await self.repo.finish(d.id, "sent", now)
        elif status == "blocked":
            await self.repo.finish(d.id, "blocked", now, "blocked the bot")
            if await self.users.mark_blocked(user.id, now):
                await self._report_blocked(d, user.id, now)
        elif d.attempts < MAX_ATTEMPTS:
            wait = timedelta(minutes=2 ** d.attempts)
            await self.repo.retry_later(d.id, now + wait, status)
            status = "failed"
        else:
            await self.repo.finish(d.id, "failed", now, status)
            log.error("delivery %s to user %s failed %d times; given up", d.id, user.id,
                      d.attempts)
            status = "failed"
        return status

    async def _report_blocked(self, d: Delivery, user_id: int, now: datetime) -> None:
        """Tell the administrators once that reminders cannot reach this user."""
        areas = [a.area_path for a in await self.users.areas_of(user_id)]
        user = await self.users.get_by_id(user_id)
        who = f"{user.channel}:{user.external_id}" if user else str(user_id)
        for admin in await self.users.admins():
            if admin.id != user_id:
                await self.repo.add_delivery(d.rule_id, f"blocked/{user_id}/{d.occurrence}",
                                             d.due, admin.id, "warning", now,
                                             {"blocked": who, "areas": areas})


def superiors(area: CadreArea, cadres: list[CadreArea]) -> list[int]:
    """The nearest level above whose area contains this cadre's area (user ids)."""
    rank = LEVELS.index(area.level)
    for level in reversed(LEVELS[:rank]):
        found = sorted({c.user_id for c in cadres
                        if c.level == level and contains(c.area_path, area.area_path)})
        if found:
            return found
    return []
