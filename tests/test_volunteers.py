"""Volunteer sign-up through the core (Assistant.handle), on a real SQLite file."""
from __future__ import annotations

import asyncio
import csv
import io
import logging
from dataclasses import replace
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from app import open_assistant
from core.logs import setup_logging
from core.messages import Incoming, User
from handlers.volunteer_steps import check_name, normalise_phone
from services.roles import grant
from tests.conftest import button, contact, joined, payloads, text

PHONE = "13800138000"
TEAM = "hongxing-elderly"  # 雨花区 / 红星村 in tests/data/directory


async def sign_up(a, uid: str, team: str = TEAM, name: str = "张三", phone: str = PHONE,
                  slots: tuple[str, ...] = ("weekend",)) -> list:
    """The whole flow with buttons; returns the final replies."""
    steps = [button(uid, f"vj:{team}"), text(uid, name), text(uid, phone),
             *(button(uid, f"va:{s}") for s in slots), button(uid, "va:done"),
             button(uid, "vc:yes"), button(uid, f"vk:{team}")]
    replies: list = []
    for msg in steps:
        replies = await a.handle(msg)
    return replies


async def make_cadre(a, uid: str, level: str, area: str) -> None:
    await a.handle(text(uid, "/start"))
    user = await a.users.get("console", uid)
    await grant(a.users, a.kb.gazetteer, user, level, area, a.clock.now(), by=None)


def test_phone_and_name_rules():
    assert normalise_phone("138 0013 8000") == PHONE
    assert normalise_phone("+86 138-0013-8000") == PHONE
    assert normalise_phone("008613800138000") == PHONE
    assert normalise_phone("１３８００１３８０００") == PHONE
    for bad in ("12800138000", "1380013800", "138001380001", "0731-88888888", "abc", ""):
        assert normalise_phone(bad) is None, bad
    assert check_name("  张  三 ")[0] == "张 三"
    for bad in ("12345", "张三13800138000", "x" * 41, "😀😀", "'; DROP TABLE users;--", None):
        assert check_name(bad)[0] is None, bad


async def test_whole_sign_up_stores_once_and_tells_the_coordinator(dassistant):
    a = dassistant
    await make_cadre(a, "c-hx", "village", "雨花区/某街道/红星村")
    r = await a.handle(text("u1", "/volunteer"))
    assert f"vj:{TEAM}" in payloads(r)
    r = await a.handle(button("u1", f"vj:{TEAM}"))
    assert "1" in r[0].text and "红星村助老志愿队" in r[0].text
    r = await a.handle(text("u1", "王小明"))
    assert r[0].ask == "contact"
    r = await a.handle(text("u1", "12345"))  # wrong number: asked again, nothing lost
    assert "11" in r[0].text
    assert (await a.dialogs.get((await a.users.get("console", "u1")).id, a.clock.now())).step \
        == "phone"
    r = await a.handle(text("u1", "138-0013-8000"))
    assert r[0].clear_keyboard and "va:done" in payloads(r)
    r = await a.handle(button("u1", "va:done"))  # none chosen yet
    assert "va:weekend" in payloads(r)
    await a.handle(button("u1", "va:weekend"))
    r = await a.handle(button("u1", "va:evening"))
    assert "✅" in r[0].buttons[1][0].label and "✅" in r[0].buttons[2][0].label
    r = await a.handle(button("u1", "va:done"))
    assert {"vc:yes", "vc:no"} == set(payloads(r)) and "/forget" in r[0].text
    r = await a.handle(button("u1", "vc:yes"))
    assert PHONE in r[0].text and "王小明" in r[0].text and f"vk:{TEAM}" in payloads(r)
    r = await a.handle(button("u1", f"vk:{TEAM}"))
    assert "V000001" in r[0].text
    rows = await a.volunteers.of_teams([TEAM])
    assert [(s.name, s.phone, s.availability) for s in rows] == [
        ("王小明", PHONE, ("evening", "weekend"))]
    (note,) = a.notes.texts_to("c-hx")
    assert "王小明" in note and PHONE in note and "V000001" in note
    # confirm pressed again, and a re-delivered update: still one sign-up
    r = await a.handle(button("u1", f"vk:{TEAM}"))
    assert "V000001" in r[0].text
    dup = Incoming(User("console", "u1", "zh-hans"), "u1", payload=f"vk:{TEAM}", update_id="77")
    assert await a.handle(dup) and await a.handle(dup) == []
    r = await a.handle(button("u1", f"vj:{TEAM}"))  # joining again
    assert "V000001" in r[0].text
    assert len(await a.volunteers.of_teams(None)) == 1
    assert len(a.notes.sent) == 1


