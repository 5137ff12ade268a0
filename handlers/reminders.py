"""Reminders in the chat: cadres acknowledge (done, with a remark) or snooze; administrators
add and manage rules and see who has acknowledged. The same rule functions serve the CLI."""
from __future__ import annotations

import re
import shlex
from datetime import timedelta
from typing import TYPE_CHECKING

from core.i18n import _
from core.messages import Button, Reply
from handlers.admin import LEVEL_ALIASES, RoleError, level_name, parse_area, refuse
from knowledge.places import Gazetteer
from schedules import messages
from schedules.rules import Rule, RuleError, next_instant, parse_leads, validate
from schedules.service import ReminderService

if TYPE_CHECKING:
    from handlers.core import Assistant, Context

REMARK_FLOW = "remark"
MAX_REMARK = 200
_LEVELS = ("city", "district", "township", "village")


# --- rule management (chat and CLI) -------------------------------------------------------
def parse_scope(gazetteer: Gazetteer, text: str) -> tuple[str, ...]:
    """`all` (or 全市) -> (); `雨花区,岳麓区/XX街道` -> their area paths."""
    if text.strip().lower() in ("all", "全市", "*", ""):
        return ()
    out = []
    for part in re.split(r"[,，;；]", text):
        depth = len([p for p in re.split(r"\s*[/／>]\s*", part.strip()) if p])
        level = _LEVELS[min(depth, 3)]
        out.append(parse_area(gazetteer, level, part))
    return tuple(out)


async def add_special(service: ReminderService, gazetteer: Gazetteer, day: str, scope: str,
                      title: str, *, by: str, leads: str = "7d,1d") -> Rule:
    """A city special inspection: cadres below the city in scope are reminded before it."""
    schedule = {"date": day, "leads": parse_leads(leads), "at": "09:00"}
    validate("special", schedule, service.tz)
    rule = await service.repo.add_rule("special", title.strip()[:200], _LEVELS[1:],
                                       parse_scope(gazetteer, scope), schedule,
                                       service.clock.now(), by=by)
    service.rules_changed()
    return rule


async def add_custom(service: ReminderService, gazetteer: Gazetteer, level: str, scope: str,
                     when: str, title: str, *, by: str) -> Rule:
    """A one-off (`2027-01-05` or `2027-01-05T14:30`) or cron (`0 9 1 * *`) reminder."""
    lvl = LEVEL_ALIASES.get(level.strip().lower())
    if lvl is None:
        raise RuleError(_("Unknown level {level}. Use one of: city, district, township, "
                          "village.").format(level=level))
    when = when.strip()
    if len(when.split()) == 5:
        schedule: dict = {"cron": when}
    else:
        once = when if "T" in when or " " in when else f"{when}T09:00"
        schedule = {"once": once.replace(" ", "T")}
    validate("custom", schedule, service.tz)
    rule = await service.repo.add_rule("custom", title.strip()[:200], (lvl,),
                                       parse_scope(gazetteer, scope), schedule,
                                       service.clock.now(), by=by)
    service.rules_changed()
    return rule


async def set_active(service: ReminderService, rule_id: int, active: bool) -> bool:
    ok = await service.repo.update_rule(rule_id, active=active)
    service.rules_changed()
    return ok


async def set_leads(service: ReminderService, rule_id: int, leads: str) -> bool:
    rule = await service.repo.rule(rule_id)
    if rule is None or rule.kind not in ("quarterly", "special"):
        raise RuleError(_("Only quarterly and special-inspection rules have leads."))
    schedule = {**rule.schedule, "leads": parse_leads(leads)}
    ok = await service.repo.update_rule(rule_id, schedule=schedule)
    service.rules_changed()
    return ok


async def rule_lines(service: ReminderService, rule: Rule) -> list[str]:
    """One rule: what, for whom, next instant, and the acknowledgements of its latest due."""
    nxt = next_instant(rule, service.clock.now(), service.tz, service.escalate_days)
    whom = ", ".join(level_name(lv) for lv in rule.levels) or _("administrators")
    where = ", ".join(rule.scope) or _("whole city")
    state = "" if rule.active else " " + _("(off)")
    lines = [f"#{rule.id} {messages.title(rule)} [{rule.kind}]{state}",
             "  " + _("For: {whom}; {where}").format(whom=whom, where=where)]
    if rule.leads:
        lines.append("  " + _("Reminders: {leads}").format(leads=", ".join(rule.leads)))
    if rule.active and nxt is not None:
        lines.append("  " + _("Next: {when}").format(
            when=nxt.astimezone(service.tz).strftime("%Y-%m-%d %H:%M")))
    due = await service.repo.latest_due(rule.id)
    if due:
        sent = {d.recipient_id: d.status for d in await service.repo.deliveries(rule.id, due)
                if d.kind == "reminder"}
        acks = await service.repo.acks(rule.id, due)
        done = sum(1 for u in sent if u in acks and acks[u].status == "done")
        lines.append("  " + _("Latest ({due}): {n} cadres, {done} done, {snoozed} snoozed, "
                              "{blocked} unreachable").format(
            due=messages.when(due, service.tz), n=len(sent), done=done,
            snoozed=sum(1 for u in sent if u in acks and acks[u].status == "snoozed"),
            blocked=sum(1 for s in sent.values() if s == "blocked")))
    return lines


