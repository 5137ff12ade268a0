"""Village-affairs disclosure: due dates over a year, recording, corrections, residents'
questions and subscriptions, overdue reminders and escalation, the chart."""
from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.messages import Incoming, User
from knowledge.villages import bounds, due_date, shift
from schedules.disclosure import next_due, statuses
from services.roles import grant
from storage.disclosures import Record
from tests.conftest import RecordingNotifier, button, joined, payloads, text

SH = ZoneInfo("Asia/Shanghai")


def rec(village: str, period: str, items: tuple[str, ...], day: date, rid: int = 1) -> Record:
    at = datetime(day.year, day.month, day.day, 10, 0, tzinfo=SH).astimezone(UTC)
    return Record(rid, village, period, items, "x", None, 1, "t", at.isoformat(), None, None)


def test_periods_and_due_dates():
    book_rule = lambda due: type("R", (), {"due": due})  # noqa: E731
    assert bounds("2028-Q1") == (date(2028, 1, 1), date(2028, 3, 31))
    assert bounds("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))  # leap year
    assert bounds("2027-02") == (date(2027, 2, 1), date(2027, 2, 28))
    assert shift("2026-Q4", 1) == "2027-Q1" and shift("2027-01", -1) == "2026-12"
    assert due_date(book_rule("end"), "2026-Q4") == date(2026, 12, 31)
    assert due_date(book_rule("next:20"), "2026-Q4") == date(2027, 1, 20)  # [V6] local example
    assert due_date(book_rule("next:31"), "2027-01") == date(2027, 2, 28)


def test_a_year_of_statuses_for_monthly_and_quarterly_villages(dkb):
    book = dkb.villages
    monthly, quarterly = book.villages["t-monthly"], book.villages["hongxing"]
    assert {r.id for r in book.rules_for(monthly)} == {"general", "finance_monthly"}
    assert {r.id for r in book.rules_for(quarterly)} == {"general", "finance_quarterly"}
    records = [
        rec("t-monthly", "2026-10", ("finance",), date(2026, 10, 30)),          # on time
        rec("t-monthly", "2026-11", ("finance", "land"), date(2026, 12, 3)),     # late
        rec("t-monthly", "2026-12", ("finance",), date(2026, 12, 31)),          # on time
        rec("t-monthly", "2027-Q1", ("assembly",), date(2027, 3, 31)),          # general Q1
    ]
    today = date(2027, 10, 15)
    by = {(s.rule_id, s.period): s.state for s in statuses(book, monthly, records, today, SH)}
    assert by[("finance_monthly", "2026-10")] == "on_time"
    assert by[("finance_monthly", "2026-11")] == "late"
    assert by[("finance_monthly", "2026-12")] == "on_time"
    assert by[("finance_monthly", "2027-01")] == "missing"
    assert by[("finance_monthly", "2027-10")] == "open"
    assert by[("general", "2026-Q4")] == "on_time"  # November's land record counts for Q4
    assert by[("general", "2027-Q1")] == "on_time" and by[("general", "2027-Q3")] == "missing"
    assert ("finance_monthly", "2026-09") not in by  # before tracking starts
    assert sum(1 for (r, _p) in by if r == "finance_monthly") == 13
    q = {(s.rule_id, s.period): s.state for s in statuses(book, quarterly, [], today, SH)}
    assert set(q) == {(r, p) for r in ("general", "finance_quarterly")
                      for p in ("2026-Q4", "2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4")}
    assert q[("finance_quarterly", "2027-Q4")] == "open"
    # next due: overdue ones first, then the one to come; a disclosed period moves it on
    nxt = next_due(book, monthly, records, date(2026, 12, 31), SH)
    assert [(r.id, s.period, s.state) for r, s in nxt] == [
        ("general", "2027-Q1", "open"), ("finance_monthly", "2027-01", "open")]
    late = next_due(book, monthly, records[:1], date(2026, 12, 5), SH)  # November not recorded
    assert [(r.id, s.period, s.state) for r, s in late] == [
        ("general", "2026-Q4", "open"), ("finance_monthly", "2026-11", "missing"),
        ("finance_monthly", "2026-12", "open")]


async def setup(a):
    notes = RecordingNotifier(a.clock)
    a.outbox.register("console", notes)
    await a.reminders.start()
    for uid, level, area in (("vc", "village", "岳麓区/望月湖街道/测试村"),
                             ("other", "village", "雨花区/某街道/红星村"),
                             ("tc", "township", "岳麓区/望月湖街道")):
        await a.handle(text(uid, "/start"))
        user = await a.users.get("console", uid)
        await grant(a.users, a.kb.gazetteer, user, level, area, a.clock.now(), by=None)
    return notes


def photo(uid: str, file_id: str) -> Incoming:
    return Incoming(User("console", uid, "zh-hans"), uid, media="photo", photo=file_id)


async def record(a, uid: str, items: tuple[str, ...], period_index: int, with_photo: bool,
                 summary: str) -> list:
    r = await a.handle(text(uid, "/disclose"))
    for item in items:
        r = await a.handle(button(uid, f"di:{item}"))
    r = await a.handle(button(uid, "di:done"))
    period = [p for p in payloads(r) if p.startswith("dp:")][period_index]
    await a.handle(button(uid, period))
    r = await a.handle(photo(uid, "AgACPHOTO1") if with_photo else button(uid, "dx:skip"))
    r = await a.handle(text(uid, summary))
    assert "dk:" in payloads(r)
    return await a.handle(button(uid, "dk:"))


async def test_record_subscribe_lookup_and_correct(dassistant):
    a = dassistant
    notes = await setup(a)
    a.notes = notes
    r = await a.handle(text("res1", "/subscribe 测试村"))
    assert "测试村" in r[0].text
    r = await record(a, "vc", ("finance", "subsidies"), 0, True, "10月收支和低保名单已公布")
    assert "1" in r[0].text and "dc:1" in payloads(r)
    (note,) = [replies for ext, replies in a.notes.sent if ext == "res1"]
    assert note[0].photo == "AgACPHOTO1" and "低保名单" in note[0].text
    # another resident asks in words
    r = await a.handle(text("res2", "测试村最近公开了什么"))
    body = joined(r)
    assert "低保名单" in body and "2026-11" in body and "村委会门口" in body
    assert any(x.photo == "AgACPHOTO1" for x in r)
    # a correction by the same cadre within a day keeps the original
    r = await a.handle(button("other", "dc:1"))
    assert "dk:" not in payloads(r) and "di:done" not in payloads(r)
    r = await a.handle(button("vc", "dc:1"))
    assert "di:done" in payloads(r) and "✅" in r[0].buttons[0][0].label  # items kept
    r = await a.handle(button("vc", "di:done"))
    await a.handle(button("vc", next(p for p in payloads(r) if p.startswith("dp:"))))
    await a.handle(button("vc", "dx:skip"))
    await a.handle(text("vc", "10月收支已公布（更正：低保名单下月公布）"))
    await a.handle(button("vc", "dk:"))
    old = await a.disclosures.get(1)
    assert old.superseded_by == 2 and (await a.disclosures.get(2)).corrects == 1
    latest = await a.disclosures.latest("t-monthly")
    assert [x.id for x in latest] == [2]
    a.clock.advance(timedelta(days=2))
    r = await a.handle(button("vc", "dc:2"))
    assert "di:done" not in payloads(r)
    assert len(notes.sent) >= 2  # the correction was announced too


async def test_only_the_villages_cadres_record(dassistant):
    a = dassistant
    await setup(a)
    r = await a.handle(text("res3", "/disclose"))
    assert "di:done" not in payloads(r)
    r = await a.handle(button("res3", "dv:t-monthly"))  # a forged button
    assert "di:done" not in payloads(r)
    r = await a.handle(button("other", "dv:t-monthly"))  # a cadre of another village
    assert "di:done" not in payloads(r)
    r = await a.handle(text("other", "/disclose"))
    assert "红星村" in r[0].text and "测试村" not in r[0].text
    r = await a.handle(button("tc", "dv:t-monthly"))  # the township's cadre may
    assert "di:done" in payloads(r)
    assert await a.disclosures.current() == []


async def test_ambiguous_and_unknown_village_names(dassistant):
    a = dassistant
    r = await a.handle(text("res4", "同名村下次什么时候公开"))
    assert sorted(payloads(r)) == ["dl:same-1", "dl:same-2"]
    r = await a.handle(button("res4", "dl:same-2"))
    assert "雨花区" in r[0].text
    r = await a.handle(text("res4", "我们村下次什么时候公开"))
    labels = [b.label for x in r for row in x.buttons for b in row]
    assert any("测试村" in lb or "红星村" in lb for lb in labels)  # which village? with buttons
    assert "每季度" in r[0].text  # and the rules every village keeps, not a dead end
    r = await a.handle(text("res4", "测试村"))
    assert "测试村" in r[0].text and "2026" in r[0].text


def at(a, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> None:
    a.clock.set(datetime(year, month, day, hour, minute, tzinfo=SH))


async def test_overdue_reminder_then_escalation_then_quiet(dassistant):
    a = dassistant
    at(a, 2026, 10, 20, 12, 0)
    notes = await setup(a)
    at(a, 2026, 11, 1, 9, 0)
    await a.reminders.tick()  # October's monthly finances are overdue at 测试村
    vc = [r for ext, rs in notes.sent if ext == "vc" for r in rs]
    assert len(vc) == 1 and "2026-10" in vc[0].text and "dv:t-monthly" in payloads(vc)
    assert not [1 for ext, _r in notes.sent if ext == "tc"]
    at(a, 2026, 11, 2, 9, 0)
    await a.reminders.tick()
    assert len([1 for ext, _r in notes.sent if ext == "vc"]) == 1  # once per period
    at(a, 2026, 11, 7, 9, 0)
    await a.reminders.tick()  # 7 days after the due date: the township's list
    tc = [r.text for ext, rs in notes.sent if ext == "tc" for r in rs]
    assert len(tc) == 1 and "测试村" in tc[0] and "2026-10" in tc[0]
    # the village snoozes, then records it: the snoozed reminder is not sent
    r = await a.handle(button("vc", next(p for p in payloads(vc) if p.startswith("rs:"))))
    assert r[0].text
    await record(a, "vc", ("finance",), 1, False, "10月财务补公布")
    at(a, 2026, 11, 8, 9, 0)
    before = len(notes.sent)
    await a.reminders.tick()
    assert not [1 for ext, _r in notes.sent[before:] if ext in ("vc", "tc")]
    statuses_ = await a.reminders.repo.status_counts()
    assert statuses_.get("skipped", 0) >= 1 and statuses_.get("pending", 0) == 0


async def test_chart_for_cadres_only(dassistant):
    a = dassistant
    await setup(a)
    await record(a, "vc", ("finance", "land"), 0, False, "本月公开")
    a.clock.advance(timedelta(days=70))
    r = await a.handle(text("tc", "/disclosures"))
    assert r[0].image is not None and r[0].image.startswith(b"\x89PNG")
    rows = list(csv.reader(io.StringIO(r[1].document.content.decode("utf-8-sig"))))
    assert len(rows) == 13
    by_month = {row[0]: row[1:] for row in rows[1:]}
    assert by_month["2026-11"] == ["1", "0", "0"]  # November's finances, on time
    assert by_month["2026-12"] == ["1", "0", "1"]  # Q4 general on time, December's finances
    assert by_month["2027-01"] == ["0", "0", "1"]  # missing
    r = await a.handle(text("res5", "/disclosures"))
    assert r[0].image is None and r[0].document is None


async def test_example_villages_are_not_chased(dassistant):
    a = dassistant
    at(a, 2027, 3, 1, 12, 0)
    notes = await setup(a)
    user = await a.users.get("console", "other")  # cadre of 红星村, an example village
    assert a.kb.villages.villages["hongxing"].example
    await a.handle(text("dist", "/start"))
    dist = await a.users.get("console", "dist")
    await grant(a.users, a.kb.gazetteer, dist, "district", "雨花区", a.clock.now(), by=None)
    at(a, 2027, 4, 10, 9, 0)  # Q1 is overdue everywhere
    await a.reminders.tick()
    assert not [1 for ext, _r in notes.sent if ext == "other"]
    to_district = " ".join(r.text for ext, rs in notes.sent if ext == "dist" for r in rs)
    assert "同名村" in to_district and "红星村" not in to_district  # confirmed ones only
    assert [1 for ext, _r in notes.sent if ext == "vc"]
    assert user is not None


async def test_no_empty_chart_for_example_villages(settings, clock, kb):
    """The shipped villages are the seed's examples: /disclosures says why there is no chart."""
    from app import open_assistant  # noqa: PLC0415 - the shipped knowledge, this test only

    async with open_assistant(settings, clock, kb) as a:
        await a.handle(text("admin", "/start"))  # console:admin, an administrator
        r = await a.handle(text("admin", "/disclosures"))
    assert len(r) == 1 and r[0].image is None
    assert "2006" in r[0].text and "disclosure import" in r[0].text


async def test_unsubscribing_names_the_village(dassistant):
    a = dassistant
    await a.handle(text("res9", "/subscribe 测试村"))
    (r,) = await a.handle(text("res9", "/unsubscribe"))
    (payload,) = [b.payload for row in r.buttons for b in row]
    (r,) = await a.handle(Incoming(User("console", "res9", "zh-hans"), "res9", payload=payload))
    assert "测试村" in r.text


def test_periods_and_weeks_are_written_as_people_write_them():
    from core import i18n  # noqa: PLC0415 - this test only
    from handlers.cadre_volunteers import week_label  # noqa: PLC0415
    from knowledge.villages import period_label  # noqa: PLC0415

    with i18n.use("zh"):
        assert period_label("2026-Q4") == "2026年第四季度"
        assert period_label("2026-12") == "2026年12月"
        assert week_label("2026-W49") == "11月30日—12月6日"
    with i18n.use("en"):
        assert period_label("2026-Q4") == "Q4 2026"
        assert week_label("2026-W50") == "7 Dec-13 Dec"
