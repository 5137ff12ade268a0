"""WeChat Official Account channel (公众号): WeChat posts each message to `/wechat`; the bot
writes it to the inbox, handles it through the durable pipeline, and answers in the HTTP
response when the answer is ready within ANSWER_WITHIN seconds (a "passive" reply). Later
answers, further parts and notices go through the customer-service API from the outbox.

WeChat has no buttons in chat: a reply's buttons become numbered lines, and the user's next
"2" (or "２", "二") is that button, kept in the database so that it survives a restart.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import secrets
import time
import unicodedata
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from aiohttp import web

from channels.durable import Hook, Pipeline, Runtime, Sender, Unreadable, serve
from channels.wechat_protocol import (
    TEXT_LIMIT,
    Crypto,
    Passive,
    ProtocolError,
    parse_xml,
    signature_ok,
    split_text,
)
from core import i18n
from core.clock import Clock, SystemClock
from core.i18n import _
from core.messages import DeliveryError, Incoming, Reply, User
from core.settings import Settings
from handlers.context import HELP_TOPIC, Topic
from handlers.start import Language
from knowledge.base import KnowledgeBase
from storage.inbox import InboxRow
from storage.outbox import OutRow
from storage.pictures import MAX_BYTES as MAX_PICTURE
from storage.pictures import PictureRepo, mime_of
from storage.wechat import Choices, Follower, WeChatRepo

log = logging.getLogger(__name__)
CHANNEL = "wechat"
ANSWER_WITHIN = 4.0  # seconds: WeChat gives up on a response after 5 and asks again
HOLD = timedelta(seconds=4.5)  # replies wait this long for their request to take them
# A reply being written into a response is no one else's for this long; writing takes
# milliseconds, so a lease that outlives it belongs to a request that died with its process.
LEASE = timedelta(seconds=6)
MAX_BODY = 64 * 1024  # bytes of a pushed message (a 3,000-character text is about 13 KB)
WINDOW = timedelta(hours=48)  # customer-service messages after a user's last message
QUOTA = 5  # customer-service messages per user message
TOKEN_EARLY = timedelta(minutes=5)  # refresh the access token this long before it expires
TOKEN_ERRORS = (40001, 40014, 42001)  # invalid, malformed, expired access token
BLOCKED_ERRORS = (43004, 43019)  # the user does not follow the account / blocked it
WINDOW_ERRORS = (45015, 45047)  # out of the window / out of the quota
# The app id or secret is wrong, or this server's IP is not on the account's whitelist:
# retried (with the sender's backoff) until the operator fixes it, never dropped.
CONFIG_ERRORS = (*TOKEN_ERRORS, 40002, 40013, 40125, 40164, 41001, 41002, 41004)
PICTURE_TIMEOUT = 3.0  # seconds for a user's picture: the others' answers wait meanwhile
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]{2,}")
_SEPARATORS = re.compile(r"[\s,，、;；]+")
_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
             "九": 9, "十": 10}


class WeChatError(Exception):
    """WeChat's API answered with an error code (or not at all: errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode


class WeChatApi:
    """The API calls the channel makes, with the shared access token (one per app id in the
    database, from stable_token, which hands every process the same token while it is
    valid). The token never appears in a log line or an exception's text."""

    def __init__(self, settings: Settings, repo: WeChatRepo, http: httpx.AsyncClient,
                 clock: Clock | None = None) -> None:
        self._base = settings.wechat_api_base.rstrip("/")
        self._app_id = settings.wechat_app_id or ""
        self._secret = settings.wechat_app_secret or ""
        self._repo, self._http = repo, http
        self._clock = clock or SystemClock()
        self._token: tuple[str, datetime] | None = None
        self._lock = asyncio.Lock()
        self.refreshes = 0

    async def token(self, *, bad: str | None = None) -> str:
        """A valid access token; `bad`: the one WeChat just refused (get another)."""
        now = self._clock.now()
        if self._usable(self._token, now, bad):
            return self._token[0]  # type: ignore[index]
        async with self._lock:
            stored = await self._repo.token(self._app_id)
            if self._usable(stored, now, bad):
                self._token = stored
                return stored[0]  # type: ignore[index]
            token, expires = await self._fetch(force=False)
            if token == bad:  # the stable token itself is refused: force a new one
                token, expires = await self._fetch(force=True)
            self._token = (token, expires)
            await self._repo.save_token(self._app_id, token, expires)
            return token

    @staticmethod
    def _usable(cached: tuple[str, datetime] | None, now: datetime, bad: str | None) -> bool:
        return cached is not None and cached[0] != bad and cached[1] - now > TOKEN_EARLY

    async def _fetch(self, *, force: bool) -> tuple[str, datetime]:
        body = {"grant_type": "client_credential", "appid": self._app_id,
                "secret": self._secret, "force_refresh": force}
        data = await self._post_json("/cgi-bin/stable_token", body, None)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatError(data.get("errcode"), str(data.get("errmsg", "no access_token")))
        self.refreshes += 1
        expires_in = int(data.get("expires_in", 7200))
        log.info("WeChat access token refreshed (valid %d s)", expires_in)
        return token, self._clock.now() + timedelta(seconds=expires_in)

    async def keep_fresh(self, stop: asyncio.Event) -> None:
        """Refresh the token ahead of its expiry, so that no message waits for it."""
        while not stop.is_set():
            try:
                await self.token()
                wait = 60.0
                if self._token is not None:
                    left = (self._token[1] - self._clock.now() - TOKEN_EARLY).total_seconds()
                    wait = max(1.0, min(600.0, left + 1))
            except Exception as exc:  # noqa: BLE001 - WeChat unreachable: try again soon
                log.warning("could not refresh the WeChat access token: %s", exc)
                wait = 30.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    async def call(self, path: str, body: dict[str, Any] | None = None, *,
                   files: dict[str, tuple[str, bytes, str]] | None = None,
                   params: dict[str, str] | None = None) -> dict[str, Any]:
        """POST to the API with the access token; a refused token is replaced and the call
        made once more. Raises WeChatError for an error code, httpx errors for transport."""
        token = await self.token()
        for attempt in (1, 2):
            query = {**(params or {}), "access_token": token}
            if files is not None:
                data = await self._post_files(path, files, query)
            else:
                data = await self._post_json(path, body or {}, query)
            code = data.get("errcode", 0)
            if code in TOKEN_ERRORS and attempt == 1:
                log.warning("WeChat refused the access token (%s); refreshing", code)
                token = await self.token(bad=token)
                continue
            if code:
                raise WeChatError(int(code), str(data.get("errmsg", "")))
            return data
        raise AssertionError("unreachable")

    async def media(self, media_id: str) -> bytes:
        """A picture a user sent, as WeChat keeps it (temporary media, 3 days)."""
        token = await self.token()
        try:
            resp = await self._http.get(self._base + "/cgi-bin/media/get",
                                        params={"access_token": token, "media_id": media_id},
                                        timeout=PICTURE_TIMEOUT)
        except httpx.HTTPError as exc:
            raise WeChatError(None, type(exc).__name__) from None
        if resp.headers.get("content-type", "").startswith(("application/json", "text/")):
            data = _json_of(resp)
            raise WeChatError(data.get("errcode"), str(data.get("errmsg", "")))
        if resp.status_code != 200 or not 0 < len(resp.content) <= MAX_PICTURE:
            raise WeChatError(None, f"HTTP {resp.status_code}")
        return resp.content

    async def _post_json(self, path: str, body: dict[str, Any],
                         query: dict[str, str] | None) -> dict[str, Any]:
        content = json.dumps(body, ensure_ascii=False).encode()
        try:
            resp = await self._http.post(self._base + path, params=query, content=content,
                                         headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:  # its text may hold the URL, with the token
            raise WeChatError(None, type(exc).__name__) from None
        return _json_of(resp)

    async def _post_files(self, path: str, files: dict[str, tuple[str, bytes, str]],
                          query: dict[str, str]) -> dict[str, Any]:
        try:
            resp = await self._http.post(self._base + path, params=query, files=files)
        except httpx.HTTPError as exc:
            raise WeChatError(None, type(exc).__name__) from None
        return _json_of(resp)


def _json_of(resp: httpx.Response) -> dict[str, Any]:
    if resp.status_code >= 500:
        raise WeChatError(None, f"HTTP {resp.status_code}")
    try:
        data = resp.json()
    except ValueError:
        raise WeChatError(None, f"HTTP {resp.status_code}, not JSON") from None
    if not isinstance(data, dict):
        raise WeChatError(None, "not a JSON object")
    return data


FRESH = 300  # seconds a push's timestamp may be from now (WeChat retries within 15)


def _fresh(timestamp: str) -> bool:
    try:
        return abs(time.time() - int(timestamp)) <= FRESH
    except ValueError:
        return False


async def _read_body(request: web.Request) -> bytes | None:
    """The whole body, however it arrives in pieces; None when over MAX_BODY."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(MAX_BODY + 1 - size if size <= MAX_BODY else 1):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            return None
    return b"".join(chunks)


class Replays:
    """A signed URL (timestamp, nonce) with another body than the first: in plain mode the
    signature does not cover the body, so one captured URL could carry any message. A retry
    of the same body passes (WeChat's retries; the inbox answers them once)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], tuple[float, str]] = {}

    def fresh(self, timestamp: str, nonce: str, body: bytes) -> bool:
        now = time.monotonic()
        if len(self._seen) > 10_000:
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < 2 * FRESH}
        digest = hashlib.sha256(body).hexdigest()
        seen = self._seen.setdefault((timestamp, nonce), (now, digest))
        return seen[1] == digest


def message_key(fields: dict[str, str]) -> str:
    """WeChat's id of a push, the same for its retries: MsgId, or for events (which have
    none) the sender, time and event (a click and a location report in one second are two)."""
    if fields.get("MsgId"):
        return fields["MsgId"]
    return ":".join((fields.get("FromUserName", ""), fields.get("CreateTime", ""),
                     fields.get("Event", ""), fields.get("EventKey", "")))


def language_of(text: str) -> str | None:
    """WeChat sends no language: Chinese characters mean Chinese, Latin words English."""
    if text.startswith("/"):
        return None
    if _CJK.search(text):
        return "zh"
    if len(_LATIN.findall(text)) >= 2:  # "ok", "ID" or "QQ" alone say nothing
        return "en"
    return None


def picks(text: str) -> list[int] | None:
    """The numbers a message picks ("2", "２", "二", "1 3", "1、3"), or None when it is not
    only numbers."""
    words = [w.rstrip(".。") for w in _SEPARATORS.split(unicodedata.normalize("NFKC", text))
             if w]
    if not words or len(words) > 12:
        return None
    out: list[int] = []
    for word in words:
        if word.isdigit() and len(word) <= 2:
            out.append(int(word))
        elif word in _NUMERALS:
            out.append(_NUMERALS[word])
        else:
            return None
    return out


def to_incoming(fields: dict[str, str], key: str) -> Incoming | None:
    """One pushed message as the core's Incoming (numbers not yet read as choices); None when
    there is nothing to answer (a menu's link opened, location reporting)."""
    openid = fields.get("FromUserName", "")
    kind = fields.get("MsgType", "")
    text = fields.get("Content", "") if kind == "text" else ""
    if kind == "voice" and fields.get("Recognition"):
        text = fields["Recognition"]  # WeChat's speech recognition, when the account has it
    user = User(CHANNEL, openid, language_of(text) if text else None, "")

    def make(**kw: Any) -> Incoming:
        return Incoming(user, openid, update_id=key, private=True, **kw)

    if kind == "text" or (kind == "voice" and text):
        return make(text=text)
    if kind == "event":
        event = fields.get("Event", "").lower()
        event_key = fields.get("EventKey", "")
        if event == "subscribe":
            scene = event_key.removeprefix("qrscene_")
            return make(text=f"/start {scene}" if scene.startswith("join_") else "/start")
        if event == "scan":
            return make(text=f"/start {event_key}") if event_key.startswith("join_") else None
        if event == "unsubscribe":
            return make(media=UNSUBSCRIBED)
        if event == "click" and event_key:
            return make(payload=event_key)
        return None  # VIEW (a link opened), LOCATION (reported position), ...
    if kind == "location":
        try:
            lat, lon = float(fields["Location_X"]), float(fields["Location_Y"])
        except (KeyError, ValueError) as exc:
            raise Unreadable("a location without coordinates") from exc
        return make(location=(lat, lon))
    if kind == "image":
        media_id = fields.get("MediaId", "")
        return make(media="photo", photo=f"{PHOTO_PREFIX}{media_id}" if media_id else None)
    media = {"voice": "voice", "video": "video", "shortvideo": "video", "file": "document",
             "link": "other"}.get(kind, "other")
    return make(media=media)


UNSUBSCRIBED = "wechat:unsubscribed"  # an Incoming only this channel makes and takes
PHOTO_PREFIX = "wxmedia:"


def render(replies: list[Reply]) -> tuple[list[Reply], Choices | None]:
    """The core's replies as WeChat messages: text of at most 2,048 bytes each (buttons as
    numbered lines, numbered across the replies), pictures as messages of their own. Returns
    the messages and the choices the numbers stand for (None: no buttons)."""
    with i18n.use(_language_of_replies(replies)):
        return _render(replies)


def _language_of_replies(replies: list[Reply]) -> str:
    """The core answered in the user's language; the lines added here follow it."""
    text = "".join(r.text for r in replies)
    return "zh" if _CJK.search(text) or not _LATIN.search(text) else "en"


def _render(replies: list[Reply]) -> tuple[list[Reply], Choices | None]:
    payloads: list[str] = []
    multi = False
    texts: list[list[str]] = []
    last_with_buttons = -1
    for reply in replies:
        lines = [reply.text] if reply.text else []
        for row in reply.buttons:
            for button in row:
                payloads.append(button.payload)
                lines.append(f"{len(payloads)}. {button.label}")
        if reply.buttons:
            last_with_buttons = len(texts)
            multi = multi or reply.multi
        if reply.location is not None:
            lat, lon = reply.location
            lines.append(_("Location: {lat:.5f}, {lon:.5f}").format(lat=lat, lon=lon))
        if reply.ask == "location":
            lines.append(_("To send your location: tap ⊕ beside the input box, then Location."))
        if reply.document is not None:
            lines.append(_("(A file cannot be sent here on WeChat; the bureau's administrators "
                           "can export it with the bot's command line.)"))
        texts.append(lines)
    if payloads:
        hint = (_("Reply with numbers to choose several (e.g. 1 3), then the number of Done.")
                if multi else _("Reply with a number to choose."))
        texts[last_with_buttons].append(hint)
    out: list[Reply] = []
    for reply, lines in zip(replies, texts, strict=True):
        text = "\n".join(lines)
        if text.strip():
            out += [Reply(part) for part in split_text(text, TEXT_LIMIT)]
        if reply.image is not None:
            out.append(Reply("", image=reply.image))
        elif reply.photo is not None:
            out.append(Reply("", photo=reply.photo))
    return out, (Choices(tuple(payloads), multi) if payloads else None)


def _is_text(reply: Reply) -> bool:
    return reply.image is None and reply.photo is None and bool(reply.text)


class WeChatChannel:
    """Receives WeChat's pushes (routes for the web server), handles them through the durable
    pipeline, delivers the outbox by customer-service messages; a Notifier for reminders and a
    Transport for the outbox."""

    def __init__(self, runtime: Runtime, settings: Settings, *,
                 http: httpx.AsyncClient | None = None, clock: Clock | None = None) -> None:
        self.assistant = runtime.assistant
        self.settings = settings
        self.token = settings.wechat_token or ""
        self.app_id = settings.wechat_app_id or ""
        keys = [k for k in (settings.wechat_aes_key, settings.wechat_aes_key_previous) if k]
        self.crypto = Crypto(self.token, self.app_id, keys) if keys else None
        self.repo = WeChatRepo(runtime.db)
        self.inbox, self.outbox = runtime.inbox, runtime.outbox
        self._clock = clock or SystemClock()
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        self._own_http = http is None
        self.api = WeChatApi(settings, self.repo, self._http, clock)
        self.pictures = PictureRepo(runtime.db)
        self.sender = Sender(CHANNEL, outbox=runtime.outbox, transport=self,
                             max_age=timedelta(hours=settings.bot_reply_max_age_hours))
        self.pipeline = Pipeline(CHANNEL, db=runtime.db, inbox=runtime.inbox,
                                 outbox=runtime.outbox, assistant=runtime.assistant,
                                 read=self.read, on_written=self.sender.wake,
                                 handle=self.handle, hold=HOLD, on_handled=self._handled,
                                 prepare=self.prepare)
        self._waiting: dict[str, asyncio.Future[int]] = {}
        self._replays = Replays()
        if self.crypto is None:
            log.warning("WeChat plain mode: messages are signed but not encrypted, and the "
                        "signature does not cover them; set WECHAT_AES_KEY (safe mode) in "
                        "production")
        self.answer_within = ANSWER_WITHIN
        self.passive = self.pushed = 0
        self.assistant.outbox.register(CHANNEL, self)

    # --- the web server's routes ----------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        app.router.add_get("/wechat", self.on_verify)
        app.router.add_post("/wechat", self.on_push)

    async def on_verify(self, request: web.Request) -> web.Response:
        """The server URL check when the account is configured: echo `echostr`."""
        q = request.query
        if not signature_ok(q.get("signature"), self.token, q.get("timestamp", ""),
                            q.get("nonce", "")):
            log.warning("a WeChat URL check with a bad signature was refused")
            return web.Response(status=403, text="forbidden")
        return web.Response(text=q.get("echostr", ""))

    async def on_push(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        if not signature_ok(q.get("signature"), self.token, timestamp, nonce):
            log.warning("a WeChat push with a bad signature was refused")
            return web.Response(status=403, text="forbidden")
        if self.crypto is None and not _fresh(timestamp):
            # Plain mode: the signature does not cover the body, so an old signed URL must
            # not carry a new message (safe mode signs the ciphertext itself).
            log.warning("a WeChat push signed more than %d s from now was refused", FRESH)
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="too large")
        body = await _read_body(request)
        if body is None:
            return web.Response(status=413, text="too large")
        if self.crypto is None and not self._replays.fresh(timestamp, nonce, body):
            log.warning("a signed WeChat URL was used again with another body; refused")
            return web.Response(status=403, text="forbidden")
        encrypted = q.get("encrypt_type") == "aes"
        key_used = 0
        try:
            fields = parse_xml(body)
            if self.crypto is not None:
                if not encrypted:
                    log.warning("a plain WeChat push while safe mode is configured; refused")
                    return web.Response(status=403, text="forbidden")
                plain, key_used = self.crypto.decrypt(fields.get("Encrypt", ""),
                                                      q.get("msg_signature"), timestamp, nonce)
                fields = parse_xml(plain)
        except ProtocolError as exc:
            forged = "signature" in str(exc)
            log.warning("a WeChat push was refused: %s", exc)
            return web.Response(status=403 if forged else 400,
                                text="forbidden" if forged else "bad request")
        openid, account = fields.get("FromUserName", ""), fields.get("ToUserName", "")
        if not openid or not fields.get("MsgType"):
            return web.Response(status=400, text="bad request")
        key = message_key(fields)
        found = await self.inbox.receive_one(CHANNEL, key, json.dumps(fields,
                                                                     ensure_ascii=False),
                                             self._clock.now())
        self.pipeline.wake()
        answer, more = await self._answer(key, found, started + self.answer_within)
        if answer is not None and time.monotonic() - started > ANSWER_WITHIN + 0.5:
            # Too late for this response (WeChat stops waiting at 5 s): the sender sends it.
            await self.outbox.release(answer.id, self._clock.now())
            answer, more = None, True
        if answer is None:
            if more:
                self.sender.wake()
            return web.Response(text="success")
        xml = Passive(openid, account, text=answer.reply.text).xml(int(time.time()))
        if self.crypto is not None:  # with the key the push came under (a key change)
            xml = self.crypto.encrypt(xml, str(int(time.time())), secrets.token_hex(8),
                                      key=key_used)
        response = web.Response(body=xml, content_type="application/xml", charset="utf-8")
        try:
            await response.prepare(request)
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            # WeChat hung up: the sender sends it by customer-service message instead.
            await asyncio.shield(self.outbox.release(answer.id, self._clock.now()))
            self.sender.wake()
            raise
        await self.outbox.finish(answer.id, "sent", self._clock.now())
        if more:
            self.sender.wake()  # the message's later replies were waiting behind this one
        self.passive += 1
        return response

    async def _answer(self, key: str, found: tuple[int, bool],
                      deadline: float) -> tuple[OutRow | None, bool]:
        """The first reply to the message (inbox row id, handled yet), leased, if it is text
        and ready by `deadline` (monotonic), and whether more replies follow it. None:
        `success` now, every reply goes by customer-service messages."""
        inbox_id, handled = found
        if not handled:
            waiter = self._waiting.get(key)
            if waiter is None:
                waiter = self._waiting[key] = asyncio.get_running_loop().create_future()
            while not handled:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    # shield: a retry of the message shares the first request's waiter
                    await asyncio.wait_for(asyncio.shield(waiter), timeout=min(left, 0.5))
                    handled = True
                if not handled:  # handled by another process?
                    again = await self.inbox.find(CHANNEL, key)
                    handled = bool(again and again[1])
            if self._waiting.get(key) is waiter:
                del self._waiting[key]  # resolved or not: a later request makes its own
        now = self._clock.now()
        if not handled:
            await self.outbox.release_answers(inbox_id, now)
            self.sender.wake()
            return None, False
        row, more = await self.outbox.take_answer(inbox_id, now, LEASE, takes=_is_text)
        if row is None and more:
            self.sender.wake()
        return row, more

    def _handled(self, rows: list[InboxRow]) -> None:
        for row in rows:
            waiter = self._waiting.pop(row.key, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(row.id)

    # --- the pipeline's hooks -------------------------------------------------------------
    async def prepare(self, rows: list[InboxRow]) -> dict[int, bytes]:
        """The pictures of users in a step that takes one (a disclosure's noticeboard photo),
        fetched at once before the batch is handled: from the PicUrl, else as the media
        WeChat keeps. Nobody else's pictures are downloaded."""
        wanted: list[tuple[int, dict[str, str]]] = []
        for row in rows:
            if '"image"' not in row.body:  # most rows: no need to parse them twice
                continue
            try:
                fields = json.loads(row.body)
            except ValueError:
                continue
            if isinstance(fields, dict) and fields.get("MsgType") == "image" \
                    and await self._takes_a_picture(str(fields.get("FromUserName", ""))):
                wanted.append((row.id, fields))
        got = await asyncio.gather(*(self._picture(f) for _i, f in wanted))
        return {row_id: data for (row_id, _f), data in zip(wanted, got, strict=True) if data}

    async def _takes_a_picture(self, openid: str) -> bool:
        user = await self.assistant.users.get(CHANNEL, openid)
        if user is None:
            return False
        dialog = await self.assistant.dialogs.get(user.id, self.assistant.clock.now())
        return dialog is not None and dialog.flow in self.assistant.router.rich_dialogs

    async def _picture(self, fields: dict[str, str]) -> bytes | None:
        url, media_id = str(fields.get("PicUrl", "")), str(fields.get("MediaId", ""))
        if url.startswith(("https://", "http://")):
            try:
                resp = await self._http.get(url, timeout=PICTURE_TIMEOUT)
                if resp.status_code == 200 and 0 < len(resp.content) <= MAX_PICTURE:
                    return resp.content
            except httpx.HTTPError as exc:
                log.warning("could not fetch a picture a WeChat user sent: %s",
                            type(exc).__name__)
        if media_id:
            try:
                return await self.api.media(media_id)
            except WeChatError as exc:
                log.warning("could not fetch a WeChat user's picture from WeChat: %s", exc)
        return None

    def read(self, row: InboxRow) -> Incoming | None:
        try:
            fields = json.loads(row.body)
        except ValueError as exc:
            raise Unreadable("not JSON") from exc
        if not isinstance(fields, dict):
            raise Unreadable("not a message")
        return to_incoming({str(k): str(v) for k, v in fields.items()}, row.key)

    async def handle(self, msg: Incoming) -> list[Reply]:
        """Into the core: a number picks a choice of the last message with buttons; out of
        it, the replies as WeChat messages (and their choices kept)."""
        openid = msg.chat_id
        if msg.media == UNSUBSCRIBED:
            await self.repo.unsubscribed(openid, self._clock.now())
            log.info("a WeChat follower unfollowed the account")
            return []
        await self.repo.came_in(openid, self._clock.now())
        replies, keep = await self._into_core(msg)
        out, choices = render(replies)
        if not keep:
            # The numbers mean the choices of the latest answer; an answer without buttons
            # ends them (a "1" later is not a button from long ago, such as "delete my data").
            await self.repo.set_choices(openid, choices)
        return out

    async def _into_core(self, msg: Incoming) -> tuple[list[Reply], bool]:
        """The core's replies, and whether the choices on screen stay (a number out of
        range)."""
        numbers = picks(msg.text) if msg.text else None
        choices = await self.repo.choices(msg.chat_id) if numbers else None
        if numbers is None or choices is None:
            return await self.assistant.handle(msg), False
        numbers = list(dict.fromkeys(numbers))  # "1 1" picks it once
        if len(numbers) > 1 and not choices.multi:
            return await self.assistant.handle(msg), False  # "1 3" where one is asked
        wrong = [n for n in numbers if not 1 <= n <= len(choices.payloads)]
        if wrong:  # said so (in the user's language), and the choices stay
            user = await self.assistant.users.get(CHANNEL, msg.chat_id)
            lang = (user.language or i18n.language_from_code(user.language_code)) if user \
                else i18n.DEFAULT_LANGUAGE
            with i18n.use(lang):
                return [Reply(_("Please type a number from 1 to {n} to choose, or type your "
                                "question.").format(n=len(choices.payloads)))], True
        replies: list[Reply] = []
        for i, n in enumerate(numbers):
            update_id = msg.update_id if i == 0 else f"{msg.update_id}#{i}"
            pick = replace(msg, text=None, payload=choices.payloads[n - 1], update_id=update_id)
            replies = await self.assistant.handle(pick)  # each toggle shows the list again
        return replies, False

    # --- sending --------------------------------------------------------------------------
    async def deliver(self, chat_id: str, reply: Reply) -> None:
        """Transport: one WeChat message from the outbox, by the customer-service API inside
        the user's window, else by the notice template, else undeliverable."""
        follower = await self.repo.follower(chat_id)
        if follower is not None and follower.unsubscribed:
            raise DeliveryError("the user unfollowed the account", blocked=True)
        if not self._window_open(follower):
            await self._template(chat_id, reply)
            return
        # A notice another channel's handling queued is still the core's reply: rendered
        # here (the pipeline's own rows are rendered already, and render them the same).
        parts, choices = render([reply])
        if choices is not None:
            await self.repo.set_choices(chat_id, choices)
        try:
            # Pictures are uploaded first: a failed upload then repeats no text.
            media = {i: await self._upload(p) for i, p in enumerate(parts)
                     if p.image is not None or p.photo is not None}
            for i, part in enumerate(parts):
                await self._custom(chat_id, part, media.get(i))
        except WeChatError as exc:
            if exc.errcode in WINDOW_ERRORS:
                await self.repo.close_window(chat_id)
                await self._template(chat_id, reply)
                return
            raise _delivery_error(exc) from None
        await self.repo.sent(chat_id)
        self.pushed += 1

    def _window_open(self, follower: Follower | None) -> bool:
        """Whether a customer-service message may go (unknown: try, WeChat will say)."""
        if follower is None:
            return True
        if follower.last_in_at is None or follower.window_closed:
            return False
        if follower.sent_since >= QUOTA:
            return False
        return self._clock.now() - datetime.fromisoformat(follower.last_in_at) < WINDOW

    async def _upload(self, reply: Reply) -> str | None:
        """A reply's picture as WeChat temporary media (None: a photo only its own channel
        has; the text said what it shows)."""
        picture = reply.image
        if picture is None and reply.photo is not None:
            picture = await self.pictures.get(reply.photo)
        if picture is None:
            return None
        uploaded = await self.api.call(
            "/cgi-bin/media/upload", params={"type": "image"},
            files={"media": ("picture.jpg", picture, mime_of(picture))})
        return str(uploaded.get("media_id", "")) or None

    async def _custom(self, openid: str, reply: Reply, media_id: str | None = None) -> None:
        if reply.image is not None or reply.photo is not None:
            if media_id is not None:
                await self.api.call("/cgi-bin/message/custom/send", {
                    "touser": openid, "msgtype": "image", "image": {"media_id": media_id}})
            return
        for part in split_text(reply.text or " ", TEXT_LIMIT):
            await self.api.call("/cgi-bin/message/custom/send", {
                "touser": openid, "msgtype": "text", "text": {"content": part}})

    async def _template(self, openid: str, reply: Reply) -> None:
        """Outside the window: the operator's notice template, when there is one."""
        template = self.settings.wechat_template_notice
        if not template or not reply.text:
            raise DeliveryError("outside the customer-service window", undeliverable=True)
        first, _sep, rest = reply.text.partition("\n")
        with i18n.use("zh"):
            remark = _("Send any message to this account to read it in full.")
        values = (first, rest.strip() or first, remark)
        names = [n.strip() for n in self.settings.wechat_template_fields.split(",")]
        body = {"touser": openid, "template_id": template, "data": {
            name: {"value": _field(name, value)}
            for name, value in zip(names, values, strict=False) if name}}
        try:
            await self.api.call("/cgi-bin/message/template/send", body)
        except WeChatError as exc:
            if exc.errcode in TEMPLATE_ERRORS:  # the template does not fit: tell the count
                log.error("WeChat refused the notice template (%s): check "
                          "WECHAT_TEMPLATE_NOTICE and WECHAT_TEMPLATE_FIELDS", exc)
                raise DeliveryError(f"template: {exc}", undeliverable=True) from None
            raise _delivery_error(exc) from None
        self.pushed += 1

    async def notify(self, external_id: str, replies: list[Reply]) -> None:
        """Notifier (reminders): the replies as WeChat messages, their choices kept."""
        out, choices = render(replies)
        if choices is not None:
            await self.repo.set_choices(external_id, choices)
        for reply in out:
            await self.deliver(external_id, reply)

    # --- running --------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, *, on_started: Hook | None = None,
                  before_stop: Hook | None = None) -> None:
        # Leases of a process that died are over: their replies go by the sender now.
        await self.outbox.release_leases(CHANNEL, self._clock.now())
        log.info("WeChat channel running (%s mode)", "safe" if self.crypto else "plain")
        try:
            await serve(CHANNEL, stop, [self.pipeline.run, self.sender.run, self.api.keep_fresh],
                        pipeline=self.pipeline, sender=self.sender, on_started=on_started,
                        before_stop=before_stop)
        finally:
            if self._own_http and stop.is_set():  # not when it is run again after a failure
                await self._http.aclose()


TEMPLATE_ERRORS = (40037, 47001, 47003)  # unknown template, bad data, a field that does not fit


def _field(name: str, value: str) -> str:
    """A template field's value within its type's length (newer templates type their fields
    by name: thing 20 characters, phrase 5, ...; older ones take about 200)."""
    limits = {"thing": 20, "phrase": 5, "character_string": 32, "name": 10}
    kind = name.rstrip("0123456789")
    limit = limits.get(kind, 200)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _delivery_error(exc: WeChatError) -> DeliveryError:
    if exc.errcode is None or exc.errcode == -1:  # transport, 5xx, "system busy"
        return DeliveryError(str(exc))
    if exc.errcode in CONFIG_ERRORS:  # the operator can fix it; the messages wait
        log.error("WeChat refuses the account's credentials or this server (%s): check "
                  "WECHAT_APP_ID, WECHAT_APP_SECRET and the IP whitelist", exc)
        return DeliveryError(str(exc))
    if exc.errcode in BLOCKED_ERRORS:
        return DeliveryError(str(exc), blocked=True)
    if exc.errcode == 45009:  # the day's API quota
        return DeliveryError(str(exc), retry_after=600.0)
    return DeliveryError(str(exc), refused=True)


# --- the custom menu (python bot.py wechat menu) -------------------------------------------
MENU_TOP_BYTES, MENU_SUB_BYTES, MENU_ITEMS = 16, 60, 5


def menu(kb: KnowledgeBase) -> dict[str, Any]:
    """The Official Account's custom menu from knowledge/menu.yaml: the topics (at most five)
    under 办事指南, the services and volunteering actions under 社区服务, help and language
    under 帮助. CLICK keys are the same button data as the chat's buttons."""
    with i18n.use("zh"):
        topics = [{"type": "click", "name": _short(t.title_zh, MENU_SUB_BYTES),
                   "key": Topic(t.id).pack()} for t in kb.menu if t.id != "community"]
        actions: list[dict[str, str]] = []
        for topic in kb.menu:
            for payload, label_zh, _label_en in topic.actions:
                if topic.id in ("community", "volunteer"):
                    actions.append({"type": "click", "name": _short(label_zh, MENU_SUB_BYTES),
                                    "key": payload})
        help_items = [
            {"type": "click", "name": _("How to use"), "key": Topic(HELP_TOPIC).pack()},
            {"type": "click", "name": "中文", "key": Language("zh").pack()},
            {"type": "click", "name": "English", "key": Language("en").pack()},
        ]
        groups = [_("Guides"), _("Services"), _("Help")]
    return {"button": [
        {"name": _short(groups[0], MENU_TOP_BYTES), "sub_button": topics[:MENU_ITEMS]},
        {"name": _short(groups[1], MENU_TOP_BYTES), "sub_button": actions[:MENU_ITEMS]},
        {"name": _short(groups[2], MENU_TOP_BYTES), "sub_button": help_items},
    ]}


def _short(name: str, limit: int) -> str:
    while len(name.encode("utf-8")) > limit:
        name = name[:-1]
    return name


async def publish_menu(api: WeChatApi, kb: KnowledgeBase) -> dict[str, Any]:
    body = menu(kb)
    await api.call("/cgi-bin/menu/create", body)
    return body