async def test_cancel_consent_refused_and_bad_input_store_nothing(dassistant):
    a = dassistant
    await a.handle(button("u2", f"vj:{TEAM}"))
    await a.handle(text("u2", "李四"))
    r = await a.handle(text("u2", "/cancel"))
    assert r[0].clear_keyboard and "取消" in r[0].text
    assert await a.handle(button("u2", "va:done")) and not await a.volunteers.of_user(
        (await a.users.get("console", "u2")).id)
    await a.handle(button("u2", f"vj:{TEAM}"))
    for junk in ("x" * 10_000, "😀", "Robert'); DROP TABLE volunteer_signups;--"):
        r = await a.handle(text("u2", junk))
        assert r and r[0].text
    r = await a.handle(Incoming(User("console", "u2", "zh-hans"), "u2", media="sticker"))
    assert r[0].text
    await a.handle(text("u2", "李四"))
    r = await a.handle(contact("u2", "+8613900139000", owner="someone-else"))
    assert "someone" not in r[0].text and r[0].text  # refused, asked again
    r = await a.handle(contact("u2", "+86 139 0013 9000"))  # own contact accepted
    assert "va:done" in payloads(r)
    await a.handle(button("u2", "va:weekday_day"))
    await a.handle(button("u2", "va:done"))
    r = await a.handle(button("u2", "vc:no"))
    assert await a.volunteers.of_teams(None) == []
    assert await a.dialogs.get((await a.users.get("console", "u2")).id, a.clock.now()) is None
    # stale and forged buttons
    for forged in ("vk:hongxing-elderly", "vj:../../etc", "va:everything", "vy:1", "vw:abc",
                   "ve:pdf", "vp:-1", "sd:nowhere"):
        r = await a.handle(button("u2", forged))
        assert r and r[0].text, forged
    assert await a.volunteers.of_teams(None) == []


async def test_restart_in_the_middle_resumes(settings, clock, dkb):
    async with open_assistant(settings, clock, dkb) as a:
        await a.handle(button("u3", f"vj:{TEAM}"))
        await a.handle(text("u3", "赵六"))
    async with open_assistant(settings, clock, dkb) as a:  # the bot restarted
        r = await a.handle(text("u3", PHONE))
        assert "va:done" in payloads(r)
        await a.handle(button("u3", "va:weekend"))
        await a.handle(button("u3", "va:done"))
        await a.handle(button("u3", "vc:yes"))
        r = await a.handle(button("u3", f"vk:{TEAM}"))
        assert "V000001" in r[0].text
        assert [s.name for s in await a.volunteers.of_teams(None)] == ["赵六"]


async def test_abandoned_flow_expires_after_a_day(dassistant, clock):
    a = dassistant
    await a.handle(button("u4", f"vj:{TEAM}"))
    clock.advance(timedelta(hours=25))
    r = await a.handle(text("u4", "结婚登记要带什么"))  # a question again, not a name
    assert "身份证" in joined(r)


async def test_deep_link_capacity_and_paging(dassistant):
    a = dassistant
    r = await a.handle(text("u5", "/start join_gaoqiao-kids"))
    assert "高桥村护苗队" in r[0].text
    r = await a.handle(text("u6", "/start join_no-such-team"))
    assert any(p.startswith("vj:") for p in payloads(r))
    await sign_up(a, "u5", "gaoqiao-kids")
    await sign_up(a, "u7", "gaoqiao-kids")
    r = await a.handle(button("u8", "vj:gaoqiao-kids"))  # capacity 2: full
    assert "满" in r[0].text or "full" in r[0].text
    assert len(await a.volunteers.of_teams(["gaoqiao-kids"])) == 2
    r = await a.handle(text("u9", "/volunteer"))
    first = [p for p in payloads(r) if p.startswith("vj:")]
    assert len(first) == 8 and "vp:1" in payloads(r)
    r = await a.handle(button("u9", "vp:1"))
    second = [p for p in payloads(r) if p.startswith("vj:")]
    assert second and not set(first) & set(second)
    r = await a.handle(text("u9", "友谊村"))  # typed search at the team step
    assert {p for p in payloads(r) if p.startswith("vj:")} <= {f"vj:youyi-{i:02d}"
                                                             for i in range(1, 11)}


