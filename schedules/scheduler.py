"""APScheduler 3 (AsyncIOScheduler, memory job store), rebuilt from the database.

One job per active rule, whose trigger is the rule's own next send instant (schedules/rules.py),
and a sweep every 30 seconds for what is not tied to a rule's instant: snoozed reminders, the end
of quiet hours, retries. Every job just calls ReminderService.tick(), which decides from the
database what to send; so a job firing twice, or late, changes nothing.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from schedules.rules import next_instant
from schedules.service import ReminderService
from storage.reminder_types import Rule

log = logging.getLogger(__name__)


class RuleTrigger(BaseTrigger):
    """Fires at each send instant of one rule."""

    def __init__(self, rule: Rule, service: ReminderService) -> None:
        self.rule = rule
        self.tz = service.tz
        self.escalate_days = service.escalate_days

    def get_next_fire_time(self, previous_fire_time: datetime | None,
                           now: datetime) -> datetime | None:
        start = max(previous_fire_time, now) if previous_fire_time else now
        return next_instant(self.rule, start, self.tz, self.escalate_days, escalation=None)

    def __str__(self) -> str:
        return f"rule {self.rule.id} ({self.rule.kind})"


class ReminderScheduler:
    def __init__(self, service: ReminderService, *, sweep_seconds: float = 30) -> None:
        self.service = service
        self.sweep_seconds = sweep_seconds
        grace = int(service.grace.total_seconds())
        self.scheduler = AsyncIOScheduler(timezone=service.tz, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": grace})
        self._rebuilding: asyncio.Future[None] | None = None
        service.on_rules_changed(self.request_rebuild)

    async def start(self) -> None:
        """Rebuild the jobs from the database, start, and catch up on what fell due."""
        await self.service.start()
        self.scheduler.start()
        await self.rebuild()
        self.scheduler.add_job(self._tick, IntervalTrigger(seconds=self.sweep_seconds),
                               id="sweep", replace_existing=True)
        await self._tick()

    async def stop(self) -> None:
        """No new ticks; wait for one in progress to finish its sends."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.service.idle()

    def request_rebuild(self) -> None:
        """A rule changed: rebuild the jobs soon (the caller need not wait)."""
        self._rebuilding = asyncio.ensure_future(self.rebuild())

    async def rebuilt(self) -> None:
        """Wait for the rebuild a rule change requested, if any."""
        if self._rebuilding is not None:
            await self._rebuilding

    async def rebuild(self) -> None:
        """One job per active rule, fired at the rule's next send instant."""
        rules = await self.service.repo.rules(active_only=True)
        wanted = {f"rule-{r.id}" for r in rules}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("rule-") and job.id not in wanted:
                job.remove()
        for rule in rules:
            self.scheduler.add_job(self._tick, RuleTrigger(rule, self.service),
                                   id=f"rule-{rule.id}", replace_existing=True)
        log.info("reminder jobs: %s", ", ".join(
            f"{j.id} next {j.next_run_time}" for j in self.scheduler.get_jobs()) or "none")

    def jobs(self) -> dict[str, datetime | None]:
        return {j.id: j.next_run_time for j in self.scheduler.get_jobs()}

    async def _tick(self) -> None:
        try:
            report = await self.service.tick()
            if report.sent or report.failed or report.blocked or report.skipped:
                log.info("reminders: %d sent, %d failed, %d blocked, %d skipped as too old",
                         report.sent, report.failed, report.blocked, len(report.skipped))
        except Exception:
            log.exception("reminder tick failed")
