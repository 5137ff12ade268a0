"""APScheduler wiring: jobs rebuilt from the database, and a real (short) wait for one."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from app import open_assistant
from core.clock import SystemClock
from schedules.scheduler import ReminderScheduler
from services.reminders import add_custom, add_special, set_active
from services.roles import grant
from tests.conftest import RecordingNotifier, text


async def test_jobs_follow_the_rules_in_the_database(settings, kb):
    settings = replace(settings, reminder_quiet_hours="off")
    async with open_assistant(settings, SystemClock(), kb) as a:
        scheduler = ReminderScheduler(a.reminders, sweep_seconds=3600)
        await scheduler.start()
        try:
            jobs = scheduler.jobs()
            assert set(jobs) == {"rule-1", "rule-2", "rule-3", "sweep"}
            q = jobs["rule-1"].astimezone(settings.tz)  # the next quarterly reminder
            assert q.hour == 9 and (q.day == 1 or q.day >= 20) and q.month in (3, 6, 9, 12)
            assert jobs["rule-2"].astimezone(settings.tz).strftime("%m-%d %H:%M") == \
                "12-01 09:00"
            rule = await add_special(a.reminders, kb.gazetteer, "2099-06-15", "all", "远期",
                                     by="test")
            await scheduler.rebuilt()  # the rebuild runs as a task
            assert scheduler.jobs()[f"rule-{rule.id}"].astimezone(settings.tz) == datetime(
                2099, 6, 8, 9, 0, tzinfo=settings.tz)
            await set_active(a.reminders, rule.id, False)
            await scheduler.rebuilt()
            assert f"rule-{rule.id}" not in scheduler.jobs()
        finally:
            await scheduler.stop()


async def test_a_reminder_fires_on_time_in_real_time(settings, kb):
    settings = replace(settings, reminder_quiet_hours="off")
    async with open_assistant(settings, SystemClock(), kb) as a:
        notes = RecordingNotifier()
        a.outbox.register("console", notes)
        await a.handle(text("c9", "/start"))
        user = await a.users.get("console", "c9")
        await grant(a.users, kb.gazetteer, user, "district", "雨花区", a.clock.now(), by=None)
        scheduler = ReminderScheduler(a.reminders, sweep_seconds=3600)
        await scheduler.start()
        try:
            due = (datetime.now(UTC) + timedelta(seconds=2)).astimezone(
                settings.tz).replace(microsecond=0)
            await add_custom(a.reminders, kb.gazetteer, "district", "all",
                             due.strftime("%Y-%m-%dT%H:%M:%S"), "准时测试", by="test")
            await asyncio.wait_for(notes.arrived.wait(), 8)
            assert [r.text for _ext, replies in notes.sent for r in replies
                    if "准时测试" in r.text]
            assert datetime.now(UTC) >= due
        finally:
            await scheduler.stop()