async def rule_detail(service: ReminderService, rule: Rule) -> list[str]:
    """Every recipient of the latest due, with their acknowledgement."""
    lines = await rule_lines(service, rule)
    due = await service.repo.latest_due(rule.id)
    if not due:
        return lines
    acks = await service.repo.acks(rule.id, due)
    for d in await service.repo.deliveries(rule.id, due):
        if d.kind != "reminder" or "/snooze" in d.occurrence:
            continue
        user = await service.users.get_by_id(d.recipient_id)
        who = f"{user.channel}:{user.external_id}" if user else str(d.recipient_id)
        ack = acks.get(d.recipient_id)
        if ack is not None and ack.status == "done":
            state = _("done") + (f" ({ack.remark})" if ack.remark else "")
        elif ack is not None:
            state = _("snoozed")
        else:
            state = delivery_states().get(d.status, d.status)
        lines.append(f"  • {who}: {state}")
    return lines


def delivery_states() -> dict[str, str]:
    return {"pending": _("not sent yet"), "sending": _("being sent"),
            "sent": _("sent, not acknowledged"), "blocked": _("unreachable (blocked the bot)"),
            "failed": _("could not be sent"), "skipped": _("not sent")}


# --- cadres: acknowledge ------------------------------------------------------------------
async def _own_delivery(assistant: Assistant, ctx: Context):  # type: ignore[no-untyped-def]
    raw = (ctx.msg.payload or "").partition(":")[2]
    if not raw.isdigit() or len(raw) > 12:
        return None
    d = await assistant.reminders.repo.delivery(int(raw))
    if d is None or d.recipient_id != ctx.user.id or d.kind != "reminder":
        return None
    return d


