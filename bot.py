"""Entry point and composition root: settings, storage, knowledge base, channels; and the CLI.

    python bot.py                 every configured channel (Telegram, WeChat) and the web server;
                                  the console chat when none is configured
    python bot.py chat            the console chat
    python bot.py ask QUESTION    one answer (`ask --json -` reads questions from stdin)
    python bot.py kb check        validate knowledge/
    python bot.py users ...       list users, make cadres, take it back
    python bot.py directory import FILE.csv   load an operator's spreadsheet of services/teams
    python bot.py volunteers export --area AREA --format csv|xlsx -o FILE
    python bot.py reminders list|show|add-special|add|leads|on|off   inspection reminders
    python bot.py disclosure import FILE.csv   load an operator's list of villages
    python bot.py wechat menu     publish the topic menu as the Official Account's custom menu
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

import cli
from app import open_assistant, open_runtime
from channels.console import CHANNEL, ConsoleNotifier, run_console_chat
from core import i18n
from core.logs import setup_logging
from core.settings import Settings, SettingsError, load_settings
from schedules.scheduler import ReminderScheduler
from storage.db import DatabaseUnavailable

if TYPE_CHECKING:  # the web server is imported only when a channel runs
    from aiohttp import web

log = logging.getLogger("bot")


class Channel(Protocol):
    """What the process runs: a channel's routes on the web server, and its loop."""

    def routes(self, app: web.Application) -> None: ...

    async def run(self, stop: asyncio.Event, *, on_started: Callable[[], Awaitable[None]]
                  | None = None, before_stop: Callable[[], Awaitable[None]] | None = None
                  ) -> None: ...


def _stop_event() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT, so the bot stops between updates and closes the db."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def run_channels(settings: Settings) -> None:
    """Every configured channel in this process, behind one web server: Telegram (polling, or
    its webhook), WeChat; the reminder scheduler once all of them can send."""
    # python-telegram-bot takes about a quarter of a second to import, which `ask` and
    # `kb check` need not pay; the WeChat channel is imported with it, only when it runs.
    from channels.telegram import TelegramChannel, build_application  # noqa: PLC0415
    from channels.web import WebServer  # noqa: PLC0415 - aiohttp, only for the channels

    async with open_runtime(settings) as runtime:
        assistant = runtime.assistant
        assistant.kb.ranker  # noqa: B018 - build the index now, not at the first question
        channels: dict[str, Channel] = {}
        if settings.telegram_bot_token:
            channels["telegram"] = TelegramChannel(runtime, settings,
                                                   build_application(settings))
        if settings.wechat_token:
            # Only a bot that serves WeChat pays for its imports (defusedxml, AES).
            from channels.wechat import WeChatChannel  # noqa: PLC0415 - see above

            channels["wechat"] = WeChatChannel(runtime, settings)
        running: dict[str, bool] = dict.fromkeys(channels, False)
        server = WebServer(settings.bot_http_host, settings.bot_http_port, runtime.db,
                           [c.routes for c in channels.values()], lambda: dict(running))
        scheduler = ReminderScheduler(assistant.reminders)
        stop = _stop_event()
        scheduler_stopped: asyncio.Task[None] | None = None
        scheduler_started = False

        def started(name: str) -> Callable[[], Awaitable[None]]:
            async def hook() -> None:
                nonlocal scheduler_started
                running[name] = True
                if all(running.values()) and not scheduler_started:
                    scheduler_started = True
                    await scheduler.start()
            return hook

        async def before_stop() -> None:  # the first channel to stop stops the scheduler
            nonlocal scheduler_stopped
            if stop.is_set() and scheduler_stopped is None and scheduler_started:
                scheduler_stopped = asyncio.ensure_future(scheduler.stop())
            if scheduler_stopped is not None:
                await scheduler_stopped

        async def supervise(name: str, inner: asyncio.Event) -> None:
            """Run a channel until the stop; one that fails is logged and run again, up to a
            minute apart, while the others go on (Telegram waits for its API by itself)."""
            delay = 5.0
            while True:
                try:
                    await channels[name].run(inner, on_started=started(name),
                                             before_stop=before_stop)
                    return
                except Exception:
                    log.exception("the %s channel failed; starting it again in %.0f s",
                                  name, delay)
                running[name] = False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(inner.wait(), timeout=delay)
                if inner.is_set():
                    return
                delay = min(delay * 2, 60.0)

        inner = asyncio.Event()
        await server.start()
        tasks = [asyncio.ensure_future(supervise(name, inner)) for name in channels]
        try:
            await stop.wait()
        finally:
            await server.stop()  # no new requests; those in flight were answered
            inner.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            if scheduler_started and scheduler_stopped is None:
                await scheduler.stop()
    log.info("stopped; database closed")


