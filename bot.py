"""Entry point and composition root: settings, storage, knowledge base, channels; and the CLI.

    python bot.py                 Telegram if TELEGRAM_BOT_TOKEN is set, else the console chat
    python bot.py chat            the console chat
    python bot.py ask QUESTION    one answer (`ask --json -` reads questions from stdin)
    python bot.py kb check        validate knowledge/
    python bot.py users ...       list users, make cadres, take it back
    python bot.py directory import FILE.csv   load an operator's spreadsheet of services/teams
    python bot.py volunteers export --area AREA --format csv|xlsx -o FILE
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from core import i18n
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
    from schedules.service import ReminderService
    from storage.dialogs import DialogRepo
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
        assistant = Assistant(settings=settings, kb=kb, users=users, dialogs=DialogRepo(db),
                              volunteers=VolunteerRepo(db), reminders=reminders,
                              invites=InviteRepo(db), clock=clock, outbox=outbox)
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


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    """One answer per question; with --json one object per line. Needs no database."""
    from handlers.faq import decide, render

    kb = KnowledgeBase.load(settings.bot_knowledge_dir)
    questions = sys.stdin if args.question == "-" else [args.question]
    for raw in questions:
        question = raw.rstrip("\n")
        if args.question == "-" and not question.strip():
            continue
        decision = decide(kb, question, args.lang)
        with i18n.use(args.lang or decision.lang):
            replies = render(kb, decision)
        answer = "\n\n".join(r.text for r in replies)
        if decision.kind in ("clarify", "need_place"):  # the choices a chat shows as buttons
            answer += "".join(f"\n- {b.label}"
                              for r in replies for row in r.buttons for b in row)
        if args.json:
            print(json.dumps({"answer": answer, "fallback": decision.fallback,
                              "entry_id": decision.entry.id if decision.entry else None,
                              "score": round(decision.score, 4), "kind": decision.kind},
                             ensure_ascii=False), flush=True)
        else:
            print(answer)
    return 0


def cmd_kb(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge.check import check

    errors, warnings = check(settings.bot_knowledge_dir)
    for w in warnings:
        print(f"warning: {w}")
    for e in errors:
        print(f"error: {e}")
    print(f"{len(errors)} error(s), {len(warnings)} warning(s)")
    return 1 if errors else 0


async def cmd_users(settings: Settings, args: argparse.Namespace) -> int:
    from handlers.admin import RoleError, find_target, grant, revoke

    async with open_assistant(settings) as a:
        now = a.clock.now()
        if args.users_cmd == "list":
            for u in await a.users.list_users(args.limit):
                print(f"{u.channel}:{u.external_id}\t{u.role}\t{u.language or '-'}\t{u.last_seen}")
            for c in await a.users.list_cadres():
                print(f"cadre {c.channel}:{c.external_id}\t{c.level}\t{c.area_path}")
            return 0
        try:
            target = await find_target(a.users, args.user, "telegram")
            if args.users_cmd == "promote":
                area = await grant(a.users, a.kb.gazetteer, target, args.level, args.area, now,
                                   by=None)
                print(f"{args.user} is now a cadre of {area}")
            else:
                removed = await revoke(a.users, target, now, by=None)
                print(f"{args.user}: {removed} area(s) removed")
        except RoleError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


def cmd_directory(settings: Settings, args: argparse.Namespace) -> int:
    """Load an operator's CSV into knowledge/directory/<kind>_imported.yaml, with a report."""
    from knowledge.importer import CsvImportError, format_report, import_csv

    try:
        report = import_csv(Path(args.file), settings.bot_knowledge_dir, args.kind)
    except (CsvImportError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    return 0 if report.written else 1


async def cmd_volunteers(settings: Settings, args: argparse.Namespace) -> int:
    """Export the sign-ups of an area (or `all`) as CSV or XLSX."""
    from handlers import exports
    from handlers.admin import RoleError, parse_area
    from handlers.areas import covers

    async with open_assistant(settings) as a:
        directory = a.kb.directory
        if args.area.strip().lower() in ("all", "*"):
            team_ids = None
        else:
            parts = [p for p in args.area.replace("／", "/").split("/") if p.strip()]
            if parts and parts[0].strip() == a.kb.gazetteer.city.name_zh:
                parts = parts[1:]
            level = ("city", "district", "township", "village")[min(len(parts), 3)]
            try:
                area = parse_area(a.kb.gazetteer, level, "/".join(parts))
            except RoleError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            team_ids = {t.id for t in directory.teams.values()
                        if covers(level, area, directory.team_area(t))}
        signups = await a.volunteers.of_teams(team_ids)
        with i18n.use(args.lang):
            content = exports.build(args.format, directory, signups, settings.tz)
    Path(args.output).write_bytes(content)
    print(f"{len(signups)} sign-up(s) written to {args.output}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bot.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd")
    sub.add_parser("run", help="Telegram if a token is set, else the console chat")
    chat = sub.add_parser("chat", help="the console chat")
    chat.add_argument("--lang", choices=i18n.LANGUAGES)
    ask = sub.add_parser("ask", help="answer one question (or '-' for one per stdin line)")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true")
    ask.add_argument("--lang", choices=i18n.LANGUAGES)
    kb = sub.add_parser("kb", help="knowledge base tools")
    kb.add_argument("kb_cmd", choices=["check"])
    users = sub.add_parser("users", help="users and cadre roles")
    usub = users.add_subparsers(dest="users_cmd", required=True)
    ul = usub.add_parser("list")
    ul.add_argument("--limit", type=int, default=100)
    up = usub.add_parser("promote", help="make a user a cadre of an area")
    up.add_argument("user", help="telegram user id, or channel:id")
    up.add_argument("level", help="city | district | township | village")
    up.add_argument("area", nargs="?", default="", help="e.g. 岳麓区/XX街道")
    ud = usub.add_parser("demote", help="take back all cadre areas")
    ud.add_argument("user")
    directory = sub.add_parser("directory", help="community services directory")
    dsub = directory.add_subparsers(dest="directory_cmd", required=True)
    di = dsub.add_parser("import", help="load a CSV export (UTF-8 or GB18030)")
    di.add_argument("file")
    di.add_argument("--kind", choices=["services", "teams", "communities"],
                    help="what the file holds (default: guessed from its header)")
    vol = sub.add_parser("volunteers", help="volunteer sign-ups")
    vsub = vol.add_subparsers(dest="volunteers_cmd", required=True)
    ve = vsub.add_parser("export", help="write the sign-ups of an area to a file")
    ve.add_argument("--area", required=True, help="all, 雨花区, 雨花区/XX街道/红星村 ...")
    ve.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    ve.add_argument("--lang", choices=i18n.LANGUAGES, default="zh")
    ve.add_argument("-o", "--output", required=True)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
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
    if args.cmd == "chat" or (args.cmd in (None, "run") and not settings.telegram_bot_token):
        asyncio.run(run_console(settings, getattr(args, "lang", None)))
        return 0
    asyncio.run(run_telegram(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
