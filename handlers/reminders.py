"""Reminders in the chat: cadres acknowledge (done, with a remark) or snooze; administrators
add and manage rules and see who has acknowledged (services/reminders.py does the work, for
the CLI too)."""
from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypedDict, cast

from core.callbacks import CallbackData
from core.clean import clean_line
from core.i18n import _
from core.messages import Button, Reply
from handlers.context import App, Context, actor, command_args, refuse, stale_button
from handlers.router import Feature, on_button
from schedules.messages import ReminderDone, ReminderSnooze
from schedules.rules import RuleError
from services import reminders as rem
from services.roles import RoleError
from storage.reminders import Delivery

REMARK_FLOW = "remark"
MAX_REMARK = 200


class NoRemark(CallbackData, prefix="rn"):
    """Done without a remark."""


class RemarkWait(TypedDict):
    """Dialog data while the bot waits for a remark on a reminder marked done."""

    rule: int
    due: str


# --- cadres: acknowledge ------------------------------------------------------------------
async def _own(app: App, ctx: Context, delivery_id: int) -> Delivery | None:
    return await rem.own_reminder(app.reminders, delivery_id, ctx.user.id)


async def on_done(app: App, ctx: Context, data: ReminderDone) -> list[Reply]:
    """Acknowledged as done; a one-line remark may follow."""
    d = await _own(app, ctx, data.delivery)
    if d is None:
        return await stale_button(app, ctx)
    now = app.clock.now()
    await rem.mark_done(app.reminders, d, ctx.user.id, now)
    await app.dialogs.set(ctx.user.id, REMARK_FLOW, "remark",
                          RemarkWait(rule=d.rule_id, due=d.due), now, ttl=timedelta(hours=1))
    return [Reply(_("Recorded as done, thank you. You may send a one-line remark now (for "
                    "example what was found), or press No remark."),
                  buttons=((Button(_("No remark"), NoRemark().pack()),),))]


async def on_remark(app: App, ctx: Context) -> list[Reply]:
    """The text after Done: stored as the remark (one line, at most 200 characters)."""
    assert ctx.dialog is not None
    data = cast(RemarkWait, ctx.dialog.data)
    await app.dialogs.clear(ctx.user.id)
    text = clean_line(ctx.msg.text)[:MAX_REMARK]
    if not text:
        return [Reply(_("No remark saved."))]
    await rem.save_remark(app.reminders, int(data["rule"]), str(data["due"]), ctx.user.id,
                          text)
    return [Reply(_("Remark saved."))]


async def on_no_remark(app: App, ctx: Context, data: NoRemark) -> list[Reply]:
    await app.dialogs.clear(ctx.user.id)
    return [Reply(_("OK, no remark."))]


async def on_snooze(app: App, ctx: Context, data: ReminderSnooze) -> list[Reply]:
    """Remind again in a day (once per day, however often it is pressed)."""
    d = await _own(app, ctx, data.delivery)
    if d is None:
        return await stale_button(app, ctx)
    if not await rem.snooze(app.reminders, d, ctx.user.id, app.clock.now()):
        return [Reply(_("This one is already recorded as done."))]
    return [Reply(_("I will remind you again tomorrow."))]


# --- administrators -----------------------------------------------------------------------
async def on_reminders(app: App, ctx: Context) -> list[Reply]:
    """/reminders [id]: every rule with its status, or one rule with every recipient."""
    if ctx.user.role != "admin":
        return refuse()
    service = app.reminders
    args = command_args(ctx)
    if args and args[0].lstrip("#").isdigit() and len(args[0]) <= 12:
        rule = await rem.rule(service, int(args[0].lstrip("#")))
        if rule is None:
            return [Reply(_("No rule #{id}.").format(id=args[0].lstrip("#")))]
        return [Reply("\n".join(await rem.rule_detail(service, rule)))]
    lines = [_("Reminder rules:")]
    for rule in await rem.rules(service):
        lines += await rem.rule_lines(service, rule)
    lines.append(_("Details: /reminders ID. Add: /special DATE AREA TITLE, /remind LEVEL AREA "
                   "WHEN TITLE. Change: /reminder_leads ID 7d,1d, /reminder_off ID, "
                   "/reminder_on ID."))
    return [Reply("\n".join(lines))]


async def _admin_command(app: App, ctx: Context, need: int, usage: str,
                         run: Callable[[list[str]], Awaitable[str]]) -> list[Reply]:
    if ctx.user.role != "admin":
        return refuse()
    try:
        args = [clean_line(a) for a in shlex.split((ctx.msg.text or "").strip())[1:]]
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


async def on_special(app: App, ctx: Context) -> list[Reply]:
    async def run(args: list[str]) -> str:
        rule = await rem.add_special(app.reminders, app.kb.gazetteer, args[0], args[1],
                                     " ".join(args[2:]), by=actor(ctx))
        return _("Added #{id}.").format(id=rule.id) + "\n" + "\n".join(
            await rem.rule_lines(app.reminders, rule))

    return await _admin_command(app, ctx, 3, _(
        "Usage: /special DATE AREA TITLE, e.g. /special 2027-04-15 all 春季村务公开专项督查 "
        "(AREA: all, or districts like 雨花区,岳麓区)"), run)


async def on_remind(app: App, ctx: Context) -> list[Reply]:
    async def run(args: list[str]) -> str:
        rule = await rem.add_custom(app.reminders, app.kb.gazetteer, args[0], args[1],
                                    args[2], " ".join(args[3:]), by=actor(ctx))
        return _("Added #{id}.").format(id=rule.id) + "\n" + "\n".join(
            await rem.rule_lines(app.reminders, rule))

    return await _admin_command(app, ctx, 4, _(
        "Usage: /remind LEVEL AREA WHEN TITLE. WHEN is a date (2027-01-05, 2027-01-05T14:30) "
        "or a cron rule in quotes (\"0 9 1 * *\" = 09:00 on the 1st of every month)."), run)


async def on_leads(app: App, ctx: Context) -> list[Reply]:
    async def run(args: list[str]) -> str:
        ok = await rem.set_leads(app.reminders, int(args[0].lstrip("#")), args[1])
        return _("Changed.") if ok else _("No such rule.")

    return await _admin_command(app, ctx, 2, _(
        "Usage: /reminder_leads ID LEADS, e.g. /reminder_leads 1 month_start,7d"), run)


async def _toggle(app: App, ctx: Context, active: bool) -> list[Reply]:
    async def run(args: list[str]) -> str:
        if not args[0].lstrip("#").isdigit():
            raise RuleError(_("Give the rule's number, e.g. 3."))
        ok = await rem.set_active(app.reminders, int(args[0].lstrip("#")), active)
        return (_("Switched on.") if active else _("Switched off.")) if ok else _(
            "No such rule.")

    return await _admin_command(app, ctx, 1, _("Usage: /reminder_off ID or "
                                                     "/reminder_on ID"), run)


async def on_off(app: App, ctx: Context) -> list[Reply]:
    return await _toggle(app, ctx, False)


async def on_on(app: App, ctx: Context) -> list[Reply]:
    return await _toggle(app, ctx, True)


FEATURE = Feature(
    "reminders",
    commands={"reminders": on_reminders, "special": on_special, "remind": on_remind,
              "reminder_leads": on_leads, "reminder_off": on_off, "reminder_on": on_on},
    buttons=(on_button(ReminderDone, on_done), on_button(ReminderSnooze, on_snooze),
             on_button(NoRemark, on_no_remark)),
    dialogs={REMARK_FLOW: on_remark},
)
