"""Volunteer sign-up, withdrawal, deletion and cadres' exports over the real PTB application
against the fake Bot API; and the same sign-up through the console channel."""
from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

from app import open_assistant
from channels.console import run_console_chat
from tests.conftest import ADMIN_ID
from tests.fake_bot_api import FakeBotAPI
from tests.test_telegram import body, buttons, press, running_bot, say

TEAM = "hongxing-elderly"
RESIDENT, COORD, OTHER = 201, 301, 302


@pytest.fixture
async def api():
    async with FakeBotAPI() as fake:
        yield fake


async def promote(api, uid: int, level: str, area: str) -> None:
    await say(api, uid, "/start")
    api.drain_replies(int(ADMIN_ID))  # sign-up notices the administrator got meanwhile
    (r,) = await say(api, int(ADMIN_ID), f"/promote {uid} {level} {area}".strip())
    assert "长沙市" in body(r)


async def test_sign_up_with_buttons_contact_and_coordinator(api, settings, clock, dkb):
    async with running_bot(api, settings, clock, dkb):
        await say(api, int(ADMIN_ID), "/start")
        await promote(api, COORD, "village", "雨花区/某街道/红星村")
        (r,) = await say(api, RESIDENT, "/volunteer")
        assert f"vj:{TEAM}" in buttons(r)
        (r,) = await press(api, RESIDENT, f"vj:{TEAM}")
        assert "红星村助老志愿队" in body(r)
        (r,) = await say(api, RESIDENT, "王小明")
        keyboard = r["params"]["reply_markup"]["keyboard"]
        assert keyboard[0][0]["request_contact"] is True
        (r,) = await say(api, RESIDENT, "0731-1234")  # not a mobile: asked again
        assert "11" in body(r)
        api.push_contact(RESIDENT, "+8613800138000", contact_user_id=999)  # someone else's
        (r,) = await api.wait_replies(RESIDENT)
        assert "13800138000" not in body(r)
        api.push_contact(RESIDENT, "+8613800138000")  # own number, via the button
        noted, when = await api.wait_replies(RESIDENT, 2)
        assert noted["params"]["reply_markup"] == {"remove_keyboard": True}
        assert "va:done" in buttons(when)
        await press(api, RESIDENT, "va:weekday_day")
        (r,) = await press(api, RESIDENT, "va:done")
        assert buttons(r) == ["vc:yes", "vc:no"] and "/forget" in body(r)
        (r,) = await press(api, RESIDENT, "vc:yes")
        assert "13800138000" in body(r) and f"vk:{TEAM}" in buttons(r)
        (r,) = await press(api, RESIDENT, f"vk:{TEAM}")
        assert "V000001" in body(r)
        (note,) = await api.wait_replies(COORD)
        assert "王小明" in body(note) and "13800138000" in body(note)
        (r,) = await press(api, RESIDENT, f"vk:{TEAM}")  # pressed again
        assert "V000001" in body(r)
        await api.expect_no_replies(COORD, 0)  # the notice is sent before the reply
        assert len(api.callback_answers) >= 6  # every press got its spinner stopped


async def test_restart_in_the_middle_then_cancel(api, settings, clock, dkb):
    async with running_bot(api, settings, clock, dkb):
        await say(api, RESIDENT, f"/start join_{TEAM}")
        await say(api, RESIDENT, "李四")
    async with running_bot(api, settings, clock, dkb):  # a new process on the same database
        noted, when = await say(api, RESIDENT, "139 0013 9000", n=2)
        assert "va:done" in buttons(when)
        await press(api, RESIDENT, "va:weekend")
        await press(api, RESIDENT, "va:done")
        (r,) = await press(api, RESIDENT, "vc:yes")
        assert "李四" in body(r) and "13900139000" in body(r)
        cancelled, menu = await say(api, RESIDENT, "/cancel", n=2)
        assert "取消" in body(cancelled) and "m:volunteer" in buttons(menu)
        (r,) = await press(api, RESIDENT, f"vk:{TEAM}")  # the old summary's button
        assert "V0" not in body(r)
    async with open_assistant(settings, clock, dkb) as a:
        assert await a.volunteers.of_teams(None) == []


