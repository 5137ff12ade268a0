"""Self-tests of tests/fake_wechat.py: the fake WeChat API and the pushing client."""

from __future__ import annotations

import contextlib
import time
import xml.etree.ElementTree as ET

import aiohttp
import pytest
from aiohttp import web
from wechatpy.crypto import WeChatCrypto  # type: ignore[import-untyped]
from wechatpy.exceptions import InvalidSignatureException  # type: ignore[import-untyped]
from wechatpy.utils import check_signature  # type: ignore[import-untyped]

from tests.fake_wechat import FakeWeChatAPI, WeChatClient

TOKEN = "wxpushtoken"
APP_ID = "wxtestappid"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
OPENID = "oUser_0001"


@pytest.fixture
async def api():
    async with FakeWeChatAPI() as fake:
        yield fake


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def call(http, api, path, body=None, *, token=None, method="POST", **query):
    params = dict(query)
    if token is not None:
        params["access_token"] = token
    async with http.request(method, f"{api.base_url}/cgi-bin/{path}", params=params,
                            json=body) as resp:
        assert resp.status == 200
        return await resp.json()


async def get_token(http, api, **extra):
    body = {"grant_type": "client_credential", "appid": api.app_id, "secret": api.app_secret}
    return await call(http, api, "stable_token", {**body, **extra})


def text_to(openid, content="你好"):
    return {"touser": openid, "msgtype": "text", "text": {"content": content}}


# ---------------------------------------------------------------------- the API fake

async def test_stable_token_issue_refresh_and_expiry(api, http):
    bad = {"grant_type": "client_credential", "appid": "wxother", "secret": api.app_secret}
    assert (await call(http, api, "stable_token", bad))["errcode"] == 40013
    bad = {"grant_type": "client_credential", "appid": api.app_id, "secret": "nope"}
    assert (await call(http, api, "stable_token", bad))["errcode"] == 40125

    first = await get_token(http, api)
    assert first["expires_in"] == 7200 and first["access_token"] == api.current_token
    again = await get_token(http, api)
    assert again["access_token"] == first["access_token"]  # stable: not rotated while valid

    api.user_messaged(OPENID)
    token = first["access_token"]
    assert (await call(http, api, "message/custom/send", text_to(OPENID), token=token)) == {
        "errcode": 0, "errmsg": "ok"}

    forced = await get_token(http, api, force_refresh=True)
    assert forced["access_token"] != token
    stale = await call(http, api, "message/custom/send", text_to(OPENID), token=token)
    assert stale["errcode"] == 40001 and stale["errmsg"].startswith("invalid credential")

    expired = api.expire_token()
    assert expired == forced["access_token"]
    res = await call(http, api, "message/custom/send", text_to(OPENID), token=expired)
    assert res == {"errcode": 42001, "errmsg": "access_token expired"}
    fresh = await get_token(http, api)
    assert fresh["access_token"] not in (token, expired)
    assert (await call(http, api, "message/custom/send", text_to(OPENID)))["errcode"] == 41001
    assert api.token_calls == 6
    assert api.calls["/cgi-bin/stable_token"] == 6
    assert [r["errcode"] for r in api.rejected] == [40013, 40125, 40001, 42001, 41001]
    assert token not in api.describe() and api.app_secret not in api.describe()


async def test_custom_send_window_and_quota(api, http):
    token = (await get_token(http, api))["access_token"]
    res = await call(http, api, "message/custom/send", text_to(OPENID), token=token)
    assert res == {"errcode": 45015,
                   "errmsg": "response out of time limit or subscription is canceled"}

    api.user_messaged(OPENID)
    for i in range(5):
        res = await call(http, api, "message/custom/send", text_to(OPENID, f"m{i}"), token=token)
        assert res["errcode"] == 0
    res = await call(http, api, "message/custom/send", text_to(OPENID), token=token)
    assert res == {"errcode": 45047, "errmsg": "out of response count limit"}
    assert api.quota_left(OPENID) == 0

    api.user_messaged(OPENID)  # the user writes again: a new window of 5
    assert (await call(http, api, "message/custom/send", text_to(OPENID),
                       token=token))["errcode"] == 0
    api.user_messaged(OPENID, at=time.time() - 49 * 3600)
    assert (await call(http, api, "message/custom/send", text_to(OPENID),
                       token=token))["errcode"] == 45015
    api.window_always_open = True
    assert (await call(http, api, "message/custom/send", text_to("oNobody"),
                       token=token))["errcode"] == 0
    too_long = text_to(OPENID, "字" * 683)  # 2049 bytes
    assert (await call(http, api, "message/custom/send", too_long,
                       token=token))["errcode"] == 45002
    assert (await call(http, api, "message/custom/send", {"touser": OPENID, "msgtype": "image",
            "image": {"media_id": "MEDIA_404"}}, token=token))["errcode"] == 40007

    sent = await api.wait_sent(OPENID, 6, timeout=0.5)
    assert [r["content"] for r in sent[:5]] == ["m0", "m1", "m2", "m3", "m4"]
    assert sent[0]["msgtype"] == "text" and sent[0]["body"]["touser"] == OPENID
    with pytest.raises(AssertionError, match="expected 7 custom message"):
        await api.wait_sent(OPENID, 7, timeout=0.05)


