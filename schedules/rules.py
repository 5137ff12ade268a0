"""When reminders are due: pure functions over a rule's schedule, in the configured time zone.

A rule has occurrences, each with a due date (a quarter's last day, a special inspection's date,
a cron fire time). Each occurrence has send instants: reminders before it (its "leads") and,
two days after it, the escalation of whoever has not acknowledged. Nothing here reads a clock:
callers pass the window (after, until] they want the instants of.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from core import hours
from core.i18n import _
from storage.reminder_types import (
    Custom,
    DisclosureCheck,
    Quarterly,
    Rule,
    Schedule,
    Special,
    SpecialCheck,
)

QUARTER_ENDS = ((3, 31), (6, 30), (9, 30), (12, 31))
_LEAD = re.compile(r"^(?:month_start|(\d{1,3})d)$")


class RuleError(ValueError):
    """A schedule that cannot be used; the message is for the administrator."""


@dataclass(frozen=True)
class Instant:
    """One moment a rule wants something sent."""

    rule_id: int
    occurrence: str  # unique within the rule, e.g. "2026-12-31/7d", "2026-12-31/escalate"
    due: str  # ISO date (or date-time for cron rules) of the occurrence
    send_at: datetime  # aware, in the rule's time zone
    kind: str  # reminder | escalation | warning | disclosure | summary


def parse_hhmm(text: str) -> time:
    try:
        return hours.parse_hhmm(text)
    except ValueError as exc:
        raise RuleError(str(exc)) from exc


def parse_leads(text: str) -> list[str]:
    """`month_start,7d` -> ["month_start", "7d"]; each lead is month_start or Nd (N days)."""
    leads = [p.strip() for p in re.split(r"[,，\s]+", text) if p.strip()]
    if not leads or any(not _LEAD.match(x) for x in leads):
        raise RuleError(_("leads are month_start or a number of days like 7d, separated by "
                          "commas"))
    return leads


def check_cron(expr: str, tz: ZoneInfo) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(expr, timezone=tz)
    except ValueError as exc:
        raise RuleError(_("not a cron expression (minute hour day month weekday): {error}"
                          ).format(error=exc)) from exc


def validate(schedule: Schedule, tz: ZoneInfo) -> None:
    """Raise RuleError when a schedule cannot produce instants."""
    parse_hhmm(getattr(schedule, "at", "09:00"))
    if isinstance(schedule, (Quarterly, Special)):
        parse_leads(",".join(schedule.leads))
    if isinstance(schedule, Special):
        try:
            date.fromisoformat(schedule.date)
        except ValueError as exc:
            raise RuleError(_("a special inspection needs a date like 2027-03-15")) from exc
    if isinstance(schedule, Custom):
        if schedule.cron is not None:
            trigger = check_cron(schedule.cron, tz)
            first = trigger.get_next_fire_time(None, datetime.now(tz))
            second = first and trigger.get_next_fire_time(first, first + timedelta(seconds=1))
            if first is None or (second is not None and second - first < timedelta(hours=1)):
                raise RuleError(_("a recurring reminder may fire at most once an hour"))
        else:
            try:
                datetime.fromisoformat(schedule.once or "")
            except ValueError as exc:
                raise RuleError(_("a one-off reminder needs a date, e.g. 2027-01-05 or "
                                  "2027-01-05T14:30")) from exc


def _at(day: date, hhmm: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, hhmm, tzinfo=tz)


def quarter_ends(first: date, last: date) -> Iterator[date]:
    """Every quarter's last day between two dates (inclusive)."""
    for year in range(first.year, last.year + 1):
        for month, day in QUARTER_ENDS:
            d = date(year, month, day)
            if first <= d <= last:
                yield d


def _lead_day(due: date, lead: str) -> date:
    if lead == "month_start":
        return due.replace(day=1)
    return due - timedelta(days=int(lead[:-1]))


def _dated(rule: Rule, at: str, dues: Iterator[date], tz: ZoneInfo,
           escalate_days: int) -> Iterator[Instant]:
    hhmm = parse_hhmm(at)
    for due in dues:
        key = due.isoformat()
        for lead in rule.leads:
            yield Instant(rule.id, f"{key}/{lead}", key, _at(_lead_day(due, lead), hhmm, tz),
                          "reminder")
        if rule.escalate:
            yield Instant(rule.id, f"{key}/escalate", key,
                          _at(due + timedelta(days=escalate_days), hhmm, tz), "escalation")