async def test_withdraw_and_forget(api, settings, clock, dkb):
    async with running_bot(api, settings, clock, dkb):
        for team in (TEAM, "wyh-culture"):
            await say(api, RESIDENT, f"/start join_{team}")
            await say(api, RESIDENT, "赵六")
            await say(api, RESIDENT, "13700137000", n=2)
            await press(api, RESIDENT, "va:evening")
            await press(api, RESIDENT, "va:done")
            await press(api, RESIDENT, "vc:yes")
            await press(api, RESIDENT, f"vk:{team}")
        (r,) = await say(api, RESIDENT, "/my")
        assert buttons(r) == ["vw:1", "vw:2"]
        (r,) = await press(api, RESIDENT, "vw:1")
        (r,) = await press(api, RESIDENT, "vy:1")
        assert "退出" in body(r) or "withdrawn" in body(r)
        (r,) = await say(api, RESIDENT, "/forget")
        assert "fg:yes" in buttons(r)
        (r,) = await press(api, RESIDENT, "fg:yes")
        assert "1" in body(r)
        (r,) = await say(api, RESIDENT, "/my")
        assert not buttons(r)
    async with open_assistant(settings, clock, dkb) as a:
        assert await a.volunteers.of_teams(None) == []


async def sign_up(api, uid: int, team: str, name: str, phone: str) -> None:
    await say(api, uid, f"/start join_{team}")
    await say(api, uid, name)
    await say(api, uid, phone, n=2)
    await press(api, uid, "va:weekend")
    await press(api, uid, "va:done")
    await press(api, uid, "vc:yes")
    (r,) = await press(api, uid, f"vk:{team}")
    assert "V0" in body(r)


async def test_cadre_export_and_refusals(api, settings, clock, dkb):
    async with running_bot(api, settings, clock, dkb):
        await say(api, int(ADMIN_ID), "/start")
        await sign_up(api, RESIDENT, TEAM, "甲", "13800138000")
        await sign_up(api, RESIDENT + 1, "wyh-culture", "乙", "13900139000")
        await promote(api, COORD, "district", "雨花区")
        await promote(api, OTHER, "district", "芙蓉区")
        (r,) = await say(api, COORD, "/volunteers")
        assert "红星村助老志愿队" in body(r) and buttons(r) == ["ve:csv", "ve:xlsx"]
        (doc,) = await press(api, COORD, "ve:csv")
        assert doc["method"] == "sendDocument"
        upload = api.uploads[-1]
        assert upload["chat_id"] == COORD and upload["filename"].endswith(".csv")
        table = list(csv.reader(io.StringIO(upload["data"].decode("utf-8-sig"))))
        assert table[0][0] == "报名编号"
        assert [(row[4], row[5]) for row in table[1:]] == [("甲", "13800138000")]
        (r,) = await press(api, RESIDENT, "ve:csv")  # a resident forging the button
        assert r["method"] == "sendMessage" and "甲" not in body(r)
        (r,) = await say(api, OTHER, "/volunteers")  # a cadre of another district
        assert "甲" not in body(r) and "红星村" not in body(r) and not buttons(r)
        (r,) = await press(api, OTHER, "ve:xlsx")
        assert r["method"] == "sendMessage"
        assert [u["chat_id"] for u in api.uploads] == [COORD]


async def test_console_sign_up(settings, clock, dkb):
    # typed search at the team step, then numbers for buttons: team 1, weekday daytime, Done,
    # I agree, Confirm
    lines = ["/volunteer", "友谊村", "1", "张三", "138 0013 8000", "1", "4", "1", "1"]
    out = io.StringIO()
    async with open_assistant(replace(settings), clock, dkb) as a:
        await run_console_chat(a, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out,
                          user_id="console-user", language_code="zh-hans")
        rows = await a.volunteers.of_teams(None)
    text = out.getvalue()
    assert "V000001" in text
    assert [(s.team_id, s.name, s.phone, s.availability) for s in rows] == [
        ("youyi-01", "张三", "13800138000", ("weekday_day",))]


