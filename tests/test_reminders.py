"""The reminder service through the core, with an injected clock (no sleeping)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app import open_assistant
from core.clock import FixedClock
from services.reminders import add_custom, add_special, set_active
from services.roles import grant
from tests.conftest import RecordingNotifier, button, payloads, text

SH = ZoneInfo("Asia/Shanghai")
CADRES = {"d1": ("district", "雨花区"), "t1": ("township", "雨花区/洞井街道"),
          "t2": ("township", "岳麓区/望月湖街道"), "c1": ("city", "")}


async def setup(a) -> RecordingNotifier:
    notes = RecordingNotifier(a.clock)
    a.outbox.register("console", notes)
    await a.reminders.start()
    await set_active(a.reminders, 3, False)  # village disclosures: tested in test_disclosure
    await a.handle(text("admin", "/start"))
    for uid, (level, area) in CADRES.items():
        await a.handle(text(uid, "/start"))
        user = await a.users.get("console", uid)
        await grant(a.users, a.kb.gazetteer, user, level, area, a.clock.now(), by=None)
    notes.sent.clear()
    notes.times.clear()
    return notes


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def got(notes: RecordingNotifier, uid: str) -> list[tuple[datetime, str, list[str]]]:
    return [(t.astimezone(SH), r.text, [b.payload for row in r.buttons for b in row])
            for (ext, replies), t in zip(notes.sent, notes.times, strict=True) if ext == uid
            for r in replies]


async def test_a_whole_year_of_quarterly_reminders(settings, kb):
    clock = FixedClock(sh(2027, 1, 1, 0, 0))
    async with open_assistant(settings, clock, kb) as a:
        notes = await setup(a)
        acked = 0
        day = sh(2027, 1, 1, 9, 0)
        while day < sh(2028, 1, 1):
            for moment in (day, day.replace(hour=23)):  # 23:00 is in the quiet hours
                clock.set(moment)
                await a.reminders.tick()
            for _t, _body, buttons in got(notes, "t1")[acked:]:
                acked += 1
                done = [p for p in buttons if p.startswith("rd:")]
                if done:  # t1 always acknowledges at once
                    r = await a.handle(button("t1", done[0]))
                    assert "rn:" in payloads(r)
            day += timedelta(days=1)
        d1 = got(notes, "d1")
        assert [t.strftime("%m-%d %H:%M") for t, _b, _p in d1] == [
            "03-01 09:00", "03-24 09:00", "06-01 09:00", "06-23 09:00",
            "09-01 09:00", "09-23 09:00", "12-01 09:00", "12-24 09:00"]
        assert all("rd:" in p[0] and "rs:" in p[1] for _t, _b, p in d1)
        assert len(got(notes, "t2")) == 8
        # t1 acknowledged each quarter's first reminder: the second one was not sent
        assert [t.strftime("%m-%d") for t, _b, _p in got(notes, "t1")] == [
            "03-01", "06-01", "09-01", "12-01"]
        # the city cadre is not addressed, but hears of the district and township that
        # did not acknowledge, two days after each quarter's end
        c1 = got(notes, "c1")
        assert [t.strftime("%m-%d") for t, _b, _p in c1] == ["04-02", "07-02", "10-02"]
        assert all("长沙市/雨花区" in b and "望月湖街道" in b and "洞井街道" not in b
                   for _t, b, _p in c1)
        # early December: no special inspection planned for 2028 -> administrators warned
        (warning,) = [w for w in got(notes, "admin") if "2028" in w[1]]
        assert warning[0].strftime("%m-%d %H:%M") == "12-01 09:00"
        assert all(8 <= t.hour < 22 for t in notes.times if t)


async def test_quiet_hours_defer_to_the_morning(settings, kb):
    clock = FixedClock(sh(2027, 1, 5, 12, 0))
    async with open_assistant(settings, clock, kb) as a:
        notes = await setup(a)
        await add_custom(a.reminders, kb.gazetteer, "district", "雨花区", "2027-01-05T23:30",
                         "夜间提醒", by="test")
        clock.set(sh(2027, 1, 5, 23, 31))
        report = await a.reminders.tick()
        assert report.quiet and report.planned == 1 and not notes.sent
        clock.set(sh(2027, 1, 6, 7, 59))
        await a.reminders.tick()
        assert not notes.sent
        clock.set(sh(2027, 1, 6, 8, 0))
        assert (await a.reminders.tick()).sent == 1
        (msg,) = got(notes, "d1")
        assert msg[0] == sh(2027, 1, 6, 8, 0) and "夜间提醒" in msg[1]


async def test_exactly_once_across_ticks_and_restarts(settings, kb, caplog):
    clock = FixedClock(sh(2027, 1, 5, 7, 0))
    async with open_assistant(settings, clock, kb) as a:
        await setup(a)
        await add_custom(a.reminders, kb.gazetteer, "district", "all", "2027-01-05T09:00",
                         "补发测试", by="test")
        await add_custom(a.reminders, kb.gazetteer, "district", "all", "2027-01-05T23:00",
                         "停机测试", by="test")
        await a.reminders.tick()
    # the bot is down from 07:00 to 11:00 and restarts: the 09:00 reminder goes out once, late
    clock.set(sh(2027, 1, 5, 11, 0))
    async with open_assistant(settings, clock, kb) as a:
        notes = RecordingNotifier(clock)
        a.outbox.register("console", notes)
        await a.reminders.start()
        await a.reminders.tick()
        await a.reminders.tick()  # a second tick at the same moment
        (msg,) = got(notes, "d1")
        assert "补发测试" in msg[1] and ("late" in msg[1] or "补发" in msg[1] or "延迟" in msg[1])
        clock.set(sh(2027, 1, 5, 23, 0))
        assert (await a.reminders.tick()).planned == 1  # planned in the quiet hours, not sent
    clock.set(sh(2027, 1, 6, 8, 0))
    async with open_assistant(settings, clock, kb) as a:  # restart between due and delivery
        notes = RecordingNotifier(clock)
        a.outbox.register("console", notes)
        await a.reminders.start()
        await a.reminders.tick()
        await a.reminders.tick()
        assert [b for _t, b, _p in got(notes, "d1")] == [got(notes, "d1")[0][1]]
        assert "停机测试" in got(notes, "d1")[0][1]
    # down for three days over a due time: more than the 24 h grace, so skipped and logged
    caplog.set_level(logging.WARNING)
    async with open_assistant(settings, clock, kb) as a:
        await add_custom(a.reminders, kb.gazetteer, "district", "all", "2027-01-07T09:00",
                         "过期测试", by="test")
        clock.set(sh(2027, 1, 9, 10, 0))
        notes = RecordingNotifier(clock)
        a.outbox.register("console", notes)
        report = await a.reminders.tick()
        assert report.skipped and not notes.sent
        assert "grace period" in caplog.text


async def test_snooze_done_remark_and_status(settings, kb):
    clock = FixedClock(sh(2027, 2, 28, 12, 0))
    async with open_assistant(settings, clock, kb) as a:
        notes = await setup(a)
        clock.set(sh(2027, 3, 1, 9, 0))
        await a.reminders.tick()
        (first,) = got(notes, "t2")
        snooze = next(p for p in first[2] if p.startswith("rs:"))
        r = await a.handle(button("t2", snooze))
        assert "明天" in r[0].text or "tomorrow" in r[0].text
        await a.handle(button("t2", snooze))  # twice the same day: still one
        r = await a.handle(button("t1", snooze))  # somebody else's button
        assert "rs:" not in payloads(r) and not r[0].text.startswith("I will")
        clock.set(sh(2027, 3, 2, 9, 0))
        await a.reminders.tick()
        again = got(notes, "t2")[1:]
        assert len(again) == 1 and again[0][0] == sh(2027, 3, 2, 9, 0)
        done = next(p for p in again[0][2] if p.startswith("rd:"))
        await a.handle(button("t2", done))
        r = await a.handle(text("t2", "已检查5个村，均按时公开"))
        assert "备注" in r[0].text or "Remark" in r[0].text
        r = await a.handle(button("t2", snooze))
        assert "done" in r[0].text or "完成" in r[0].text
        r = await a.handle(text("admin", "/reminders 1"))
        assert "已检查5个村" in r[0].text
        r = await a.handle(text("admin", "/reminders"))
        assert "#1" in r[0].text and "#2" in r[0].text
        r = await a.handle(text("t2", "/reminders"))  # not an administrator
        assert "#1" not in r[0].text


async def test_blocked_and_failing_recipients(settings, kb):
    clock = FixedClock(sh(2027, 2, 28, 12, 0))
    async with open_assistant(settings, clock, kb) as a:
        notes = await setup(a)
        notes.failing = {"t2": "blocked", "d1": "failed"}
        clock.set(sh(2027, 3, 1, 9, 0))
        report = await a.reminders.tick()
        assert report.blocked == 1 and report.failed == 1
        assert any("望月湖街道" in b for _t, b, _p in got(notes, "admin"))
        notes.failing = {"t2": "blocked"}
        clock.set(sh(2027, 3, 1, 9, 3))
        await a.reminders.tick()  # d1's retry is due after 2 minutes
        assert len(got(notes, "d1")) == 1
        clock.set(sh(2027, 3, 24, 9, 0))
        await a.reminders.tick()
        assert len([b for _t, b, _p in got(notes, "admin") if "望月湖街道" in b]) == 1
        statuses = await a.reminders.repo.status_counts()
        assert statuses.get("blocked") == 2 and statuses.get("pending", 0) == 0


async def test_special_inspections_and_admin_commands(settings, kb):
    clock = FixedClock(sh(2027, 3, 1, 12, 0))
    async with open_assistant(settings, clock, kb) as a:
        notes = await setup(a)
        r = await a.handle(text("admin", "/special 2027-04-15 雨花区 春季村务公开专项督查"))
        assert "#4" in r[0].text
        r = await a.handle(text("admin", '/remind township all "0 9 1 * *" 月度台账'))
        assert "#5" in r[0].text
        for bad in ("/special 2027-02-30 all x", "/special tomorrow all x",
                    '/remind township all "* * * * *" x', "/remind mayor all 2027-05-01 x",
                    "/special 2027-04-15 北京市 x", '/remind township all "unclosed x'):
            r = await a.handle(text("admin", bad))
            assert "#" not in r[0].text, bad
        r = await a.handle(text("d1", "/special 2027-04-15 all x"))  # not an administrator
        assert "#" not in r[0].text
        await add_special(a.reminders, kb.gazetteer, "2027-05-20", "all", "第二次", by="test")
        clock.set(sh(2027, 4, 8, 9, 0))
        await a.reminders.tick()
        assert any("春季" in b for _t, b, _p in got(notes, "d1"))  # 7 days before, in scope
        assert any("春季" in b for _t, b, _p in got(notes, "t1"))
        assert not any("春季" in b for _t, b, _p in got(notes, "t2"))  # 岳麓区: out of scope
        r = await a.handle(text("admin", "/reminder_off 4"))
        clock.set(sh(2027, 4, 14, 9, 0))
        await a.reminders.tick()
        assert len([1 for _t, b, _p in got(notes, "d1") if "春季" in b]) == 1
        r = await a.handle(text("admin", "/reminder_leads 1 month_start"))
        rule = await a.reminders.repo.rule(1)
        assert rule.leads == ("month_start",)


async def test_invites_make_cadres_once(settings, kb):
    clock = FixedClock(sh(2027, 3, 1, 12, 0))
    async with open_assistant(settings, clock, kb) as a:
        await setup(a)
        r = await a.handle(text("admin", "/invite township 岳麓区/望月湖街道"))
        code = next(w for w in r[0].text.split() if len(w) == 9 and w[4] == "-")
        r = await a.handle(text("d1", "/invite district 芙蓉区"))  # not an administrator
        assert "-" not in r[0].text.split()[0]
        r = await a.handle(text("new1", f"/cadre {code.lower()}"))
        assert "望月湖街道" in r[0].text
        user = await a.users.get("console", "new1")
        assert user.role == "cadre" and [x.area_path for x in await a.users.areas_of(user.id)] \
            == ["长沙市/岳麓区/望月湖街道"]
        r = await a.handle(text("new2", f"/cadre {code}"))  # single use
        assert (await a.users.get("console", "new2")).role == "resident"
        r = await a.handle(text("admin", "/invite village 雨花区/洞井街道/某社区"))
        late = next(w for w in r[0].text.split() if len(w) == 9 and w[4] == "-")
        clock.set(sh(2027, 3, 9, 12, 0))
        await a.handle(text("new3", f"/cadre {late}"))  # expired after 7 days
        assert (await a.users.get("console", "new3")).role == "resident"
        r = await a.handle(text("admin", "/setarea console:new1 district 岳麓区"))
        assert [x.area_path for x in await a.users.areas_of(user.id)] == ["长沙市/岳麓区"]
        history = await a.users.role_history(user.id)
        assert [h[0] for h in history] == ["grant", "revoke", "grant"]
        assert "invite" in history[0][3]


async def test_guessing_invite_codes_is_limited_and_reported(settings, kb):
    from app import open_runtime, tidy  # noqa: PLC0415 - the housekeeping only this test runs

    clock = FixedClock(sh(2027, 3, 1, 12, 0))
    async with open_runtime(settings, clock, kb, queue_notices=False) as runtime:
        a = runtime.assistant
        notes = await setup(a)
        r = await a.handle(text("admin", "/invite township 岳麓区/望月湖街道"))
        code = next(w for w in r[0].text.split() if len(w) == 9 and w[4] == "-")
        wrong = [(await a.handle(text("guess", f"/cadre AAAA-BBB{i}")))[0].text
                 for i in range(5)]
        assert len(set(wrong)) == 1 and "一小时" not in wrong[0]  # told it is not valid
        r = await a.handle(text("guess", f"/cadre {code}"))  # the right one, refused unchecked
        assert (await a.users.get("console", "guess")).role == "resident"
        assert "一小时" in r[0].text or "hour" in r[0].text
        for n in range(20):  # many accounts guessing
            await a.handle(text(f"g{n}", "/cadre ZZZZ-ZZZZ"))
        await tidy(runtime)
        warned = [b for _t, b, _p in got(notes, "admin") if "邀请码" in b or "invite" in b]
        assert len(warned) == 1
        await tidy(runtime)  # once a day, not at every start
        assert len([b for _t, b, _p in got(notes, "admin") if "邀请码" in b]) == 1
        clock.set(sh(2027, 3, 1, 13, 1))
        r = await a.handle(text("guess", f"/cadre {code}"))  # an hour later it works
        assert (await a.users.get("console", "guess")).role == "cadre"


async def test_past_dates_are_refused_in_the_users_language(settings, kb):
    clock = FixedClock(sh(2026, 12, 1, 10, 0))
    async with open_assistant(settings, clock, kb) as a:
        await setup(a)
        r = await a.handle(text("admin", "/special 2025-01-01 all 过去的日期"))
        assert "#" not in r[0].text and "2025-01-01" in r[0].text and "已经过去" in r[0].text
        r = await a.handle(text("admin", "/remind district all 2026-11-30 过去"))
        assert "#" not in r[0].text and "已经过去" in r[0].text
        for bad in ("/special 2027-02-30 all x", '/remind township all "* * * * *" x',
                    "/remind township all 2027-13-01 x"):
            r = await a.handle(text("admin", bad))
            assert not any(c.isascii() and c.isalpha() for c in r[0].text.split("：")[0][:6]), \
                r[0].text  # a Chinese sentence, not an untranslated English one


async def test_next_date_is_the_next_reminder_and_first_start_in_december(settings, kb):
    clock = FixedClock(sh(2026, 12, 1, 10, 0))  # first start, after the 09:00 December check
    async with open_assistant(settings, clock, kb) as a:
        notes = await setup(a)
        await a.reminders.start()
        await a.reminders.tick()
        assert any("专项" in b or "督查" in b for _t, b, _p in got(notes, "admin"))  # not skipped
        r = await a.handle(text("admin", '/remind district all "0 9 1 * *" 每月民政工作例会'))
        assert "2027-01-01 09:00" in r[0].text and "2026-12-03" not in r[0].text.split(
            "催办")[0], r[0].text


async def test_area_errors_give_an_example_of_the_level_asked(settings, kb):
    from services.roles import RoleError, parse_area  # noqa: PLC0415 - this test only

    assert parse_area(kb.gazetteer, "city", "all") == "长沙市"
    assert parse_area(kb.gazetteer, "city", "全市") == "长沙市"
    for level, typed, example in (("township", "岳麓区", "岳麓区/XX街道"),
                                  ("district", "岳麓区/XX街道", "岳麓区"),
                                  ("village", "岳麓区", "岳麓区/XX街道/XX社区")):
        try:
            parse_area(kb.gazetteer, level, typed)
        except RoleError as exc:
            assert f"{example}（" in str(exc) or f"{example} (" in str(exc), str(exc)
            assert "0 级" not in str(exc) and "2 级" not in str(exc)
        else:
            raise AssertionError(f"{level} {typed} accepted")