async def test_free_text_wish_starts_the_sign_up(dassistant):
    r = await dassistant.handle(text("u10", "我想当志愿者"))
    assert any(p.startswith("vj:") for p in payloads(r))
    assert "志愿服务" in r[0].text


async def test_my_withdraw_and_forget(dassistant):
    a = dassistant
    await make_cadre(a, "c-hx2", "village", "雨花区/某街道/红星村")
    await sign_up(a, "u11")
    await sign_up(a, "u11", "wyh-culture")
    await sign_up(a, "u12", name="别人")
    r = await a.handle(text("u11", "/my"))
    assert "V000001" in r[0].text and len(payloads(r)) == 2
    other = (await a.volunteers.of_user((await a.users.get("console", "u12")).id))[0]
    r = await a.handle(button("u11", f"vy:{other.id}"))  # forged: someone else's sign-up
    assert await a.volunteers.get(other.id) is not None
    r = await a.handle(button("u11", "vw:1"))
    assert "vy:1" in payloads(r)
    r = await a.handle(button("u11", "vy:1"))
    assert await a.volunteers.get(1) is None
    assert any("V000001" in t and "撤回" in t or "withdrawn" in t
               for t in a.notes.texts_to("c-hx2"))
    r = await a.handle(text("u11", "/forget"))
    assert "1" in r[0].text and "fg:yes" in payloads(r)
    r = await a.handle(button("u11", "fg:yes"))
    assert "1" in r[0].text
    assert await a.users.get("console", "u11") is None
    assert [s.name for s in await a.volunteers.of_teams(None)] == ["别人"]


async def test_cadres_see_only_their_area_and_export(dassistant):
    a = dassistant
    await sign_up(a, "r1", name="甲")
    await sign_up(a, "r2", "wyh-culture", name="乙")
    await make_cadre(a, "yuhua", "district", "雨花区")
    await make_cadre(a, "yuelu", "district", "岳麓区")
    await make_cadre(a, "street", "township", "岳麓区/望月湖街道")
    await make_cadre(a, "wrong-street", "township", "岳麓区/别的街道")
    await make_cadre(a, "city", "city", "")

    async def names(uid: str, fmt: str = "csv") -> list[str]:
        r = await a.handle(button(uid, f"ve:{fmt}"))
        if r[0].document is None:
            return []
        doc = r[0].document
        if fmt == "csv":
            assert doc.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads Chinese right
            table = list(csv.reader(io.StringIO(doc.content.decode("utf-8-sig"))))
            return sorted(row[4] for row in table[1:])
        ws = load_workbook(io.BytesIO(doc.content)).active
        return sorted(str(row[4]) for row in ws.iter_rows(min_row=2, values_only=True))

    assert await names("yuhua") == ["甲"]
    assert await names("yuelu") == ["乙"]
    assert await names("street", "xlsx") == ["乙"]
    assert await names("wrong-street") == []
    assert await names("city") == ["乙", "甲"]
    await a.handle(text("admin", "/start"))  # console:admin is in BOT_ADMINS (conftest)
    assert await names("admin", "xlsx") == ["乙", "甲"]
    r = await a.handle(text("r1", "/volunteers"))  # a resident
    assert r[0].document is None and not payloads(r) and "甲" not in r[0].text
    assert await names("r1") == []
    r = await a.handle(text("yuhua", "/volunteers"))
    assert "1" in r[0].text and "红星村助老志愿队" in r[0].text and "望月湖" not in r[0].text