async def test_menu_validation(api, http):
    token = (await get_token(http, api))["access_token"]

    def click(name="办事", key="K"):
        return {"type": "click", "name": name, "key": key}

    async def create(buttons):
        return (await call(http, api, "menu/create", {"button": buttons}, token=token))["errcode"]

    assert await create([]) == 40016
    assert await create([click()] * 4) == 40016
    assert await create([{"name": "菜单", "sub_button": [click()] * 6}]) == 40023
    assert await create([{"name": "菜单", "sub_button": []}]) == 40023
    assert await create([click(name="一二三四五六")]) == 40018  # 18 bytes > 16
    assert await create([click(key="k" * 129)]) == 40019
    assert await create([{"type": "bogus", "name": "x"}]) == 40017
    assert await create([{"name": "x"}]) == 40017
    assert await create([{"type": "view", "name": "x"}]) == 40055
    assert await create([{"name": "菜单", "sub_button": [click(name="字" * 21)]}]) == 40025
    assert api.menu is None
    menu = [click(name="一二三四五"), {"name": "更多", "sub_button": [
        click(name="字" * 20), {"type": "view", "name": "官网", "url": "https://example.cn"}]}]
    assert await create(menu) == 0
    assert api.menu == {"button": menu}
    assert (await call(http, api, "menu/get", token=token, method="GET"))["menu"] == api.menu


async def test_fail_next(api, http):
    api.fail_next("/cgi-bin/stable_token", status=502)
    api.fail_next("stable_token", errcode=-1, count=2)
    body = {"grant_type": "client_credential", "appid": api.app_id, "secret": api.app_secret}
    async with http.post(f"{api.base_url}/cgi-bin/stable_token", json=body) as resp:
        assert resp.status == 502
    for _ in range(2):
        assert await get_token(http, api) == {"errcode": -1, "errmsg": "system error"}
    assert "access_token" in await get_token(http, api)
    assert api.calls["/cgi-bin/stable_token"] == 4 == api.token_calls
    with pytest.raises(ValueError):
        api.fail_next("stable_token")


async def test_media_round_trip_and_templates(api, http):
    token = (await get_token(http, api))["access_token"]
    form = aiohttp.FormData()
    form.add_field("media", b"\x89PNG fake", filename="a.png", content_type="image/png")
    async with http.post(f"{api.base_url}/cgi-bin/media/upload",
                         params={"access_token": token, "type": "image"}, data=form) as resp:
        uploaded = await resp.json()
    assert uploaded["type"] == "image" and uploaded["media_id"] == "MEDIA_1"
    assert api.uploads == {"MEDIA_1": b"\x89PNG fake"}

    api.add_media("USER_PIC", b"\xff\xd8 user jpeg")
    for media_id, data in (("MEDIA_1", b"\x89PNG fake"), ("USER_PIC", b"\xff\xd8 user jpeg")):
        async with http.get(f"{api.base_url}/cgi-bin/media/get",
                            params={"access_token": token, "media_id": media_id}) as resp:
            assert resp.status == 200 and await resp.read() == data
    unknown = await call(http, api, "media/get", token=token, method="GET", media_id="nope")
    assert unknown["errcode"] == 40007

    api.user_messaged(OPENID)
    image = {"touser": OPENID, "msgtype": "image", "image": {"media_id": "MEDIA_1"}}
    assert (await call(http, api, "message/custom/send", image, token=token))["errcode"] == 0
    (rec,) = await api.wait_sent(OPENID)
    assert rec["media_id"] == "MEDIA_1" and rec["content"] is None

    api.add_picture("p1", b"picture bytes")
    async with http.get(api.pic_url("p1")) as resp:
        assert await resp.read() == b"picture bytes"

    tpl = {"touser": OPENID, "template_id": "TPL_NOTICE", "data": {"thing1": {"value": "预约"}}}
    res = await call(http, api, "message/template/send", tpl, token=token)
    assert res["errcode"] == 0 and isinstance(res["msgid"], int)
    bad = await call(http, api, "message/template/send", {**tpl, "template_id": "TPL_X"},
                     token=token)
    assert bad == {"errcode": 40037, "errmsg": "invalid template_id"}
    (sent,) = await api.wait_templates(OPENID, timeout=0.5)
    assert sent["msgid"] == res["msgid"] and sent["data"]["thing1"]["value"] == "预约"


# ---------------------------------------------------------------------- the pushing client