async def run_console(settings: Settings, lang: str | None) -> int:
    """The console chat until end of input or a signal; 1 if the chat loop failed."""
    failed = False
    async with open_assistant(settings) as assistant:
        assistant.kb.ranker  # noqa: B018 - build the index now, not at the first question
        assistant.outbox.register(CHANNEL, ConsoleNotifier(sys.stdout))
        scheduler = ReminderScheduler(assistant.reminders)
        await scheduler.start()
        chat = asyncio.ensure_future(run_console_chat(assistant, language_code=lang))
        stop = _stop_event()
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({chat, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not chat.done():
            chat.cancel()
        elif chat.exception() is not None:
            log.error("the console chat stopped", exc_info=chat.exception())
            failed = True
        await scheduler.stop()
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = cli.parser(__doc__).parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    console = args.cmd == "chat" or (args.cmd in (None, "run") and not _channels(settings))
    log_file = settings.bot_db.parent / "console.log" if console else None
    try:
        setup_logging(settings.bot_log_level, settings.secrets(), log_file)
    except OSError as exc:
        print(f"configuration error: cannot write the log {log_file}: {exc}", file=sys.stderr)
        return 2
    if log_file is not None:
        print(f"(the log goes to {log_file})", file=sys.stderr)
    log.debug("settings: %s", settings.redacted())
    try:
        return _run(args, settings)
    except DatabaseUnavailable as exc:
        print(f"configuration error: {exc} (BOT_DB)", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.cmd == "ask":
        return cli.cmd_ask(settings, args)
    if args.cmd in ADMIN_COMMANDS:
        with i18n.use("en"):  # the command line speaks English (exports take --lang)
            return _admin(args, settings)
    if args.cmd == "chat" or (args.cmd in (None, "run") and not _channels(settings)):
        return asyncio.run(run_console(settings, getattr(args, "lang", None)))
    if args.cmd == "wechat":
        return asyncio.run(cli.cmd_wechat(settings, args))
    try:
        asyncio.run(run_channels(settings))
    except OSError as exc:  # the web server's port is taken, say
        print(f"cannot start: {exc} (BOT_HTTP_HOST, BOT_HTTP_PORT)", file=sys.stderr)
        return 2
    return 0


def _channels(settings: Settings) -> bool:
    return bool(settings.telegram_bot_token or settings.wechat_token)


ADMIN_COMMANDS = ("kb", "users", "directory", "volunteers", "reminders", "disclosure")


def _admin(args: argparse.Namespace, settings: Settings) -> int:
    if args.cmd == "kb":
        return cli.cmd_kb(settings, args)
    if args.cmd == "users":
        return asyncio.run(cli.cmd_users(settings, args))
    if args.cmd == "directory":
        return cli.cmd_directory(settings, args)
    if args.cmd == "volunteers":
        return asyncio.run(cli.cmd_volunteers(settings, args))
    if args.cmd == "reminders":
        return asyncio.run(cli.cmd_reminders(settings, args))
    return cli.cmd_disclosure(settings, args)


if __name__ == "__main__":
    sys.exit(main())
