"""Telegram channel (python-telegram-bot 22): translates Updates to Incoming and Replies back."""
from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Awaitable, Callable

from telegram import (
    BotCommand,
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
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from channels.pacing import Pacer
from core import i18n
from core.i18n import _
from core.messages import Contact, DeliveryError, Incoming, Reply, User
from core.settings import Settings
from handlers.assistant import Assistant

log = logging.getLogger(__name__)
Hook = Callable[[], Awaitable[None]]
CHANNEL = "telegram"
SEND_ATTEMPTS = 4  # timeouts and network errors; flood waits (429) are the rate limiter's
FLOOD_RETRIES = 3  # AIORateLimiter waits retry_after and tries again this many times
# A reply to the user's own message has no later retry (the reminder service has one for the
# messages it starts): the rate limiter waits out more flood waits for it.
REPLY_FLOOD_RETRIES = 10
PUBLIC_COMMANDS = ("start", "help", "menu", "volunteer", "my", "lang", "cancel", "forget",
                   "whoami")


def command_descriptions() -> dict[str, str]:
    return {"start": _("Start and show the menu"), "help": _("What I can do"),
            "lang": _("Switch language 中文/English"), "menu": _("Show the topic menu"),
            "cancel": _("Stop the current step"), "whoami": _("Show my id and role"),
            "volunteer": _("Join a volunteer team"), "my": _("My volunteer sign-ups"),
            "forget": _("Delete my data")}


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
                                     max_retries=FLOOD_RETRIES))
        .defaults(Defaults(tzinfo=settings.tz))
        .concurrent_updates(settings.telegram_concurrency)
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
    """Holds the PTB application and its callbacks; implements the Notifier protocol."""

    def __init__(self, assistant: Assistant, settings: Settings, app: Application) -> None:
        self.assistant = assistant
        self.settings = settings
        self.app = app
        self.pacer = Pacer(settings.telegram_max_rate)  # for the messages the bot starts
        app.add_handler(CallbackQueryHandler(self.on_callback))
        app.add_handler(MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, self.on_message))
        app.add_error_handler(self.on_error)
        assistant.outbox.register(CHANNEL, self)

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Any update: translate, let the core answer, send the replies back."""
        incoming = to_incoming(update, context.bot.username)
        if incoming is None:
            return
        replies = await self.assistant.handle(incoming)
        await self.send(incoming.chat_id, replies)

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        try:
            await query.answer()  # stop the button's spinner first
        except (NetworkError, TimedOut) as exc:
            log.warning("could not answer callback of update %s: %s", update.update_id, exc)
        await self.on_message(update, context)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        uid = update.update_id if isinstance(update, Update) else None
        log.error("error while handling update %s", uid, exc_info=context.error)

    async def notify(self, external_id: str, replies: list[Reply]) -> None:
        """Notifier: a message the bot starts itself, to a user's private chat. Raises
        DeliveryError when Telegram refused it (blocked: 403) or kept failing. Paced under
        Telegram's limits: a broadcast to every cadre must not draw 429s."""
        await self.pacer.wait(external_id)
        for reply in replies:
            await self._send_one(int(external_id), reply)

    async def send(self, chat_id: str, replies: list[Reply]) -> None:
        """Answers to the user's own message: failures are logged, not raised."""
        for reply in replies:
            try:
                await self._send_one(int(chat_id), reply, flood_retries=REPLY_FLOOD_RETRIES)
            except DeliveryError:
                return

    async def _send_one(self, chat_id: int, reply: Reply, *,
                        flood_retries: int = FLOOD_RETRIES) -> None:
        bot = self.app.bot
        limit = flood_retries
        if reply.document is not None:
            doc = InputFile(reply.document.content, filename=reply.document.filename)
            await self._retry(lambda: bot.send_document(chat_id, doc, caption=reply.text[:1024],
                                                        reply_markup=_markup(reply, bot.username),
                                                        rate_limit_args=limit))
            return
        if reply.photo is not None or reply.image is not None:
            pic = reply.photo or InputFile(reply.image, filename="chart.png")  # type: ignore[arg-type]
            caption = reply.text if len(reply.text) <= 1024 else ""
            await self._retry(lambda: bot.send_photo(chat_id, pic, caption=caption or None,
                                                     reply_markup=_markup(reply, bot.username),
                                                     rate_limit_args=limit))
            if caption:
                return
            reply = Reply(reply.text)
        if reply.location is not None:
            lat, lon = reply.location
            await self._retry(lambda: bot.send_location(chat_id, latitude=lat, longitude=lon,
                                                        rate_limit_args=limit))
        parts = _chunks(reply.text)
        for i, part in enumerate(parts):
            markup = _markup(reply, bot.username) if i == len(parts) - 1 else None
            await self._retry(functools.partial(bot.send_message, chat_id, part,
                                                reply_markup=markup, rate_limit_args=limit))

    async def _retry(self, call: Callable[[], Awaitable[object]]) -> None:
        """Retry timeouts and network errors (5xx) with backoff. Flood waits are retried by
        the rate limiter (AIORateLimiter, after Telegram's retry_after); one that is still
        refused after its retries, a blocked chat (403) or giving up raises DeliveryError."""
        delay = 0.5
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                await call()
                return
            except Forbidden as exc:
                log.warning("chat blocked the bot or is gone: %s", exc.message)
                raise DeliveryError(exc.message, blocked=True) from exc
            except RetryAfter as exc:
                log.warning("still rate limited after the rate limiter's retries: %s", exc)
                raise DeliveryError(str(exc)) from exc
            except BadRequest as exc:  # a NetworkError to PTB, but trying again cannot help
                log.error("Telegram refused a message: %s", exc.message)
                raise DeliveryError(exc.message) from exc
            except (TimedOut, NetworkError) as exc:
                if attempt == SEND_ATTEMPTS:
                    log.error("giving up sending after %d attempts: %s", attempt, exc)
                    raise DeliveryError(str(exc)) from exc
                await asyncio.sleep(delay)
                delay *= 2

    async def set_commands(self) -> None:
        """Register the command list in both languages (Chinese also as the default)."""
        for lang, code in (("zh", None), ("zh", "zh"), ("en", "en")):
            with i18n.use(lang):
                desc = command_descriptions()
                commands = [BotCommand(c, desc[c]) for c in PUBLIC_COMMANDS]
            await self.app.bot.set_my_commands(commands, language_code=code)

    async def run(self, stop: asyncio.Event, *, poll_interval: float = 0.0,
                  poll_timeout: int = 10, on_started: Hook | None = None,
                  before_stop: Hook | None = None) -> None:
        """Long polling until `stop` is set; then stop cleanly (no update lost or half done).
        `on_started` runs once the bot can send (the reminder scheduler starts there);
        `before_stop` while it still can (the scheduler finishes its sends)."""
        async with self.app:
            await self.set_commands()
            await self.app.start()
            assert self.app.updater is not None
            await self.app.updater.start_polling(
                poll_interval=poll_interval, timeout=poll_timeout,
                allowed_updates=["message", "callback_query"])
            log.info("telegram polling started as @%s", self.app.bot.username)
            if on_started is not None:
                await on_started()
            await stop.wait()
            if before_stop is not None:
                await before_stop()
            await self.app.updater.stop()
            await self.app.stop()