async def on_done(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`rd:<delivery>`: acknowledged as done; a one-line remark may follow."""
    from handlers.core import stale_button

    d = await _own_delivery(assistant, ctx)
    if d is None:
        return await stale_button(assistant, ctx)
    now = assistant.clock.now()
    await assistant.reminders.repo.ack(d.rule_id, d.due, ctx.user.id, "done", now)
    await assistant.dialogs.set(ctx.user.id, REMARK_FLOW, "remark",
                                {"rule": d.rule_id, "due": d.due}, now, ttl=timedelta(hours=1))
    return [Reply(_("Recorded as done, thank you. You may send a one-line remark now (for "
                    "example what was found), or press No remark."),
                  buttons=((Button(_("No remark"), "rn:"),),))]


async def on_remark(assistant: Assistant, ctx: Context) -> list[Reply]:
    """The text after Done: stored as the remark (one line, at most 200 characters)."""
    assert ctx.dialog is not None
    await assistant.dialogs.clear(ctx.user.id)
    text = " ".join((ctx.msg.text or "").split())[:MAX_REMARK]
    if not text:
        return [Reply(_("No remark saved."))]
    await assistant.reminders.repo.set_remark(int(ctx.dialog.data["rule"]),
                                              str(ctx.dialog.data["due"]), ctx.user.id, text)
    return [Reply(_("Remark saved."))]


async def on_no_remark(assistant: Assistant, ctx: Context) -> list[Reply]:
    await assistant.dialogs.clear(ctx.user.id)
    return [Reply(_("OK, no remark."))]


async def on_snooze(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`rs:<delivery>`: remind again in a day (once per day, however often it is pressed)."""
    from handlers.core import stale_button

    d = await _own_delivery(assistant, ctx)
    if d is None:
        return await stale_button(assistant, ctx)
    repo, now = assistant.reminders.repo, assistant.clock.now()
    ack = (await repo.acks(d.rule_id, d.due)).get(ctx.user.id)
    if ack is not None and ack.status == "done":
        return [Reply(_("This one is already recorded as done."))]
    await repo.ack(d.rule_id, d.due, ctx.user.id, "snoozed", now)
    base = d.occurrence.split("/snooze")[0]
    stamp = now.astimezone(assistant.settings.tz).date().isoformat()
    await repo.add_delivery(d.rule_id, f"{base}/snooze{stamp}", d.due, ctx.user.id, "reminder",
                            now + timedelta(days=1), d.body)
    return [Reply(_("I will remind you again tomorrow."))]


# --- administrators -----------------------------------------------------------------------
async def on_reminders(assistant: Assistant, ctx: Context) -> list[Reply]:
    """/reminders [id]: every rule with its status, or one rule with every recipient."""
    from handlers.core import command_args

    if ctx.user.role != "admin":
        return refuse()
    service = assistant.reminders
    args = command_args(ctx)
    if args and args[0].lstrip("#").isdigit():
        rule = await service.repo.rule(int(args[0].lstrip("#")))
        if rule is None:
            return [Reply(_("No rule #{id}.").format(id=args[0].lstrip("#")))]
        return [Reply("\n".join(await rule_detail(service, rule)))]
    rules = await service.repo.rules()
    lines = [_("Reminder rules:")]
    for rule in rules:
        lines += await rule_lines(service, rule)
    lines.append(_("Details: /reminders ID. Add: /special DATE AREA TITLE, /remind LEVEL AREA "
                   "WHEN TITLE. Change: /reminder_leads ID 7d,1d, /reminder_off ID, "
                   "/reminder_on ID."))
    return [Reply("\n".join(lines))]


async def _admin_command(assistant: Assistant, ctx: Context, need: int, usage: str,
                         run) -> list[Reply]:  # type: ignore[no-untyped-def]
    if ctx.user.role != "admin":
        return refuse()
    try:
        args = shlex.split((ctx.msg.text or "").strip())[1:]
    except ValueError:
        return [Reply(usage)]
    if len(args) < need:
        return [Reply(usage)]
    try:
        return [Reply(await run(args))]
    except (RuleError, RoleError) as exc:
        return [Reply(str(exc))]
    except ValueError:  # e.g. a rule number that is not a number
        return [Reply(usage)]


def _by(ctx: Context) -> str:
    return f"{ctx.user.channel}:{ctx.user.external_id}"


async def on_special(assistant: Assistant, ctx: Context) -> list[Reply]:
    async def run(args: list[str]) -> str:
        rule = await add_special(assistant.reminders, assistant.kb.gazetteer, args[0], args[1],
                                 " ".join(args[2:]), by=_by(ctx))
        return _("Added #{id}.").format(id=rule.id) + "\n" + "\n".join(
            await rule_lines(assistant.reminders, rule))

    return await _admin_command(assistant, ctx, 3, _(
        "Usage: /special DATE AREA TITLE, e.g. /special 2027-04-15 all 春季村务公开专项督查 "
        "(AREA: all, or districts like 雨花区,岳麓区)"), run)


async def on_remind(assistant: Assistant, ctx: Context) -> list[Reply]:
    async def run(args: list[str]) -> str:
        rule = await add_custom(assistant.reminders, assistant.kb.gazetteer, args[0], args[1],
                                args[2], " ".join(args[3:]), by=_by(ctx))
        return _("Added #{id}.").format(id=rule.id) + "\n" + "\n".join(
            await rule_lines(assistant.reminders, rule))

    return await _admin_command(assistant, ctx, 4, _(
        "Usage: /remind LEVEL AREA WHEN TITLE. WHEN is a date (2027-01-05, 2027-01-05T14:30) "
        "or a cron rule in quotes (\"0 9 1 * *\" = 09:00 on the 1st of every month)."), run)


async def on_leads(assistant: Assistant, ctx: Context) -> list[Reply]:
    async def run(args: list[str]) -> str:
        ok = await set_leads(assistant.reminders, int(args[0].lstrip("#")), args[1])
        return _("Changed.") if ok else _("No such rule.")

    return await _admin_command(assistant, ctx, 2, _(
        "Usage: /reminder_leads ID LEADS, e.g. /reminder_leads 1 month_start,7d"), run)


async def _toggle(assistant: Assistant, ctx: Context, active: bool) -> list[Reply]:
    async def run(args: list[str]) -> str:
        if not args[0].lstrip("#").isdigit():
            raise RuleError(_("Give the rule's number, e.g. 3."))
        ok = await set_active(assistant.reminders, int(args[0].lstrip("#")), active)
        return (_("Switched on.") if active else _("Switched off.")) if ok else _(
            "No such rule.")

    return await _admin_command(assistant, ctx, 1, _("Usage: /reminder_off ID or "
                                                     "/reminder_on ID"), run)


async def on_off(assistant: Assistant, ctx: Context) -> list[Reply]:
    return await _toggle(assistant, ctx, False)


async def on_on(assistant: Assistant, ctx: Context) -> list[Reply]:
    return await _toggle(assistant, ctx, True)


COMMANDS = {"reminders": on_reminders, "special": on_special, "remind": on_remind,
            "reminder_leads": on_leads, "reminder_off": on_off, "reminder_on": on_on}
BUTTONS = {"rd": on_done, "rs": on_snooze, "rn": on_no_remark}
DIALOGS = {REMARK_FLOW: on_remark}
