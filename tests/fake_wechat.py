"""In-process fakes for end-to-end tests of the WeChat Official Account channel.

Two halves, one for each direction of the protocol (notes in shared/wechat.md, 1.1-1.7):

* :class:`FakeWeChatAPI` fakes ``api.weixin.qq.com`` for the API calls the bot makes: an
  aiohttp server on 127.0.0.1 (random port) answering ``{base_url}/cgi-bin/...`` with WeChat's
  JSON (``errcode`` / ``errmsg``, HTTP 200 even for errors): ``stable_token``,
  ``message/custom/send`` (with the 48 h / 5-message customer-service window),
  ``message/custom/typing``, ``message/template/send``, ``media/upload``, ``media/get``,
  ``menu/create`` (validated like WeChat), ``menu/get``, ``menu/delete``, and ``GET /pic/NAME``
  standing in for the PicUrl of a picture a user sent (mmbiz.qpic.cn).
* :class:`WeChatClient` plays WeChat's servers pushing to the bot's ``/wechat`` URL: the GET
  URL check and signed (plain mode) or encrypted (safe mode) XML messages and events; it parses
  the passive reply into a :class:`Passive`, decrypting and checking it in safe mode.

All signing and encryption in the client goes through wechatpy (``WeChatCrypto``,
``WeChatSigner``): an implementation independent of the bot's ``channels/wechat_protocol.py``.

Typical use::

    async with FakeWeChatAPI() as api, WeChatClient(
        bot_url, token="tok", app_id=api.app_id, aes_key=KEY, api=api
    ) as wx:
        ...  # start the bot with api_base=api.base_url, app secret api.app_secret
        reply = await wx.send_text("oUser1", "你好")
        assert reply.success or reply.text
        (msg,) = await api.wait_sent("oUser1")
        assert msg["msgtype"] == "text"

Access tokens and the app secret are never logged (the server has no access log; errors are
logged at debug level by path, without the query string).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import logging
import re
import secrets
import time
import xml.etree.ElementTree as ET
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from wechatpy.crypto import WeChatCrypto  # type: ignore[import-untyped]
from wechatpy.utils import WeChatSigner  # type: ignore[import-untyped]

__all__ = ["ERRMSG", "FakeWeChatAPI", "Passive", "WeChatClient"]

_LOGGER = logging.getLogger(__name__)

#: errmsg for the errcodes the fake answers (WeChat's 全局返回码; real answers append
#: " rid: ..." or " hint: [...]", the fake does not).
ERRMSG: dict[int, str] = {
    -1: "system error",
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40009: "invalid image size",
    40010: "invalid voice size",
    40011: "invalid video size",
    40012: "invalid thumb size",
    40013: "invalid appid",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40020: "invalid button url size",
    40023: "invalid sub button size",
    40024: "invalid sub button type",
    40025: "invalid sub button name size",
    40026: "invalid sub button key size",
    40027: "invalid sub button url size",
    40037: "invalid template_id",
    40055: "invalid button url domain",
    40125: "invalid appsecret",
    40164: "invalid ip, not in whitelist",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41005: "media data missing",
    41006: "media_id missing",
    42001: "access_token expired",
    43001: "require GET method",
    43002: "require POST method",
    43004: "require subscribe",
    44002: "empty post data",
    44003: "empty news data",
    44004: "empty content",
    45002: "content size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit, must slower, retry next minute",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
    46003: "menu no exist",
    48001: "api unauthorized",
}

TEXT_LIMIT = 2048  # UTF-8 bytes of a text message (custom message or passive reply)
CS_QUOTA = 5  # customer-service messages per user message ...
CS_WINDOW = 48 * 3600.0  # ... within 48 hours of it

_JSON_TYPE = "application/json; encoding=utf-8"  # what api.weixin.qq.com sends
_MENU_TYPES = frozenset({
    "click", "view", "miniprogram", "scancode_push", "scancode_waitmsg", "pic_sysphoto",
    "pic_photo_or_album", "pic_weixin", "location_select", "media_id", "view_limited",
    "article_id", "article_view_limited",
})
_KEY_TYPES = frozenset({
    "click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album",
    "pic_weixin", "location_select",
})
_MEDIA_TYPES: dict[str, tuple[int, int]] = {  # upload type -> (max bytes, errcode if larger)
    "image": (10 * 1024 * 1024, 40009),
    "voice": (2 * 1024 * 1024, 40010),
    "video": (10 * 1024 * 1024, 40011),
    "thumb": (64 * 1024, 40012),
}
_MEDIA_MSG_TYPES = frozenset({"image", "voice", "video", "mpvideo", "mpnews"})
_OTHER_MSG_TYPES = frozenset({"news", "music", "msgmenu", "miniprogrampage", "wxcard",
                              "mpnewsarticle"})
_SUFFIX = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "audio/amr": "amr",
           "audio/mpeg": "mp3", "video/mp4": "mp4"}


class _WxError(Exception):
    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        self.errcode = errcode
        self.errmsg = errmsg if errmsg is not None else ERRMSG.get(errcode, "error")
        super().__init__(f"{errcode} {self.errmsg}")


@dataclass
class _Fault:
    errcode: int | None
    status: int | None
    left: int


@dataclass
class _Window:
    last: float  # time.time() of the user's last message
    quota: int = CS_QUOTA
    span: float = CS_WINDOW
    count: int = 0  # custom messages sent since
    subscribed: bool = True


_Handler = Callable[[web.Request, dict[str, Any]], Awaitable[web.Response]]


def _json_response(payload: Mapping[str, Any]) -> web.Response:
    return web.Response(body=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                        headers={"Content-Type": _JSON_TYPE})


def _nbytes(value: Any) -> int:
    return len(str(value).encode("utf-8"))


def _norm_path(path: str) -> str:
    """"stable_token", "cgi-bin/stable_token" and "/cgi-bin/stable_token" name one path."""
    path = "/" + path.lstrip("/")
    if not path.startswith(("/cgi-bin/", "/pic/")):
        path = "/cgi-bin" + path
    return path


class FakeWeChatAPI:
    """Fake WeChat API server; see the module docstring.

    Recorded (plain Python objects): ``sent`` (custom messages: touser, msgtype, content,
    media_id, body, time), ``templates`` (touser, template_id, data, url, msgid, body, time),
    ``uploads`` (media_id -> bytes), ``typing``, ``menu`` (last accepted, or None),
    ``rejected`` (every errcode answer: path, errcode, errmsg, touser, time), ``unknown``
    (requests to paths the fake does not serve, answered 404), ``calls`` (Counter per path,
    faults included) and ``token_calls``.
    """

    def __init__(self, app_id: str = "wxtestappid", app_secret: str = "testsecret", *,
                 known_templates: set[str] | frozenset[str] | None = None) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.known_templates: set[str] = set(
            {"TPL_NOTICE"} if known_templates is None else known_templates)
        self.window_always_open = False
        self.token_lifetime = 7200.0

        self._host = "127.0.0.1"
        self._port: int | None = None
        self._runner: web.AppRunner | None = None

        self.sent: list[dict[str, Any]] = []
        self.templates: list[dict[str, Any]] = []
        self.uploads: dict[str, bytes] = {}
        self.typing: list[dict[str, Any]] = []
        self.menu: dict[str, Any] | None = None
        self.rejected: list[dict[str, Any]] = []
        self.unknown: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()
        self.token_calls = 0

        self._token: str | None = None  # the current token
        self._token_expires = 0.0  # time.monotonic()
        self._expired: set[str] = set()  # -> 42001
        self._tokens = itertools.count(1)
        self._media: dict[str, tuple[bytes, str]] = {}  # media_id -> (data, content type)
        self._media_ids = itertools.count(1)
        self._pictures: dict[str, tuple[bytes, str]] = {}
        self._windows: dict[str, _Window] = {}
        self._msgids = itertools.count(2_000_000_001)
        self._faults: dict[str, deque[_Fault]] = {}
        self._changed = asyncio.Event()

        self._routes: dict[str, tuple[str, _Handler]]
        self._routes = {
            "/cgi-bin/stable_token": ("POST", self._stable_token),
            "/cgi-bin/message/custom/send": ("POST", self._custom_send),
            "/cgi-bin/message/custom/typing": ("POST", self._custom_typing),
            "/cgi-bin/message/template/send": ("POST", self._template_send),
            "/cgi-bin/media/upload": ("POST", self._media_upload),
            "/cgi-bin/media/get": ("GET", self._media_get),
            "/cgi-bin/menu/create": ("POST", self._menu_create),
            "/cgi-bin/menu/get": ("GET", self._menu_get),
            "/cgi-bin/menu/delete": ("GET", self._menu_delete),
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeWeChatAPI already started")
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                               shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self._host, 0)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]
        _LOGGER.debug("FakeWeChatAPI listening on %s", self.base_url)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeWeChatAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeWeChatAPI not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``; the bot calls ``{base_url}/cgi-bin/...``."""
        return f"http://{self._host}:{self.port}"

    def pic_url(self, name: str) -> str:
        """URL of a picture registered with :meth:`add_picture` (a user's PicUrl)."""
        return f"{self.base_url}/pic/{name}"

    # ------------------------------------------------------------------ test controls

    @property
    def current_token(self) -> str | None:
        """The token stable_token hands out now (None before the first call or after
        expire_token / invalidate_token)."""
        return self._token

    def expire_token(self) -> str | None:
        """The current token runs out: using it answers 42001, and the next stable_token
        call issues a new one. Returns the expired token."""
        old, self._token = self._token, None
        if old is not None:
            self._expired.add(old)
        return old

    def invalidate_token(self) -> str | None:
        """The current token is replaced behind the bot's back (another process forced a
        refresh): using it answers 40001; the next stable_token call issues a new one."""
        old, self._token = self._token, None
        return old

    def user_messaged(self, openid: str, at: float | None = None, *, quota: int = CS_QUOTA,
                      window: float = CS_WINDOW) -> None:
        """``openid`` messaged the account at ``at`` (time.time(); default now): opens a
        customer-service window of ``quota`` messages within ``window`` seconds (5 in 48 h;
        WeChat gives 3 in 60 s for a follow, a menu click or a QR scan)."""
        self._windows[openid] = _Window(time.time() if at is None else at, quota, window)

    def user_unsubscribed(self, openid: str) -> None:
        """``openid`` unfollowed: custom messages answer 45015, templates 43004, until the
        user messages again."""
        state = self._windows.setdefault(openid, _Window(0.0))
        state.subscribed = False

    def quota_left(self, openid: str) -> int:
        """Custom messages the bot may still send to ``openid`` now."""
        state = self._windows.get(openid)
        if state is None or not state.subscribed or time.time() - state.last > state.span:
            return 0
        return max(0, state.quota - state.count)

    def add_media(self, media_id: str, data: bytes, content_type: str = "image/jpeg") -> None:
        """Register a temporary media (the MediaId of a picture or voice a user sent)."""
        self._media[media_id] = (bytes(data), content_type)

    def add_picture(self, name: str, data: bytes, content_type: str = "image/jpeg") -> None:
        """Serve ``data`` at :meth:`pic_url` ``(name)``."""
        self._pictures[name] = (bytes(data), content_type)

    def fail_next(self, path: str, *, errcode: int | None = None, status: int | None = None,
                  count: int = 1) -> None:
        """Answer the next ``count`` calls to ``path`` ("/cgi-bin/message/custom/send", or
        just "message/custom/send") with ``errcode`` (HTTP 200 JSON, e.g. -1 system error) or
        with HTTP ``status`` and a text body (e.g. 502). Faults queue up in order."""
        if (errcode is None) == (status is None):
            raise ValueError("fail_next needs exactly one of errcode and status")
        if count < 1:
            raise ValueError("count must be at least 1")
        self._faults.setdefault(_norm_path(path), deque()).append(_Fault(errcode, status, count))

    # ------------------------------------------------------------------ inspection

    def sent_to(self, openid: str) -> list[dict[str, Any]]:
        return [rec for rec in self.sent if rec["touser"] == openid]

    def templates_to(self, openid: str) -> list[dict[str, Any]]:
        return [rec for rec in self.templates if rec["touser"] == openid]

    async def wait_sent(self, openid: str, n: int = 1,
                        timeout: float = 10.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """Wait until at least ``n`` custom messages to ``openid`` were recorded; returns all
        of them (oldest first). AssertionError with everything recorded on timeout."""
        return await self._wait(lambda: self.sent_to(openid), n, timeout,
                                f"custom message(s) to {openid}")

    async def wait_templates(self, openid: str, n: int = 1,
                             timeout: float = 10.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """Like :meth:`wait_sent` for template messages."""
        return await self._wait(lambda: self.templates_to(openid), n, timeout,
                                f"template message(s) to {openid}")

    def describe(self) -> str:
        """Human-readable dump of what was sent and refused (for assertion messages)."""
        lines = [f"custom messages ({len(self.sent)}):"]
        lines += [f"  -> {r['touser']} {r['msgtype']}: {_short(r['content'] or r['media_id'])}"
                  for r in self.sent] or ["  (none)"]
        if self.templates:
            lines.append(f"templates ({len(self.templates)}):")
            lines += [f"  -> {r['touser']} {r['template_id']} {_short(r['data'])}"
                      for r in self.templates]
        if self.rejected:
            lines.append(f"refused ({len(self.rejected)}):")
            lines += [f"  {r['path']} -> {r['errcode']} {r['errmsg']}"
                      + (f" (touser {r['touser']})" if r.get("touser") else "")
                      for r in self.rejected]
        if self.unknown:
            lines.append("unknown paths: " + ", ".join(
                f"{r['method']} {r['path']}" for r in self.unknown))
        if self._windows:
            lines.append("service windows: " + ", ".join(
                f"{openid}: {self.quota_left(openid)} left" for openid in self._windows))
        return "\n".join(lines)

    async def _wait(self, get: Callable[[], list[dict[str, Any]]], n: int, seconds: float,
                    what: str) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            found = get()
            if len(found) >= n:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"expected {n} {what} within {seconds}s, got {len(found)}.\n"
                    f"{self.describe()}")
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 0.1))

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.calls[path] += 1
        if path == "/cgi-bin/stable_token":
            self.token_calls += 1
        fault = self._take_fault(path)
        if fault is not None:
            return fault
        if path.startswith("/pic/") and request.method in ("GET", "HEAD"):
            picture = self._pictures.get(path[len("/pic/"):])
            if picture is None:
                return web.Response(status=404, text="not found")
            return web.Response(body=picture[0], content_type=picture[1])
        route = self._routes.get(path)
        if route is None:
            self.unknown.append({"method": request.method, "path": path, "time": time.time()})
            self._notify()
            return web.Response(status=404, text="404 Not Found")
        method, handler = route
        ctx: dict[str, Any] = {}  # what the handler learnt, for the record of a refusal
        try:
            if request.method != method:
                raise _WxError(43002 if method == "POST" else 43001)
            return await handler(request, ctx)
        except _WxError as err:
            self.rejected.append({"path": path, "errcode": err.errcode, "errmsg": err.errmsg,
                                  "touser": ctx.get("touser"), "time": time.time()})
            self._notify()
            _LOGGER.debug("%s %s -> %s %s", request.method, path, err.errcode, err.errmsg)
            return _json_response({"errcode": err.errcode, "errmsg": err.errmsg})

    def _take_fault(self, path: str) -> web.Response | None:
        queue = self._faults.get(path)
        if not queue:
            return None
        fault = queue[0]
        fault.left -= 1
        if fault.left <= 0:
            queue.popleft()
        if fault.status is not None:
            return web.Response(status=fault.status, text=f"{fault.status} injected failure")
        errcode = fault.errcode if fault.errcode is not None else -1
        errmsg = ERRMSG.get(errcode, "injected failure")
        self.rejected.append({"path": path, "errcode": errcode, "errmsg": errmsg,
                              "touser": None, "time": time.time(), "injected": True})
        self._notify()
        return _json_response({"errcode": errcode, "errmsg": errmsg})

    @staticmethod
    async def _json_body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw.strip():
            raise _WxError(44002)
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError as exc:  # UnicodeDecodeError is a ValueError
            raise _WxError(47001) from exc
        if not isinstance(body, dict):
            raise _WxError(47001)
        return body

    def _check_token(self, request: web.Request) -> None:
        token = request.query.get("access_token")
        if not token:
            raise _WxError(41001)
        if token in self._expired:
            raise _WxError(42001)
        if token != self._token:
            raise _WxError(40001)
        if time.monotonic() >= self._token_expires:
            self.expire_token()
            raise _WxError(42001)

    # ------------------------------------------------------------------ endpoints

    async def _stable_token(self, request: web.Request, ctx: dict[str, Any]) -> web.Response:
        body = await self._json_body(request)
        if body.get("grant_type") != "client_credential":
            raise _WxError(40002)
        appid, secret = body.get("appid"), body.get("secret")
        if not appid:
            raise _WxError(41002)
        if not secret:
            raise _WxError(41004)
        if appid != self.app_id:
            raise _WxError(40013)
        if secret != self.app_secret:
            raise _WxError(40125)
        now = time.monotonic()
        if self._token is not None and now >= self._token_expires:
            self.expire_token()
        if body.get("force_refresh") is True or self._token is None:
            # force_refresh replaces the token: the old one stops working (40001)
            self._token = f"ACCESS_TOKEN_{next(self._tokens)}_{secrets.token_urlsafe(24)}"
            self._token_expires = now + self.token_lifetime
        expires_in = max(1, round(self._token_expires - now))
        return _json_response({"access_token": self._token, "expires_in": expires_in})

    async def _custom_send(self, request: web.Request, ctx: dict[str, Any]) -> web.Response:
        self._check_token(request)
        body = await self._json_body(request)
        touser = body.get("touser")
        if not isinstance(touser, str) or not touser:
            raise _WxError(40003)
        ctx["touser"] = touser
        msgtype = body.get("msgtype")
        content: str | None = None
        media_id: str | None = None
        part = body.get(msgtype) if isinstance(msgtype, str) else None
        if msgtype == "text":
            content = part.get("content") if isinstance(part, dict) else None
            if not isinstance(content, str) or not content:
                raise _WxError(44004)
            if _nbytes(content) > TEXT_LIMIT:
                raise _WxError(45002)
        elif msgtype in _MEDIA_MSG_TYPES:
            media_id = part.get("media_id") if isinstance(part, dict) else None
            if not isinstance(media_id, str) or not media_id:
                raise _WxError(41006)
            if media_id not in self._media:
                raise _WxError(40007)
        elif msgtype in _OTHER_MSG_TYPES:
            if not isinstance(part, dict) or not part:
                raise _WxError(44003 if msgtype == "news" else 47001)
        else:
            raise _WxError(40008)
        state = self._windows.get(touser)
        if not self.window_always_open:
            if state is None or not state.subscribed or time.time() - state.last > state.span:
                raise _WxError(45015)
            if state.count >= state.quota:
                raise _WxError(45047)
        if state is not None:
            state.count += 1
        self.sent.append({"touser": touser, "msgtype": msgtype, "content": content,
                          "media_id": media_id, "body": body, "time": time.time()})
        self._notify()
        return _json_response({"errcode": 0, "errmsg": "ok"})

    async def _custom_typing(self, request: web.Request, ctx: dict[str, Any]) -> web.Response:
        self._check_token(request)
        body = await self._json_body(request)
        touser = body.get("touser")
        if not isinstance(touser, str) or not touser:
            raise _WxError(40003)
        if body.get("command") not in ("Typing", "CancelTyping"):
            raise _WxError(47001)
        self.typing.append({"touser": touser, "command": body["command"], "time": time.time()})
        return _json_response({"errcode": 0, "errmsg": "ok"})

    async def _template_send(self, request: web.Request, ctx: dict[str, Any]) -> web.Response:
        self._check_token(request)
        body = await self._json_body(request)
        touser = body.get("touser")
        if not isinstance(touser, str) or not touser:
            raise _WxError(40003)
        ctx["touser"] = touser
        template_id = body.get("template_id")
        if template_id not in self.known_templates:
            raise _WxError(40037)
        data = body.get("data")
        if not isinstance(data, dict) or not all(
                isinstance(v, dict) and isinstance(v.get("value"), str) for v in data.values()):
            raise _WxError(47001)
        state = self._windows.get(touser)
        if state is not None and not state.subscribed:
            raise _WxError(43004)
        msgid = next(self._msgids)
        self.templates.append({"touser": touser, "template_id": template_id, "data": data,
                               "url": body.get("url"), "msgid": msgid, "body": body,
                               "time": time.time()})
        self._notify()
        return _json_response({"errcode": 0, "errmsg": "ok", "msgid": msgid})

    async def _media_upload(self, request: web.Request, ctx: dict[str, Any]) -> web.Response:
        self._check_token(request)
        media_type = request.query.get("type", "")
        if media_type not in _MEDIA_TYPES:
            raise _WxError(40004)
        if not request.content_type.startswith("multipart/"):
            raise _WxError(41005)
        form = await request.post()
        field = form.get("media")
        if not isinstance(field, web.FileField):
            raise _WxError(41005)
        data = field.file.read()
        if not data:
            raise _WxError(41005)
        limit, errcode = _MEDIA_TYPES[media_type]
        if len(data) > limit:
            raise _WxError(errcode)
        media_id = f"MEDIA_{next(self._media_ids)}"
        self.uploads[media_id] = data
        self._media[media_id] = (data, field.content_type or "application/octet-stream")
        self._notify()
        return _json_response({"type": media_type, "media_id": media_id,
                               "created_at": int(time.time())})

    async def _media_get(self, request: web.Request, ctx: dict[str, Any]) -> web.Response:
        self._check_token(request)
        media = self._media.get(request.query.get("media_id", ""))
        if media is None:
            raise _WxError(40007)
        data, content_type = media
        name = f"{request.query['media_id']}.{_SUFFIX.get(content_type, 'bin')}"
        return web.Response(body=data, content_type=content_type, headers={
            "Content-disposition": f'attachment; filename="{name}"'})

    async def _menu_create(self, request: web.Request, ctx: dict[str, Any]) -> web.Response:
        self._check_token(request)
        body = await self._json_body(request)
        _check_menu(body)
        self.menu = copy.deepcopy(body)
        self._notify()
        return _json_response({"errcode": 0, "errmsg": "ok"})

    async def _menu_get(self, request: web.Request, ctx: dict[str, Any]) -> web.Response:
        self._check_token(request)
        if self.menu is None:
            raise _WxError(46003, "menu no exist")
        return _json_response({"menu": self.menu})

    async def _menu_delete(self, request: web.Request, ctx: dict[str, Any]) -> web.Response:
        self._check_token(request)
        self.menu = None
        return _json_response({"errcode": 0, "errmsg": "ok"})


