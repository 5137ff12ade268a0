"""The command line besides running the bot: ask, kb, users, directory, volunteers, reminders.

bot.py parses the arguments with `parser()` here and calls the command; each command opens what
it needs through app.open_assistant (the one place objects are wired together), and does its
work with the same services the chat uses.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import io
import json
import logging
import sys
import tempfile
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from app import open_assistant
from core import i18n
from core.areas import AreaPath
from core.callbacks import prefix_of
from core.messages import Incoming, User
from core.settings import Settings
from handlers.faq import decide
from handlers.safety import MAX_SCANNED
from knowledge import learned, safety
from knowledge.base import KnowledgeBase
from knowledge.check import check
from knowledge.importer import CsvImportError, format_report, import_csv
from knowledge.pinyin import TABLE_FILE
from knowledge.villages_import import import_villages
from schedules.rules import RuleError
from services import exports
from services import reminders as rem
from services.roles import (
    RoleError,
    find_target,
    grant,
    invite,
    level_for_depth,
    parse_area,
    revoke,
    set_area,
)
from services.visibility import teams_in


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    """One answer per question, exactly as the chat gives it (safety first, the village, place
    and directory flows included); with --json one object per line. The chat runs on a
    throwaway database, so the bot's own is never touched."""
    questions = sys.stdin if args.question == "-" else [args.question]
    logging.getLogger("storage.db").setLevel(logging.WARNING)  # a new database each time: its
    with tempfile.TemporaryDirectory(prefix="bot-ask-") as tmp:  # migrations are not news
        local = dataclasses.replace(settings, bot_db=Path(tmp) / "ask.sqlite3")
        return asyncio.run(_ask(local, args, questions))


_NOT_CHOICES = ("fb", "m", "menu", "ds", "du")  # votes, the topic menu, notifications


async def _ask(settings: Settings, args: argparse.Namespace, questions: Iterable[str]) -> int:
    async with open_assistant(settings) as a:
        for n, raw in enumerate(questions):
            question = raw.rstrip("\n")
            if args.question == "-" and not question.strip():
                continue
            user = User("cli", f"ask-{n}", args.lang)  # a new user each: no dialog carries over
            replies = await a.handle(Incoming(user, f"ask-{n}", text=question))
            answer = "\n\n".join(r.text for r in replies if r.text)
            for r in replies:  # the choices a chat shows as buttons (not those under an answer)
                buttons = [b for row in r.buttons for b in row]
                if not any(prefix_of(b.payload) == "fb" for b in buttons):
                    answer += "".join(f"\n- {b.label}" for b in buttons
                                      if prefix_of(b.payload) not in _NOT_CHOICES)
            if args.json:
                decision = decide(a.kb, question, args.lang)
                crisis = a.kb.safety.check(question[:MAX_SCANNED])
                print(json.dumps({"answer": answer, "fallback": decision.fallback,
                                  "crisis": crisis.kind.kind if crisis else None,
                                  "entry_id": decision.entry.id if decision.entry else None,
                                  "score": round(decision.score, 4), "kind": decision.kind},
                                 ensure_ascii=False), flush=True)
            else:
                print(answer, flush=True)
    return 0


