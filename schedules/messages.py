"""The text of reminders, escalations and warnings, in the recipient's language."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

from core import i18n
from core.areas import level_name
from core.callbacks import CallbackData
from core.i18n import _, ngettext
from core.messages import Button, Reply
from knowledge.villages import period_label
from storage.reminder_types import (
    BlockedBody,
    DisclosureDueBody,
    DisclosureOverdueBody,
    DisclosureSummaryBody,
    EscalationBody,
    MessageKind,
    Rule,
    SpecialCheckBody,
)
from storage.reminders import Delivery
from storage.users import UserRow


class ReminderDone(CallbackData, prefix="rd"):
    """A cadre's Done under a reminder."""

    delivery: int


class ReminderSnooze(CallbackData, prefix="rs"):
    delivery: int


class RecordDisclosure(CallbackData, prefix="dv"):
    """Start recording a disclosure for a village (under an overdue reminder, or chosen)."""

    village: str


def title(rule: Rule) -> str:
    """The rule's title in the user's language when it has one, else as it was typed."""
    return i18n.pick(rule.title_zh, rule.title_en or rule.title_zh)


def when(due: str, tz: ZoneInfo) -> str:
    if "T" in due:
        return datetime.fromisoformat(due).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return due


Builder = Callable[[Delivery, Rule, ZoneInfo], Reply]


def build(d: Delivery, rule: Rule, user: UserRow, tz: ZoneInfo) -> list[Reply]:
    """The message of a delivery, in its recipient's language."""
    with i18n.use(user.language or i18n.language_from_code(user.language_code)):
        return [BUILDERS[d.message](d, rule, tz)]


def _disclosure_due(d: Delivery, rule: Rule, tz: ZoneInfo) -> Reply:
    body = cast(DisclosureDueBody, d.body)
    v_zh, v_en, r_zh, r_en = body["names"]
    text = _("⏰ Village-affairs disclosure overdue: {village}, {rule}, period {period} (due "
             "{due}). Nothing is recorded yet. When it is on the noticeboard, record it here.")
    if "/snooze" in d.occurrence:
        text += "\n" + _("(You snoozed this reminder yesterday.)")
    return Reply(text.format(village=i18n.pick(v_zh, v_en), rule=i18n.pick(r_zh, r_en),
                             period=period_label(str(body["period"])), due=body["due"]),
                 buttons=((Button(_("Record it now"), RecordDisclosure(body["village"]).pack()),
                           Button(_("😴 Snooze 1 day"), ReminderSnooze(d.id).pack())),))


def _disclosure_overdue(d: Delivery, rule: Rule, tz: ZoneInfo) -> Reply:
    body = cast(DisclosureOverdueBody, d.body)
    names_zh, names_en, r_zh, r_en = body["names"]
    names = i18n.pick(names_zh, names_en)
    lines = [ngettext("⚠️ {count} village in your area has not recorded {rule} for {period} "
                      "(due {due}):",
                      "⚠️ {count} villages in your area have not recorded {rule} for {period} "
                      "(due {due}):", len(names)).format(
        count=len(names), rule=i18n.pick(r_zh, r_en), period=period_label(str(body["period"])),
        due=body["due"])]
    lines += [f"• {n}" for n in names]
    lines.append(_("Please follow up with them. /disclosures shows your area's record."))
    return Reply("\n".join(lines))


def _disclosure_summary(d: Delivery, rule: Rule, tz: ZoneInfo) -> Reply:
    body = cast(DisclosureSummaryBody, d.body)
    lines = [_("Village-affairs disclosure in {month} (periods due that month):").format(
        month=body["month"])]
    for district, c in body["summary"].items():
        lines.append("• " + _("{district}: {on_time} on time, {late} late, {missing} "
                              "missing").format(district=district, on_time=c.get("on_time", 0),
                                                late=c.get("late", 0),
                                                missing=c.get("missing", 0)))
    return Reply("\n".join(lines))


def _reminder(d: Delivery, rule: Rule, tz: ZoneInfo) -> Reply:
    text = _("⏰ Reminder: {title}\nDue: {due}.").format(title=title(rule), due=when(d.due, tz))
    if rule.kind == "quarterly":
        text += "\n" + _("Counties (districts) and townships inspect village-affairs disclosure "
                         "every quarter and have problems fixed promptly.")
    if rule.kind == "special":
        text += "\n" + _("City special inspection of village-affairs disclosure.")
    if "/snooze" in d.occurrence:
        text += "\n" + _("(You snoozed this reminder yesterday.)")
    if d.late:
        text += "\n" + _("(Sent late: the bot was offline when it was due.)")
    text += "\n" + _("When it is done, press Done (you can add a one-line remark).")
    return Reply(text, buttons=((Button(_("✅ Done"), ReminderDone(d.id).pack()),
                                 Button(_("😴 Snooze 1 day"), ReminderSnooze(d.id).pack())),))


def _escalation(d: Delivery, rule: Rule, tz: ZoneInfo) -> Reply:
    items = cast(EscalationBody, d.body).get("items", [])
    lines = [ngettext("⚠️ {count} cadre has not acknowledged “{title}” (due {due}):",
                      "⚠️ {count} cadres have not acknowledged “{title}” (due {due}):",
                      len(items)).format(count=len(items), title=title(rule),
                                         due=when(d.due, tz))]
    for item in items:
        line = f"• {item['area']} ({level_name(item['level'])}), {item['who']}"
        if item.get("snoozed"):
            line += " " + _("(snoozed)")
        lines.append(line)
    lines.append(_("Please follow up with them. /reminders shows the status of every rule."))
    return Reply("\n".join(lines))


def _blocked(d: Delivery, rule: Rule, tz: ZoneInfo) -> Reply:
    body = cast(BlockedBody, d.body)
    return Reply(_("Reminders cannot reach {who} ({areas}): they have blocked the bot. "
                   "Please ask them to open the bot and send /start.").format(
                       who=body["blocked"], areas=", ".join(body.get("areas", []))))


def _special_check(d: Delivery, rule: Rule, tz: ZoneInfo) -> Reply:
    body = cast(SpecialCheckBody, d.body)
    count = int(body.get("count", 0))
    text = ngettext(
        "Only {count} city special inspection of village-affairs disclosure is planned for "
        "{year}; the rules ask for at least two a year.",
        "Only {count} city special inspections of village-affairs disclosure are planned for "
        "{year}; the rules ask for at least two a year.",
        count).format(count=count, year=body["year"])
    if body.get("titles"):
        text += "\n" + "\n".join(f"• {t}" for t in body["titles"])
    text += "\n" + _("Add one with /special DATE AREA TITLE, e.g. /special 2027-04-15 all "
                     "春季村务公开专项督查.")
    return Reply(text)


BUILDERS: dict[MessageKind, Builder] = {
    MessageKind.REMINDER: _reminder, MessageKind.ESCALATION: _escalation,
    MessageKind.SPECIAL_CHECK: _special_check, MessageKind.BLOCKED: _blocked,
    MessageKind.DISCLOSURE_DUE: _disclosure_due, MessageKind.DISCLOSURE_OVERDUE:
    _disclosure_overdue, MessageKind.DISCLOSURE_SUMMARY: _disclosure_summary,
}
