"""In-process fake of the Telegram Bot API for end-to-end tests of the PTB bot.

Runs an aiohttp server on 127.0.0.1 (random port) that speaks the same wire format as
``api.telegram.org`` for the part of the Bot API this project's bot (``channels/telegram.py``
on python-telegram-bot 22.x) uses: ``getMe``, ``getUpdates``, ``deleteWebhook``,
``setMyCommands``, ``sendMessage``, ``sendPhoto``, ``sendDocument``, ``sendLocation`` and
``answerCallbackQuery``. Any other method is answered ``true`` and recorded in
``unknown_methods``.

* requests are ``POST {base_url}{token}/{method}`` with a form-urlencoded or multipart body
  (PTB JSON-encodes every non-string value, strings are sent raw);
* responses are ``{"ok": true, "result": ...}`` or, on error, the HTTP status together with
  ``{"ok": false, "error_code": N, "description": "...", "parameters": {...}}``, which PTB
  maps to ``BadRequest`` / ``Forbidden`` / ``RetryAfter`` / ``NetworkError``.

Typical use::

    async with FakeBotAPI() as api:
        app = ApplicationBuilder().token("123:ABC").base_url(api.base_url).build()
        ...  # add handlers
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
            api.push_text(42, "/start")
            (reply,) = await api.wait_replies(42)
            assert reply["params"]["reply_markup"]["inline_keyboard"]
            await app.updater.stop()
            await app.stop()

Recorded data (all plain Python objects, safe to inspect from tests):

* ``sent``: successful calls except ``getUpdates``; each a dict with ``method``, ``params``
  (decoded: JSON values decoded, e.g. ``reply_markup`` is a dict; uploaded files are dicts
  ``{"filename", "content_type", "data", "size"}``), ``chat_id`` (int, or str for ``@name``,
  or None), ``result`` (what was returned), ``files`` (multipart file parts by field name),
  ``status`` (200), ``time``.
* ``rejected``: the same kind of records for calls answered with an error (``status`` and
  ``error`` set); ``calls``: Counter of every call per method (including failed ones and
  getUpdates); ``stats``: Counter of error statuses (``"429"``, ``"403"`` ...).
* ``commands``: language_code ("" for none) -> list of ``{"command", "description"}``
  (last setMyCommands for that language, whatever the scope); ``callback_answers``;
  ``uploads``; ``unknown_methods``.

Like Telegram, the fake rejects a few things that are easy to get wrong: empty/over-long
text (4096) and captions (1024), ``callback_data`` longer than 64 bytes and other invalid
inline keyboards, invalid bot commands, answering a callback query twice / an unknown one,
and a missing chat_id, file or valid location. The bot sends plain text only, so any
``parse_mode`` is rejected (the fake does not check HTML or MarkdownV2 entities).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import logging
import math
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

__all__ = ["BOT_USER", "FakeBotAPI", "REPLY_METHODS"]

_LOGGER = logging.getLogger(__name__)

BOT_USER: dict[str, Any] = {
    "id": 999,
    "is_bot": True,
    "first_name": "Civic",
    "username": "civic_test_bot",
}

#: Methods counted as "replies" by :meth:`FakeBotAPI.wait_replies`.
REPLY_METHODS: tuple[str, ...] = (
    "sendMessage",
    "sendDocument",
    "sendLocation",
    "sendPhoto",
)

# Parameters whose raw form value is a plain string and must not be JSON-decoded
# (otherwise a text like "123" or "true" would turn into a number / bool).
_STRING_PARAMS = frozenset(
    {"text", "caption", "parse_mode", "callback_query_id", "language_code", "url"}
)

_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_MAX_TEXT = 4096
_MAX_CAPTION = 1024

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class _ApiError(Exception):
    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


def _norm_chat(chat_id: Any) -> int | str | None:
    """Normalise a chat id so that 42, "42" and 42.0 compare equal."""
    if chat_id is None or isinstance(chat_id, bool):
        return None
    if isinstance(chat_id, int):
        return chat_id
    if isinstance(chat_id, float) and chat_id.is_integer():
        return int(chat_id)
    text = str(chat_id).strip()
    try:
        return int(text)
    except ValueError:
        return text


def _decode_value(key: str, raw: Any) -> Any:
    if not isinstance(raw, str) or key in _STRING_PARAMS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _as_float(value: Any, default: float) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return default
    return result if math.isfinite(result) else default


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _update_type(update: dict[str, Any]) -> str | None:
    return next((key for key in update if key != "update_id"), None)


class FakeBotAPI:
    """Fake Telegram Bot API server; see the module docstring for an overview."""

    bot_user: dict[str, Any] = BOT_USER

    def __init__(self, *, rate_limit_per_second: float | None = None) -> None:
        """`rate_limit_per_second`: answer sendMessage with 429 (retry_after 1) above that
        rate, as Telegram does (counted in stats["rate_limited"]; the broadcast benchmark)."""
        self.rate_limit_per_second = rate_limit_per_second
        self._send_times: deque[float] = deque()
        self._host = "127.0.0.1"
        self._port: int | None = None
        self._runner: web.AppRunner | None = None
        self._closing = False

        # recording
        self.sent: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.chat_commands: dict[Any, list[dict[str, Any]]] = {}  # BotCommandScopeChat
        self.callback_answers: list[dict[str, Any]] = []
        self.uploads: list[dict[str, Any]] = []
        self.unknown_methods: list[dict[str, Any]] = []

        # fault injection
        # chaos(method) -> None, ("before", status): refuse the call, or ("after", status):
        # do it (a message is sent) and then answer with status, as when the answer is lost
        self.chaos: Callable[[str], tuple[str, int] | None] | None = None
        self.blocked_chats: set[int | str] = set()
        self._faults: dict[str, deque[list[Any]]] = {}

        # state
        self._queue: list[dict[str, Any]] = []  # {"update": ..., "forced": bool}, sorted by id
        self._allowed_updates: set[str] | None = None
        self._update_ids = itertools.count(1)
        self._last_update_id = 0
        self._message_ids = itertools.count(1)
        self._file_counter = itertools.count(1)
        self._messages: dict[tuple[int | str | None, int], dict[str, Any]] = {}
        self._chats: dict[int | str, dict[str, Any]] = {}
        self._files: dict[str, dict[str, Any]] = {}  # file_id -> {"data", "file_name", ...}
        self._callback_queries: dict[str, dict[str, Any]] = {}  # id -> {"answered", ...}
        self._reply_cursors: dict[int | str | None, int] = {}
        self._updates_event = asyncio.Event()
        self._sent_event = asyncio.Event()

        self._handlers: dict[str, Callable[..., Any]] = {
            "getme": self._m_get_me,
            "getupdates": self._m_get_updates,
            "deletewebhook": self._m_delete_webhook,
            "setmycommands": self._m_set_my_commands,
            "deletemycommands": self._m_delete_my_commands,
            "sendmessage": self._m_send_message,
            "sendphoto": self._m_send_photo,
            "senddocument": self._m_send_document,
            "sendlocation": self._m_send_location,
            "answercallbackquery": self._m_answer_callback_query,
            "getfile": self._m_get_file,
            "setwebhook": self._m_set_webhook,
        }
        self.webhook: dict[str, Any] | None = None  # the last setWebhook's parameters

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeBotAPI already started")
        self._closing = False
        self._updates_event = asyncio.Event()
        self._sent_event = asyncio.Event()
        if self._queue:  # updates pushed before start
            self._updates_event.set()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, 0)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]
        _LOGGER.debug("FakeBotAPI listening on %s", self.base_url)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        self._closing = True
        self._wake_pollers()  # release long-polling getUpdates immediately
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeBotAPI not started")
        return self._port

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: ``http://127.0.0.1:PORT/bot``."""
        return f"http://{self._host}:{self.port}/bot"

    # ------------------------------------------------------------------ feeding updates

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue ``update`` (deep-copied) under a fresh update_id and return that id."""
        update = copy.deepcopy(update)
        update_id = next(self._update_ids)
        self._last_update_id = update_id
        update["update_id"] = update_id
        self._enqueue(update, forced=False)
        return update_id

    def push_raw_update(self, update: dict[str, Any]) -> int:
        """Queue ``update`` keeping its ``update_id`` (re-delivery simulation).

        The update is delivered once even if its id was already confirmed by an ``offset``.
        """
        update = copy.deepcopy(update)
        update_id = int(update["update_id"])
        if update_id > self._last_update_id:
            self._last_update_id = update_id
            self._update_ids = itertools.count(update_id + 1)
        self._enqueue(update, forced=True)
        return update_id

    def push_text(
        self,
        user_id: int,
        text: str,
        *,
        language_code: str | None = "zh-hans",
        chat_type: str = "private",
        chat_id: int | None = None,
        first_name: str = "Test",
        entities: list[dict[str, Any]] | None = None,
        username: str | None = None,
    ) -> int:
        """A text message from ``user_id``; a leading "/word" gets a bot_command entity."""
        message = self._user_message(
            user_id, language_code, chat_type, chat_id, first_name, username
        )
        message["text"] = text
        if entities is None and text.startswith("/"):
            command = text.split(maxsplit=1)[0] if text.strip() else text
            entities = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
        if entities:
            message["entities"] = entities
        return self._push_message(message)

    def push_callback(
        self,
        user_id: int,
        data: str,
        *,
        message_id: int | None = None,
        language_code: str | None = "zh-hans",
        first_name: str = "Test",
        chat_id: int | None = None,
        username: str | None = None,
    ) -> int:
        """A button press on a bot message in the user's private chat (or ``chat_id``).

        Without ``message_id`` the newest bot message in that chat carrying a button with
        this callback_data is used (else the newest bot message, else a new one is made up).
        The callback query id is ``f"cq{update_id}"``.
        """
        user = self._user(user_id, first_name, language_code, username)
        chat_key = chat_id if chat_id is not None else user_id
        if chat_key not in self._chats:
            self._chats[chat_key] = self._make_chat(chat_key, "private", user)
        message = self._find_bot_message(chat_key, message_id, data)
        update_id = next(self._update_ids)
        self._last_update_id = update_id
        query_id = f"cq{update_id}"
        update = {
            "update_id": update_id,
            "callback_query": {
                "id": query_id,
                "from": user,
                "chat_instance": f"ci{chat_key}",
                "data": data,
                "message": message,
            },
        }
        self._enqueue(update, forced=False)
        return update_id

    def push_sticker(self, user_id: int, **kw: Any) -> int:
        message = self._user_message(user_id, **self._common(kw))
        file_id, unique = self._new_file("sticker", b"RIFF....WEBP", "sticker.webp")
        message["sticker"] = {
            "file_id": file_id, "file_unique_id": unique, "type": "regular",
            "width": 512, "height": 512, "is_animated": False, "is_video": False,
            "emoji": "\U0001f44d", "file_size": 12,
        }
        return self._push_message(message)

    def push_photo(self, user_id: int, *, caption: str | None = None, **kw: Any) -> int:
        message = self._user_message(user_id, **self._common(kw))
        message["photo"] = self._photo_sizes(b"\xff\xd8\xff fake jpeg")
        if caption is not None:
            message["caption"] = caption
        return self._push_message(message)

    def push_voice(self, user_id: int, *, duration: int = 3, **kw: Any) -> int:
        message = self._user_message(user_id, **self._common(kw))
        file_id, unique = self._new_file("voice", b"OggS fake voice", "voice.ogg")
        message["voice"] = {
            "file_id": file_id, "file_unique_id": unique, "duration": duration,
            "mime_type": "audio/ogg", "file_size": 15,
        }
        return self._push_message(message)

    def push_document(
        self,
        user_id: int,
        *,
        file_name: str = "test.pdf",
        mime_type: str = "application/pdf",
        content: bytes = b"%PDF-1.4 fake document",
        caption: str | None = None,
        **kw: Any,
    ) -> int:
        message = self._user_message(user_id, **self._common(kw))
        file_id, unique = self._new_file("document", content, file_name, mime_type)
        message["document"] = {
            "file_id": file_id, "file_unique_id": unique, "file_name": file_name,
            "mime_type": mime_type, "file_size": len(content),
        }
        if caption is not None:
            message["caption"] = caption
        return self._push_message(message)

    def push_location(self, user_id: int, lat: float, lon: float, **kw: Any) -> int:
        message = self._user_message(user_id, **self._common(kw))
        message["location"] = {"latitude": float(lat), "longitude": float(lon)}
        return self._push_message(message)

    def push_contact(
        self,
        user_id: int,
        phone: str,
        contact_user_id: int | None = None,
        *,
        contact_first_name: str | None = None,
        **kw: Any,
    ) -> int:
        """A shared contact; ``contact_user_id`` defaults to the sender (own number)."""
        common = self._common(kw)
        message = self._user_message(user_id, **common)
        message["contact"] = {
            "phone_number": phone,
            "first_name": contact_first_name or common["first_name"],
            "user_id": user_id if contact_user_id is None else contact_user_id,
        }
        return self._push_message(message)

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        retry_after: int | None = None,
        times: int = 1,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP ``status``.

        For 429 ``parameters.retry_after`` defaults to 1 (PTB turns it into ``RetryAfter``).
        """
        params = dict(parameters or {})
        if status == 429 and retry_after is None:
            retry_after = 1
        if retry_after is not None:
            params["retry_after"] = retry_after
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if status == 429
                else _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}: injected failure")
            )
        self._faults.setdefault(method.lower(), deque()).append(
            [status, description, params or None, times]
        )

    # ------------------------------------------------------------------ inspection

    def sent_to(
        self, chat_id: int | str, method: str | Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """Successful calls addressed to ``chat_id`` (optionally only ``method``/methods)."""
        target = _norm_chat(chat_id)
        methods = None
        if method is not None:
            names = [method] if isinstance(method, str) else list(method)
            methods = {name.lower() for name in names}
        return [
            rec
            for rec in list(self.sent)
            if rec["chat_id"] == target and (methods is None or rec["method"].lower() in methods)
        ]

    def replies_to(
        self, chat_id: int | str, methods: Iterable[str] = REPLY_METHODS
    ) -> list[dict[str, Any]]:
        return self.sent_to(chat_id, list(methods))

    async def wait_for(
        self,
        predicate: Callable[[list[dict[str, Any]]], Any],
        timeout: float = 5.0,  # noqa: ASYNC109 - the tests' keyword
    ) -> Any:
        """Wait until ``predicate(copy of api.sent)`` is truthy and return its result.

        A predicate returning exactly ``True`` yields the whole ``sent`` list instead, so
        ``lambda s: [r for r in s if ...]`` returns the matching records.
        Raises AssertionError listing everything sent (and rejected) on timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            snapshot = list(self.sent)
            result = predicate(snapshot)
            if result:
                return snapshot if result is True else result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"wait_for: condition not met within {timeout}s.\n{self.describe()}"
                )
            await self._wait_sent_change(min(remaining, 0.05))

    async def wait_replies(
        self,
        chat_id: int | str,
        n: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the tests' keyword
        *,
        methods: Iterable[str] = REPLY_METHODS,
    ) -> list[dict[str, Any]]:
        """Return the next ``n`` replies (REPLY_METHODS) to ``chat_id`` since the last call.

        Keeps one cursor per chat; raises AssertionError if they do not arrive in time.
        """
        key = _norm_chat(chat_id)
        methods = list(methods)
        cursor = self._reply_cursors.get(key, 0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            replies = self.replies_to(chat_id, methods)
            if len(replies) >= cursor + n:
                self._reply_cursors[key] = cursor + n
                return replies[cursor : cursor + n]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"wait_replies: expected {n} new repl{'y' if n == 1 else 'ies'} to chat "
                    f"{key} within {timeout}s, got {len(replies) - cursor}.\n{self.describe()}"
                )
            await self._wait_sent_change(min(remaining, 0.05))

    def drain_replies(
        self, chat_id: int | str, *, methods: Iterable[str] = REPLY_METHODS
    ) -> list[dict[str, Any]]:
        """Return all not-yet-consumed replies to ``chat_id`` without waiting."""
        key = _norm_chat(chat_id)
        replies = self.replies_to(chat_id, methods)
        cursor = self._reply_cursors.get(key, 0)
        self._reply_cursors[key] = len(replies)
        return replies[cursor:]

    async def expect_no_replies(
        self, chat_id: int | str, within: float = 0.3, *, methods: Iterable[str] = REPLY_METHODS
    ) -> None:
        """Assert that no new reply to ``chat_id`` shows up during ``within`` seconds."""
        key = _norm_chat(chat_id)
        methods = list(methods)
        cursor = self._reply_cursors.get(key, 0)
        await asyncio.sleep(within)
        extra = self.replies_to(chat_id, methods)[cursor:]
        if extra:
            raise AssertionError(
                f"expected no new replies to chat {key}, got {len(extra)}:\n"
                + "\n".join(self._describe_record(rec) for rec in extra)
            )

    def describe(self) -> str:
        """Human-readable dump of sent and rejected calls (used in assertion messages)."""
        lines = [f"sent ({len(self.sent)}):"]
        lines += ["  " + self._describe_record(rec) for rec in self.sent] or ["  (nothing)"]
        if self.rejected:
            lines.append(f"rejected ({len(self.rejected)}):")
            lines += ["  " + self._describe_record(rec) for rec in self.rejected]
        return "\n".join(lines)

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls[method] += 1
        try:
            params, files = await self._read_params(request)
        except Exception as exc:  # noqa: BLE001 - report as Telegram would
            return web.json_response(
                _bad(f"can't parse request: {exc}").payload(), status=400
            )
        record: dict[str, Any] = {
            "method": method,
            "params": params,
            "chat_id": _norm_chat(params.get("chat_id")),
            "files": files,
            "token": request.match_info["token"],
            "time": time.time(),
        }
        verdict = self.chaos(method) if self.chaos is not None else None
        if verdict is not None and verdict[0] == "before":
            self.stats[f"chaos_{verdict[1]}"] += 1
            return web.json_response(_ApiError(verdict[1], _DEFAULT_DESCRIPTIONS.get(
                verdict[1], "injected")).payload(), status=verdict[1])
        try:
            self._take_fault(method)
            handler = self._handlers.get(method.lower())
            if handler is None:
                self.unknown_methods.append(record)
                result: Any = True
            else:
                result = handler(params, files, record)
                if asyncio.iscoroutine(result):
                    result = await result
        except _ApiError as err:
            record.update(status=err.status, error=err.description)
            self.rejected.append(record)
            self.stats[str(err.status)] += 1
            self._notify_sent()
            _LOGGER.debug("%s -> %s %s", method, err.status, err.description)
            return web.json_response(err.payload(), status=err.status)
        record.update(status=200, result=result)
        if method.lower() != "getupdates":
            self.sent.append(record)
            self._notify_sent()
        if verdict is not None:  # "after": done, and the answer is an error
            self.stats[f"chaos_after_{verdict[1]}"] += 1
            return web.json_response(_ApiError(verdict[1], _DEFAULT_DESCRIPTIONS.get(
                verdict[1], "injected")).payload(), status=verdict[1])
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _read_params(
        request: web.Request,
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        params: dict[str, Any] = {}
        files: dict[str, dict[str, Any]] = {}
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                files[key] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "data": data,
                    "size": len(data),
                }
                params[key] = files[key]
            else:
                params[key] = _decode_value(key, value)
        return params, files

    def _take_fault(self, method: str) -> None:
        queue = self._faults.get(method.lower())
        if not queue:
            return
        fault = queue[0]
        fault[3] -= 1
        if fault[3] <= 0:
            queue.popleft()
        raise _ApiError(fault[0], fault[1], fault[2])

    # ------------------------------------------------------------------ notifications

    def _wake_pollers(self) -> None:
        self._updates_event.set()
        self._updates_event = asyncio.Event()

    def _notify_sent(self) -> None:
        self._sent_event.set()
        self._sent_event = asyncio.Event()

    async def _wait_sent_change(self, seconds: float) -> None:
        event = self._sent_event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    # ------------------------------------------------------------------ update queue

    def _enqueue(self, update: dict[str, Any], *, forced: bool) -> None:
        self._remember_update_messages(update)
        callback = update.get("callback_query")
        if isinstance(callback, dict) and "id" in callback:
            self._callback_queries.setdefault(
                str(callback["id"]), {"answered": False, "update_id": update["update_id"]}
            )
        self._queue.append({"update": update, "forced": forced})
        self._queue.sort(key=lambda entry: entry["update"]["update_id"])
        self._wake_pollers()

    def _take_updates(self, offset: int, limit: int) -> list[dict[str, Any]]:
        if offset > 0:
            self._queue = [
                e for e in self._queue if e["update"]["update_id"] >= offset or e["forced"]
            ]
        elif offset < 0:
            self._queue = self._queue[offset:]
        if self._allowed_updates is not None:
            self._queue = [
                e for e in self._queue if _update_type(e["update"]) in self._allowed_updates
            ]
        batch = self._queue[:limit]
        for entry in batch:
            entry["forced"] = False
        return [copy.deepcopy(entry["update"]) for entry in batch]

    async def _m_get_updates(self, params: dict[str, Any], *_: Any) -> list[dict[str, Any]]:
        offset = _as_int(params.get("offset"), 0)
        limit = min(max(_as_int(params.get("limit"), 100), 1), 100)
        timeout = max(_as_float(params.get("timeout"), 0.0), 0.0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = set(allowed) or None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._updates_event
            batch = self._take_updates(offset, limit)
            if batch or self._closing:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    # ------------------------------------------------------------------ object builders

    def _user(
        self,
        user_id: int,
        first_name: str = "Test",
        language_code: str | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return user

    @staticmethod
    def _common(kw: dict[str, Any]) -> dict[str, Any]:
        allowed = {"language_code", "chat_type", "chat_id", "first_name", "username"}
        unknown = set(kw) - allowed
        if unknown:
            raise TypeError(f"unexpected keyword arguments: {sorted(unknown)}")
        return {
            "language_code": kw.get("language_code", "zh-hans"),
            "chat_type": kw.get("chat_type", "private"),
            "chat_id": kw.get("chat_id"),
            "first_name": kw.get("first_name", "Test"),
            "username": kw.get("username"),
        }

    @staticmethod
    def _make_chat(
        chat_id: int | str, chat_type: str, user: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = (user or {}).get("first_name", "Test")
            if user and user.get("username"):
                chat["username"] = user["username"]
        elif chat_type == "channel":
            chat["title"] = "Test channel"
        else:
            chat["title"] = f"Test {chat_type}"
        return chat

    def _chat_for(self, chat_id: int | str) -> dict[str, Any]:
        known = self._chats.get(chat_id)
        if known:
            return dict(known)
        if isinstance(chat_id, str):  # "@channelusername"
            chat = {"id": -1000000000000 - (abs(hash(chat_id)) % 10**9), "type": "channel",
                    "title": chat_id.lstrip("@"), "username": chat_id.lstrip("@")}
            return chat
        if chat_id > 0:
            return self._make_chat(chat_id, "private")
        if str(chat_id).startswith("-100"):
            return self._make_chat(chat_id, "supergroup")
        return self._make_chat(chat_id, "group")

    def _user_message(
        self,
        user_id: int,
        language_code: str | None = "zh-hans",
        chat_type: str = "private",
        chat_id: int | None = None,
        first_name: str = "Test",
        username: str | None = None,
    ) -> dict[str, Any]:
        user = self._user(user_id, first_name, language_code, username)
        if chat_id is None:
            chat_id = user_id if chat_type == "private" else -abs(user_id)
        chat = self._make_chat(chat_id, chat_type, user)
        self._chats[chat_id] = chat
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": dict(chat),
            "from": user,
        }

    def _push_message(self, message: dict[str, Any]) -> int:
        return self.push_update({"message": message})

    def _remember_update_messages(self, update: dict[str, Any]) -> None:
        for key in ("message", "edited_message", "channel_post", "edited_channel_post"):
            message = update.get(key)
            if isinstance(message, dict) and "chat" in message and "message_id" in message:
                self._store_message(message)
        callback = update.get("callback_query")
        if isinstance(callback, dict) and isinstance(callback.get("message"), dict):
            message = callback["message"]
            if "chat" in message and "message_id" in message:
                self._messages.setdefault(
                    (_norm_chat(message["chat"]["id"]), int(message["message_id"])),
                    copy.deepcopy(message),
                )

    def _store_message(self, message: dict[str, Any]) -> None:
        key = (_norm_chat(message["chat"]["id"]), int(message["message_id"]))
        self._messages[key] = copy.deepcopy(message)

    def _find_bot_message(
        self, chat_id: int | str, message_id: int | None, data: str
    ) -> dict[str, Any]:
        key = _norm_chat(chat_id)
        if message_id is not None:
            stored = self._messages.get((key, int(message_id)))
            if stored:
                return copy.deepcopy(stored)
            message = self._bot_message_skeleton(chat_id, message_id)
            message["text"] = "(message)"
            self._store_message(message)
            return message
        candidates = [
            msg
            for (chat, _), msg in sorted(self._messages.items(), key=lambda item: item[0][1])
            if chat == key and msg.get("from", {}).get("id") == self.bot_user["id"]
        ]

        def has_data(msg: dict[str, Any]) -> bool:
            rows = (msg.get("reply_markup") or {}).get("inline_keyboard") or []
            return any(btn.get("callback_data") == data for row in rows for btn in row)

        for predicate in (has_data, lambda msg: bool(msg.get("reply_markup")), lambda msg: True):
            matching = [msg for msg in candidates if predicate(msg)]
            if matching:
                return copy.deepcopy(matching[-1])
        message = self._bot_message_skeleton(chat_id, None)
        message["text"] = "(message)"
        self._store_message(message)
        return message

    def _bot_message_skeleton(self, chat_id: int | str, message_id: int | None) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids) if message_id is None else int(message_id),
            "date": int(time.time()),
            "chat": self._chat_for(chat_id),
            "from": dict(self.bot_user),
        }

    def _new_bot_message(
        self, params: dict[str, Any], content: dict[str, Any]
    ) -> dict[str, Any]:
        chat_id = self._require_chat(params)
        message = self._bot_message_skeleton(chat_id, None)
        message.update(content)
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # Telegram only echoes inline keyboards
        self._store_message(message)
        return copy.deepcopy(message)

    def _new_file(
        self, kind: str, data: bytes, file_name: str | None = None, mime_type: str | None = None
    ) -> tuple[str, str]:
        n = next(self._file_counter)
        file_id = f"FAKE-{kind}-{n:06d}"
        unique = f"U{kind[:3]}{n:06d}"
        self._files[file_id] = {
            "file_id": file_id,
            "file_unique_id": unique,
            "data": data,
            "file_name": file_name,
            "mime_type": mime_type,
        }
        return file_id, unique

    def _photo_sizes(self, data: bytes) -> list[dict[str, Any]]:
        sizes = []
        for width, height in ((90, 67), (1280, 960)):
            file_id, unique = self._new_file("photo", data, "photo.jpg", "image/jpeg")
            sizes.append({"file_id": file_id, "file_unique_id": unique, "width": width,
                          "height": height, "file_size": len(data)})
        return sizes

    # ------------------------------------------------------------------ validation helpers

    @staticmethod
    def _require_chat(params: dict[str, Any]) -> int | str:
        chat_id = _norm_chat(params.get("chat_id"))
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        return chat_id

    def _check_rate_limit(self) -> None:
        rate = self.rate_limit_per_second
        if not rate:
            return
        window, allowed = (1.0, max(1, int(rate))) if rate >= 1 else (1.0 / rate, 1)
        now = time.monotonic()
        while self._send_times and now - self._send_times[0] >= window:
            self._send_times.popleft()
        if len(self._send_times) >= allowed:
            self.stats["rate_limited"] += 1
            raise _ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        self._send_times.append(now)

    def _check_blocked(self, chat_id: int | str) -> None:
        if chat_id in self.blocked_chats or str(chat_id) in {str(c) for c in self.blocked_chats}:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")

    @staticmethod
    def _check_text(text: Any, parse_mode: Any, *, caption: bool = False) -> None:
        if parse_mode:  # the bot sends plain text; entity parsing is not emulated
            raise _bad(f"parse_mode {parse_mode!r} is not supported by the fake Bot API")
        if text is None or (not caption and not str(text).strip()):
            if not caption:
                raise _bad("message text is empty")
            return
        if caption and len(str(text)) > _MAX_CAPTION:
            raise _bad("message caption is too long")
        if not caption and len(str(text)) > _MAX_TEXT:
            raise _bad("message is too long")

    @staticmethod
    def _check_markup(markup: Any) -> None:
        if markup is None:
            return
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return
        actions = {"url", "callback_data", "web_app", "login_url", "switch_inline_query",
                   "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
                   "copy_text", "callback_game", "pay"}
        for row in rows:
            for button in row:
                if not button.get("text"):
                    raise _bad("can't parse inline keyboard button: Text is empty")
                if not actions & set(button):
                    raise _bad("can't parse inline keyboard button: Text buttons are "
                               "unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise _bad("BUTTON_DATA_INVALID")

    # ------------------------------------------------------------------ API methods

    def _m_get_me(self, *_: Any) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_get_file(self, params: dict[str, Any], *_: Any) -> dict[str, Any]:
        info = self._files.get(str(params.get("file_id")))
        if info is None:
            raise _bad("wrong file_id or the file is temporarily unavailable")
        return {"file_id": info["file_id"], "file_unique_id": info["file_unique_id"],
                "file_size": len(info["data"]), "file_path": f"files/{info['file_id']}"}

    async def _download(self, request: web.Request) -> web.Response:
        """GET {base_file_url}{token}/{file_path}: the bytes of a file getFile described."""
        info = self._files.get(request.match_info["path"].removeprefix("files/"))
        if info is None:
            return web.Response(status=404, text="Not Found")
        self.calls["download"] += 1
        return web.Response(body=info["data"], content_type=info.get("mime_type")
                            or "application/octet-stream")

    def _m_set_webhook(self, params: dict[str, Any], *_: Any) -> bool:
        if not str(params.get("url", "")).startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = dict(params)
        return True

    def _m_delete_webhook(self, params: dict[str, Any], *_: Any) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates") is True:
            self._queue.clear()
        return True

    def _m_send_message(self, params: dict[str, Any], *_: Any) -> dict[str, Any]:
        chat_id = self._require_chat(params)
        self._check_rate_limit()
        self._check_blocked(chat_id)
        text = params.get("text")
        self._check_text(text, params.get("parse_mode"))
        self._check_markup(params.get("reply_markup"))
        return self._new_bot_message(params, {"text": "" if text is None else str(text)})

    def _m_answer_callback_query(self, params: dict[str, Any], *_: Any) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        known = self._callback_queries.get(query_id)
        if known is None or known["answered"]:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        known["answered"] = True
        self.callback_answers.append(
            {
                "callback_query_id": query_id,
                "update_id": known["update_id"],
                "text": params.get("text"),
                "show_alert": bool(params.get("show_alert", False)),
                "url": params.get("url"),
                "cache_time": params.get("cache_time"),
            }
        )
        return True

    def _m_set_my_commands(self, params: dict[str, Any], *_: Any) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("parameter \"commands\" is required")
        if len(commands) > 100:
            raise _bad("too many commands")
        for cmd in commands:
            if not isinstance(cmd, dict) or not _COMMAND_RE.match(str(cmd.get("command"))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description") or "")) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        language = str(params.get("language_code") or "")
        scope = params.get("scope")
        if isinstance(scope, dict) and scope.get("type") == "chat":
            self.chat_commands[_norm_chat(scope.get("chat_id"))] = copy.deepcopy(commands)
        else:
            self.commands[language] = copy.deepcopy(commands)
        return True

    def _m_delete_my_commands(self, params: dict[str, Any], *_: Any) -> bool:
        scope = params.get("scope")
        if isinstance(scope, dict) and scope.get("type") == "chat":
            self.chat_commands.pop(_norm_chat(scope.get("chat_id")), None)
        else:
            self.commands.pop(str(params.get("language_code") or ""), None)
        return True

    def _media_from_param(
        self, kind: str, value: Any, record: dict[str, Any], default_mime: str
    ) -> dict[str, Any]:
        """Register an uploaded file (or resolve a file_id / URL) and return its info."""
        if isinstance(value, dict) and "data" in value:  # multipart upload
            mime = value.get("content_type") or default_mime
            file_id, unique = self._new_file(kind, value["data"], value.get("filename"), mime)
            self.uploads.append(
                {"method": record["method"], "chat_id": record["chat_id"], "field": kind,
                 "filename": value.get("filename"), "content_type": mime,
                 "data": value["data"], "file_id": file_id}
            )
            return self._files[file_id]
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        if isinstance(value, str) and value:
            # a URL or foreign file_id: Telegram would fetch it; make up a small file
            name = value.rsplit("/", 1)[-1][:64] or kind
            file_id, _ = self._new_file(kind, b"", name, default_mime)
            return self._files[file_id]
        raise _bad(f"there is no {kind} in the request")

    def _caption_content(self, params: dict[str, Any]) -> dict[str, Any]:
        caption = params.get("caption")
        self._check_text(caption, params.get("parse_mode"), caption=True)
        return {"caption": str(caption)} if caption else {}

    def _m_send_document(
        self, params: dict[str, Any], _files: Any, record: dict[str, Any]
    ) -> dict[str, Any]:
        chat_id = self._require_chat(params)
        self._check_blocked(chat_id)
        content = self._caption_content(params)
        self._check_markup(params.get("reply_markup"))
        info = self._media_from_param(
            "document", params.get("document"), record, "application/octet-stream"
        )
        content["document"] = {
            "file_id": info["file_id"], "file_unique_id": info["file_unique_id"],
            "file_size": len(info["data"]),
            **({"file_name": info["file_name"]} if info.get("file_name") else {}),
            **({"mime_type": info["mime_type"]} if info.get("mime_type") else {}),
        }
        return self._new_bot_message(params, content)

    def _m_send_photo(
        self, params: dict[str, Any], _files: Any, record: dict[str, Any]
    ) -> dict[str, Any]:
        chat_id = self._require_chat(params)
        self._check_blocked(chat_id)
        content = self._caption_content(params)
        self._check_markup(params.get("reply_markup"))
        info = self._media_from_param("photo", params.get("photo"), record, "image/jpeg")
        content["photo"] = [
            {"file_id": info["file_id"], "file_unique_id": info["file_unique_id"],
             "width": 800, "height": 600, "file_size": len(info["data"])}
        ]
        return self._new_bot_message(params, content)

    def _m_send_location(self, params: dict[str, Any], *_: Any) -> dict[str, Any]:
        chat_id = self._require_chat(params)
        self._check_blocked(chat_id)
        self._check_markup(params.get("reply_markup"))
        lat = _as_float(params.get("latitude"), float("nan"))
        lon = _as_float(params.get("longitude"), float("nan"))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise _bad("wrong latitude or longitude")  # nan fails these comparisons too
        return self._new_bot_message(params, {"location": {"latitude": lat, "longitude": lon}})

    # ------------------------------------------------------------------ formatting

    @staticmethod
    def _describe_record(rec: dict[str, Any]) -> str:
        params = rec.get("params", {})
        parts = [rec["method"], f"chat={rec.get('chat_id')}"]
        for key in ("text", "caption", "callback_query_id"):
            if key in params:
                value = params[key]
                if isinstance(value, str) and len(value) > 120:
                    value = value[:117] + "..."
                parts.append(f"{key}={value!r}")
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            buttons = [
                (btn.get("text"), btn.get("callback_data") or btn.get("url"))
                for row in markup["inline_keyboard"] for btn in row
            ]
            parts.append(f"buttons={buttons}")
        for key, info in (rec.get("files") or {}).items():
            parts.append(f"file[{key}]={info['filename']!r}({info['size']}B)")
        if rec.get("status", 200) != 200:
            parts.append(f"-> {rec['status']} {rec.get('error')!r}")
        return " ".join(parts)
