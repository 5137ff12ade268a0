"""When reminders are due: pure functions over a rule's schedule, in the configured time zone.

A rule has occurrences, each with a due date (a quarter's last day, a special inspection's date,
a cron fire time). Each occurrence has send instants: reminders before it (its "leads") and,
two days after it, the escalation of whoever has not acknowledged. Nothing here reads a clock:
callers pass the window (after, until] they want the instants of.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

KINDS = ("quarterly", "special", "custom", "special_check", "disclosure")
QUARTER_ENDS = ((3, 31), (6, 30), (9, 30), (12, 31))
_LEAD = re.compile(r"^(?:month_start|(\d{1,3})d)$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class RuleError(ValueError):
    """A schedule that cannot be used; the message is for the administrator."""


@dataclass(frozen=True)
class Rule:
    id: int
    kind: str
    title: str
    levels: tuple[str, ...]
    scope: tuple[str, ...]  # area paths; () = the whole city
    schedule: dict = field(hash=False, compare=False)
    escalate: bool = True
    active: bool = True
    created_at: str = ""

    @property
    def leads(self) -> tuple[str, ...]:
        return tuple(self.schedule.get("leads") or ())


@dataclass(frozen=True)
class Instant:
    """One moment a rule wants something sent."""

    rule_id: int
    occurrence: str  # unique within the rule, e.g. "2026-12-31/7d", "2026-12-31/escalate"
    due: str  # ISO date (or date-time for cron rules) of the occurrence
    send_at: datetime  # aware, in the rule's time zone
    kind: str  # reminder | escalation | warning | disclosure | summary


def parse_hhmm(text: str) -> time:
    m = _HHMM.match(text.strip())
    if not m:
        raise RuleError(f"not a time of day (HH:MM): {text!r}")
    return time(int(m.group(1)), int(m.group(2)))


def parse_leads(text: str) -> list[str]:
    """`month_start,7d` -> ["month_start", "7d"]; each lead is month_start or Nd (N days)."""
    leads = [p.strip() for p in re.split(r"[,，\s]+", text) if p.strip()]
    if not leads or any(not _LEAD.match(x) for x in leads):
        raise RuleError("leads are month_start or a number of days like 7d, separated by commas")
    return leads


def check_cron(expr: str, tz: ZoneInfo) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(expr, timezone=tz)
    except ValueError as exc:
        raise RuleError(f"not a cron expression (minute hour day month weekday): {exc}") from exc


def validate(kind: str, schedule: dict, tz: ZoneInfo) -> None:
    """Raise RuleError when a schedule cannot produce instants."""
    if kind not in KINDS:
        raise RuleError(f"unknown kind {kind!r}")
    parse_hhmm(schedule.get("at", "09:00"))
    if kind in ("quarterly", "special"):
        parse_leads(",".join(schedule.get("leads") or []))
    if kind == "special":
        try:
            date.fromisoformat(schedule["date"])
        except (KeyError, ValueError) as exc:
            raise RuleError("a special inspection needs a date like 2027-03-15") from exc
    if kind == "custom":
        if "cron" in schedule:
            trigger = check_cron(schedule["cron"], tz)
            first = trigger.get_next_fire_time(None, datetime.now(tz))
            second = first and trigger.get_next_fire_time(first, first + timedelta(seconds=1))
            if first is None or (second is not None and second - first < timedelta(hours=1)):
                raise RuleError("a recurring reminder may fire at most once an hour")
        else:
            try:
                datetime.fromisoformat(schedule["once"])
            except (KeyError, ValueError) as exc:
                raise RuleError("a one-off reminder needs a date, e.g. 2027-01-05 or "
                                "2027-01-05T14:30") from exc


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


def _dated(rule: Rule, dues: Iterator[date], tz: ZoneInfo,
           escalate_days: int) -> Iterator[Instant]:
    hhmm = parse_hhmm(rule.schedule.get("at", "09:00"))
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
    if rule.kind == "quarterly":
        out = list(_dated(rule, quarter_ends(lo, hi), tz, escalate_days))
    elif rule.kind == "special":
        out = list(_dated(rule, iter([date.fromisoformat(rule.schedule["date"])]), tz,
                          escalate_days))
    elif rule.kind == "special_check":
        hhmm = parse_hhmm(rule.schedule.get("at", "09:00"))
        for year in range(lo.year, hi.year + 1):
            day = date(year, int(rule.schedule.get("month", 12)), int(rule.schedule.get("day", 1)))
            out.append(Instant(rule.id, f"{year}/check", day.isoformat(), _at(day, hhmm, tz),
                               "warning"))
    elif rule.kind == "disclosure":  # a daily check, and a monthly summary
        hhmm = parse_hhmm(rule.schedule.get("at", "09:00"))
        day, last = after.astimezone(tz).date(), until.astimezone(tz).date()
        while day <= last:
            out.append(Instant(rule.id, f"{day.isoformat()}/check", day.isoformat(),
                               _at(day, hhmm, tz), "disclosure"))
            if day.day == int(rule.schedule.get("summary_day", 1)):
                out.append(Instant(rule.id, f"{day.isoformat()[:7]}/summary",
                                   day.isoformat()[:7], _at(day, hhmm, tz), "summary"))
            day += timedelta(days=1)
    elif rule.kind == "custom":
        if "cron" in rule.schedule:
            back = timedelta(days=escalate_days + 1)  # no leads: only escalations reach back
            fires = list(_cron_fires(rule.schedule["cron"], after - back, until, tz))
        else:
            once = datetime.fromisoformat(rule.schedule["once"])
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
                 horizon_days: int = 800) -> datetime | None:
    """The first send instant after `now` (None when the rule has no more)."""
    if rule.kind == "special" or (rule.kind == "custom" and "once" in rule.schedule):
        end = (date.fromisoformat(rule.schedule["date"]) if rule.kind == "special"
               else datetime.fromisoformat(rule.schedule["once"]).date())
        until = datetime.combine(end + timedelta(days=escalate_days + 2), time(), tzinfo=tz)
        found = instants(rule, now, max(until, now), tz, escalate_days)
        return found[0].send_at if found else None
    step = timedelta(days=100)
    start = now
    while start < now + timedelta(days=horizon_days):
        found = instants(rule, start, start + step, tz, escalate_days)
        if found:
            return found[0].send_at
        start += step
    return None


# --- quiet hours ------------------------------------------------------------------------------
def parse_quiet(text: str) -> tuple[time, time] | None:
    """`22:00-08:00` -> (22:00, 08:00); empty or `off` -> None."""
    if not text.strip() or text.strip().lower() == "off":
        return None
    start, _sep, end = text.partition("-")
    return parse_hhmm(start), parse_hhmm(end)


def in_quiet(moment: datetime, quiet: tuple[time, time] | None, tz: ZoneInfo) -> bool:
    if quiet is None:
        return False
    local = moment.astimezone(tz).time()
    start, end = quiet
    return (start <= local or local < end) if start > end else (start <= local < end)


def quiet_end(moment: datetime, quiet: tuple[time, time] | None, tz: ZoneInfo) -> datetime:
    """When the quiet period containing `moment` ends (or `moment` itself outside it)."""
    if not in_quiet(moment, quiet, tz):
        return moment
    assert quiet is not None
    local = moment.astimezone(tz)
    end = datetime.combine(local.date(), quiet[1], tzinfo=tz)
    return end if end > local else end + timedelta(days=1)


def schedule_json(schedule: dict) -> str:
    return json.dumps(schedule, ensure_ascii=False, sort_keys=True)