def _check_menu(body: Mapping[str, Any]) -> None:
    """WeChat's checks of menu/create: 1-3 buttons, each a sub-menu of 1-5 or an action;
    names <= 16 bytes (top) / 60 bytes (sub), keys <= 128 bytes, URLs <= 1024 bytes."""
    buttons = body.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise _WxError(40016)
    for button in buttons:
        if not isinstance(button, dict):
            raise _WxError(40017)
        name = button.get("name")
        if not isinstance(name, str) or not name or _nbytes(name) > 16:
            raise _WxError(40018)
        if "sub_button" in button:
            subs = button["sub_button"]
            if not isinstance(subs, list) or not 1 <= len(subs) <= 5:
                raise _WxError(40023)
            for sub in subs:
                if not isinstance(sub, dict):
                    raise _WxError(40024)
                sub_name = sub.get("name")
                if not isinstance(sub_name, str) or not sub_name or _nbytes(sub_name) > 60:
                    raise _WxError(40025)
                _check_action(sub, sub=True)
        else:
            _check_action(button, sub=False)


def _check_action(button: Mapping[str, Any], *, sub: bool) -> None:
    kind = button.get("type")
    if kind not in _MENU_TYPES:
        raise _WxError(40024 if sub else 40017)
    if kind in _KEY_TYPES:
        key = button.get("key")
        if not isinstance(key, str) or not key or _nbytes(key) > 128:
            raise _WxError(40026 if sub else 40019)
    if kind in ("view", "miniprogram"):
        url = button.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _WxError(40055)
        if _nbytes(url) > 1024:
            raise _WxError(40027 if sub else 40020)
    if kind in ("media_id", "view_limited") and not button.get("media_id"):
        raise _WxError(40007)


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ====================================================================== the push side

