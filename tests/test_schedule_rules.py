"""When reminders fall due: quarter ends, leap days, cron rules, time zones, quiet hours."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.hours import in_quiet, parse_quiet, quiet_end
from schedules.rules import RuleError, instants, next_instant, parse_leads, validate
from storage.reminder_types import Custom, Quarterly, Rule, RuleKind, Special

SH = ZoneInfo("Asia/Shanghai")
QUARTERLY = Rule(1, RuleKind.QUARTERLY, "q", ("district", "township"), (),
                 Quarterly(leads=("month_start", "7d"), at="09:00"))


def year(tz: ZoneInfo, y: int) -> tuple[datetime, datetime]:
    return datetime(y, 1, 1, tzinfo=tz), datetime(y + 1, 1, 1, tzinfo=tz)


def local(inst) -> str:
    return inst.send_at.astimezone(SH).strftime("%m-%d %H:%M")


def test_quarterly_over_a_leap_year_crosses_into_the_next():
    got = [(local(i), i.kind, i.due) for i in instants(QUARTERLY, *year(SH, 2028), SH)]
    assert got == [
        ("01-02 09:00", "escalation", "2027-12-31"),
        ("03-01 09:00", "reminder", "2028-03-31"), ("03-24 09:00", "reminder", "2028-03-31"),
        ("04-02 09:00", "escalation", "2028-03-31"),
        ("06-01 09:00", "reminder", "2028-06-30"), ("06-23 09:00", "reminder", "2028-06-30"),
        ("07-02 09:00", "escalation", "2028-06-30"),
        ("09-01 09:00", "reminder", "2028-09-30"), ("09-23 09:00", "reminder", "2028-09-30"),
        ("10-02 09:00", "escalation", "2028-09-30"),
        ("12-01 09:00", "reminder", "2028-12-31"), ("12-24 09:00", "reminder", "2028-12-31"),
    ]
    # the year's last escalation falls on 2 January of the next year
    nxt = instants(QUARTERLY, datetime(2028, 12, 31, 12, tzinfo=SH),
                   datetime(2029, 1, 5, tzinfo=SH), SH)
    assert [(i.send_at.date(), i.due) for i in nxt] == [(date(2029, 1, 2), "2028-12-31")]


def test_each_instant_has_a_unique_occurrence_key():
    got = instants(QUARTERLY, datetime(2026, 1, 1, tzinfo=SH), datetime(2031, 1, 1, tzinfo=SH),
                   SH)
    assert len(got) == 5 * 12 and len({i.occurrence for i in got}) == len(got)


def test_special_inspection_on_and_around_a_leap_day():
    rule = Rule(2, RuleKind.SPECIAL, "s", ("district",), (), Special(date="2028-03-01",
                                                                     leads=("7d", "1d")))
    got = [(local(i), i.kind) for i in instants(rule, *year(SH, 2028), SH)]
    assert got == [("02-23 09:00", "reminder"), ("02-29 09:00", "reminder"),
                   ("03-03 09:00", "escalation")]
    leap = Rule(3, RuleKind.SPECIAL, "s", ("district",), (),
                Special(date="2028-02-29", leads=("1d",)))
    assert [local(i) for i in instants(leap, *year(SH, 2028), SH)] == ["02-28 09:00",
                                                                        "03-02 09:00"]


def test_day_leads_count_back_across_february():
    rule = Rule(4, RuleKind.QUARTERLY, "q", ("district",), (),
                Quarterly(leads=("month_start", "31d")))
    for y, feb in ((2028, "02-29 09:00"), (2027, "02-28 09:00")):
        got = [local(i) for i in instants(rule, datetime(y, 2, 1, tzinfo=SH),
                                          datetime(y, 3, 2, tzinfo=SH), SH)]
        assert got == [feb, "03-01 09:00"], y


def test_cron_rule_monthly_and_its_escalations():
    with pytest.raises(RuleError):
        validate(Custom(cron="*/5 * * * *"), SH)  # more often than hourly
    with pytest.raises(RuleError):
        validate(Custom(cron="61 9 * * *"), SH)
    monthly = Rule(6, RuleKind.CUSTOM, "c", ("township",), (), Custom(cron="0 9 1 * *"))
    got = instants(monthly, *year(SH, 2028), SH)
    assert [i.send_at.astimezone(SH).strftime("%m-%d") for i in got if i.kind == "reminder"] \
        == [f"{m:02d}-01" for m in range(1, 13)]
    assert sum(1 for i in got if i.kind == "escalation") == 12  # Dec's escalation is on 3 Dec
    once = Rule(7, RuleKind.CUSTOM, "c", ("district",), (), Custom(once="2028-02-29T23:30"),
                escalate=False)
    assert [i.send_at for i in instants(once, *year(SH, 2028), SH)] == [
        datetime(2028, 2, 29, 23, 30, tzinfo=SH)]


def test_time_zone_with_daylight_saving_keeps_local_time():
    berlin = ZoneInfo("Europe/Berlin")
    got = instants(QUARTERLY, *year(berlin, 2027), berlin)
    utc_hours = {i.send_at.astimezone(UTC).hour for i in got}
    assert utc_hours == {7, 8}  # 09:00 local is 08:00 UTC in winter, 07:00 in summer
    assert all(i.send_at.astimezone(berlin).hour == 9 for i in got)


def test_next_instant_and_window_edges():
    now = datetime(2026, 11, 30, 9, 0, tzinfo=SH)
    assert next_instant(QUARTERLY, now, SH) == datetime(2026, 12, 1, 9, 0, tzinfo=SH)
    exact = datetime(2026, 12, 1, 9, 0, tzinfo=SH)
    assert [i.occurrence for i in instants(QUARTERLY, exact - timedelta(seconds=1), exact,
                                           SH)] == ["2026-12-31/month_start"]
    assert instants(QUARTERLY, exact, exact + timedelta(hours=1), SH) == []  # (after, until]


def test_quiet_hours():
    quiet = parse_quiet("22:00-08:00")
    at = lambda h, m=0: datetime(2027, 1, 1, h, m, tzinfo=SH)  # noqa: E731
    assert in_quiet(at(22), quiet, SH) and in_quiet(at(23, 59), quiet, SH)
    assert in_quiet(at(0), quiet, SH) and in_quiet(at(7, 59), quiet, SH)
    assert not in_quiet(at(8), quiet, SH) and not in_quiet(at(21, 59), quiet, SH)
    assert quiet_end(at(23, 30), quiet, SH) == datetime(2027, 1, 2, 8, 0, tzinfo=SH)
    assert quiet_end(at(3), quiet, SH) == at(8)
    assert quiet_end(at(12), quiet, SH) == at(12)
    assert parse_quiet("off") is None and not in_quiet(at(23), None, SH)
    day = parse_quiet("12:00-13:00")
    assert in_quiet(at(12, 30), day, SH) and not in_quiet(at(13), day, SH)
    with pytest.raises(RuleError):
        parse_leads("tomorrow")
    assert parse_leads("month_start, 7d，1d") == ["month_start", "7d", "1d"]
