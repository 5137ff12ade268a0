"""Reminders over the real PTB application and the fake Bot API: buttons, acknowledgement,
snooze, escalation, a restart between due time and delivery, 429/5xx, a blocked recipient."""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from services.reminders import add_custom, set_active
from tests.conftest import ADMIN_ID
from tests.fake_bot_api import FakeBotAPI
from tests.test_telegram import buttons, running_bot

SH = ZoneInfo("Asia/Shanghai")
ADMIN = int(ADMIN_ID)


@pytest.fixture
async def api():
    async with FakeBotAPI() as fake:
        yield fake


def at(clock, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> None:
    clock.set(datetime(year, month, day, hour, minute, tzinfo=SH))


async def cadres(api, channel, people: dict[int, tuple[str, str]]) -> None:
    """Each person writes /start, then the administrator makes them a cadre."""
    await channel.assistant.reminders.start()
    await set_active(channel.assistant.reminders, 3, False)  # disclosures: test_disclosure
    api.push_text(ADMIN, "/start")
    await api.wait_replies(ADMIN)
    for uid, (level, area) in people.items():
        api.push_text(uid, "/start")
        await api.wait_replies(uid)
        api.push_text(ADMIN, f"/promote {uid} {level} {area}".strip())
        (r,) = await api.wait_replies(ADMIN)
        assert "长沙市" in r["params"]["text"]


def sends_to(api, chat: int) -> int:
    return sum(1 for x in api.sent if x["method"] == "sendMessage" and x["chat_id"] == chat)


async def test_reminder_done_with_remark_and_snooze(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb) as channel:
        await cadres(api, channel, {401: ("district", "雨花区"),
                                    402: ("township", "雨花区/洞井街道")})
        at(clock, 2027, 3, 1, 9, 0)
        report = await channel.assistant.reminders.tick()
        assert report.sent == 2
        (r,) = await api.wait_replies(401)
        assert "督查" in r["params"]["text"] and buttons(r)[0].startswith("rd:")
        api.push_callback(401, buttons(r)[0])
        (r,) = await api.wait_replies(401)
        assert buttons(r) == ["rn:"]
        api.push_text(401, "雨花区12个乡镇街道已全部检查")
        (r,) = await api.wait_replies(401)
        assert "备注" in r["params"]["text"]
        (r,) = await api.wait_replies(402)
        api.push_callback(402, buttons(r)[1])  # snooze
        (r,) = await api.wait_replies(402)
        assert "明天" in r["params"]["text"]
        at(clock, 2027, 3, 2, 9, 0)
        await channel.assistant.reminders.tick()
        (r,) = await api.wait_replies(402)
        assert "推迟" in r["params"]["text"] or "snoozed" in r["params"]["text"]
        at(clock, 2027, 3, 24, 9, 0)  # the quarter's second reminder: not to who is done
        await channel.assistant.reminders.tick()
        (r,) = await api.wait_replies(402)
        assert "rd:" in buttons(r)[0]
        await api.expect_no_replies(401, 0)  # already sent if at all: the tick awaited its sends
        assert sends_to(api, 401) == 4  # /start, the reminder, remark prompt, remark saved
        api.push_text(ADMIN, "/reminders 1")
        (r,) = await api.wait_replies(ADMIN)
        assert "12个乡镇街道已全部检查" in r["params"]["text"]


async def test_escalation_goes_to_the_superior_once(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb) as channel:
        await cadres(api, channel, {403: ("township", "雨花区/洞井街道"),
                                    404: ("district", "雨花区")})
        at(clock, 2027, 3, 1, 9, 0)
        await channel.assistant.reminders.tick()
        (r,) = await api.wait_replies(404)
        api.push_callback(404, buttons(r)[0])  # the district cadre has done it
        await api.wait_replies(404)
        await api.wait_replies(403)
        at(clock, 2027, 4, 2, 9, 0)  # two days after the quarter's end
        await channel.assistant.reminders.tick()
        await channel.assistant.reminders.tick()
        (r,) = await api.wait_replies(404)
        assert "洞井街道" in r["params"]["text"] and "telegram:403" in r["params"]["text"]
        await api.expect_no_replies(404, 0)  # already sent if at all: the tick awaited its sends
        await api.expect_no_replies(ADMIN, 0)  # the district cadre acknowledged


async def test_restart_between_due_time_and_delivery(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb) as channel:
        await cadres(api, channel, {405: ("district", "芙蓉区")})
        at(clock, 2027, 1, 5, 12, 0)
        await add_custom(channel.assistant.reminders, kb.gazetteer, "district", "芙蓉区",
                         "2027-01-05T23:00", "年度总结材料", by="test")
        at(clock, 2027, 1, 5, 23, 0)
        report = await channel.assistant.reminders.tick()  # planned, but in the quiet hours
        assert report.planned == 1 and report.sent == 0
    at(clock, 2027, 1, 6, 8, 0)
    async with running_bot(api, settings, clock, kb) as channel:  # a new process
        await channel.assistant.reminders.start()
        await channel.assistant.reminders.tick()
        await channel.assistant.reminders.tick()
        (r,) = await api.wait_replies(405)
        assert "年度总结材料" in r["params"]["text"]
    assert sum(1 for x in api.sent if x["chat_id"] == 405
               and "年度总结材料" in x["params"].get("text", "")) == 1


async def test_429_and_5xx_still_deliver_each_message_exactly_once(api, settings, clock, kb):
    people = {500 + i: ("township", f"雨花区/街道{i}") for i in range(6)}
    async with running_bot(api, settings, clock, kb) as channel:
        await cadres(api, channel, people)
        at(clock, 2027, 3, 1, 9, 0)
        api.fail_next("sendMessage", 429, retry_after=1, times=2)
        api.fail_next("sendMessage", 502, times=2)
        report = await channel.assistant.reminders.tick()
        assert report.sent == 6 and report.failed == 0
        counts = Counter(x["chat_id"] for x in api.sent if x["method"] == "sendMessage"
                         and "rd:" in str(x["params"].get("reply_markup")))
        assert counts == Counter({uid: 1 for uid in people})
        assert api.stats["429"] >= 2 and api.stats["502"] >= 2


async def test_blocked_recipient_is_marked_and_reported(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb) as channel:
        await cadres(api, channel, {406: ("district", "开福区"), 407: ("district", "天心区")})
        api.blocked_chats.add(406)
        at(clock, 2027, 3, 1, 9, 0)
        report = await channel.assistant.reminders.tick()
        assert report.blocked == 1 and report.sent >= 2  # 407 and the administrator's notice
        (r,) = await api.wait_replies(ADMIN)
        assert "telegram:406" in r["params"]["text"] and "开福区" in r["params"]["text"]
        at(clock, 2027, 3, 24, 9, 0)
        await channel.assistant.reminders.tick()  # tried once more, not reported again
        await api.expect_no_replies(ADMIN, 0)  # already sent if at all: the tick awaited its sends
        assert api.stats["403"] == 2
        statuses = await channel.assistant.reminders.repo.status_counts()
        assert statuses["blocked"] == 2 and "pending" not in statuses
