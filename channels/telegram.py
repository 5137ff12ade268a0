"""Telegram channel (python-telegram-bot 22): translates Updates to Incoming and Replies back."""
from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import secrets
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType, MessageLimit
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, Defaults
from telegram.warnings import PTBUserWarning

from channels.durable import Hook, Pipeline, Runtime, Sender, Unreadable, serve
from channels.pacing import Pacer
from core import i18n
from core.clock import SystemClock
from core.i18n import _
from core.messages import Contact, DeliveryError, Incoming, Reply, User
from core.settings import Settings
from handlers.commands import for_role
from storage.inbox import InboxRow
from storage.pictures import MAX_BYTES as MAX_PICTURE
from storage.pictures import PictureRepo, is_picture

log = logging.getLogger(__name__)
CHANNEL = "telegram"
ALLOWED_UPDATES = ("message", "callback_query")
MENU_SYNC_SECONDS = 30.0  # how soon a new cadre's or administrator's command menu follows
# Reminders (Notifier.notify; the reminder service has its own later retry): tries after
# timeouts and network errors, and flood waits (429) the rate limiter sits out. Replies go
# through the outbox, whose sender retries for as long as a reply is worth sending.
SEND_ATTEMPTS = 4
FLOOD_RETRIES = 3
def build_application(settings: Settings, *, poll_timeout: float = 10.0) -> Application:
    """The PTB application with the rate limiter, time zone defaults and base URL from settings."""
    # Opt in to python-telegram-bot 23's behaviour (durations such as RetryAfter.retry_after
    # are timedeltas; nothing here reads them): without it every 429 warns of the change.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    rate = settings.telegram_max_rate
    return (
        ApplicationBuilder()
        .token(settings.telegram_bot_token or "")
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_url.replace("/bot", "/file/bot"))
        .rate_limiter(AIORateLimiter(overall_max_rate=rate, group_max_rate=min(rate, 20),
                                     max_retries=0))  # callers say how many
        .defaults(Defaults(tzinfo=settings.tz))
        .get_updates_read_timeout(poll_timeout + 5)
        .build()
    )


def _mentions_bot(message: Message, username: str | None) -> bool:
    text = message.text or message.caption or ""
    if username and f"@{username.lower()}" in text.lower():
        return True
    reply = message.reply_to_message
    return bool(reply and reply.from_user and reply.from_user.is_bot
                and reply.from_user.username == username)


def to_incoming(update: Update, bot_username: str | None) -> Incoming | None:
    """Translate an update; None when the bot should stay silent (group chatter)."""
    tg_user = update.effective_user
    chat = update.effective_chat
    if tg_user is None or chat is None:
        return None
    user = User(CHANNEL, str(tg_user.id), tg_user.language_code, tg_user.full_name)
    uid = str(update.update_id)
    private = chat.type == ChatType.PRIVATE
    make = functools.partial(Incoming, user, str(chat.id), update_id=uid, private=private)
    if update.callback_query is not None:
        return make(payload=update.callback_query.data or "")
    message = update.effective_message
    if message is None:
        return None
    if not private:
        is_command = bool(message.text and message.text.startswith("/"))
        if not (is_command or _mentions_bot(message, bot_username)):
            return None
    if message.text is not None:
        text = message.text
        if bot_username:
            text = text.replace(f"@{bot_username}", "").strip() or text
        return make(text=text)
    if message.location is not None:
        loc = message.location
        return make(location=(loc.latitude, loc.longitude))
    if message.contact is not None:
        c = message.contact
        owner = str(c.user_id) if c.user_id else None
        return make(contact=Contact(c.phone_number, owner))
    kind = next((k for k in ("sticker", "photo", "voice", "audio", "video", "video_note",
                             "document", "animation", "poll", "dice") if getattr(message, k)),
                "other")
    photo = message.photo[-1].file_id if message.photo else None  # the largest size
    return make(media=kind, photo=photo)


