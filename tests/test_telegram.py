"""The real python-telegram-bot Application against a fake Bot API on 127.0.0.1."""
from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import subprocess
import sys
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest

from app import open_runtime
from channels.telegram import TelegramChannel, build_application
from core.logs import RedactingFormatter
from core.messages import Button, Reply
from storage.db import open_database
from storage.users import UserRepo
from tests.conftest import ADMIN_ID, ROOT
from tests.fake_bot_api import FakeBotAPI

TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"


@asynccontextmanager
async def running_bot(api: FakeBotAPI, settings, clock, kb):
    """The bot as `python bot.py` runs it, polling the fake until the block ends."""
    s = replace(settings, telegram_bot_token=TOKEN, telegram_base_url=api.base_url)
    async with open_runtime(s, clock, kb) as runtime:
        channel = TelegramChannel(runtime, s, build_application(s, poll_timeout=1))
        stop = asyncio.Event()
        task = asyncio.create_task(channel.run(stop, poll_timeout=1))
        try:
            await api.wait_for(lambda sent: any(x["method"] == "setMyCommands" for x in sent)
                               and api.calls["getUpdates"] > 0)
            yield channel
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


@pytest.fixture
async def api():
    async with FakeBotAPI() as fake:
        yield fake


async def say(api, uid: int, body: str, n: int = 1) -> list[dict]:
    """A user's text, and the bot's next n replies to them."""
    api.push_text(uid, body)
    return await api.wait_replies(uid, n)


async def press(api, uid: int, data: str, n: int = 1) -> list[dict]:
    """A button press, and the bot's next n replies."""
    api.push_callback(uid, data)
    return await api.wait_replies(uid, n)


def body(record: dict) -> str:
    return record["params"].get("text") or record["params"].get("caption") or ""


def buttons(record) -> list[str]:
    markup = record["params"].get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def test_start_menu_buttons_and_commands_in_both_languages(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb):
        api.push_text(11, "/start", language_code="zh-hans")
        (reply,) = await api.wait_replies(11)
        assert "您好" in reply["params"]["text"]
        assert {"m:marriage", "m:disclosure", "m:community", "m:volunteer", "m:help"} <= set(
            buttons(reply))
        api.push_text(12, "/start", language_code="en-US")
        (reply,) = await api.wait_replies(12)
        assert reply["params"]["text"].startswith("Hello")
    assert {c["command"] for c in api.commands["en"]} >= {"start", "help", "lang"}
    zh = {c["command"]: c["description"] for c in api.commands["zh"]}
    assert zh["help"] == "我能做什么"
    en = {c["command"]: c["description"] for c in api.commands["en"]}
    assert en["help"] == "What I can do"


async def test_button_press_answers_callback_and_replies(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb):
        api.push_text(21, "/start")
        await api.wait_replies(21)
        api.push_callback(21, "m:marriage")
        (topic,) = await api.wait_replies(21)
        assert "e:marriage.documents" in buttons(topic)
        api.push_callback(21, "e:marriage.documents")
        (answer,) = await api.wait_replies(21)
        assert answer["params"]["text"] == kb.entries["marriage.documents"].a_zh
        api.push_callback(21, "e:forged.entry")
        (stale,) = await api.wait_replies(21)
        assert "失效" in stale["params"]["text"]
        await api.wait_for(lambda _s: len(api.callback_answers) == 3)


async def test_english_path_and_lang_switch(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb):
        api.push_text(31, "is there a waiting period before a divorce", language_code="en")
        (r,) = await api.wait_replies(31)
        assert r["params"]["text"] == kb.entries["divorce.cooling_off"].a_en
        api.push_text(31, "/lang", language_code="en")
        (r,) = await api.wait_replies(31)
        assert buttons(r) == ["l:zh", "l:en"]
        api.push_callback(31, "l:zh", language_code="en")
        (r,) = await api.wait_replies(31)
        assert "中文" in r["params"]["text"]
        api.push_text(31, "/help", language_code="en")
        (r,) = await api.wait_replies(31)
        assert "我可以解答" in r["params"]["text"]


async def test_restart_with_same_database_keeps_conversation(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb):
        api.push_text(41, "婚姻登记处在哪里")
        (r,) = await api.wait_replies(41)
        assert "p:marriage.registry_local:kaifu" in buttons(r)
    async with running_bot(api, settings, clock, kb):
        api.push_text(41, "开福区")
        (r,) = await api.wait_replies(41)
        assert "开福区" in r["params"]["text"] and "12345" in r["params"]["text"]


async def test_bad_inputs(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb):
        for push in (api.push_sticker, api.push_photo, api.push_voice, api.push_document):
            push(51)
            (r,) = await api.wait_replies(51)
            assert "文字" in r["params"]["text"]
        api.push_text(51, "结婚" * 2500)  # 5,000 characters
        (r,) = await api.wait_replies(51)
        assert "太长" in r["params"]["text"]
        for body in ("🎉🎉🎉", "' OR 1=1; DROP TABLE users; --", "/nosuchcommand"):
            api.push_text(51, body)
            (r,) = await api.wait_replies(51)
            assert r["params"]["text"]
        api.push_callback(51, "p:marriage.registry_local:../../etc")
        (r,) = await api.wait_replies(51)
        assert "失效" in r["params"]["text"]
        api.push_location(51, 28.2, 112.9)  # no service point has coordinates yet: says so
        honest, districts = await api.wait_replies(51, 2)
        assert "坐标" in honest["params"]["text"]
        assert "sd:yuhua" in buttons(districts)
        api.push_contact(51, "+8613800138000")  # a contact outside a sign-up: not stored
        (r,) = await api.wait_replies(51)
        assert "13800138000" not in r["params"]["text"]


