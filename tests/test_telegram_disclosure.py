"""Village-affairs disclosure over the real PTB application and the fake Bot API."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ADMIN_ID
from tests.fake_bot_api import FakeBotAPI
from tests.test_telegram import body, buttons, press, running_bot, say

SH = ZoneInfo("Asia/Shanghai")
ADMIN = int(ADMIN_ID)
CADRE, OTHER, TOWNSHIP = 601, 602, 603


@pytest.fixture
async def api():
    async with FakeBotAPI() as fake:
        yield fake


async def cadres(api) -> None:
    await say(api, ADMIN, "/start")
    for uid, level, area in ((CADRE, "village", "岳麓区/望月湖街道/测试村"),
                             (OTHER, "village", "雨花区/某街道/红星村"),
                             (TOWNSHIP, "township", "岳麓区/望月湖街道")):
        await say(api, uid, "/start")
        (r,) = await say(api, ADMIN, f"/promote {uid} {level} {area}")
        assert "长沙市" in body(r)


async def test_record_with_photo_notify_and_ask(api, settings, clock, dkb):
    async with running_bot(api, settings, clock, dkb):
        await cadres(api)
        (r,) = await say(api, 701, "/subscribe 测试村")
        assert "测试村" in body(r)
        (r,) = await say(api, 703, "/disclose")  # a resident
        assert "di:done" not in buttons(r)
        (r,) = await press(api, OTHER, "dv:t-monthly")  # a cadre of another village, forged
        assert "di:done" not in buttons(r)
        (r,) = await say(api, CADRE, "/disclose")
        assert "di:finance" in buttons(r)
        await press(api, CADRE, "di:finance")
        await press(api, CADRE, "di:assembly")
        (r,) = await press(api, CADRE, "di:done")
        period = buttons(r)[0]
        assert period == "dp:2026-11"
        await press(api, CADRE, period)
        api.push_photo(CADRE)
        (r,) = await api.wait_replies(CADRE)
        assert "200" in body(r)
        (r,) = await say(api, CADRE, "11月财务收支和村民代表会议决定已上墙")
        assert buttons(r)[0] == "dk:"
        (r,) = await press(api, CADRE, "dk:")
        assert "dc:1" in buttons(r)
        (note,) = await api.wait_replies(701)
        assert note["method"] == "sendPhoto" and "已上墙" in body(note)
        photo_id = note["params"]["photo"]
        replies = await say(api, 702, "测试村最近公开了什么", n=2)
        assert "已上墙" in body(replies[0]) and "2026-12" in body(replies[0])
        assert replies[1]["method"] == "sendPhoto" and replies[1]["params"]["photo"] == photo_id


async def test_overdue_reminder_then_township_list(api, settings, clock, dkb):
    clock.set(datetime(2026, 10, 20, 12, 0, tzinfo=SH))
    async with running_bot(api, settings, clock, dkb) as channel:
        await cadres(api)
        service = channel.assistant.reminders
        await service.start()
        for day in (1, 2, 7):
            clock.set(datetime(2026, 11, day, 9, 0, tzinfo=SH))
            await service.tick()
        (r,) = await api.wait_replies(CADRE)
        assert "2026-10" in body(r) and "dv:t-monthly" in buttons(r)
        (r,) = await api.wait_replies(TOWNSHIP)
        assert "测试村" in body(r) and "2026-10" in body(r)
        await api.expect_no_replies(CADRE, 0)  # already sent if at all: the tick awaited its sends
        await api.expect_no_replies(OTHER, 0)  # 红星村 has no monthly finances due
        (r,) = await press(api, CADRE, "dv:t-monthly")  # "record it now" from the reminder
        assert "di:done" in buttons(r)