async def test_personal_data_never_logged(dassistant, capsys):
    """The bot's own logging set-up at DEBUG (aiosqlite would log SQL parameters there)."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging("DEBUG", [])
    try:
        await make_cadre(dassistant, "c-log", "district", "雨花区")
        await sign_up(dassistant, "u20", name="钱七", phone="13912345678")
        await dassistant.handle(text("u20", "/my"))
        await dassistant.handle(button("u20", "fg:yes"))
        logging.getLogger("test").info("a stray number 13912345678 gets masked")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "sign-up V000001 stored" in err and "139****5678" in err
    assert "13912345678" not in err and "钱七" not in err


async def test_two_hundred_concurrent_sign_ups(settings, clock, dkb):
    settings = replace(settings, bot_admins=frozenset())
    async with open_assistant(settings, clock, dkb) as a:
        users = [f"p{i}" for i in range(200)]
        results = await asyncio.gather(*(sign_up(a, u, phone=f"139{i:08d}")
                                         for i, u in enumerate(users)))
        assert all("V" in r[0].text for r in results)
        # and each presses confirm once more, concurrently
        await asyncio.gather(*(a.handle(button(u, f"vk:{TEAM}")) for u in users))
        rows = await a.volunteers.of_teams([TEAM])
        assert len(rows) == 200
        assert len({(s.user_id, s.team_id) for s in rows}) == 200
        assert sorted(s.phone for s in rows) == sorted(f"139{i:08d}" for i in range(200))


@pytest.mark.parametrize("lang", ["en"])
async def test_english_sign_up(dassistant, lang):
    a = dassistant
    r = await a.handle(text("e1", "/volunteer", lang="en-US"))
    assert r[0].text.startswith("Choose a volunteer team")
    await a.handle(button("e1", f"vj:{TEAM}", lang="en-US"))
    r = await a.handle(text("e1", "Mary Smith", lang="en-US"))
    assert "mobile" in r[0].text


def test_digits_other_than_ascii_are_no_mobile_number():
    for bad in ("138١٢٣٤٥٦٧٨", "१३८००१३८०००", "๑๓๘๐๐๑๓๘๐๐๐", "138\u00000138000"):
        assert normalise_phone(bad) is None, bad


async def test_invisible_characters_are_removed_before_a_name_is_checked(dassistant):
    a = dassistant
    r = await sign_up(a, "u-nul", name="\x00张\u200b三\u202e\x07")
    assert any("V0" in x.text for x in r)
    (row,) = await a.volunteers.of_teams(None)
    assert row.name == "张三"
    r = await a.handle(text("u-nul2", "/volunteer"))
    for msg in (button("u-nul2", f"vj:{TEAM}"), text("u-nul2", "\x00\u202e\u200b")):
        r = await a.handle(msg)
    assert "姓名" in r[0].text  # asked again, not an apology
    assert not await a.volunteers.of_user((await a.users.get("console", "u-nul2")).id)


async def test_a_withdrawn_reference_number_is_never_given_again(dassistant):
    a = dassistant
    r = await sign_up(a, "u-a")
    assert "V000001" in r[-1].text
    (mine,) = await a.volunteers.of_user((await a.users.get("console", "u-a")).id)
    await a.volunteers.withdraw(mine.id, mine.user_id)
    r = await sign_up(a, "u-b", name="王五")
    assert "V000002" in r[-1].text and "V000001" not in r[-1].text


async def test_a_sign_up_nobody_hears_of_waits_for_the_first_administrator(dassistant):
    a = dassistant
    r = await sign_up(a, "u-alone", name="周一")
    assert "V000001" in r[-1].text and "管理员" in r[-1].text  # the promise fits what happened
    assert not a.notes.sent
    r = await sign_up(a, "u-gone", name="吴二", phone="13900139001")
    await a.handle(text("u-gone", "/forget"))
    await a.handle(button("u-gone", "fg:yes"))
    await a.handle(text("admin", "/start"))  # console:admin writes for the first time
    notices = a.notes.texts_to("admin")
    assert len(notices) == 1 and "周一" in notices[0] and "吴二" not in notices[0]
    await a.handle(text("admin", "/help"))
    assert len(a.notes.texts_to("admin")) == 1  # passed on once


async def test_volunteers_listing_in_words(dassistant):
    a = dassistant
    await make_cadre(a, "c-yh", "district", "雨花区")
    await sign_up(a, "u-w1", name="郑三")
    (r,) = await a.handle(text("c-yh", "/volunteers"))
    assert "共1人" in r.text and " / 0" not in r.text and "W" not in r.text.split("：", 1)[1]