def _cron_fires(expr: str, after: datetime, until: datetime, tz: ZoneInfo) -> Iterator[datetime]:
    trigger = check_cron(expr, tz)
    fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    while fire is not None and fire <= until:
        yield fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))


def instants(rule: Rule, after: datetime, until: datetime, tz: ZoneInfo,
             escalate_days: int = 2) -> list[Instant]:
    """The rule's send instants in (after, until], oldest first."""
    out: list[Instant] = []
    span = timedelta(days=escalate_days + 120)  # leads and escalation reach this far from due
    lo, hi = (after - span).astimezone(tz).date(), (until + span).astimezone(tz).date()
    sched = rule.schedule
    if isinstance(sched, Quarterly):
        out = list(_dated(rule, sched.at, quarter_ends(lo, hi), tz, escalate_days))
    elif isinstance(sched, Special):
        out = list(_dated(rule, sched.at, iter([date.fromisoformat(sched.date)]), tz,
                          escalate_days))
    elif isinstance(sched, SpecialCheck):
        hhmm = parse_hhmm(sched.at)
        for year in range(lo.year, hi.year + 1):
            day = date(year, sched.month, sched.day)
            out.append(Instant(rule.id, f"{year}/check", day.isoformat(), _at(day, hhmm, tz),
                               "warning"))
    elif isinstance(sched, DisclosureCheck):  # a daily check, and a monthly summary
        hhmm = parse_hhmm(sched.at)
        day, last = after.astimezone(tz).date(), until.astimezone(tz).date()
        while day <= last:
            out.append(Instant(rule.id, f"{day.isoformat()}/check", day.isoformat(),
                               _at(day, hhmm, tz), "disclosure"))
            if day.day == sched.summary_day:
                out.append(Instant(rule.id, f"{day.isoformat()[:7]}/summary",
                                   day.isoformat()[:7], _at(day, hhmm, tz), "summary"))
            day += timedelta(days=1)
    elif isinstance(sched, Custom):
        if sched.cron is not None:
            back = timedelta(days=escalate_days + 1)  # no leads: only escalations reach back
            fires = list(_cron_fires(sched.cron, after - back, until, tz))
        else:
            once = datetime.fromisoformat(sched.once or "")
            fires = [once if once.tzinfo else once.replace(tzinfo=tz)]
        for fire in fires:
            key = fire.astimezone(tz).isoformat(timespec="minutes")
            out.append(Instant(rule.id, f"{key}/0", key, fire.astimezone(tz), "reminder"))
            if rule.escalate:
                out.append(Instant(rule.id, f"{key}/escalate", key,
                                   fire.astimezone(tz) + timedelta(days=escalate_days),
                                   "escalation"))
    return sorted((i for i in out if after < i.send_at <= until), key=lambda i: i.send_at)


def next_instant(rule: Rule, now: datetime, tz: ZoneInfo, escalate_days: int = 2,
                 horizon_days: int = 800, *, escalation: bool | None = False
                 ) -> datetime | None:
    """The first reminder after `now` (None when the rule has no more); with `escalation`,
    the first escalation (to the cadres' superiors) instead; None: the first of either."""
    sched = rule.schedule
    if isinstance(sched, Special) or (isinstance(sched, Custom) and sched.once is not None):
        end = (date.fromisoformat(sched.date) if isinstance(sched, Special)
               else datetime.fromisoformat(sched.once or "").date())
        until = datetime.combine(end + timedelta(days=escalate_days + 2), time(), tzinfo=tz)
        found = [i for i in instants(rule, now, max(until, now), tz, escalate_days)
                 if escalation is None or (i.kind == "escalation") == escalation]
        return found[0].send_at if found else None
    step = timedelta(days=100)
    start = now
    while start < now + timedelta(days=horizon_days):
        found = [i for i in instants(rule, start, start + step, tz, escalate_days)
                 if escalation is None or (i.kind == "escalation") == escalation]
        if found:
            return found[0].send_at
        start += step
    return None