async def test_repeated_update_answered_once(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb):
        uid = api.push_text(61, "/start")
        await api.wait_replies(61)
        update = {"update_id": uid, "message": {
            "message_id": 9001, "date": 1764400000, "text": "/start",
            "chat": {"id": 61, "type": "private"},
            "from": {"id": 61, "is_bot": False, "first_name": "T", "language_code": "zh"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
        api.push_raw_update(update)
        api.push_text(61, "/help")  # handled after the repeated update (one user, in order)
        (r,) = await api.wait_replies(61)
        assert "/lang" in r["params"]["text"]  # the help, not a second greeting
        await api.expect_no_replies(61, within=0)


async def test_groups_only_commands_and_mentions(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb):
        api.push_text(71, "大家好，今天吃什么", chat_type="group", chat_id=-100)
        api.push_text(71, "@civic_test_bot 结婚登记要带什么材料", chat_type="group",
                      chat_id=-100)
        (r,) = await api.wait_replies(-100)
        assert r["params"]["text"] == kb.entries["marriage.documents"].a_zh
        api.push_text(71, "/help@civic_test_bot", chat_type="group", chat_id=-100)
        (r,) = await api.wait_replies(-100)
        assert "/lang" in r["params"]["text"]
        await api.expect_no_replies(-100, within=0)  # two replies in all: the chatter got none


async def test_admin_roles_over_telegram(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb):
        api.push_text(81, "/start")
        await api.wait_replies(81)
        api.push_text(81, "/promote 81 district 岳麓区")
        (r,) = await api.wait_replies(81)
        assert "管理员" in r["params"]["text"]
        api.push_text(int(ADMIN_ID), "/promote 81 district 岳麓区")
        (r,) = await api.wait_replies(int(ADMIN_ID))
        assert "长沙市/岳麓区" in r["params"]["text"]
        api.push_text(81, "/whoami")
        (r,) = await api.wait_replies(81)
        assert "干部" in r["params"]["text"]


async def test_api_errors_are_retried_and_bot_keeps_running(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb):
        api.fail_next("sendMessage", 502, times=1)
        api.push_text(91, "/start")
        (r,) = await api.wait_replies(91, timeout=10)
        assert "您好" in r["params"]["text"]
        api.fail_next("sendMessage", 429, retry_after=1, times=1)
        api.push_text(91, "/help")
        (r,) = await api.wait_replies(91, timeout=10)
        assert "/lang" in r["params"]["text"]
        api.blocked_chats.add(92)
        api.push_text(92, "/start")
        await api.wait_for(lambda _s: any(x.get("status") == 403 for x in api.rejected))
        api.push_text(91, "结婚登记要带什么材料")
        (r,) = await api.wait_replies(91)
        assert r["params"]["text"] == kb.entries["marriage.documents"].a_zh


async def test_token_never_logged(api, settings, clock, kb):
    """httpx logs request URLs, which hold the token: our formatter must hide it."""

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(RedactingFormatter("%(name)s %(message)s", [TOKEN]))
    root, httpx_log = logging.getLogger(), logging.getLogger("httpx")
    old_level, old_httpx = root.level, httpx_log.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    httpx_log.setLevel(logging.DEBUG)
    try:
        async with running_bot(api, settings, clock, kb):
            api.push_text(95, "/start")
            await api.wait_replies(95)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        httpx_log.setLevel(old_httpx)
    text = out.getvalue()
    assert "getUpdates" in text and "<token>" in text  # the URLs were logged, redacted
    assert TOKEN not in text and TOKEN.split(":")[1] not in text


async def test_bot_process_stops_cleanly_on_sigterm(api, tmp_path):
    """`python bot.py` with a token polls the fake; SIGTERM closes it with exit code 0."""

    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.base_url,
           "BOT_HTTP_PORT": "0",
           "BOT_DB": str(tmp_path / "p.sqlite3")}
    # A real process, so that SIGTERM reaches a real bot; Popen returns at once.
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py")], env=env,  # noqa: ASYNC220
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        await api.wait_for(lambda _s: api.calls["getUpdates"] > 0, timeout=30)
        api.push_text(7, "结婚登记要带什么材料")
        (r,) = await api.wait_replies(7, timeout=15)
        assert "身份证" in r["params"]["text"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.get_running_loop().run_in_executor(None, proc.communicate)
    assert proc.returncode == 0, err
    assert TOKEN not in err and "database closed" in err

    db = await open_database(tmp_path / "p.sqlite3")  # not corrupt, the user is there
    assert await UserRepo(db).get("telegram", "7") is not None
    await db.close()


async def test_notifier_sends_messages_the_bot_starts(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb) as channel:
        await channel.notify("4242", [Reply("提醒：季度督查",
                                            buttons=((Button("OK", "menu:"),),))])
        (r,) = await api.wait_replies(4242)
        assert r["params"]["text"] == "提醒：季度督查" and buttons(r) == ["menu:"]