def url_buttons(record) -> list[str]:
    markup = record["params"].get("reply_markup") or {}
    return [b["url"] for row in markup.get("inline_keyboard", []) for b in row if "url" in b]


async def test_personal_data_only_in_private_chats(api, settings, clock, dkb):
    group = -100555
    async with running_bot(api, settings, clock, dkb):
        await say(api, int(ADMIN_ID), "/start")
        await sign_up(api, RESIDENT, TEAM, "钱七", "13600136000")
        await promote(api, COORD, "district", "雨花区")
        for uid, command in ((RESIDENT, "/my"), (COORD, "/volunteers"), (RESIDENT, "/volunteer"),
                             (RESIDENT, f"/start join_{TEAM}")):
            api.push_text(uid, command, chat_type="group", chat_id=group)
            (r,) = await api.wait_replies(group)
            assert "钱七" not in body(r) and "13600136000" not in body(r)
            name = command.split()[-1].lstrip("/")
            assert url_buttons(r) == [f"https://t.me/civic_test_bot?start={name}"]
        api.push_callback(COORD, "ve:csv", chat_id=group)  # an old export button in the group
        (r,) = await api.wait_replies(group)
        assert r["method"] == "sendMessage" and url_buttons(r)
        assert api.uploads == []
        (r,) = await say(api, RESIDENT, "/start my")  # the link opens the private chat
        assert "红星村助老志愿队" in body(r) and buttons(r) == ["vw:1"]
        (r,) = await say(api, COORD, "/start volunteers")
        assert buttons(r) == ["ve:csv", "ve:xlsx"]


def database_files(settings) -> bytes:
    path = settings.bot_db
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


async def test_deleted_data_leaves_no_trace_in_the_database_files(api, settings, clock, dkb):
    name, phone = "孙八", "13500135000"
    async with running_bot(api, settings, clock, dkb):
        await sign_up(api, RESIDENT, TEAM, name, phone)
        await sign_up(api, RESIDENT, "wyh-culture", name, phone)
        for i in range(30):  # more traffic after the sign-up, as in a day's use
            await say(api, RESIDENT + 1, f"结婚登记要带什么{i}")
        assert name.encode() in database_files(settings)
        await say(api, RESIDENT, "/forget")
        (r,) = await press(api, RESIDENT, "fg:yes")
        assert "2" in body(r)
        files = database_files(settings)
        assert name.encode() not in files and phone.encode() not in files
        for i in range(30):
            await say(api, RESIDENT + 1, f"离婚冷静期多久{i}")
    files = database_files(settings)
    assert name.encode() not in files and phone.encode() not in files


async def test_invisible_characters_and_foreign_digits_over_telegram(api, settings, clock, dkb):
    async with running_bot(api, settings, clock, dkb):
        await say(api, RESIDENT, f"/start join_{TEAM}")
        (r,) = await say(api, RESIDENT, "\x00王\u202e小\u200b明\x07")
        assert "\x00" not in body(r) and "\u202e" not in body(r)
        (r,) = await say(api, RESIDENT, "138١٢٣٤٥٦٧٨")  # Arabic-Indic digits: asked again
        assert "11" in body(r)
        await say(api, RESIDENT, "13800138000", n=2)
        await press(api, RESIDENT, "va:weekend")
        await press(api, RESIDENT, "va:done")
        (r,) = await press(api, RESIDENT, "vc:yes")
        assert "王小明" in body(r)
        (r,) = await press(api, RESIDENT, f"vk:{TEAM}")
        assert "V0" in body(r)
    async with open_assistant(settings, clock, dkb) as a:
        (row,) = await a.volunteers.of_teams(None)
    assert (row.name, row.phone) == ("王小明", "13800138000")
