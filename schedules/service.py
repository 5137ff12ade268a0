"""The reminder service: turns due send instants into deliveries (once), and sends them.

`tick(now)` is all there is: plan the instants since the last tick (each one once, recorded in
reminder_runs with its deliveries in one transaction), then send what is due, outside quiet
hours. What an instant owes is decided by the strategy of the rule's kind (schedules/kinds.py),
handed to the service when it is built; pacing is the business of each channel's notifier.
APScheduler (schedules/scheduler.py) only decides when to call `tick`; tests call it with an
injected clock.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.clock import Clock
from core.hours import in_quiet, parse_quiet
from core.outbox import Outbox, SendResult
from core.settings import Settings
from schedules import messages
from schedules.kinds import Plan, ReminderKind
from schedules.rules import instants
from storage.reminder_types import (
    BlockedBody,
    DeliveryKind,
    DeliveryStatus,
    DisclosureCheck,
    MessageKind,
    Quarterly,
    RuleKind,
    Schedule,
    SpecialCheck,
)
from storage.reminders import Delivery, ReminderRepo
from storage.users import UserRepo

log = logging.getLogger(__name__)
LATE_AFTER = timedelta(minutes=5)
MAX_ATTEMPTS = 6
BATCH = 200
IN_FLIGHT = 8  # sends awaiting a channel at once (a 429's retry_after wait holds one)
DefaultRule = tuple[RuleKind, str, str, tuple[str, ...], Schedule]
DEFAULT_RULES: tuple[DefaultRule, ...] = (
    (RuleKind.QUARTERLY, "季度村务公开督查", "Quarterly village-affairs disclosure inspection",
     ("district", "township"), Quarterly(leads=("month_start", "7d"), at="09:00")),
    (RuleKind.SPECIAL_CHECK, "市级专项督查计划检查", "City special inspections planned", (),
     SpecialCheck(month=12, day=1, at="09:00")),
    (RuleKind.DISCLOSURE, "村务公开按期检查", "Village-affairs disclosure on time", ("village",),
     DisclosureCheck(at="09:00", escalate_days=7, summary_day=1)),
)


@dataclass
class TickReport:
    planned: int = 0
    skipped: list[str] = field(default_factory=list)
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    quiet: bool = False


class ReminderService:
    """Plans and sends reminders; one tick at a time."""

    def __init__(self, *, settings: Settings, users: UserRepo, repo: ReminderRepo,
                 outbox: Outbox, clock: Clock, kinds: Sequence[ReminderKind]) -> None:
        self.settings = settings
        self.tz = settings.tz
        self.users = users
        self.repo = repo
        self.outbox = outbox
        self.clock = clock
        self.quiet = parse_quiet(settings.reminder_quiet_hours)
        self.grace = timedelta(hours=settings.reminder_grace_hours)
        self.escalate_days = settings.reminder_escalate_days
        self._kinds: dict[RuleKind, ReminderKind] = {}
        for strategy in kinds:
            for kind in strategy.rule_kinds:
                if kind in self._kinds:
                    raise ValueError(f"two strategies for reminder kind {kind}")
                self._kinds[kind] = strategy
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self._listeners: list[Callable[[], None]] = []  # told when rules change
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """At start: deliveries a crash left half-sent go out again; default rules exist."""
        released = await self.repo.release_unfinished()
        if released:
            log.warning("%d delivery(ies) were being sent when the bot stopped; sending again",
                        released)
        if await self.repo.state("defaults") is None:
            now = self.clock.now()
            # The shipped rules count as existing a grace period back: a bot first started
            # on 1 December still runs that morning's check (late), instead of next year's.
            since = now - self.grace
            for kind, title_zh, title_en, levels, schedule in DEFAULT_RULES:
                await self.repo.add_rule(kind, title_zh, levels, (), schedule, since,
                                         by="default", title_en=title_en)
            await self.repo.set_state("defaults", now.isoformat())

    def on_rules_changed(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever a rule is added or changed (the scheduler rebuilds)."""
        self._listeners.append(listener)

    def rules_changed(self) -> None:
        for listener in self._listeners:
            listener()

    async def idle(self) -> None:
        """Return once no tick is running (a tick in progress finishes its sends)."""
        async with self._lock:
            pass

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
            strategy = self._kinds.get(rule.kind)
            if strategy is None:
                log.warning("rule %s: no strategy for kind %s here; not planned", rule.id,
                            rule.kind)
                continue
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
                plan = Plan(now, max(inst.send_at, now - self.grace),
                            now - inst.send_at > LATE_AFTER)
                rows = await strategy.owed(rule, inst, plan)
                if await self.repo.record_run(rule.id, inst.occurrence, inst.due, inst.send_at,
                                              "planned", now, rows):
                    report.planned += len(rows)
        await self.repo.set_state("last_tick", now.isoformat())

    # --- sending --------------------------------------------------------------------------
    async def _send_due(self, now: datetime, report: TickReport) -> None:
        while True:
            batch = await self.repo.claim(now, BATCH)
            if not batch:
                return
            results = await asyncio.gather(*(self._send_limited(d) for d in batch))
            for status in results:
                if status == DeliveryStatus.SENT:
                    report.sent += 1
                elif status == DeliveryStatus.BLOCKED:
                    report.blocked += 1
                elif status == DeliveryStatus.FAILED:
                    report.failed += 1

    async def _send_limited(self, d: Delivery) -> DeliveryStatus:
        """Few sends in flight: queued requests would reach the channel in bursts."""
        async with self._in_flight:
            return await self._send_one(d)

    async def _send_one(self, d: Delivery) -> DeliveryStatus:
        user = await self.users.get_by_id(d.recipient_id)
        rule = await self.repo.rule(d.rule_id)
        if user is None or rule is None:
            await self.repo.finish(d.id, DeliveryStatus.SKIPPED, self.clock.now(),
                                   "recipient or rule gone")
            return DeliveryStatus.SKIPPED
        if d.kind == DeliveryKind.REMINDER:
            strategy = self._kinds.get(rule.kind)
            if not rule.active or strategy is None or not await strategy.still_due(d, rule):
                await self.repo.finish(d.id, DeliveryStatus.SKIPPED, self.clock.now(),
                                       "acknowledged")
                return DeliveryStatus.SKIPPED
        replies = messages.build(d, rule, user, self.tz)
        result = await self.outbox.send(user.channel, user.external_id, replies)
        now = self.clock.now()
        if result == SendResult.SENT:
            await self.repo.finish(d.id, DeliveryStatus.SENT, now)
            return DeliveryStatus.SENT
        if result == SendResult.BLOCKED:
            await self.repo.finish(d.id, DeliveryStatus.BLOCKED, now, "blocked the bot")
            if await self.users.mark_blocked(user.id, now):
                await self._report_blocked(d, user.id, now)
            return DeliveryStatus.BLOCKED
        if result == SendResult.UNDELIVERABLE:  # trying again cannot help until they write
            await self.repo.finish(d.id, DeliveryStatus.FAILED, now, str(result))
            log.warning("delivery %s to user %s is not possible on %s now (no message window, "
                        "no template); given up", d.id, user.id, user.channel)
            return DeliveryStatus.FAILED
        if d.attempts < MAX_ATTEMPTS:
            await self.repo.retry_later(d.id, now + timedelta(minutes=2 ** d.attempts),
                                        str(result))
        else:
            await self.repo.finish(d.id, DeliveryStatus.FAILED, now, str(result))
            log.error("delivery %s to user %s failed %d times; given up", d.id, user.id,
                      d.attempts)
        return DeliveryStatus.FAILED

    async def _report_blocked(self, d: Delivery, user_id: int, now: datetime) -> None:
        """Tell the administrators once that reminders cannot reach this user."""
        areas = [a.area_path for a in await self.users.areas_of(user_id)]
        user = await self.users.get_by_id(user_id)
        who = f"{user.channel}:{user.external_id}" if user else str(user_id)
        for admin in await self.users.admins():
            if admin.id != user_id:
                await self.repo.add_delivery(d.rule_id, f"blocked/{user_id}/{d.occurrence}",
                                             d.due, admin.id, DeliveryKind.WARNING,
                                             MessageKind.BLOCKED, now,
                                             BlockedBody(blocked=who, areas=areas))
