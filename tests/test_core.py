"""The channel-agnostic core through Assistant.handle, on a real SQLite file."""
from __future__ import annotations

import io
from datetime import timedelta

from app import open_assistant
from channels.console import ConsoleNotifier
from core.messages import Button, Incoming, Reply, User
from core.settings import Settings
from tests.conftest import ADMIN_ID, button, text


def payloads(replies):
    return [b.payload for r in replies for row in r.buttons for b in row]


async def test_start_greets_in_user_language_with_menu(assistant):
    zh = await assistant.handle(text("1", "/start", "zh-hans"))
    en = await assistant.handle(text("2", "/start", "en-GB"))
    other = await assistant.handle(text("3", "/start", "fr"))
    assert "您好" in zh[0].text and "Hello" in en[0].text and "您好" in other[0].text
    assert {"m:marriage", "m:disclosure", "m:community", "m:volunteer", "m:help"} <= set(
        payloads(zh))


async def test_lang_choice_is_remembered_across_restart(settings, clock, kb):
    async with open_assistant(settings, clock, kb) as a:
        r = await a.handle(button("5", "l:en", "zh-hans"))
        assert "English" in r[0].text
    async with open_assistant(settings, clock, kb) as a:
        r = await a.handle(text("5", "/help", "zh-hans"))
        assert "I answer questions" in r[0].text


async def test_free_text_answers_from_knowledge_base(assistant, kb):
    r = await assistant.handle(text("1", "结婚登记要带啥材料"))
    assert r[0].text == kb.entries["marriage.documents"].a_zh
    r = await assistant.handle(text("1", "how old do you have to be to get married", "en"))
    assert r[0].text == kb.entries["marriage.age"].a_en


async def test_off_topic_gets_fallback_with_hotline(assistant):
    r = await assistant.handle(text("1", "明天长沙会下雨吗"))
    assert "12345" in r[0].text and payloads(r)


async def test_place_question_asks_district_then_answers_after_restart(settings, clock, kb):
    async with open_assistant(settings, clock, kb) as a:
        r = await a.handle(text("9", "婚姻登记处在哪里"))
        assert "p:marriage.registry_local:yuelu" in payloads(r)
    async with open_assistant(settings, clock, kb) as a:  # restart mid-conversation
        r = await a.handle(text("9", "岳麓区"))
        assert "岳麓区" in r[0].text and "12345" in r[0].text


async def test_place_named_in_question_and_former_name(assistant):
    r = await assistant.handle(text("1", "望城县的婚姻登记处在哪"))
    assert "望城区" in r[0].text and "2011" in r[0].text
    r = await assistant.handle(button("1", "p:marriage.registry_local:ningxiang"))
    assert "宁乡市" in r[0].text


async def test_bad_input_gets_clear_answer(assistant):
    long = await assistant.handle(text("1", "婚" * 10_000))
    assert "too long" in long[0].text or "太长" in long[0].text
    empty = await assistant.handle(text("1", "🙂🙂🙂"))
    assert "文字" in empty[0].text
    sql = await assistant.handle(text("1", "'; DROP TABLE users; --"))
    assert "12345" in sql[0].text
    unknown = await assistant.handle(text("1", "/frobnicate"))
    assert "/help" in unknown[0].text
    for forged in ("e:no.such.entry", "p:marriage.registry_local:atlantis", "zz:1", "",
                   "m:nope", "l:fr", "p:marriage.documents:yuelu"):
        r = await assistant.handle(button("1", forged))
        assert "失效" in r[0].text, forged
    sticker = await assistant.handle(Incoming(User("console", "1", "zh"), "1", media="sticker"))
    assert "文字" in sticker[0].text
    assert (await assistant.users.get("console", "1")).role == "resident"


async def test_repeated_update_is_answered_once(assistant):
    msg = Incoming(User("telegram", "77", "zh"), "77", text="/start", update_id="500")
    assert await assistant.handle(msg)
    assert await assistant.handle(msg) == []


async def test_unexpected_error_becomes_apology(assistant, caplog, monkeypatch):
    def boom(*_a, **_k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(assistant.kb, "decide", boom)
    r = await assistant.handle(text("1", "结婚要带什么"))
    assert "抱歉" in r[0].text
    assert any("handler failed" in rec.message for rec in caplog.records)


async def test_admin_makes_cadre_and_resident_is_refused(assistant):
    await assistant.handle(text("200", "/start"))
    refused = await assistant.handle(text("201", "/promote 200 district 岳麓区"))
    assert "管理员" in refused[0].text
    assert (await assistant.users.get("console", "200")).role == "resident"
    # BOT_ADMINS holds Telegram ids: the same id on another channel is not an administrator
    r = await assistant.handle(text(ADMIN_ID, "/promote console:200 district 岳麓"))
    assert "管理员" in r[0].text
    assert (await assistant.users.get("console", "200")).role == "resident"


async def test_console_admin_via_channel_prefix(tmp_path, clock, kb):
    s = Settings(bot_db=tmp_path / "c.sqlite3", bot_admins=frozenset({"console:boss"}))
    async with open_assistant(s, clock, kb) as a:
        await a.handle(text("200", "/start"))
        r = await a.handle(text("boss", "/promote console:200 city"))
        assert "长沙市" in r[0].text
        assert (await a.users.get("console", "200")).role == "cadre"


async def test_admin_commands_on_telegram_user(assistant):
    admin = lambda body: text(ADMIN_ID, body, channel="telegram")  # noqa: E731
    await assistant.handle(text("300", "/start", channel="telegram"))
    r = await assistant.handle(admin("/promote 300 district 岳麓"))
    assert "长沙市/岳麓区" in r[0].text
    assert (await assistant.users.get("telegram", "300")).role == "cadre"
    r = await assistant.handle(admin("/promote 300 village 岳麓区/某街道"))
    assert "/" in r[0].text and (await assistant.users.areas_of(
        (await assistant.users.get("telegram", "300")).id)).__len__() == 1
    r = await assistant.handle(admin("/promote 300 district 火星区"))
    assert "不是长沙市" in r[0].text
    r = await assistant.handle(admin("/cadres"))
    assert "telegram:300" in r[0].text
    r = await assistant.handle(text("300", "/whoami", channel="telegram"))
    assert "干部" in r[0].text and "岳麓区" in r[0].text
    r = await assistant.handle(admin("/demote 300"))
    assert "1" in r[0].text
    assert (await assistant.users.get("telegram", "300")).role == "resident"
    r = await assistant.handle(admin("/promote 999999 district 岳麓区"))
    assert "/start" in r[0].text


async def test_console_notifier_prints_buttons_as_numbers():
    out = io.StringIO()
    await ConsoleNotifier(out).notify("local", [Reply("提醒", buttons=((Button("好", "x:1"),),))])
    assert out.getvalue().splitlines() == ["提醒", "  [1] 好"]


async def test_old_update_ids_are_pruned_at_start(settings, clock, kb):
    msg = Incoming(User("telegram", "88", "zh"), "88", text="/start", update_id="777")
    async with open_assistant(settings, clock, kb) as a:
        assert await a.handle(msg)
    async with open_assistant(settings, clock, kb) as a:  # a restart soon after: still known
        assert await a.handle(msg) == []
    clock.advance(timedelta(days=3))
    async with open_assistant(settings, clock, kb) as a:  # days later the id was forgotten
        assert await a.handle(msg)
