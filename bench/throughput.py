"""End-to-end speed through a fake Bot API on 127.0.0.1, side by side with a plain PTB echo bot.

    python bench/throughput.py [--questions 600] [--users 60]

Prints: questions answered per second by this bot and by an echo bot (same fake, same PTB
settings: concurrency, AIORateLimiter with its overall cap lifted, poll timeout), their ratio
(goal >= 0.7); resident memory of `python bot.py` after start (goal < 150 MB), and whether it
stopped cleanly on SIGTERM; wall time of `python bot.py ask` for one question (goal < 2 s).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram import Update  # noqa: E402
from telegram.ext import (  # noqa: E402
    ApplicationBuilder,
    ContextTypes,
    MessageHandler,
    filters,
)

from app import open_runtime  # noqa: E402
from channels.telegram import TelegramChannel, build_application  # noqa: E402
from core.settings import Settings  # noqa: E402
from tests.fake_bot_api import FakeBotAPI  # noqa: E402

TOKEN = "123456:BENCH-token-abcdefghijklmnopqrstuvwxyz"


def questions(n: int) -> list[str]:
    qs = [q["q"] for q in yaml.safe_load((ROOT / "bench" / "questions.yaml").read_text("utf-8"))]
    return [qs[i % len(qs)] for i in range(n)]


async def drive(api: FakeBotAPI, texts: list[str], users: int) -> float:
    """Push every question at once, return seconds until every one got its reply."""
    start_count = len(api.sent)
    t0 = time.perf_counter()
    for i, body in enumerate(texts):
        api.push_text(10_000 + i % users, body)
    await api.wait_for(lambda sent: sum(1 for x in sent[start_count:]
                                        if x["method"] == "sendMessage") >= len(texts),
                       timeout=300)
    return time.perf_counter() - t0


async def bench_ours(settings: Settings, texts: list[str], users: int) -> float:
    async with FakeBotAPI() as api:
        s = replace(settings, telegram_base_url=api.base_url)
        async with open_runtime(s) as runtime:
            channel = TelegramChannel(runtime, s, build_application(s, poll_timeout=1))
            stop = asyncio.Event()
            task = asyncio.create_task(channel.run(stop, poll_timeout=1))
            await api.wait_for(lambda _s: api.calls["getUpdates"] > 0)
            await drive(api, texts[:50], users)  # warm-up
            seconds = await drive(api, texts, users)
            stop.set()
            await task
    return len(texts) / seconds


async def bench_echo(settings: Settings, texts: list[str], users: int, *,
                     plain: bool = False) -> float:
    """An echo bot with this bot's PTB settings, or (`plain`) the plainest one: PTB's defaults,
    no rate limiter."""
    async with FakeBotAPI() as api:
        s = replace(settings, telegram_base_url=api.base_url)
        if plain:
            app = (ApplicationBuilder().token(TOKEN).base_url(api.base_url)
                   .build())
        else:
            app = build_application(s, poll_timeout=1)

        async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.effective_message is not None
            await update.effective_message.reply_text(update.effective_message.text or "?")

        app.add_handler(MessageHandler(filters.ALL, echo))
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
            await drive(api, texts[:50], users)
            seconds = await drive(api, texts, users)
            await app.updater.stop()
            await app.stop()
    return len(texts) / seconds


async def bench_process(db: Path) -> tuple[float, int, float]:
    """RSS of `python bot.py` (Telegram mode) after start; its exit code and time on SIGTERM."""
    async with FakeBotAPI() as api:
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.base_url,
           "BOT_HTTP_PORT": "0",
               "BOT_DB": str(db), "BOT_LOG_LEVEL": "WARNING"}
        # the bot as a real process (Popen returns at once; the fake API runs in this loop)
        proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py")],  # noqa: ASYNC220
                                env=env, cwd=ROOT)
        await api.wait_for(lambda _s: api.calls["getUpdates"] > 0, timeout=60)
        api.push_text(1, "结婚登记要带什么")
        await api.wait_replies(1, timeout=30)
        rss_kb = next(int(line.split()[1]) for line in
                      Path(f"/proc/{proc.pid}/status").read_text().splitlines()  # noqa: ASYNC240
                      if line.startswith("VmRSS:"))
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.get_running_loop().run_in_executor(None, proc.wait)
        return rss_kb / 1024, code, time.perf_counter() - t0


def bench_ask(runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "bot.py"), "ask", "结婚登记要带什么材料"],
                       check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=600)
    ap.add_argument("--users", type=int, default=60)
    args = ap.parse_args()
    texts = questions(args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(telegram_bot_token=TOKEN, bot_db=Path(tmp) / "bench.sqlite3",
                            telegram_max_rate=0)  # lift the 30/s cap for both bots alike
        ours = await bench_ours(settings, texts, args.users)
        echo = await bench_echo(settings, texts, args.users)
        ours2 = await bench_ours(replace(settings, bot_db=Path(tmp) / "b2.sqlite3"), texts,
                                 args.users)
        echo2 = await bench_echo(settings, texts, args.users)
        plain = await bench_echo(settings, texts, args.users, plain=True)
        rss, code, stop_s = await bench_process(Path(tmp) / "proc.sqlite3")
    ask_s = bench_ask()
    o, e = (ours + ours2) / 2, (echo + echo2) / 2
    print(f"end-to-end, {len(texts)} questions from {args.users} users, fake Bot API on "
          "127.0.0.1 (two rounds each, alternating):")
    print(f"  this bot: {ours:.0f} / {ours2:.0f} answers/s   echo bot: {echo:.0f} / {echo2:.0f} "
          f"replies/s   ratio {o / e:.2f} (goal >= 0.70)")
    print(f"  plainest echo bot (PTB defaults, no rate limiter): {plain:.0f} replies/s   "
          f"ratio {o / plain:.2f}")
    print(f"resident memory of `python bot.py` after start: {rss:.0f} MB (goal < 150 MB)")
    print(f"SIGTERM: exit code {code}, stopped in {stop_s:.2f} s")
    print(f"`python bot.py ask` one question: {ask_s:.2f} s wall, median of 5 (goal < 2 s)")


if __name__ == "__main__":
    asyncio.run(main())
