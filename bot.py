"""Entry point and composition root: settings, storage, knowledge base, channels; and the CLI.

    python bot.py                 Telegram if TELEGRAM_BOT_TOKEN is set, else the console chat
    python bot.py chat            the console chat
    python bot.py ask QUESTION    one answer (`ask --json -` reads questions from stdin)
    python bot.py kb check        validate knowledge/
    python bot.py users ...       list users, make cadres, take it back
    python bot.py directory import FILE.csv   load an operator's spreadsheet of services/teams
    python bot.py volunteers export --area AREA --format csv|xlsx -o FILE
    python bot.py reminders list|show|add-special|add|leads|on|off   inspection reminders
    python bot.py disclosure import FILE.csv   load an operator's list of villages
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import TYPE_CHECKING

from core.clock import Clock, SystemClock
from core.logs import setup_logging
from core.settings import Settings, SettingsError, load_settings
from knowledge.base import KnowledgeBase

if TYPE_CHECKING:
    from handlers import Assistant

log = logging.getLogger("bot")


@asynccontextmanager
async def open_assistant(settings: Settings, clock: Clock | None = None,
                         kb: KnowledgeBase | None = None) -> AsyncIterator[Assistant]:
    """Storage + knowledge base + the core, closed again on exit (also on errors)."""
    from handlers import Assistant
    from storage.db import open_database
    from core.outbox import Outbox
    from schedules.disclosure import DisclosureWatch
    from schedules.service import ReminderService
    from storage.dialogs import DialogRepo
    from storage.disclosures import DisclosureRepo
    from storage.invites import InviteRepo
    from storage.reminders import ReminderRepo
    from storage.users import UserRepo
    from storage.volunteers import VolunteerRepo

    kb = kb or KnowledgeBase.load(settings.bot_knowledge_dir)
    db = await open_database(settings.bot_db)
    clock = clock or SystemClock()
    housekeeping: asyncio.Task[None] | None = None
    try:
        users, outbox = UserRepo(db), Outbox()
        reminders = ReminderService(settings=settings, users=users, repo=ReminderRepo(db),
                                    outbox=outbox, clock=clock)
        disclosures = DisclosureRepo(db)
        reminders.disclosure = DisclosureWatch(kb, disclosures, users, settings.tz)
        assistant = Assistant(settings=settings, kb=kb, users=users, dialogs=DialogRepo(db),
                              volunteers=VolunteerRepo(db), reminders=reminders,
                              invites=InviteRepo(db), disclosures=disclosures, clock=clock,
                              outbox=outbox)
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
    """Forget what need not be kept: handled update ids (Telegram re-delivers within hours)
    and volunteer sign-ups past the retention period the consent text promises."""
    now = assistant.clock.now()
    await assistant.dialogs.prune_seen_updates(now - timedelta(days=2))
    days = assistant.settings.volunteer_retention_days
    purged = await assistant.volunteers.purge_older_than(now - timedelta(days=days))
    if purged:
        log.info("retention: deleted %d volunteer sign-up(s) older than %d days", purged, days)


async def _daily(assistant: Assistant) -> None:
    while True:
        await asyncio.sleep(24 * 3600)
        try:
            await tidy(assistant)
        except Exception:
            log.exception("daily tidy-up failed")


def _stop_event() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT, so the bot stops between updates and closes the db."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    return stop


async def run_telegram(settings: Settings) -> None:
    from channels.telegram import TelegramChannel, build_application

    from schedules.scheduler import ReminderScheduler

    async with open_assistant(settings) as assistant:
        channel = TelegramChannel(assistant, settings, build_application(settings))
        scheduler = ReminderScheduler(assistant.reminders)
        await channel.run(_stop_event(), on_started=scheduler.start,
                          before_stop=scheduler.stop)
    log.info("stopped; database closed")


async def run_console(settings: Settings, lang: str | None) -> None:
    from channels.console import CHANNEL, ConsoleNotifier
    from channels.console import run_console as loop

    from schedules.scheduler import ReminderScheduler

    async with open_assistant(settings) as assistant:
        assistant.outbox.register(CHANNEL, ConsoleNotifier(sys.stdout))
        scheduler = ReminderScheduler(assistant.reminders)
        await scheduler.start()
        chat = asyncio.ensure_future(loop(assistant, language_code=lang))
        stop = _stop_event()
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({chat, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not chat.done():
            chat.cancel()
        await scheduler.stop()


def main(argv: list[str] | None = None) -> int:
    from cli import (cmd_ask, cmd_directory, cmd_disclosure, cmd_kb, cmd_reminders, cmd_users,
                     cmd_volunteers, parser)

    args = parser(__doc__).parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.bot_log_level, [settings.telegram_bot_token or ""])
    log.debug("settings: %s", settings.redacted())
    if args.cmd == "ask":
        return cmd_ask(settings, args)
    if args.cmd == "kb":
        return cmd_kb(settings, args)
    if args.cmd == "users":
        return asyncio.run(cmd_users(settings, args))
    if args.cmd == "directory":
        return cmd_directory(settings, args)
    if args.cmd == "volunteers":
        return asyncio.run(cmd_volunteers(settings, args))
    if args.cmd == "reminders":
        return asyncio.run(cmd_reminders(settings, args))
    if args.cmd == "disclosure":
        return cmd_disclosure(settings, args)
    if args.cmd == "chat" or (args.cmd in (None, "run") and not settings.telegram_bot_token):
        asyncio.run(run_console(settings, getattr(args, "lang", None)))
        return 0
    asyncio.run(run_telegram(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
