"""Reminder rules and acknowledgements: what administrators and cadres do with reminders,
the same in the chat and on the command line."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timedelta

from core import i18n
from core.areas import level_name
from core.i18n import _, ngettext
from knowledge.places import Gazetteer
from schedules import messages
from schedules.rules import RuleError, next_instant, parse_leads, validate
from schedules.service import ReminderService
from services.roles import LEVEL_ALIASES, level_for_depth, parse_area
from storage.reminder_types import Custom, DeliveryKind, Quarterly, Rule, RuleKind, Special
from storage.reminders import Delivery


# --- rules ------------------------------------------------------------------------------------
def parse_scope(gazetteer: Gazetteer, text: str) -> tuple[str, ...]:
    """`all` (or 全市) -> (); `雨花区,岳麓区/XX街道` -> their area paths."""
    if text.strip().lower() in ("all", "全市", "*", ""):
        return ()
    return tuple(parse_area(gazetteer, level_for_depth(part), part)
                 for part in re.split(r"[,，;；]", text))


async def add_special(service: ReminderService, gazetteer: Gazetteer, day: str, scope: str,
                      title: str, *, by: str, leads: str = "7d,1d") -> Rule:
    """A city special inspection: cadres below the city in scope are reminded before it."""
    schedule = Special(date=day, leads=tuple(parse_leads(leads)), at="09:00")
    validate(schedule, service.tz)
    today = service.clock.now().astimezone(service.tz).date()
    if date.fromisoformat(day) < today:
        raise RuleError(_("{date} is in the past (today is {today}); a special inspection "
                          "needs a date from today on.").format(date=day, today=today))
    rule = await service.repo.add_rule(RuleKind.SPECIAL, title.strip()[:200],
                                       ("district", "township", "village"),
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
        schedule = Custom(cron=when)
    else:
        once = when if "T" in when or " " in when else f"{when}T09:00"
        schedule = Custom(once=once.replace(" ", "T"))
    validate(schedule, service.tz)
    now = service.clock.now()
    if schedule.once is not None and datetime.fromisoformat(schedule.once).replace(
            tzinfo=service.tz) < now:
        raise RuleError(_("{when} is in the past; a one-off reminder needs a time from now "
                          "on.").format(when=when))
    rule = await service.repo.add_rule(RuleKind.CUSTOM, title.strip()[:200], (lvl,),
                                       parse_scope(gazetteer, scope), schedule,
                                       service.clock.now(), by=by)
    service.rules_changed()
    return rule


async def set_active(service: ReminderService, rule_id: int, active: bool) -> bool:
    """Switch a rule on or off; False if there is no such rule."""
    ok = await service.repo.update_rule(rule_id, active=active)
    service.rules_changed()
    return ok


async def set_leads(service: ReminderService, rule_id: int, leads: str) -> bool:
    """Change when a quarterly or special-inspection rule reminds before its due date."""
    rule = await service.repo.rule(rule_id)
    if rule is None or not isinstance(rule.schedule, Quarterly | Special):
        raise RuleError(_("Only quarterly and special-inspection rules have leads."))
    schedule = replace(rule.schedule, leads=tuple(parse_leads(leads)))
    ok = await service.repo.update_rule(rule_id, schedule=schedule)
    service.rules_changed()
    return ok


async def rules(service: ReminderService) -> list[Rule]:
    return await service.repo.rules()


async def rule(service: ReminderService, rule_id: int) -> Rule | None:
    return await service.repo.rule(rule_id)


def kind_name(kind: str) -> str:
    names = {"quarterly": _("quarterly inspection"), "special": _("special inspection"),
             "custom": _("reminder"), "special_check": _("yearly check for special inspections"),
             "disclosure": _("village-affairs disclosure check")}
    return names.get(kind, kind)


def leads_text(leads: tuple[str, ...]) -> str:
    """`month_start, 7d` as people say it: on the first day of the month it falls due, and 7
    days before."""
    parts = []
    for lead in leads:
        if lead == "month_start":
            parts.append(_("on the first day of the month it falls due"))
        elif lead.endswith("d") and lead[:-1].isdigit():
            parts.append(ngettext("{n} day before", "{n} days before", int(lead[:-1])).format(
                n=int(lead[:-1])))
        else:
            parts.append(lead)
    return i18n.pick("、", ", ").join(parts)


async def rule_lines(service: ReminderService, rule: Rule) -> list[str]:
    """One rule: what, for whom, next instant, and the acknowledgements of its latest due."""
    nxt = next_instant(rule, service.clock.now(), service.tz, service.escalate_days)
    sep = i18n.pick("、", ", ")
    whom = sep.join(level_name(lv) for lv in rule.levels) or _("administrators")
    where = sep.join(rule.scope) or _("whole city")
    state = "" if rule.active else " " + _("(off)")
    lines = [f"#{rule.id} {messages.title(rule)} ({kind_name(rule.kind)}){state}",
             "  " + _("For: {whom}; {where}").format(whom=whom, where=where)]
    if rule.leads:
        lines.append("  " + _("Reminders: {leads}").format(leads=leads_text(rule.leads)))
    if rule.active and nxt is not None:
        lines.append("  " + _("Next: {when}").format(
            when=nxt.astimezone(service.tz).strftime("%Y-%m-%d %H:%M")))
    up = next_instant(rule, service.clock.now(), service.tz, service.escalate_days,
                      escalation=True) if rule.active and rule.escalate else None
    if up is not None and (nxt is None or up < nxt):
        lines.append("  " + _("Next escalation (to those who have not acknowledged): "
                              "{when}").format(
            when=up.astimezone(service.tz).strftime("%Y-%m-%d %H:%M")))
    due = await service.repo.latest_due(rule.id)
    if due:
        sent = {d.recipient_id: d.status for d in await service.repo.deliveries(rule.id, due)
                if d.kind == DeliveryKind.REMINDER}
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
        if d.kind != DeliveryKind.REMINDER or "/snooze" in d.occurrence:
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


# --- acknowledgements -------------------------------------------------------------------------
async def own_reminder(service: ReminderService, delivery_id: int,
                       user_id: int) -> Delivery | None:
    """The reminder delivery if it was sent to this user (button data is never trusted)."""
    d = await service.repo.delivery(delivery_id)
    if d is None or d.recipient_id != user_id or d.kind != DeliveryKind.REMINDER:
        return None
    return d


async def mark_done(service: ReminderService, d: Delivery, user_id: int, now: datetime) -> None:
    await service.repo.ack(d.rule_id, d.due, user_id, "done", now)


async def save_remark(service: ReminderService, rule_id: int, due: str, user_id: int,
                      remark: str) -> bool:
    """A one-line remark on a reminder acknowledged as done."""
    return await service.repo.set_remark(rule_id, due, user_id, remark)


async def snooze(service: ReminderService, d: Delivery, user_id: int, now: datetime) -> bool:
    """Remind again in a day (once per day, however often it is pressed); False when the
    reminder is already done."""
    repo = service.repo
    ack = (await repo.acks(d.rule_id, d.due)).get(user_id)
    if ack is not None and ack.status == "done":
        return False
    await repo.ack(d.rule_id, d.due, user_id, "snoozed", now)
    base = d.occurrence.split("/snooze")[0]
    stamp = now.astimezone(service.tz).date().isoformat()
    await repo.add_delivery(d.rule_id, f"{base}/snooze{stamp}", d.due, user_id,
                            DeliveryKind.REMINDER, d.message, now + timedelta(days=1), d.body)
    return True
