"""The text of reminders, escalations and warnings, in the recipient's language."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from core import i18n
from core.i18n import _, ngettext
from core.messages import Button, Reply
from schedules.rules import Rule
from storage.reminders import Delivery
from storage.users import UserRow


def level_name(level: str) -> str:
    from handlers.admin import level_name as name

    return name(level)


def title(rule: Rule) -> str:
    """Default rules carry both languages ("中文 English"): show the user's half."""
    zh, sep, en = rule.title.partition(" ")
    if sep and en and all(ord(c) < 128 for c in en) and any(ord(c) > 127 for c in zh):
        return i18n.pick(zh, en)
    return rule.title


def when(due: str, tz: ZoneInfo) -> str:
    if "T" in due:
        return datetime.fromisoformat(due).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return due


def build(d: Delivery, rule: Rule, user: UserRow, tz: ZoneInfo) -> list[Reply]:
    with i18n.use(user.language or i18n.language_from_code(user.language_code)):
        if "village" in d.body:
            return [_disclosure_due(d)]
        if "villages" in d.body:
            return [_disclosure_overdue(d)]
        if "summary" in d.body:
            return [_disclosure_summary(d)]
        if d.kind == "reminder":
            return [_reminder(d, rule, tz)]
        if d.kind == "escalation":
            return [_escalation(d, rule, tz)]
        return [_warning(d, rule, tz)]


def _disclosure_due(d: Delivery) -> Reply:
    v_zh, v_en, r_zh, r_en = d.body["names"]
    text = _("⏰ Village-affairs disclosure overdue: {village}, {rule}, period {period} (due "
             "{due}). Nothing is recorded yet. When it is on the noticeboard, record it here.")
    if "/snooze" in d.occurrence:
        text += "\n" + _("(You snoozed this reminder yesterday.)")
    return Reply(text.format(village=i18n.pick(v_zh, v_en), rule=i18n.pick(r_zh, r_en),
                             period=d.body["period"], due=d.body["due"]),
                 buttons=((Button(_("Record it now"), f"dv:{d.body['village']}"),
                           Button(_("😴 Snooze 1 day"), f"rs:{d.id}")),))


def _disclosure_overdue(d: Delivery) -> Reply:
    names_zh, names_en, r_zh, r_en = d.body["names"]
    names = i18n.pick(names_zh, names_en)
    lines = [ngettext("⚠️ {count} village in your area has not recorded {rule} for {period} "
                      "(due {due}):",
                      "⚠️ {count} villages in your area have not recorded {rule} for {period} "
                      "(due {due}):", len(names)).format(
        count=len(names), rule=i18n.pick(r_zh, r_en), period=d.body["period"],
        due=d.body["due"])]
    lines += [f"• {n}" for n in names]
    lines.append(_("Please follow up with them. /disclosures shows your area's record."))
    return Reply("\n".join(lines))


def _disclosure_summary(d: Delivery) -> Reply:
    lines = [_("Village-affairs disclosure in {month} (periods due that month):").format(
        month=d.body["month"])]
    for district, c in d.body["summary"].items():
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
    return Reply(text, buttons=((Button(_("✅ Done"), f"rd:{d.id}"),
                                 Button(_("😴 Snooze 1 day"), f"rs:{d.id}")),))


def _escalation(d: Delivery, rule: Rule, tz: ZoneInfo) -> Reply:
    items = d.body.get("items", [])
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


def _warning(d: Delivery, rule: Rule, tz: ZoneInfo) -> Reply:
    if "blocked" in d.body:
        return Reply(_("Reminders cannot reach {who} ({areas}): they have blocked the bot. "
                       "Please ask them to open the bot and send /start.").format(
                           who=d.body["blocked"], areas=", ".join(d.body.get("areas", []))))
    text = ngettext(
        "Only {count} city special inspection of village-affairs disclosure is planned for "
        "{year}; the rules ask for at least two a year.",
        "Only {count} city special inspections of village-affairs disclosure are planned for "
        "{year}; the rules ask for at least two a year.",
        int(d.body.get("count", 0))).format(count=d.body.get("count", 0), year=d.body["year"])
    if d.body.get("titles"):
        text += "\n" + "\n".join(f"• {t}" for t in d.body["titles"])
    text += "\n" + _("Add one with /special DATE AREA TITLE, e.g. /special 2027-04-15 all "
                     "春季村务公开专项督查.")
    return Reply(text)