def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@contextlib.asynccontextmanager
async def tiny_bot(*, safe: bool, reply: str = "text", tamper: bool = False):
    """A minimal /wechat endpoint built on wechatpy: checks signatures, echoes text."""
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    seen: list[dict[str, str]] = []

    async def handle(request: web.Request) -> web.Response:
        q = request.query
        try:
            check_signature(TOKEN, q.get("signature", ""), q.get("timestamp", ""),
                            q.get("nonce", ""))
        except InvalidSignatureException:
            return web.Response(status=403, text="bad signature")
        if request.method == "GET":
            return web.Response(text=q["echostr"])
        body = await request.text()
        if safe:
            assert q["encrypt_type"] == "aes"
            try:
                body = crypto.decrypt_message(body, q["msg_signature"], q["timestamp"],
                                              q["nonce"])
            except InvalidSignatureException:
                return web.Response(status=403, text="bad msg_signature")
        msg = {child.tag: child.text or "" for child in ET.fromstring(body)}
        assert q["openid"] == msg["FromUserName"]
        seen.append(msg)
        if reply == "success":
            return web.Response(text="success")
        answer = (f"<xml><ToUserName><![CDATA[{msg['FromUserName']}]]></ToUserName>"
                  f"<FromUserName><![CDATA[{msg['ToUserName']}]]></FromUserName>"
                  f"<CreateTime>{int(time.time())}</CreateTime>"
                  f"<MsgType><![CDATA[text]]></MsgType>"
                  f"<Content>{cdata('收到:' + msg.get('Content', msg['MsgType']))}</Content>"
                  f"</xml>")
        if safe and reply != "plain":
            answer = crypto.encrypt_message(answer, "reply-nonce")
            if tamper:
                answer = answer.replace("<Nonce><![CDATA[reply-nonce]]>",
                                        "<Nonce><![CDATA[other-nonce]]>")
        return web.Response(text=answer, content_type="text/xml")

    app = web.Application()
    app.router.add_route("*", "/wechat", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/wechat", seen
    finally:
        await runner.cleanup()


async def test_client_plain_mode(api):
    async with tiny_bot(safe=False) as (url, seen), WeChatClient(
            url, token=TOKEN, app_id=APP_ID, api=api) as wx:
        assert await wx.verify("12345") == (200, "12345")
        assert (await wx.verify("12345", bad_signature=True))[0] == 403
        reply = await wx.send_text(OPENID, "办理低保 ]]> 要什么")
        assert reply.status == 200 and not reply.success and reply.msg_type == "text"
        assert reply.text == "收到:办理低保 ]]> 要什么"
        assert reply.to_user == OPENID and reply.from_user == "gh_testaccount"
        assert reply.in_time and not reply.encrypted
        await wx.send_location(OPENID, 28.228209, 112.938814, label="长沙市")
        assert seen[-1]["Location_X"] == "28.228209" and seen[-1]["Location_Y"] == "112.938814"
        await wx.send_event(OPENID, "CLICK", event_key="MENU_FAQ")
        assert seen[-1]["Event"] == "CLICK" and "MsgId" not in seen[-1]
        assert int(seen[1]["MsgId"]) == int(seen[0]["MsgId"]) + 1
        assert api.quota_left(OPENID) == 5
        forged = await wx.post_xml(wx.build_xml(OPENID, "text", [("Content", "x")]), forge=True)
        assert forged.status == 403 and not forged.success


async def test_client_safe_mode(api):
    async with tiny_bot(safe=True) as (url, seen), WeChatClient(
            url, token=TOKEN, app_id=APP_ID, aes_key=AES_KEY, api=api) as wx:
        reply = await wx.send_text(OPENID, "你好")
        assert seen[-1]["Content"] == "你好"
        assert reply.encrypted and reply.text == "收到:你好" and reply.to_user == OPENID
        assert reply.xml["MsgType"] == "text" and "<Encrypt>" in reply.body
        forged = await wx.send_image(OPENID, pic_url=api.pic_url("p"), media_id="M1")
        assert seen[-1]["PicUrl"].endswith("/pic/p") and forged.text == "收到:image"
        assert (await wx.post_raw(b"<xml>junk</xml>", sign=False)).status == 403
        forged = await wx.post_xml(wx.build_xml(OPENID, "text", [("Content", "x")]), forge=True)
        assert forged.status == 403

    async with tiny_bot(safe=True, reply="success") as (url, _), WeChatClient(
            url, token=TOKEN, app_id=APP_ID, aes_key=AES_KEY) as wx:
        reply = await wx.send_voice(OPENID, media_id="V1", recognition="查询")
        assert reply.success and reply.xml is None

    for kind, tamper, match in (("plain", False, "must be <xml><Encrypt/>"),
                                ("text", True, "does not decrypt/verify")):
        async with tiny_bot(safe=True, reply=kind, tamper=tamper) as (url, _), WeChatClient(
                url, token=TOKEN, app_id=APP_ID, aes_key=AES_KEY) as wx:
            with pytest.raises(AssertionError, match=match):
                await wx.send_text(OPENID, "hi")

    async with tiny_bot(safe=False) as (url, _), WeChatClient(
            url, token=TOKEN, app_id=APP_ID, account="gh_other") as wx:
        xml = wx.build_xml(OPENID, "text", [("Content", "x")])
        reply = await wx.post_xml(xml)
        assert reply.from_user == "gh_other"
