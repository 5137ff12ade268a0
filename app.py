"""The composition root: builds storage, the knowledge base, the reminder service and its
strategies, and the assistant, for the bot (bot.py) and the command line (cli.py). The only
place that wires objects together."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

from core.clock import Clock, SystemClock
from core.outbox import Outbox
from core.settings import Settings
from handlers.assistant import Assistant
from knowledge.base import KnowledgeBase
from schedules.disclosure import DisclosureWatch
from schedules.kinds import CadreReminders, SpecialInspectionCheck
from schedules.service import ReminderService
from storage.db import open_database
from storage.dialogs import DialogRepo
from storage.disclosures import DisclosureRepo
from storage.feedback import FeedbackRepo
from storage.invites import InviteRepo
from storage.reminders import ReminderRepo
from storage.safety import SafetyRepo
from storage.users import UserRepo
from storage.volunteers import VolunteerRepo

log = logging.getLogger("bot")


@asynccontextmanager
async def open_assistant(settings: Settings, clock: Clock | None = None,
                         kb: KnowledgeBase | None = None) -> AsyncIterator[Assistant]:
    """Storage + knowledge base + the core, closed again on exit (also on errors)."""
    kb = kb or KnowledgeBase.load(settings.bot_knowledge_dir)
    db = await open_database(settings.bot_db)
    clock = clock or SystemClock()
    housekeeping: asyncio.Task[None] | None = None
    try:
        users, outbox, repo = UserRepo(db), Outbox(), ReminderRepo(db)
        disclosures = DisclosureRepo(db)
        watch = DisclosureWatch(kb, disclosures, users, settings.tz)
        reminders = ReminderService(
            settings=settings, users=users, repo=repo, outbox=outbox, clock=clock,
            kinds=(CadreReminders(users, repo), SpecialInspectionCheck(users, repo), watch))
        assistant = Assistant(settings=settings, kb=kb, users=users, dialogs=DialogRepo(db),
                              volunteers=VolunteerRepo(db), reminders=reminders,
                              invites=InviteRepo(db), disclosures=disclosures,
                              disclosure_watch=watch, safety=SafetyRepo(db),
                              feedback=FeedbackRepo(db), clock=clock, outbox=outbox)
        await tidy(assistant)
        housekeeping = asyncio.ensure_future(_daily(assistant))
        yield assistant
    finally:
        if housekeeping is not None:
            housekeeping.cancel()
            with suppress(asyncio.CancelledError):
                await housekeeping
        await db.close()


async def tidy(assistant: Assistant) -> None:
    """Forget what need not be kept: handled update ids (Telegram re-delivers within hours),
    volunteer sign-ups past the retention period the consent text promises, questions kept
    for review past theirs (answers nobody voted on after a day)."""
    now = assistant.clock.now()
    await assistant.dialogs.prune_seen_updates(now - timedelta(days=2))
    days = assistant.settings.volunteer_retention_days
    purged = await assistant.volunteers.purge_older_than(now - timedelta(days=days))
    if purged:
        log.info("retention: deleted %d volunteer sign-up(s) older than %d days", purged, days)
    keep = timedelta(days=assistant.settings.feedback_retention_days)
    await assistant.feedback.purge(now - timedelta(days=1), now - keep)


async def _daily(assistant: Assistant) -> None:
    while True:
        await asyncio.sleep(24 * 3600)
        try:
            await tidy(assistant)
        except Exception:
            log.exception("daily tidy-up failed")
