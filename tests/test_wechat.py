"""The WeChat Official Account channel end to end: the real aiohttp server and the real
channel, a fake of WeChat's API servers, and a client that signs and encrypts as WeChat does
(with wechatpy, an implementation independent of ours)."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import httpx
import pytest
from wechatpy.crypto import WeChatCrypto  # type: ignore[import-untyped]

from app import open_runtime, tidy
from channels.durable import Runtime
from channels.telegram import TelegramChannel, build_application
from channels.web import WebServer
from channels.wechat import WeChatApi, WeChatChannel, menu, picks, publish_menu, render
from channels.wechat_protocol import Crypto, Passive, ProtocolError, parse_xml, split_text
from core.messages import Button, Reply
from core.outbox import SendResult
from storage.db import open_database
from storage.wechat import WeChatRepo
from tests.conftest import ROOT
from tests.fake_bot_api import FakeBotAPI
from tests.fake_wechat import FakeWeChatAPI, WeChatClient
from tests.test_telegram import TOKEN as TG_TOKEN
from tests.test_telegram import body, press, say

TOKEN = "wxtesttoken"
AES_KEY = base64.b64encode(b"k" * 32).decode().rstrip("=")
USER = "oUser0000000000000000000001"


@pytest.fixture
async def api():
    async with FakeWeChatAPI() as fake:
        yield fake


def wechat_settings(settings, api, *, safe: bool = False, **kw):
    return replace(settings, wechat_token=TOKEN, wechat_app_id=api.app_id,
                   wechat_app_secret=api.app_secret, wechat_api_base=api.base_url,
                   wechat_aes_key=AES_KEY if safe else None, bot_http_port=0, **kw)


@dataclass
class Running:
    """The client WeChat would be, and the bot it talks to."""

    client: WeChatClient
    channel: WeChatChannel
    runtime: Runtime
    server: WebServer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@contextlib.asynccontextmanager
async def running(settings, clock, kb, api, *, safe=False, **kw):
    """The channel behind the web server, as `python bot.py` runs it; yields a client."""
    s = wechat_settings(settings, api, safe=safe, **kw)
    async with open_runtime(s, clock, kb) as runtime:
        channel = WeChatChannel(runtime, s)
        server = WebServer("127.0.0.1", 0, runtime.db, [channel.routes],
                           lambda: {"wechat": True})
        await server.start()
        stop = asyncio.Event()
        task = asyncio.ensure_future(channel.run(stop))
        try:
            async with WeChatClient(f"http://127.0.0.1:{server.port}/wechat", token=TOKEN,
                                    app_id=api.app_id, aes_key=AES_KEY if safe else None,
                                    api=api) as client:
                yield Running(client, channel, runtime, server)
        finally:
            await server.stop()
            stop.set()
            await asyncio.wait_for(task, 15)


# --- the protocol, against wechatpy --------------------------------------------------------
def test_our_encryption_is_wechats():
    ours = Crypto(TOKEN, "wxappid", [AES_KEY])
    theirs = WeChatCrypto(TOKEN, AES_KEY, "wxappid")
    reply = ours.encrypt("<xml><Content><![CDATA[你好]]></Content></xml>".encode(), "1700000000",
                         "n0nce")
    assert "你好" in theirs.decrypt_message(reply.decode(), _signature_of(reply), "1700000000",
                                           "n0nce")
    pushed = theirs.encrypt_message("<xml><a>长沙</a></xml>", "n2", "1700000001")
    fields = parse_xml(pushed.encode())
    plain, key = ours.decrypt(fields["Encrypt"], fields["MsgSignature"], "1700000001", "n2")
    assert parse_xml(plain) == {"a": "长沙"} and key == 0
    with pytest.raises(ProtocolError):
        ours.decrypt(fields["Encrypt"], "0" * 40, "1700000001", "n2")
    with pytest.raises(ProtocolError):  # another account's app id
        Crypto(TOKEN, "wxother", [AES_KEY]).decrypt(fields["Encrypt"], fields["MsgSignature"],
                                                    "1700000001", "n2")
    rotated = Crypto(TOKEN, "wxappid", [base64.b64encode(b"n" * 32).decode()[:43], AES_KEY])
    plain, key = rotated.decrypt(fields["Encrypt"], fields["MsgSignature"], "1700000001", "n2")
    assert parse_xml(plain) == {"a": "长沙"} and key == 1  # the previous key
    reply = rotated.encrypt(b"<xml><a>1</a></xml>", "1700000002", "n3", key=key)
    assert "<a>1</a>" in theirs.decrypt_message(reply.decode(), _signature_of(reply),
                                                 "1700000002", "n3")  # answered in it


def _signature_of(reply: bytes) -> str:
    return parse_xml(reply)["MsgSignature"]


def test_xml_with_entities_or_dtd_is_refused():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Content>&b;</Content></xml>')
    external = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                b'<xml><Content>&e;</Content></xml>')
    for doc in (bomb, external, b"<xml><a>unclosed</xml>", b"", b"\xff\xfe"):
        with pytest.raises(ProtocolError):
            parse_xml(doc)


def test_split_text_keeps_characters_and_limit():
    text = "长沙市民政局" * 700 + "\n" + "end 🙂" * 100
    parts = split_text(text)
    assert all(len(p.encode()) <= 2048 for p in parts) and len(parts) >= 3
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_picks_read_numbers_as_wechat_users_type_them():
    assert picks("2") == [2] and picks("２") == [2] and picks("二") == [2]
    assert picks("1 3") == [1, 3] and picks("1、3，4") == [1, 3, 4] and picks(" 5. ") == [5]
    assert picks("结婚登记") is None and picks("2 号") is None and picks("13800138000") is None


def test_buttons_become_numbered_lines_across_replies():
    out, choices = render([
        Reply("A", buttons=((Button("one", "p:1"), Button("two", "p:2")),)),
        Reply("B", buttons=((Button("three", "p:3"),),), multi=True)])
    assert [r.text.splitlines()[:3] for r in out][0] == ["A", "1. one", "2. two"]
    assert "3. three" in out[1].text and "1 3" in out[1].text  # how to pick several
    assert choices.payloads == ("p:1", "p:2", "p:3") and choices.multi
    assert not any(r.buttons for r in out)


def test_menu_fits_wechats_limits(kb):
    body = menu(kb)
    assert 1 <= len(body["button"]) <= 3
    for top in body["button"]:
        assert len(top["name"].encode()) <= 16 and 1 <= len(top["sub_button"]) <= 5
        for sub in top["sub_button"]:
            assert len(sub["name"].encode()) <= 60 and len(sub["key"].encode()) <= 128


# --- through the real server ----------------------------------------------------------------
async def test_url_verification(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        assert await wx.verify("echo123") == (200, "echo123")
        status, _body = await wx.verify("echo123", bad_signature=True)
        assert status == 403


@pytest.mark.parametrize("safe", [False, True])
async def test_a_question_is_answered_in_the_response(settings, clock, kb, api, safe):
    async with running(settings, clock, kb, api, safe=safe) as wx:
        r = await wx.send_text(USER, "结婚登记要带什么材料")
        assert r.status == 200 and r.msg_type == "text" and "身份证" in r.text
        assert r.to_user == USER and r.elapsed < 5
        assert r.encrypted == safe
        assert api.sent_to(USER) == []  # nothing went by customer-service messages


@pytest.mark.parametrize("safe", [False, True])
async def test_forged_requests_are_refused_and_not_processed(settings, clock, kb, api, safe):
    async with running(settings, clock, kb, api, safe=safe) as wx:
        xml = wx.build_xml(USER, "text", [("Content", "结婚登记要带什么")])
        r = await wx.post_xml(xml, forge=True)
        assert r.status == 403
        r = await wx.post_xml(xml, query_override={"signature": None})
        assert r.status == 403
        assert await wx.runtime.inbox.counts("wechat") == {}
        assert (await wx.send_text(USER, "你好")).status == 200  # still running


async def test_plain_push_is_refused_in_safe_mode(settings, clock, kb, api):
    async with running(settings, clock, kb, api, safe=True) as wx:
        plain = WeChatClient(f"http://127.0.0.1:{wx.server.port}/wechat", token=TOKEN,
                             app_id=api.app_id)
        async with plain:
            r = await plain.send_text(USER, "结婚登记要带什么")
        assert r.status == 403
        assert await wx.runtime.inbox.counts("wechat") == {}


async def test_malformed_xml_entities_and_huge_bodies(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        assert (await wx.post_raw(b"<xml><Content>broken")).status == 400
        bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
                b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><ToUserName>gh</ToUserName>'
                b"<FromUserName>oX</FromUserName><MsgType>text</MsgType>"
                b"<Content>&b;</Content></xml>")
        assert (await wx.post_raw(bomb)).status == 400
        assert (await wx.post_raw(b"<xml>" + b"a" * 70_000 + b"</xml>")).status == 413
        assert (await wx.post_raw(b"<xml><MsgType>text</MsgType></xml>")).status == 400
        assert await wx.runtime.inbox.counts("wechat") == {}
        r = await wx.send_text(USER, "离婚冷静期是多久")
        assert r.status == 200 and "30" in r.text


async def test_retries_of_one_message_are_answered_once(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        first, again, third = await asyncio.gather(*(
            wx.send_text(USER, "结婚登记要带什么材料", msg_id=777001) for _ in range(3)))
        texts = [r.text for r in (first, again, third) if r.text]
        assert len(texts) == 1 and "身份证" in texts[0]
        assert all(r.success for r in (first, again, third) if not r.text)
        later = await wx.send_text(USER, "结婚登记要带什么材料", msg_id=777001)
        assert later.success  # a retry after the answer went: nothing twice
        await asyncio.sleep(0.6)
        assert api.sent_to(USER) == []
        assert (await wx.runtime.inbox.counts("wechat")) == {"handled": 1}


async def test_a_slow_answer_is_pushed_by_customer_service_message(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        wx.channel.answer_within = 0.0  # as if the answer took longer than WeChat waits
        r = await wx.send_text(USER, "结婚登记要带什么材料")
        assert r.success
        (msg,) = await api.wait_sent(USER)
        assert msg["msgtype"] == "text" and "身份证" in msg["content"]


async def test_numbered_choices_survive_a_restart(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        r = await wx.send_event(USER, "subscribe")
        assert "1. 婚姻登记" in r.text and "回复数字" in r.text
        r = await wx.send_text(USER, "1")  # the first topic
        assert "结婚登记带什么" in r.text
        r = await wx.send_text(USER, "９")  # out of range: said so
        assert "1" in r.text and "身份证" not in r.text
    async with running(settings, clock, kb, api) as wx:
        r = await wx.send_text(USER, "一")  # the first item of that topic, after a restart
        assert "身份证" in r.text
        r = await wx.send_text(USER, "低保怎么申请")  # a sentence is a new question
        assert "低保" in r.text


async def test_long_question_and_long_answer(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        r = await wx.send_text(USER, "结婚登记" + "啊" * 3000)
        assert r.status == 200 and r.text and len(r.text.encode()) <= 2048
        r = await wx.send_text(USER, "/help")
        assert r.text and len(r.text.encode()) <= 2048


async def test_volunteer_sign_up_and_forget_over_wechat(settings, clock, dkb, api):
    async with running(settings, clock, dkb, api) as wx:
        r = await wx.send_event(USER, "subscribe", event_key="qrscene_join_hongxing-elderly")
        assert "红星村助老志愿队" in r.text and "name" not in r.text
        r = await wx.send_text(USER, "王小明")
        assert "11" in r.text and "Share" not in r.text
        r = await wx.send_text(USER, "13800138000")
        texts = [r.text] + [m["content"] for m in await api.wait_sent(USER, 1)]  # the next step
        assert any("回复多个数字" in t for t in texts)
        r = await wx.send_text(USER, "1 3")
        assert r.text.count("✅") == 2
        (done,) = [line.split(".")[0] for line in r.text.splitlines()
                   if line.endswith(". 完成")]
        r = await wx.send_text(USER, done)
        assert "/forget" in r.text and "1. " in r.text
        r = await wx.send_text(USER, "1")  # I agree
        assert "13800138000" in r.text
        r = await wx.send_text(USER, "/forget")
        r = await wx.send_text(USER, "1")  # delete my data
        assert "删除" in r.text
    db_bytes = b"".join(p.read_bytes() for p in settings.bot_db.parent.glob("bot.sqlite3*"))
    assert "王小明".encode() not in db_bytes and b"13800138000" not in db_bytes


async def status_count(wx, status: str) -> int:
    return (await wx.runtime.outbox.counts("wechat")).get(status, 0)


async def until(count, want: int) -> None:
    """Wait (up to 15 s) until `await count()` reaches `want`: the sender works in the
    background."""
    for _ in range(300):
        got = await count()
        if got >= want:
            break
        await asyncio.sleep(0.05)
    assert got == want


async def test_menu_click_location_image_voice(settings, clock, dkb, api):
    async with running(settings, clock, dkb, api) as wx:
        r = await wx.send_event(USER, "CLICK", event_key="m:marriage")
        assert "结婚登记带什么" in r.text
        r = await wx.send_location(USER, 28.1941, 112.9823)
        assert r.text and "抱歉" not in r.text
        r = await wx.send_image(USER, pic_url=api.pic_url("x"), media_id="M1")
        assert r.text and "身份证" not in r.text
        r = await wx.send_voice(USER, media_id="V1")
        assert r.text
        r = await wx.send_voice(USER, media_id="V2", recognition="结婚登记要带什么材料")
        assert "身份证" in r.text
        r = await wx.send_event(USER, "VIEW", event_key="https://example.org")
        assert r.success


async def test_unfollowed_users_get_no_notices(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        await wx.send_text(USER, "你好")
        r = await wx.send_event(USER, "unsubscribe")
        assert r.success
        await wx.runtime.assistant.outbox.queue("wechat", USER, [Reply("通知")])
        wx.channel.sender.wake()
        await until(lambda: status_count(wx, "blocked"), 1)
        assert api.sent_to(USER) == []


async def test_token_refused_is_refreshed_and_shared(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        wx.channel.answer_within = 0.0
        await wx.send_text(USER, "你好")
        await api.wait_sent(USER, 1)
        api.invalidate_token()
        await wx.send_text(USER, "结婚登记要带什么材料")
        sent = await api.wait_sent(USER, 2)
        assert "身份证" in sent[-1]["content"]
        assert api.token_calls >= 2
        stored = await wx.channel.repo.token(api.app_id)
        assert stored[0] == api.current_token


async def test_closed_window_uses_the_template_or_counts_undeliverable(settings, clock, kb,
                                                                       api):
    async with running(settings, clock, kb, api,
                       wechat_template_notice="TPL_NOTICE") as wx:
        await wx.send_text(USER, "你好")
        api.fail_next("/cgi-bin/message/custom/send", errcode=45015)
        await wx.runtime.assistant.outbox.queue("wechat", USER, [Reply("新的公开记录\n详情")])
        wx.channel.sender.wake()
        (tpl,) = await api.wait_templates(USER)
        assert tpl["template_id"] == "TPL_NOTICE"
        assert tpl["data"]["first"]["value"] == "新的公开记录"
    admin = "oAdmin00000000000000000000001"
    with_admin = replace(settings, bot_admins=settings.bot_admins | {f"wechat:{admin}"})
    async with running(with_admin, clock, kb, api) as wx:  # no template configured
        r = await wx.send_text(admin, "/whoami")
        assert "admin" in r.text or "管理员" in r.text  # BOT_ADMINS takes wechat:<openid>
        await wx.runtime.assistant.outbox.queue("wechat", USER, [Reply("又一条")])
        wx.channel.sender.wake()
        await until(lambda: status_count(wx, "undeliverable"), 1)
        assert len(api.templates_to(USER)) == 1
        await tidy(wx.runtime)  # the daily tidy-up tells the administrators
        wx.channel.sender.wake()
        (told,) = await api.wait_sent(admin)
        assert "1" in told["content"] and "WECHAT_TEMPLATE_NOTICE" in told["content"]
        await tidy(wx.runtime)  # once a day, not at every start
        await asyncio.sleep(0.5)
        assert len(api.sent_to(admin)) == 1


async def test_server_errors_are_retried(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        wx.channel.answer_within = 0.0
        api.fail_next("/cgi-bin/message/custom/send", status=502)
        await wx.send_text(USER, "结婚登记要带什么材料")
        (msg,) = await api.wait_sent(USER, timeout=15)
        assert "身份证" in msg["content"]


async def test_healthz(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        url = f"http://127.0.0.1:{wx.server.port}/healthz"
        async with wx.session.get(url) as resp:
            assert resp.status == 200
            data = await resp.json()
        assert data == {"status": "ok", "database": "ok", "channels": {"wechat": True}}
        gone = await open_database(settings.bot_db.parent / "gone.sqlite3")
        await gone.close()  # as if the database stopped answering
        wx.server._db = gone
        async with wx.session.get(url) as resp:
            assert resp.status == 503
            assert (await resp.json())["database"] == "unreachable"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_bot_process_serves_wechat_and_stops_on_sigterm(api, tmp_path):
    port = _free_port()
    env = {**os.environ, "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": api.app_id,
           "WECHAT_APP_SECRET": api.app_secret, "WECHAT_API_BASE": api.base_url,
           "WECHAT_AES_KEY": AES_KEY, "BOT_HTTP_PORT": str(port),
           "BOT_DB": str(tmp_path / "w.sqlite3"), "BOT_DATA_DIR": str(tmp_path / "data"),
           "BOT_LOG_LEVEL": "INFO"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py")], env=env,  # noqa: ASYNC220
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        async with WeChatClient(f"http://127.0.0.1:{port}/wechat", token=TOKEN,
                                app_id=api.app_id, aes_key=AES_KEY, api=api) as wx:
            for _ in range(100):
                with contextlib.suppress(Exception):
                    if (await wx.verify("up"))[0] == 200:
                        break
                await asyncio.sleep(0.2)
            r = await wx.send_text(USER, "结婚登记要带什么材料")
            assert "身份证" in r.text
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.get_running_loop().run_in_executor(None, proc.communicate)
    assert proc.returncode == 0, err
    assert "database closed" in err
    assert api.app_secret not in err and TOKEN not in err and AES_KEY not in err
    assert (api.current_token or "unset") not in err


async def test_disclosure_photo_recorded_on_telegram_reaches_a_wechat_subscriber(
        settings, clock, dkb, api):
    cadre, admin = 601, int(settings_admin(settings))
    async with both_channels(settings, clock, dkb, api) as (tg, wx):
        r = await wx.send_text(USER, "/subscribe 测试村")
        assert "测试村" in r.text
        await say(tg, admin, "/start")
        await say(tg, cadre, "/start")
        await say(tg, admin, f"/promote {cadre} village 岳麓区/望月湖街道/测试村")
        await say(tg, cadre, "/disclose")
        await press(tg, cadre, "di:finance")
        (periods,) = await press(tg, cadre, "di:done")
        await press(tg, cadre, periods["params"]["reply_markup"]["inline_keyboard"][0][0]
                    ["callback_data"])
        tg.push_photo(cadre)
        (asked,) = await tg.wait_replies(cadre)
        assert "200" in body(asked)
        await say(tg, cadre, "11月财务收支已上墙")
        await press(tg, cadre, "dk:")
        text, image = await api.wait_sent(USER, 2)
        assert "已上墙" in text["content"]
        assert image["msgtype"] == "image"
        assert api.uploads[image["media_id"]] == b"\xff\xd8\xff fake jpeg"
        r = await wx.send_text(USER, "测试村最近公开了什么")
        assert "测试村" in r.text  # the first reply, in the response
        record, photo = (await api.wait_sent(USER, 4))[2:]
        assert "已上墙" in record["content"] and photo["msgtype"] == "image"


@contextlib.asynccontextmanager
async def both_channels(settings, clock, kb, api):
    """Telegram (polling the fake Bot API) and WeChat in one process, as `python bot.py`
    runs them when both are configured; yields the fake Bot API and a WeChat client."""
    async with FakeBotAPI() as tg:
        s = replace(wechat_settings(settings, api), telegram_bot_token=TG_TOKEN,
                    telegram_base_url=tg.base_url)
        async with open_runtime(s, clock, kb) as runtime:
            telegram = TelegramChannel(runtime, s, build_application(s, poll_timeout=1))
            wechat = WeChatChannel(runtime, s)
            server = WebServer("127.0.0.1", 0, runtime.db, [wechat.routes, telegram.routes],
                               lambda: {})
            await server.start()
            stop = asyncio.Event()
            tasks = [asyncio.ensure_future(telegram.run(stop, poll_timeout=1)),
                     asyncio.ensure_future(wechat.run(stop))]
            try:
                async with WeChatClient(f"http://127.0.0.1:{server.port}/wechat",
                                        token=TOKEN, app_id=api.app_id, api=api) as wx:
                    yield tg, wx
            finally:
                await server.stop()
                stop.set()
                await asyncio.wait_for(asyncio.gather(*tasks), 20)


def settings_admin(settings) -> str:
    return next(a for a in settings.bot_admins if a.isdigit())


async def test_telegram_webhook_checks_its_secret(settings, clock, kb):

    async with FakeBotAPI() as tg:
        s = replace(settings, telegram_bot_token=TG_TOKEN, telegram_base_url=tg.base_url,
                    telegram_webhook_url="https://bot.example.org/telegram",
                    telegram_webhook_secret="s3cret-Token_1")
        async with open_runtime(s, clock, kb) as runtime:
            telegram = TelegramChannel(runtime, s, build_application(s, poll_timeout=1))
            server = WebServer("127.0.0.1", 0, runtime.db, [telegram.routes], lambda: {})
            await server.start()
            stop = asyncio.Event()
            task = asyncio.ensure_future(telegram.run(stop))
            try:
                await tg.wait_for(lambda _s: tg.webhook is not None)
                assert tg.webhook["url"] == "https://bot.example.org/telegram"
                assert tg.webhook["secret_token"] == "s3cret-Token_1"
                update = {"update_id": 5001, "message": {
                    "message_id": 1, "date": 1796000000, "text": "结婚登记要带什么材料",
                    "chat": {"id": 77, "type": "private"},
                    "from": {"id": 77, "is_bot": False, "first_name": "A"}}}
                url = f"http://127.0.0.1:{server.port}/telegram"
                async with aiohttp.ClientSession() as http:
                    for secret in (None, "wrong", "s3cret-Token_"):
                        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                        async with http.post(url, json=update, headers=headers) as resp:
                            assert resp.status == 403
                    assert await runtime.inbox.counts("telegram") == {}
                    ok = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}
                    for _ in range(2):  # a re-delivery is answered once
                        async with http.post(url, json=update, headers=ok) as resp:
                            assert resp.status == 200
                    async with http.post(url, data=b"{not json", headers=ok) as resp:
                        assert resp.status == 400
                (reply,) = await tg.wait_replies(77)
                assert "身份证" in reply["params"]["text"]
                await tg.expect_no_replies(77, 0.5)
                assert tg.calls["getUpdates"] == 0
            finally:
                await server.stop()
                stop.set()
                await asyncio.wait_for(task, 15)


async def test_sigkill_in_a_burst_loses_no_message(api, tmp_path):
    """`python bot.py` killed (SIGKILL) while 30 followers' messages arrive; WeChat asks again
    for the ones it got no response to; after a restart every follower has the answer, in
    the response or by customer-service message."""
    api.window_always_open = True
    port = _free_port()
    env = {**os.environ, "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": api.app_id,
           "WECHAT_APP_SECRET": api.app_secret, "WECHAT_API_BASE": api.base_url,
           "BOT_HTTP_PORT": str(port), "BOT_DB": str(tmp_path / "k.sqlite3"),
           "BOT_DATA_DIR": str(tmp_path / "data"), "BOT_LOG_LEVEL": "WARNING"}
    env.pop("TELEGRAM_BOT_TOKEN", None)

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, str(ROOT / "bot.py")], env=env, cwd=ROOT,
                                stderr=subprocess.DEVNULL, text=True)

    users = [f"oKilled{n:020d}" for n in range(30)]
    question = "结婚登记要带什么材料"
    proc = start()  # noqa: ASYNC220 - a real process, killed for real
    try:
        async with WeChatClient(f"http://127.0.0.1:{port}/wechat", token=TOKEN,
                                app_id=api.app_id, api=api) as wx:
            await _until_up(wx)
            tasks = [asyncio.ensure_future(wx.send_text(u, question, msg_id=880000 + i))
                     for i, u in enumerate(users)]
            for n, finished in enumerate(asyncio.as_completed(tasks)):
                with contextlib.suppress(Exception):
                    await finished
                if n == 2:  # three answered, the rest in flight
                    break
            proc.kill()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            assert any(isinstance(r, BaseException) for r in results)  # killed mid-burst
            await asyncio.get_running_loop().run_in_executor(None, proc.wait)
            proc = start()  # noqa: ASYNC220
            await _until_up(wx)
            answered: dict[str, int] = dict.fromkeys(users, 0)
            for i, (user, result) in enumerate(zip(users, results, strict=True)):
                if isinstance(result, BaseException) or result.status != 200:
                    result = await wx.send_text(user, question, msg_id=880000 + i)  # retry
                if result.text:
                    answered[user] += "身份证" in result.text
            for _ in range(100):  # the rest come by customer-service message
                pushed = {u: sum("身份证" in (m["content"] or "") for m in api.sent_to(u))
                          for u in users}
                if all(answered[u] + pushed[u] >= 1 for u in users):
                    break
                await asyncio.sleep(0.2)
            lost = [u for u in users if answered[u] + pushed[u] == 0]
            twice = sum(max(0, answered[u] + pushed[u] - 1) for u in users)
            assert lost == [], f"not answered: {len(lost)}"
            # A reply written into a response but not yet marked sent when the process died
            # is pushed again after the restart: at most once more per message in flight
            # (up to the 30 requests here, plus the sender's 8 chats), never a third time.
            assert all(answered[u] + pushed[u] <= 2 for u in users), f"{twice} repeated"
            assert twice <= len(users)
    finally:
        proc.kill()
        await asyncio.get_running_loop().run_in_executor(None, proc.wait)


async def _until_up(wx) -> None:
    for _ in range(150):
        with contextlib.suppress(aiohttp.ClientError, OSError):
            if (await wx.verify("up"))[0] == 200:
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the bot did not start")


@pytest.mark.parametrize("source", ["picurl", "media"])
async def test_a_photo_sent_on_wechat_is_kept_for_a_telegram_subscriber(settings, clock, dkb,
                                                                        api, source):
    cadre = "oCadre00000000000000000000001"
    admins = replace(settings, bot_admins=settings.bot_admins | {f"wechat:{cadre}"})
    async with both_channels(admins, clock, dkb, api) as (tg, wx):
        (subscribed,) = await say(tg, 701, "/subscribe 测试村")
        assert "测试村" in body(subscribed)
        r = await wx.send_text(cadre, f"/promote wechat:{cadre} village 岳麓区/望月湖街道/测试村")
        assert "长沙市" in r.text
        r = await wx.send_text(cadre, "/disclose")  # an administrator: which village?
        r = await wx.send_text(cadre, _number_of(r.text, "测试村"))
        r = await wx.send_text(cadre, _number_of(r.text, "财务"))
        r = await wx.send_text(cadre, _number_of(r.text, "完成"))
        r = await wx.send_text(cadre, "1")  # the first period offered
        assert "照片" in r.text
        picture = b"\xff\xd8\xff a noticeboard photo"
        if source == "picurl":
            api.add_picture("board", picture)
        else:  # the PicUrl fails: the picture is fetched as the media WeChat keeps
            api.add_media("MBOARD", picture)
        r = await wx.send_image(cadre, pic_url=api.pic_url("board"), media_id="MBOARD")
        assert "200" in r.text
        await wx.send_text(cadre, "11月财务收支已上墙")
        await wx.send_text(cadre, "1")  # save it
        (note,) = [m for m in await tg.wait_replies(701) if m["method"] == "sendPhoto"]
        assert "已上墙" in body(note)
        assert note["params"]["photo"]["data"] == picture


def _number_of(text: str, label: str) -> str:
    """The number of the choice whose label has `label` in it."""
    (number,) = [line.split(".")[0] for line in text.splitlines()
                 if line[:1].isdigit() and ". " in line and label in line.split(". ", 1)[1]]
    return number


async def test_menu_is_published_with_the_shared_token(settings, kb, api):
    s = wechat_settings(settings, api)
    db = await open_database(s.bot_db)
    try:
        async with httpx.AsyncClient() as http:
            published = await publish_menu(WeChatApi(s, WeChatRepo(db), http), kb)
            assert api.menu == published == menu(kb)
            assert api.token_calls == 1
            again = WeChatApi(s, WeChatRepo(db), http)  # another process: the token is shared
            await publish_menu(again, kb)
            assert api.token_calls == 1
    finally:
        await db.close()


async def test_an_answer_without_buttons_ends_the_numbered_choices(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        r = await wx.send_text(USER, "/forget")
        assert "1. " in r.text  # 1. delete my data, 2. keep it
        await wx.send_text(USER, "/whoami")  # no buttons
        r = await wx.send_text(USER, "1")  # not "delete my data" from two answers ago
        assert "删除" not in r.text or "不会" in r.text
        user = await wx.runtime.assistant.users.get("wechat", USER)
        assert user is not None


async def test_replayed_and_stale_pushes_are_refused(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        first = wx.build_xml(USER, "text", [("Content", "结婚登记要带什么材料")])
        signed = int(time.time())
        r = await wx.post_xml(first, timestamp=signed, nonce="n0nce1")
        assert r.status == 200
        again = await wx.post_xml(first, timestamp=signed, nonce="n0nce1")
        assert again.status == 200  # WeChat's retry: the same body under the same signature
        other = wx.build_xml("oAdmin00000000000000000000009", "text", [("Content", "/cadres")])
        forged = await wx.post_xml(other, timestamp=signed, nonce="n0nce1")
        assert forged.status == 403  # a captured URL with another body
        stale = await wx.post_xml(other, timestamp=int(time.time()) - 3600)
        assert stale.status == 403
        assert (await wx.runtime.inbox.counts("wechat")) == {"handled": 1}


async def test_a_retry_after_the_answer_was_pushed_gets_success(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        wx.channel.answer_within = 0.0
        r = await wx.send_text(USER, "结婚登记要带什么材料", msg_id=991)
        assert r.success
        await api.wait_sent(USER, 1)
        wx.channel.answer_within = 4.0
        again = await wx.send_text(USER, "结婚登记要带什么材料", msg_id=991)  # WeChat asks again
        assert again.success and not again.text
        await asyncio.sleep(0.6)
        assert len(api.sent_to(USER)) == 1


async def test_a_push_that_arrives_in_pieces_is_read_whole(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        xml = wx.build_xml(USER, "text", [("Content", "结婚登记要带什么材料")]).encode()
        ts, nonce = str(int(time.time())), "pieces1"

        async def slowly():
            yield xml[:40]
            await asyncio.sleep(0.2)
            yield xml[40:]

        query = {"signature": wx.sign(ts, nonce), "timestamp": ts, "nonce": nonce}
        url = f"http://127.0.0.1:{wx.server.port}/wechat"
        async with aiohttp.ClientSession() as http, http.post(url, params=query,
                                                              data=slowly()) as resp:
            assert resp.status == 200
            assert "身份证" in await resp.text()


async def test_wrong_credentials_delay_messages_instead_of_dropping_them(settings, clock, kb,
                                                                         api):
    async with running(settings, clock, kb, api) as wx:
        wx.channel.answer_within = 0.0
        api.fail_next("/cgi-bin/message/custom/send", errcode=40164)  # IP not whitelisted
        await wx.send_text(USER, "结婚登记要带什么材料")
        (msg,) = await api.wait_sent(USER, timeout=15)
        assert "身份证" in msg["content"]


async def test_wechat_keeps_serving_while_telegram_cannot_be_reached(api, tmp_path):
    port = _free_port()
    env = {**os.environ, "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": api.app_id,
           "WECHAT_APP_SECRET": api.app_secret, "WECHAT_API_BASE": api.base_url,
           "TELEGRAM_BOT_TOKEN": TG_TOKEN,
           "TELEGRAM_BASE_URL": f"http://127.0.0.1:{_free_port()}/bot",  # nobody there
           "BOT_HTTP_PORT": str(port), "BOT_DB": str(tmp_path / "t.sqlite3"),
           "BOT_DATA_DIR": str(tmp_path / "data"), "BOT_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py")], env=env,  # noqa: ASYNC220
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        async with WeChatClient(f"http://127.0.0.1:{port}/wechat", token=TOKEN,
                                app_id=api.app_id, api=api) as wx:
            await _until_up(wx)
            r = await wx.send_text(USER, "结婚登记要带什么材料")
            assert "身份证" in r.text
            async with wx.session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                health = await resp.json()
            assert health["channels"] == {"telegram": False, "wechat": True}
            assert proc.poll() is None  # still running
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.get_running_loop().run_in_executor(None, proc.communicate)
    assert proc.returncode == 0, err
    assert "cannot reach Telegram" in err


async def test_template_fields_follow_the_operators_template(settings, clock, kb, api):
    async with running(settings, clock, kb, api, wechat_template_notice="TPL_NOTICE",
                       wechat_template_fields="thing1,thing2") as wx:
        await wx.send_text(USER, "你好")
        api.fail_next("/cgi-bin/message/custom/send", errcode=45015)
        notice = "火焰村登记了一条新的村务公开记录，请查看详情\n" + "财务收支" * 10
        await wx.runtime.assistant.outbox.queue("wechat", USER, [Reply(notice)])
        wx.channel.sender.wake()
        (tpl,) = await api.wait_templates(USER)
        assert set(tpl["data"]) == {"thing1", "thing2"}  # no remark field configured
        assert all(len(v["value"]) <= 20 for v in tpl["data"].values())
        assert tpl["data"]["thing1"]["value"].startswith("火焰村登记了")


async def test_a_later_message_waits_for_an_earlier_ones_replies(settings, clock, kb, api):
    async with running(settings, clock, kb, api) as wx:
        api.fail_next("/cgi-bin/message/custom/send", status=502, count=2)
        # A notice in backoff after 502s is older than the next message's answer.
        await wx.runtime.assistant.outbox.queue("wechat", USER, [Reply("先到的通知")])
        wx.channel.sender.wake()
        await asyncio.sleep(0.3)
        r = await wx.send_text(USER, "结婚登记要带什么材料")
        assert r.success  # not ahead of the notice
        first, second = await api.wait_sent(USER, 2, timeout=20)
        assert first["content"] == "先到的通知" and "身份证" in second["content"]


async def test_a_reminder_outside_the_window_is_undeliverable_not_retried(settings, clock, kb,
                                                                          api):
    async with running(settings, clock, kb, api) as wx:
        long_ago = datetime.now(UTC) - timedelta(days=3)
        await wx.channel.repo.came_in(USER, long_ago)  # wrote three days ago
        result = await wx.runtime.assistant.outbox.send("wechat", USER, [Reply("督查提醒")])
        assert result == SendResult.UNDELIVERABLE
        assert api.sent_to(USER) == []
        await wx.channel.repo.came_in(USER, datetime.now(UTC))  # wrote now: it may go
        api.user_messaged(USER)
        result = await wx.runtime.assistant.outbox.send("wechat", USER, [Reply("督查提醒")])
        assert result == SendResult.SENT and api.sent_to(USER)[0]["content"] == "督查提醒"


def test_passive_xml_carries_any_text_safely():
    text = "a]]>b <xml>&amp; \x07控制 🙂 ]]]]>"
    doc = Passive("oUser", "gh_acc", text=text).xml(1700000000)
    fields = parse_xml(doc)
    assert fields["Content"] == "a]]>b <xml>&amp; 控制 🙂 ]]]]>"  # only the BEL is dropped
    assert fields["ToUserName"] == "oUser" and fields["MsgType"] == "text"