_MSG_IDS = itertools.count(24_000_000_000_000_001)  # shared: ids stay unique across clients
_ENVELOPE = frozenset({"Encrypt", "MsgSignature", "TimeStamp", "Nonce"})
_ENCRYPT_RE = re.compile(rb"<Encrypt>\s*<!\[CDATA\[(.*?)\]\]>\s*</Encrypt>", re.S)


@dataclass
class Passive:
    """The bot's answer to one push, as WeChat sees it.

    ``success``: HTTP 200 and a body of exactly "success" or nothing (WeChat's "no passive
    reply"). ``xml``: the reply's fields (decrypted in safe mode), nested elements flattened
    as "Image.MediaId", repeated ones indexed as "Articles.item[1].Title". ``plain``: the reply
    XML after decryption. A 200 answer that is neither is checked like WeChat would (the client
    raises AssertionError for anything WeChat would show as "该公众号暂时无法提供服务").
    """

    status: int
    body: str
    success: bool = False
    xml: dict[str, str] | None = None
    text: str | None = None
    msg_type: str | None = None
    to_user: str | None = None
    elapsed: float = 0.0
    from_user: str | None = None
    encrypted: bool = False
    plain: str | None = None

    @property
    def in_time(self) -> bool:
        """Answered within WeChat's 5 seconds (else it retries, up to three times)."""
        return self.elapsed < 5.0

    @property
    def media_id(self) -> str | None:
        if not self.xml or not self.msg_type:
            return None
        return self.xml.get(f"{self.msg_type.capitalize()}.MediaId")


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _flatten(element: ET.Element, prefix: str, out: dict[str, str]) -> None:
    tags = Counter(child.tag for child in element)
    seen: Counter[str] = Counter()
    for child in element:
        key = child.tag
        if tags[key] > 1:
            key = f"{key}[{seen[child.tag]}]"
            seen[child.tag] += 1
        key = prefix + key
        if len(child):
            _flatten(child, key + ".", out)
        else:
            out[key] = child.text or ""