def cmd_kb(settings: Settings, args: argparse.Namespace) -> int:
    if args.kb_cmd == "review":
        return asyncio.run(cmd_review(settings, args))
    if args.kb_cmd == "train":
        folder = settings.bot_knowledge_dir
        try:
            model = safety.train(folder)
        except ValueError as exc:
            print(f"error: {safety.examples_path(folder)}: {exc}", file=sys.stderr)
            return 1
        print(f"trained the crisis classifier on the examples ({', '.join(model.labels)}); "
              f"wrote {safety.model_path(folder)}")
        base = KnowledgeBase.load(folder)
        try:
            ranking = learned.train(folder, base.phrasings(), base.prepared,
                                    base.concepts.present)
        except (ValueError, yaml.YAMLError) as exc:
            print(f"error: {learned.questions_path(folder)}: {exc}", file=sys.stderr)
            return 1
        print(f"trained the learned ranking on the phrasings and "
              f"{len(learned.load_questions(folder))} labelled questions "
              f"({len(ranking.labels)} labels); wrote {learned.model_path(folder)}")
        return 0
    if args.kb_cmd == "pinyin":
        # pypinyin (about 50 MB of dictionaries) is loaded only by this command, never by
        # the bot, which imports this module at every start
        from knowledge import pinyin_build  # noqa: PLC0415

        path = settings.bot_knowledge_dir / TABLE_FILE.name
        try:
            chars, phrases = pinyin_build.write(path)
        except OSError as exc:
            print(f"error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"wrote {path}: the readings of {chars} characters and {phrases} phrases")
        return 0
    errors, warnings = check(settings.bot_knowledge_dir, settings.bot_data_dir)
    if not settings.bot_admins:
        kb = (KnowledgeBase.load(settings.bot_knowledge_dir, settings.bot_data_dir)
              if not errors else None)
        for team in (kb.directory.teams.values() if kb else ()):
            if not team.coordinator:
                warnings.append(f"teams: {team.id}: no coordinator and no BOT_ADMINS: unless a "
                                "cadre of its area has written to the bot, nobody hears of its "
                                "sign-ups (they wait for the first administrator)")
    for w in warnings:
        print(f"warning: {w}")
    for e in errors:
        print(f"error: {e}")
    print(f"{len(errors)} error(s), {len(warnings)} warning(s)")
    return 1 if errors else 0


def parse_since(text: str) -> timedelta:
    """`7d`, `12h`, `30m` -> a duration."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: use a number and d, h or m, e.g. 7d")
    return timedelta(**{units[unit]: int(number)})


async def cmd_review(settings: Settings, args: argparse.Namespace) -> int:
    """What residents asked and were not answered well, most frequent first (for the clerks
    who edit the knowledge base): declined, "none of these", 👎, and 👍 for balance."""
    async with open_assistant(settings) as a:
        rows = await a.feedback.review(a.clock.now() - args.since)
    labels = {"declined": "declined", "none_of_these": "none of these", "down": "👎",
              "up": "👍"}
    table = [[str(r.count), labels.get(r.kind, r.kind), r.entry_id or "", r.last_at[:16],
              r.question] for r in rows]
    if args.csv:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["count", "what", "entry", "last", "question"])
        writer.writerows(table)
        await asyncio.to_thread(Path(args.csv).write_text, buf.getvalue(),
                                encoding="utf-8-sig")
        print(f"{len(table)} row(s) written to {args.csv}")
        return 0
    if not table:
        print("nothing to review in that period")
    for row in table:
        print("\t".join(row))
    return 0


async def cmd_users(settings: Settings, args: argparse.Namespace) -> int:
    async with open_assistant(settings) as a:
        now = a.clock.now()
        if args.users_cmd == "list":
            for u in await a.users.list_users(args.limit):
                print(f"{u.channel}:{u.external_id}\t{u.role}\t{u.language or '-'}\t{u.last_seen}")
            for c in await a.users.list_cadres():
                print(f"cadre {c.channel}:{c.external_id}\t{c.level}\t{c.area_path}")
            return 0
        if args.users_cmd == "invite":
            try:
                code = await invite(a.invites, a.kb.gazetteer, args.level, args.area, now,
                                    by=None)
            except RoleError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            until = datetime.fromisoformat(code.expires_at).astimezone(settings.tz)
            print(f"{code.code}\t{code.level}\t{code.area_path}\tvalid until "
                  f"{until:%Y-%m-%d %H:%M} ({settings.bot_timezone}); the cadre sends "
                  f"/cadre {code.code}")
            return 0
        try:
            target = await find_target(a.users, args.user, "telegram")
            if args.users_cmd == "setarea":
                _level, area = await set_area(a.users, a.kb.gazetteer, target, args.level,
                                              args.area, now, by=None)
                print(f"{args.user} is now a cadre of {area}")
                return 0
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
    """Load an operator's CSV into BOT_DATA_DIR/directory/<kind>_imported.yaml, with a
    report."""
    try:
        report = import_csv(Path(args.file), settings.bot_knowledge_dir, args.kind,
                            data_dir=settings.bot_data_dir)
    except (CsvImportError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    return 0 if report.written else 1


def cmd_disclosure(settings: Settings, args: argparse.Namespace) -> int:
    """Load an operator's list of villages into BOT_DATA_DIR/disclosure/villages_imported.yaml."""
    try:
        report = import_villages(Path(args.file), settings.bot_knowledge_dir,
                                 data_dir=settings.bot_data_dir)
    except (CsvImportError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    return 0 if report.written else 1


async def cmd_wechat(settings: Settings, args: argparse.Namespace) -> int:
    """Publish knowledge/menu.yaml as the Official Account's custom menu (menu/create)."""
    # The WeChat channel (httpx, defusedxml, cryptography) is only imported by the commands
    # that use it; `ask` and `kb check` start without it.
    import httpx  # noqa: PLC0415

    from channels.wechat import WeChatApi, WeChatError, menu, publish_menu  # noqa: PLC0415 - same
    from storage.db import open_database  # noqa: PLC0415 - only this command opens it here
    from storage.wechat import WeChatRepo  # noqa: PLC0415 - with the channel

    kb = KnowledgeBase.load(settings.bot_knowledge_dir, settings.bot_data_dir)
    if args.dry_run:
        print(json.dumps(menu(kb), ensure_ascii=False, indent=2))
        return 0
    if not (settings.wechat_app_id and settings.wechat_app_secret):
        print("error: set WECHAT_APP_ID and WECHAT_APP_SECRET", file=sys.stderr)
        return 2
    db = await open_database(settings.bot_db)
    try:
        async with httpx.AsyncClient(timeout=10.0) as http:
            api = WeChatApi(settings, WeChatRepo(db), http)
            body = await publish_menu(api, kb)
    except WeChatError as exc:
        print(f"error: WeChat refused the menu: {exc}", file=sys.stderr)
        return 1
    finally:
        await db.close()
    print(json.dumps(body, ensure_ascii=False, indent=2))
    print("published; WeChat shows it to followers within about five minutes")
    return 0


async def cmd_volunteers(settings: Settings, args: argparse.Namespace) -> int:
    """Export the sign-ups of an area (or `all`) as CSV or XLSX."""
    async with open_assistant(settings) as a:
        directory = a.kb.directory
        if args.area.strip().lower() in ("all", "*"):
            team_ids = None
        else:
            parts = [p for p in args.area.replace("／", "/").split("/") if p.strip()]
            if parts and parts[0].strip() == a.kb.gazetteer.city.name_zh:
                parts = parts[1:]
            below_city = "/".join(parts)
            try:
                area = parse_area(a.kb.gazetteer, level_for_depth(below_city), below_city)
            except RoleError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            team_ids = teams_in(directory, AreaPath.parse(area))
        signups = await a.volunteers.of_teams(team_ids)
        with i18n.use(args.lang):
            content = exports.build(args.format, directory, signups, settings.tz)
    await asyncio.to_thread(Path(args.output).write_bytes, content)
    print(f"{len(signups)} sign-up(s) written to {args.output}")
    return 0


async def cmd_reminders(settings: Settings, args: argparse.Namespace) -> int:
    """Reminder rules from the command line (the same functions as the chat commands)."""
    async with open_assistant(settings) as a:
        service, gaz = a.reminders, a.kb.gazetteer
        await service.start()
        try:
            if args.rem_cmd == "list":
                for rule in await rem.rules(service):
                    print("\n".join(await rem.rule_lines(service, rule)))
            elif args.rem_cmd == "show":
                found = await rem.rule(service, args.id)
                if found is None:
                    print(f"error: no rule #{args.id}", file=sys.stderr)
                    return 2
                print("\n".join(await rem.rule_detail(service, found)))
            elif args.rem_cmd == "add-special":
                rule = await rem.add_special(service, gaz, args.date, args.scope, args.title,
                                             by="cli", leads=args.leads)
                print(f"added #{rule.id}")
            elif args.rem_cmd == "add":
                rule = await rem.add_custom(service, gaz, args.level, args.scope, args.when,
                                            args.title, by="cli")
                print(f"added #{rule.id}")
            elif args.rem_cmd == "leads":
                ok = await rem.set_leads(service, args.id, args.leads)
                print("changed" if ok else f"no rule #{args.id}")
            else:
                ok = await rem.set_active(service, args.id, args.rem_cmd == "on")
                print(f"#{args.id} {args.rem_cmd}" if ok else f"no rule #{args.id}")
        except (RuleError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


def _reminder_parser(sub: argparse._SubParsersAction) -> None:
    rem = sub.add_parser("reminders", help="inspection reminder rules")
    rsub = rem.add_subparsers(dest="rem_cmd", required=True)
    rsub.add_parser("list", help="every rule with its next reminder and latest status")
    show = rsub.add_parser("show", help="one rule, with each cadre's acknowledgement")
    show.add_argument("id", type=int)
    sp = rsub.add_parser("add-special", help="a city special inspection on DATE")
    sp.add_argument("date", help="YYYY-MM-DD")
    sp.add_argument("title")
    sp.add_argument("--scope", default="all", help="all, or areas: 雨花区,岳麓区/XX街道")
    sp.add_argument("--leads", default="7d,1d", help="when to remind before it (default 7d,1d)")
    add = rsub.add_parser("add", help="a one-off or recurring (cron) reminder")
    add.add_argument("level", help="city | district | township | village")
    add.add_argument("when", help="2027-01-05, 2027-01-05T14:30, or cron '0 9 1 * *'")
    add.add_argument("title")
    add.add_argument("--scope", default="all")
    leads = rsub.add_parser("leads", help="change when a quarterly/special rule reminds")
    leads.add_argument("id", type=int)
    leads.add_argument("leads", help="e.g. month_start,7d")
    for name in ("on", "off"):
        rsub.add_parser(name, help=f"switch a rule {name}").add_argument("id", type=int)


def parser(doc: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bot.py", description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd")
    sub.add_parser("run", help="every configured channel, else the console chat")
    chat = sub.add_parser("chat", help="the console chat")
    chat.add_argument("--lang", choices=i18n.LANGUAGES)
    ask = sub.add_parser("ask", help="answer one question (or '-' for one per stdin line)")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true")
    ask.add_argument("--lang", choices=i18n.LANGUAGES)
    kb = sub.add_parser("kb", help="knowledge base tools: check it; review what was asked; "
                                   "train the crisis classifier; rebuild the pinyin table")
    kb.add_argument("kb_cmd", choices=["check", "review", "train", "pinyin"])
    kb.add_argument("--since", type=parse_since, default=parse_since("7d"),
                    help="review: how far back (7d, 24h...; default 7d)")
    kb.add_argument("--csv", help="review: write a spreadsheet (UTF-8 with BOM) instead")
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
    ui = usub.add_parser("invite", help="a single-use code (7 days) that makes a cadre")
    ui.add_argument("level")
    ui.add_argument("area", nargs="?", default="")
    us = usub.add_parser("setarea", help="replace a cadre's area")
    us.add_argument("user")
    us.add_argument("level")
    us.add_argument("area", nargs="?", default="")
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
    _reminder_parser(sub)
    dis = sub.add_parser("disclosure", help="village-affairs disclosure data")
    dsub2 = dis.add_subparsers(dest="disclosure_cmd", required=True)
    di2 = dsub2.add_parser("import", help="load a CSV list of villages (UTF-8 or GB18030)")
    di2.add_argument("file")
    wx = sub.add_parser("wechat", help="the WeChat Official Account")
    wsub = wx.add_subparsers(dest="wechat_cmd", required=True)
    wm = wsub.add_parser("menu", help="publish the topic menu as the account's custom menu")
    wm.add_argument("--dry-run", action="store_true", help="print the menu, publish nothing")
    return p
