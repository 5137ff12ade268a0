"""The composition root: builds storage, the knowledge base, the reminder service and its
strategies, and the assistant, for the bot (bot.py) and the command line (cli.py). The only
place that wires objects together."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta

from channels.durable import Runtime
from core import i18n
from core.clock import Clock, SystemClock
from core.i18n import _
from core.messages import Reply
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
from storage.inbox import InboxRepo
from storage.invites import InviteRepo
from storage.outbox import OutboxRepo
from storage.reminders import ReminderRepo
from storage.safety import SafetyRepo
from storage.users import UserRepo
from storage.volunteers import VolunteerRepo

log = logging.getLogger("bot")
CODE_GUESSING_ALERT = 20  # wrong invite codes in a day that the administrators hear of


@asynccontextmanager
async def open_assistant(settings: Settings, clock: Clock | None = None,
                         kb: KnowledgeBase | None = None) -> AsyncIterator[Assistant]:
    """Storage + knowledge base + the core, closed again on exit (also on errors). Without a
    channel's durable path (the console chat, the command line, tests of the core) notices to
    other users go straight to the registered notifiers."""
    async with open_runtime(settings, clock, kb, queue_notices=False) as runtime:
        yield runtime.assistant


@asynccontextmanager
async def open_runtime(settings: Settings, clock: Clock | None = None,
                       kb: KnowledgeBase | None = None, *,
                       queue_notices: bool = True) -> AsyncIterator[Runtime]:
    """The assistant with the inbox and outbox the channels deliver through; notices to other
    users (a coordinator's new volunteer, a subscriber's disclosure) are queued in the outbox
    with the handling that caused them."""
    kb = kb or KnowledgeBase.load(settings.bot_knowledge_dir, settings.bot_data_dir)
    db = await open_database(settings.bot_db)
    clock = clock or SystemClock()
    housekeeping: asyncio.Task[None] | None = None
    try:
        queue = OutboxRepo(db)
        outbox = Outbox(queue if queue_notices else None)
        users, repo = UserRepo(db), ReminderRepo(db)
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
        runtime = Runtime(assistant, db, InboxRepo(db), queue)
        await tidy(runtime)
        housekeeping = asyncio.ensure_future(_daily(runtime))
        yield runtime
    finally:
        if housekeeping is not None:
            housekeeping.cancel()
            with suppress(asyncio.CancelledError):
                await housekeeping
        await db.close()


async def tidy(runtime: Runtime) -> None:
    """Forget what need not be kept: handled update ids (Telegram re-delivers within hours),
    finished outbox rows, volunteer sign-ups past the retention period the consent text
    promises, questions kept for review past theirs (answers nobody voted on after a day)."""
    assistant = runtime.assistant
    now = assistant.clock.now()
    await assistant.dialogs.prune_seen_updates(now - timedelta(days=2))
    await runtime.inbox.prune(now - timedelta(days=2))
    await runtime.outbox.prune(now - timedelta(days=2))
    days = assistant.settings.volunteer_retention_days
    purged = await assistant.volunteers.purge_older_than(now - timedelta(days=days))
    if purged:
        log.info("retention: deleted %d volunteer sign-up(s) older than %d days", purged, days)
    await _warn_of_code_guessing(assistant, now)
    await _report_undeliverable(runtime, now)
    keep = timedelta(days=assistant.settings.feedback_retention_days)
    await assistant.feedback.purge(now - timedelta(days=1), now - keep)


async def _warn_of_code_guessing(assistant: Assistant, now: datetime) -> None:
    """Tell the administrators, at most once a day, when many wrong invite codes were typed."""
    await assistant.invites.prune_failures(now - timedelta(days=2))
    wrong = await assistant.invites.failures(None, now - timedelta(days=1))
    repo = assistant.reminders.repo
    last = await repo.state("code_guessing_warned")
    if wrong < CODE_GUESSING_ALERT or (last and datetime.fromisoformat(last) > now
                                       - timedelta(days=1)):
        return
    log.warning("%d wrong invite codes in the last 24 hours; telling the administrators", wrong)
    for admin in await assistant.users.admins():
        with i18n.use(admin.language or i18n.language_from_code(admin.language_code)):
            text = _("{n} wrong invite codes were typed in the last 24 hours. Someone may be "
                     "guessing; codes are refused for an hour after 5 wrong ones.").format(n=wrong)
        await assistant.outbox.queue(admin.channel, admin.external_id, [Reply(text)])
    await repo.set_state("code_guessing_warned", now.isoformat())


async def _report_undeliverable(runtime: Runtime, now: datetime) -> None:
    """Tell the administrators, once a day, how many notices no channel could deliver (WeChat:
    the follower's 48-hour window had closed and no template message was possible)."""
    assistant = runtime.assistant
    repo = assistant.reminders.repo
    last = await repo.state("undeliverable_reported")
    since = datetime.fromisoformat(last) if last else now - timedelta(days=1)
    if since > now - timedelta(days=1):
        return
    count = await runtime.outbox.finished_since("undeliverable", since)
    if not count:
        return
    await repo.set_state("undeliverable_reported", now.isoformat())
    log.warning("%d notices could not be delivered since %s", count, since.isoformat())
    for admin in await assistant.users.admins():
        with i18n.use(admin.language or i18n.language_from_code(admin.language_code)):
            text = _("{n} notices could not be delivered in the last day: the WeChat followers "
                     "had not written for 48 hours and no notice template is configured "
                     "(WECHAT_TEMPLATE_NOTICE).").format(n=count)
        await assistant.outbox.queue(admin.channel, admin.external_id, [Reply(text)])


async def _daily(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(24 * 3600)
        try:
            await tidy(runtime)
        except Exception:
            log.exception("daily tidy-up failed")