def _parse_xml(text: str, what: str) -> ET.Element:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise AssertionError(f"{what} is not XML ({exc}): {_short(text, 300)!r}") from exc
    if root.tag != "xml":
        raise AssertionError(f"{what}: root element is <{root.tag}>, not <xml>")
    return root


def _peers(xml: str) -> tuple[str | None, str | None]:
    """(FromUserName, ToUserName) of a pushed document, or Nones if it does not parse."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None, None
    return root.findtext("FromUserName"), root.findtext("ToUserName")


class WeChatClient:
    """WeChat's servers pushing to the bot's URL; see the module docstring.

    ``aes_key`` (the 43-character EncodingAESKey) selects safe mode. With ``api`` the
    send_* methods open the user's customer-service window there (``api.user_messaged``;
    an unsubscribe event calls ``api.user_unsubscribed``). ``timeout``: seconds the client
    waits for an answer (WeChat gives up after 5; :attr:`Passive.in_time` checks that).
    """

    def __init__(self, url: str, *, token: str, app_id: str, aes_key: str | None = None,
                 account: str = "gh_testaccount", api: FakeWeChatAPI | None = None,
                 timeout: float = 15.0) -> None:
        self.url = url
        self.token = token
        self.app_id = app_id
        self.aes_key = aes_key
        self.account = account
        self.api = api
        self.timeout = timeout
        self._crypto: Any = WeChatCrypto(token, aes_key, app_id) if aes_key else None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WeChatClient:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers={"User-Agent": "Mozilla/4.0"})
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def safe_mode(self) -> bool:
        return self._crypto is not None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use WeChatClient as an async context manager")
        return self._session

    # ------------------------------------------------------------------ signing

    def sign(self, *parts: str) -> str:
        """sha1 of the sorted token and ``parts`` (wechatpy's WeChatSigner)."""
        signer = WeChatSigner()
        signer.add_data(self.token, *parts)
        return str(signer.signature)

    def _forged(self, *parts: str) -> str:
        signer = WeChatSigner()
        signer.add_data(self.token + "-forged", *parts)
        return str(signer.signature)

    @staticmethod
    def _nonce() -> str:
        return str(1_000_000_000 + secrets.randbelow(9_000_000_000))

    # ------------------------------------------------------------------ URL check

    async def verify(self, echostr: str = "5837397301622104906", *,
                     bad_signature: bool = False) -> tuple[int, str]:
        """WeChat's GET check of the server URL; returns (status, body)."""
        timestamp, nonce = str(int(time.time())), self._nonce()
        sign = self._forged if bad_signature else self.sign
        params = {"signature": sign(timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
                  "echostr": echostr}
        async with self.session.get(self.url, params=params, allow_redirects=False) as resp:
            return resp.status, (await resp.read()).decode("utf-8", "replace")

    # ------------------------------------------------------------------ messages

    async def send_text(self, openid: str, content: str, *, msg_id: int | None = None,
                        create_time: int | None = None) -> Passive:
        return await self._send(openid, "text", [("Content", content)], msg_id, create_time)

    async def send_event(self, openid: str, event: str, *, event_key: str | None = None,
                         ticket: str | None = None, create_time: int | None = None) -> Passive:
        """An event ("subscribe", "unsubscribe", "CLICK", "VIEW", "SCAN", ...): no MsgId;
        WeChat's dedupe key for events is FromUserName + CreateTime."""
        fields: list[tuple[str, str | int | float]] = [("Event", event)]
        if event_key is not None:
            fields.append(("EventKey", event_key))
        if ticket is not None:
            fields.append(("Ticket", ticket))
        return await self._send(openid, "event", fields, None, create_time, event=event)

    async def send_location(self, openid: str, lat: float, lon: float, *, label: str = "",
                            scale: int = 15, msg_id: int | None = None,
                            create_time: int | None = None) -> Passive:
        """Location_X is the latitude, Location_Y the longitude (WeChat's naming)."""
        return await self._send(openid, "location", [
            ("Location_X", float(lat)), ("Location_Y", float(lon)), ("Scale", scale),
            ("Label", label)], msg_id, create_time)

    async def send_image(self, openid: str, *, pic_url: str, media_id: str,
                         msg_id: int | None = None, create_time: int | None = None) -> Passive:
        return await self._send(openid, "image", [("PicUrl", pic_url), ("MediaId", media_id)],
                                msg_id, create_time)

    async def send_voice(self, openid: str, *, media_id: str, recognition: str | None = None,
                         audio_format: str = "amr", msg_id: int | None = None,
                         create_time: int | None = None) -> Passive:
        fields: list[tuple[str, str | int | float]] = [("MediaId", media_id),
                                                       ("Format", audio_format)]
        if recognition is not None:
            fields.append(("Recognition", recognition))
        return await self._send(openid, "voice", fields, msg_id, create_time)

    def build_xml(self, openid: str, msg_type: str, fields: list[tuple[str, str | int | float]],
                  *, msg_id: int | None = None, create_time: int | None = None,
                  with_msg_id: bool = True) -> str:
        """The XML WeChat pushes; str values go in CDATA, numbers bare. A MsgId is drawn from
        a shared counter when ``msg_id`` is None and ``with_msg_id``."""
        created = int(time.time()) if create_time is None else create_time
        rows: list[tuple[str, str | int | float]] = [
            ("ToUserName", self.account), ("FromUserName", openid), ("CreateTime", created),
            ("MsgType", msg_type), *fields]
        if with_msg_id:
            rows.append(("MsgId", next(_MSG_IDS) if msg_id is None else msg_id))
        lines = ["<xml>"]
        for name, value in rows:
            if isinstance(value, str):
                text = _cdata(value)
            elif isinstance(value, float):
                text = f"{value:.6f}"
            else:
                text = str(value)
            lines.append(f"<{name}>{text}</{name}>")
        lines.append("</xml>")
        return "\n".join(lines)

    async def _send(self, openid: str, msg_type: str,
                    fields: list[tuple[str, str | int | float]], msg_id: int | None,
                    create_time: int | None, *, event: str | None = None) -> Passive:
        xml = self.build_xml(openid, msg_type, fields, msg_id=msg_id, create_time=create_time,
                             with_msg_id=msg_type != "event")
        if self.api is not None:
            if event == "unsubscribe":
                self.api.user_unsubscribed(openid)
            else:
                self.api.user_messaged(openid)
        return await self.post_xml(xml)

    # ------------------------------------------------------------------ raw posting

    async def post_xml(self, xml: str, *, forge: bool = False,
                       query_override: Mapping[str, str | None] | None = None,
                       timestamp: int | str | None = None, nonce: str | None = None) -> Passive:
        """Sign (and in safe mode encrypt) ``xml`` like WeChat and post it. ``forge``: wrong
        signature and msg_signature. ``timestamp`` / ``nonce`` are signed as given (stale or
        replayed pushes); ``query_override`` then replaces query parameters (None drops one).
        The reply must be addressed to the document's FromUserName from its ToUserName."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or self._nonce()
        sign = self._forged if forge else self.sign
        openid, account = _peers(xml)
        query: dict[str, str] = {"signature": sign(ts, nonce), "timestamp": ts, "nonce": nonce}
        if openid:
            query["openid"] = openid
        if self._crypto is not None:
            envelope = ET.fromstring(self._crypto.encrypt_message(xml, nonce, ts))
            encrypt = envelope.findtext("Encrypt") or ""
            query["encrypt_type"] = "aes"
            query["msg_signature"] = (self._forged(ts, nonce, encrypt) if forge
                                      else envelope.findtext("MsgSignature") or "")
            body = (f"<xml><ToUserName>{_cdata(account or self.account)}</ToUserName>"
                    f"<Encrypt>{_cdata(encrypt)}</Encrypt></xml>")
        else:
            body = xml
        return await self._post(body.encode("utf-8"), _override(query, query_override),
                                None, expect=(openid, account))

    async def post_raw(self, body: bytes, *, sign: bool = True,
                       headers: Mapping[str, str] | None = None,
                       query_override: Mapping[str, str | None] | None = None,
                       openid: str | None = None) -> Passive:
        """Post ``body`` as it is (malformed or hostile documents). ``sign``: add a valid
        signature (and in safe mode encrypt_type=aes and a msg_signature over the body's
        Encrypt, or over "" if it has none); otherwise no signature parameters at all."""
        query: dict[str, str] = {}
        if sign:
            ts, nonce = str(int(time.time())), self._nonce()
            query = {"signature": self.sign(ts, nonce), "timestamp": ts, "nonce": nonce}
            if openid:
                query["openid"] = openid
            if self._crypto is not None:
                match = _ENCRYPT_RE.search(body)
                encrypt = match.group(1).decode("utf-8", "replace") if match else ""
                query["encrypt_type"] = "aes"
                query["msg_signature"] = self.sign(ts, nonce, encrypt)
        return await self._post(body, _override(query, query_override), headers,
                                expect=(None, None))

    async def _post(self, body: bytes, query: Mapping[str, str],
                    headers: Mapping[str, str] | None,
                    expect: tuple[str | None, str | None]) -> Passive:
        send_headers = {"Content-Type": "text/xml"}
        send_headers.update(headers or {})
        started = time.monotonic()
        async with self.session.post(self.url, params=query, data=body, headers=send_headers,
                                     allow_redirects=False) as resp:
            raw = await resp.read()
            status = resp.status
        elapsed = time.monotonic() - started
        return self._passive(status, raw, elapsed, expect)

    # ------------------------------------------------------------------ replies

    def _passive(self, status: int, raw: bytes, elapsed: float,
                 expect: tuple[str | None, str | None]) -> Passive:
        if status != 200:
            return Passive(status, raw.decode("utf-8", "replace"), elapsed=elapsed)
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AssertionError(f"passive reply is not UTF-8: {raw[:200]!r}") from exc
        if body in ("", "success"):
            return Passive(status, body, success=True, elapsed=elapsed)
        plain, encrypted = body, False
        if self._crypto is not None:
            plain, encrypted = self._decrypt_reply(body), True
        root = _parse_xml(plain, "passive reply")
        fields: dict[str, str] = {}
        _flatten(root, "", fields)
        openid, account = expect
        msg_type = fields.get("MsgType")
        if not msg_type:
            raise AssertionError(f"passive reply without MsgType: {_short(plain, 300)!r}")
        if not fields.get("CreateTime", "").isdigit():
            raise AssertionError(f"passive reply without a numeric CreateTime: {fields}")
        if openid is not None and fields.get("ToUserName") != openid:
            raise AssertionError(
                f"passive reply ToUserName {fields.get('ToUserName')!r}, expected {openid!r}")
        if account is not None and fields.get("FromUserName") != account:
            raise AssertionError(
                f"passive reply FromUserName {fields.get('FromUserName')!r}, "
                f"expected {account!r}")
        text = fields.get("Content") if msg_type == "text" else None
        if msg_type == "text":
            if text is None:
                raise AssertionError("text reply without Content")
            if _nbytes(text) > TEXT_LIMIT:
                raise AssertionError(
                    f"text reply of {_nbytes(text)} bytes; WeChat drops more than {TEXT_LIMIT}")
        return Passive(status, body, xml=fields, text=text, msg_type=msg_type,
                       to_user=fields.get("ToUserName"), elapsed=elapsed,
                       from_user=fields.get("FromUserName"), encrypted=encrypted, plain=plain)

    def _decrypt_reply(self, body: str) -> str:
        root = _parse_xml(body, "safe-mode reply")
        tags = [child.tag for child in root]
        if sorted(tags) != sorted(_ENVELOPE):
            raise AssertionError(
                "safe-mode reply must be <xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/>"
                f"</xml>, got elements {tags}: {_short(body, 300)!r}")
        env = {child.tag: (child.text or "").strip() for child in root}
        try:
            plain = self._crypto.decrypt_message(
                {"Encrypt": env["Encrypt"]}, env["MsgSignature"], env["TimeStamp"],
                env["Nonce"])
        except Exception as exc:  # wechatpy: InvalidSignatureException, InvalidAppIdException,
            # or a ValueError / struct.error from a ciphertext that is not ours
            raise AssertionError(
                f"safe-mode reply does not decrypt/verify with wechatpy "
                f"({type(exc).__name__}: {exc}): {_short(body, 300)!r}") from exc
        return str(plain)


def _override(query: dict[str, str],
              override: Mapping[str, str | None] | None) -> dict[str, str]:
    for key, value in (override or {}).items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return query