def _markup(
    reply: Reply, username: str | None = None,
) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    if reply.ask in ("location", "contact"):
        key = KeyboardButton(reply.ask_label or reply.ask,
                             request_location=reply.ask == "location",
                             request_contact=reply.ask == "contact")
        return ReplyKeyboardMarkup([[key]], resize_keyboard=True, one_time_keyboard=True)
    rows = [[InlineKeyboardButton(b.label, callback_data=b.payload) for b in row]
            for row in reply.buttons]
    if reply.private_link is not None and username:
        rows.append([InlineKeyboardButton(_("Open a private chat"),
                                          url=f"https://t.me/{username}?start={reply.private_link}")])
    if reply.clear_keyboard and not rows:
        return ReplyKeyboardRemove()
    if not rows:
        return None
    return InlineKeyboardMarkup(rows)


def _chunks(text: str) -> list[str]:
    limit = MessageLimit.MAX_TEXT_LENGTH
    return [text[i : i + limit] for i in range(0, len(text), limit)] or [""]


class TelegramChannel:
    """Polls Telegram into the inbox, handles it through the durable pipeline, delivers the
    outbox; implements the Notifier protocol (reminders) and the Transport one (the outbox)."""

    def __init__(self, runtime: Runtime, settings: Settings, app: Application) -> None:
        self.assistant = runtime.assistant
        self.settings = settings
        self.app = app
        self.inbox = runtime.inbox
        self.pacer = Pacer(settings.telegram_max_rate)  # for the messages the bot starts
        self.sender = Sender(CHANNEL, outbox=runtime.outbox, transport=self,
                             max_age=timedelta(hours=settings.bot_reply_max_age_hours))
        self.pipeline = Pipeline(CHANNEL, db=runtime.db, inbox=runtime.inbox,
                                 outbox=runtime.outbox, assistant=runtime.assistant,
                                 read=self.read, on_written=self.sender.wake,
                                 prepare=self.prepare)
        self.pictures = PictureRepo(runtime.db)
        self._spinners: set[asyncio.Task[None]] = set()
        self._menus: dict[str, tuple[str, str]] = {}  # external id -> (role, lang) of its menu
        self.webhook = settings.telegram_webhook_url  # None: long polling
        self.running = False
        self.assistant.outbox.register(CHANNEL, self)

    # --- receiving by webhook -------------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        if self.webhook:
            app.router.add_post("/telegram", self.on_webhook)

    async def on_webhook(self, request: web.Request) -> web.Response:
        """An update Telegram posts: refused (403) without the secret set with setWebhook;
        written to the inbox before Telegram hears 200, so that nothing is lost."""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        secret = self.settings.telegram_webhook_secret or ""
        if not secret or not secrets.compare_digest(given.encode(), secret.encode()):
            log.warning("a Telegram webhook request without the right secret was refused")
            return web.Response(status=403, text="forbidden")
        try:
            update = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.Response(status=400, text="not an update")
        await self.inbox.receive(CHANNEL, [(str(update["update_id"]),
                                            json.dumps(update, ensure_ascii=False))],
                                 SystemClock().now())
        self.pipeline.wake()
        self._stop_spinner(update)
        return web.Response(text="ok")

    # --- receiving ------------------------------------------------------------------------
    async def poll(self, stop: asyncio.Event, *, poll_timeout: int = 10,
                   interval: float = 0.0) -> None:
        """Long polling into the inbox. Each fetched batch is written (one transaction) before
        the next getUpdates confirms it to Telegram, and updates are parsed one by one later,
        so that one Telegram cannot parse never stops the others."""
        last = await self.inbox.last_key(CHANNEL)
        offset = int(last) + 1 if last and last.isdigit() else None
        delay = 1.0
        while not stop.is_set():
            try:
                # The raw updates, not Bot.get_updates: it parses the whole batch at once and
                # fails for all when one cannot be parsed. PTB warns of that choice.
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", "Please use 'Bot.getUpdates'",
                                            PTBUserWarning)
                    raw = await self.app.bot.do_api_request(
                        "getUpdates", api_kwargs={"offset": offset, "timeout": poll_timeout,
                                                  "allowed_updates": list(ALLOWED_UPDATES)},
                        read_timeout=poll_timeout + 5)
            except RetryAfter as exc:
                await _sleep_or_stop(stop, _seconds(exc.retry_after))
                continue
            except (TimedOut, NetworkError) as exc:
                log.warning("getUpdates failed: %s; again in %.0f s", exc, delay)
                await _sleep_or_stop(stop, delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            batch = [u for u in raw if isinstance(u, dict) and isinstance(u.get("update_id"), int)
                     ] if isinstance(raw, list) else []
            if batch:
                await self.inbox.receive(
                    CHANNEL, [(str(u["update_id"]), json.dumps(u, ensure_ascii=False))
                              for u in batch], SystemClock().now())
                offset = max(u["update_id"] for u in batch) + 1
                self.pipeline.wake()
                for u in batch:
                    self._stop_spinner(u)
            if interval:
                await _sleep_or_stop(stop, interval)

    def _stop_spinner(self, update: dict[str, Any]) -> None:
        """Answer a button press at once (the spinner on the user's button stops); not part of
        the durable path: a press answered late is still handled."""
        query = update.get("callback_query")
        if not isinstance(query, dict) or not isinstance(query.get("id"), str):
            return

        async def answer(query_id: str) -> None:
            try:
                await self.app.bot.answer_callback_query(query_id)
            except TelegramError as exc:
                log.warning("could not answer callback of update %s: %s",
                            update.get("update_id"), exc)

        task = asyncio.ensure_future(answer(query["id"]))
        self._spinners.add(task)
        task.add_done_callback(self._spinners.discard)

    def read(self, row: InboxRow) -> Incoming | None:
        """The pipeline's reader: the stored update, parsed now."""
        try:
            update = Update.de_json(json.loads(row.body), self.app.bot)
        except Exception as exc:  # noqa: BLE001 - whatever PTB cannot parse is skipped
            raise Unreadable(f"{type(exc).__name__}: {exc}"[:200]) from exc
        return to_incoming(update, self.app.bot.username)

    # --- sending --------------------------------------------------------------------------
    async def deliver(self, chat_id: str, reply: Reply) -> None:
        """Transport: one attempt for one reply from the outbox (its sender retries). Every
        failure arrives as a DeliveryError (`_retry` translates them)."""
        await self._send_one(int(chat_id), reply, flood_retries=None, attempts=1)

    async def notify(self, external_id: str, replies: list[Reply]) -> None:
        """Notifier: a message the bot starts itself, to a user's private chat. Raises
        DeliveryError when Telegram refused it (blocked: 403) or kept failing. Paced under
        Telegram's limits: a broadcast to every cadre must not draw 429s."""
        await self.pacer.wait(external_id)
        for reply in replies:
            await self._send_one(int(external_id), reply)

    async def _send_one(self, chat_id: int, reply: Reply, *,
                        flood_retries: int | None = FLOOD_RETRIES,
                        attempts: int = SEND_ATTEMPTS) -> None:
        """`flood_retries`: flood waits the rate limiter sits out (None: none, the outbox's
        sender waits instead); `attempts`: tries after timeouts and 5xx."""
        bot = self.app.bot
        limit = flood_retries
        retry = functools.partial(self._retry, attempts=attempts)
        if reply.document is not None:
            doc = InputFile(reply.document.content, filename=reply.document.filename)
            await retry(lambda: bot.send_document(chat_id, doc, caption=reply.text[:1024],
                                                        reply_markup=_markup(reply, bot.username),
                                                        rate_limit_args=limit))
            return
        pic = await self._picture(reply)
        if pic is not None:
            caption = reply.text if len(reply.text) <= 1024 else ""
            await retry(lambda: bot.send_photo(chat_id, pic, caption=caption or None,
                                                     reply_markup=_markup(reply, bot.username),
                                                     rate_limit_args=limit))
            if caption:
                return
            reply = Reply(reply.text)
        if reply.location is not None:
            lat, lon = reply.location
            await retry(lambda: bot.send_location(chat_id, latitude=lat, longitude=lon,
                                                        rate_limit_args=limit))
        parts = _chunks(reply.text)
        for i, part in enumerate(parts):
            markup = _markup(reply, bot.username) if i == len(parts) - 1 else None
            await retry(functools.partial(bot.send_message, chat_id, part,
                                                reply_markup=markup, rate_limit_args=limit))

    async def _picture(self, reply: Reply) -> str | InputFile | None:
        """What send_photo takes for a reply's picture: a file id Telegram has, or the bytes
        (a chart, a photo kept from another channel); None when there is none to send."""
        if reply.image is not None:
            return InputFile(reply.image, filename="chart.png")
        if reply.photo is None:
            return None
        if is_picture(reply.photo):
            data = await self.pictures.get(reply.photo)
            return InputFile(data, filename="photo.jpg") if data else None
        if ":" in reply.photo:  # another channel's id (WeChat media) without the bytes
            return None
        return reply.photo

    async def prepare(self, rows: list[InboxRow]) -> dict[int, bytes]:
        """The pipeline's photo fetcher: the largest size of each photo sent in a private
        chat, downloaded before the batch is handled (a disclosure's noticeboard photo is
        kept as bytes, so that WeChat subscribers see it too)."""
        out: dict[int, bytes] = {}
        for row in rows:
            file_id = _private_photo(row.body)
            if file_id is None:
                continue
            try:
                tg_file = await self.app.bot.get_file(file_id)
                data = bytes(await tg_file.download_as_bytearray())
            except (TelegramError, OSError) as exc:
                log.warning("could not download the photo of update %s: %s", row.key, exc)
                continue
            if 0 < len(data) <= MAX_PICTURE:
                out[row.id] = data
        return out

    async def _retry(self, call: Callable[[], Awaitable[object]], *,
                     attempts: int = SEND_ATTEMPTS) -> None:
        """Retry timeouts and network errors (5xx) with backoff. Flood waits are retried by
        the rate limiter (AIORateLimiter, after Telegram's retry_after); one that is still
        refused after its retries, a blocked chat (403) or giving up raises DeliveryError."""
        delay = 0.5
        for attempt in range(1, attempts + 1):
            try:
                await call()
                return
            except Forbidden as exc:
                log.warning("chat blocked the bot or is gone: %s", exc.message)
                raise DeliveryError(exc.message, blocked=True) from exc
            except RetryAfter as exc:
                if attempts > 1:
                    log.warning("still rate limited after the rate limiter's retries: %s", exc)
                raise DeliveryError(str(exc), retry_after=_seconds(exc.retry_after)) from exc
            except BadRequest as exc:  # a NetworkError to PTB, but trying again cannot help
                log.error("Telegram refused a message: %s", exc.message)
                raise DeliveryError(exc.message, refused=True) from exc
            except (TimedOut, NetworkError) as exc:
                if attempts == 1:
                    raise DeliveryError(str(exc)) from exc
                if attempt == attempts:
                    log.error("giving up sending after %d attempts: %s", attempt, exc)
                    raise DeliveryError(str(exc)) from exc
                await asyncio.sleep(delay)
                delay *= 2

    async def set_commands(self) -> None:
        """The command menu in both languages (Chinese also as the default): everyone's, and
        for each cadre and administrator, in their private chat, theirs."""
        for lang, code in (("zh", None), ("zh", "zh"), ("en", "en")):
            await self.app.bot.set_my_commands(_menu("resident", lang), language_code=code)
        await self.sync_role_menus()

    async def sync_role_menus(self) -> None:
        """Give each cadre and administrator the menu of their role (BotCommandScopeChat), in
        their language; a user whose role went back to resident gets the public menu again.
        Run at start and every few minutes (roles change through commands and the CLI)."""
        users = {u.external_id: u for u in await self.assistant.users.with_roles(CHANNEL)}
        for external_id, user in users.items():
            want = (user.role, user.language or i18n.language_from_code(user.language_code))
            if self._menus.get(external_id) != want:
                scope = BotCommandScopeChat(int(external_id))
                try:
                    await self.app.bot.set_my_commands(_menu(*want), scope=scope)
                except TelegramError as exc:
                    log.warning("could not set the command menu of a %s: %s", user.role, exc)
                    continue
                self._menus[external_id] = want
        for external_id in [e for e in self._menus if e not in users]:
            try:
                await self.app.bot.delete_my_commands(
                    scope=BotCommandScopeChat(int(external_id)))
            except TelegramError as exc:
                log.warning("could not reset a command menu: %s", exc)
                continue
            del self._menus[external_id]

    async def run(self, stop: asyncio.Event, *, poll_interval: float = 0.0,
                  poll_timeout: int = 10, on_started: Hook | None = None,
                  before_stop: Hook | None = None) -> None:
        """Poll, handle and deliver until `stop` is set; then stop cleanly: what was received
        is in the inbox (handled now or at the next start), what is due is sent.
        `on_started` runs once the bot can send (the reminder scheduler starts there);
        `before_stop` while it still can (the scheduler finishes its sends)."""
        if not await self._initialize(stop):
            return
        try:
            await self._run(stop, poll_interval=poll_interval, poll_timeout=poll_timeout,
                            on_started=on_started, before_stop=before_stop)
        finally:
            await self.app.shutdown()

    async def _initialize(self, stop: asyncio.Event) -> bool:
        """getMe and the bot's HTTP client, waiting (up to a minute between tries) while
        Telegram cannot be reached; False when stopped meanwhile."""
        delay = 5.0
        while not stop.is_set():
            try:
                await self.app.initialize()
                return True
            except (TimedOut, NetworkError) as exc:
                log.error("cannot reach Telegram (%s); trying again in %.0f s", exc, delay)
                await _sleep_or_stop(stop, delay)
                delay = min(delay * 2, 60.0)
        return False

    async def _run(self, stop: asyncio.Event, *, poll_interval: float, poll_timeout: int,
                   on_started: Hook | None, before_stop: Hook | None) -> None:
        await self.set_commands()
        poller: asyncio.Future[Any]
        if self.webhook:
            await self.app.bot.set_webhook(
                self.webhook, secret_token=self.settings.telegram_webhook_secret,
                allowed_updates=list(ALLOWED_UPDATES))
            poller = asyncio.ensure_future(stop.wait())
            log.info("telegram webhook set for @%s", self.app.bot.username)
        else:
            await self.app.bot.delete_webhook()  # getUpdates is refused while one is set
            poller = asyncio.ensure_future(self.poll(stop, poll_timeout=poll_timeout,
                                                     interval=poll_interval))
            log.info("telegram polling started as @%s", self.app.bot.username)

        async def no_more_updates() -> None:  # the pipeline and sender stop after the poller
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller

        self.running = True
        try:
            await serve(CHANNEL, stop, [self.pipeline.run, self.sender.run, self._keep_menus],
                        pipeline=self.pipeline, sender=self.sender, on_started=on_started,
                        before_stop=before_stop, stopping=no_more_updates)
        finally:
            for task in list(self._spinners):
                task.cancel()
            self.running = False

    async def _keep_menus(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await _sleep_or_stop(stop, MENU_SYNC_SECONDS)
            try:
                await self.sync_role_menus()
            except Exception:
                log.exception("syncing the command menus failed")

def _private_photo(body: str) -> str | None:
    """The file id of the largest size of a photo in a private chat's update, if any."""
    if '"photo"' not in body:  # most updates: no need to parse them twice
        return None
    try:
        update = json.loads(body)
    except ValueError:
        return None
    message = update.get("message") if isinstance(update, dict) else None
    if not isinstance(message, dict) or (message.get("chat") or {}).get("type") != "private":
        return None
    sizes = message.get("photo")
    if not isinstance(sizes, list) or not sizes or not isinstance(sizes[-1], dict):
        return None
    largest = sizes[-1]
    file_id = largest.get("file_id")
    if not isinstance(file_id, str) or int(largest.get("file_size") or 0) > MAX_PICTURE:
        return None
    return file_id


def _menu(role: str, lang: str) -> list[BotCommand]:
    with i18n.use(lang):
        return [BotCommand(c.name, c.describe()[:256]) for c in for_role(role)]


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def _seconds(value: object) -> float:
    """RetryAfter.retry_after: seconds, or a timedelta with PTB_TIMEDELTA."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)  # type: ignore[arg-type]
