"""A reminder broadcast to many cadres against a fake Bot API that enforces 30 messages/s.

    python bench/broadcast.py [--cadres 2000] [--rate 30]

The fake answers 429 ("retry after 1") to any message beyond `--rate` in a sliding second,
as Telegram does. Prints: the total time of the broadcast beside the floor cadres/rate
(goal: within 10% of it), the 429s received, and messages lost or duplicated (goal: zero),
counted from what the fake recorded. The bot runs as in production: python-telegram-bot with
AIORateLimiter (TELEGRAM_MAX_RATE=30) plus the reminder service's own pacing.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import open_runtime  # noqa: E402
from channels.telegram import TelegramChannel, build_application  # noqa: E402
from core.clock import FixedClock  # noqa: E402
from core.settings import Settings  # noqa: E402
from handlers.assistant import Assistant  # noqa: E402
from storage.reminder_types import Custom, RuleKind  # noqa: E402
from tests.fake_bot_api import FakeBotAPI  # noqa: E402

TITLE = "督查提醒压力测试"
TOKEN = "123456:BENCH-token-abcdefghijklmnopqrstuvwxyz"
START = datetime(2027, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Changsha, no other rule due


async def add_cadres(assistant: Assistant, n: int) -> None:
    """n township cadres (Telegram ids 100000...), written straight into the database."""
    ts = START.isoformat()
    async with assistant.users._db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO users (channel, external_id, language_code, role, first_seen, "
            "last_seen) VALUES ('telegram', ?, 'zh-hans', 'cadre', ?, ?)",
            [(str(100_000 + i), ts, ts) for i in range(n)])
        await conn.execute(
            "INSERT INTO cadre_areas (user_id, level, area_path, granted_at) "
            "SELECT id, 'township', '长沙市/雨花区/街道' || id, ? FROM users "
            "WHERE channel = 'telegram'", (ts,))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cadres", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=30, help="the fake's limit, msg/s")
    ap.add_argument("--bot-rate", type=float, default=None,
                    help="TELEGRAM_MAX_RATE of the bot (default: --rate); set it above --rate "
                         "to see 429s handled")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeBotAPI(rate_limit_per_second=args.rate) as api:
            settings = Settings(telegram_bot_token=TOKEN, telegram_base_url=api.base_url,
                                bot_db=Path(tmp) / "bot.sqlite3",
                                telegram_max_rate=args.bot_rate or args.rate)
            clock = FixedClock(START - timedelta(hours=1))
            async with open_runtime(settings, clock) as runtime:
                assistant = runtime.assistant
                channel = TelegramChannel(runtime, settings,
                                          build_application(settings, poll_timeout=1))
                stop = asyncio.Event()
                ready = asyncio.Event()

                async def started() -> None:
                    ready.set()

                task = asyncio.create_task(channel.run(stop, poll_timeout=1, on_started=started))
                await ready.wait()
                service = assistant.reminders
                await service.start()
                await add_cadres(assistant, args.cadres)
                await service.repo.add_rule(RuleKind.CUSTOM, TITLE, ("township",), (),
                                            Custom(once=START.isoformat()), clock.now(),
                                            by="bench", escalate=False)
                clock.set(START + timedelta(seconds=1))
                before = len(api.sent)
                t0 = time.perf_counter()
                report = await service.tick()
                seconds = time.perf_counter() - t0
                stop.set()
                await task
            sent = [x for x in api.sent[before:] if x["method"] == "sendMessage"
                    and TITLE in x["params"].get("text", "")]
    per_chat = Counter(x["chat_id"] for x in sent)
    expected = {100_000 + i for i in range(args.cadres)}
    lost = len(expected - set(per_chat))
    duplicated = sum(c - 1 for c in per_chat.values() if c > 1)
    floor = args.cadres / args.rate
    print(f"broadcast to {args.cadres} cadres, fake Bot API enforcing {args.rate:g} msg/s, "
          f"bot paced at {args.bot_rate or args.rate:g} msg/s:")
    print(f"  total {seconds:.1f} s vs floor {floor:.1f} s: {seconds / floor:.3f}x "
          f"(goal <= 1.10x)")
    print(f"  429s received: {api.stats['rate_limited']}; other errors: "
          f"{sum(v for k, v in api.stats.items() if k not in ('rate_limited', '429'))}")
    print(f"  delivered {len(per_chat)}, lost {lost}, duplicated {duplicated} (goal: 0 and 0); "
          f"service counted sent={report.sent} failed={report.failed}")


if __name__ == "__main__":
    asyncio.run(main())
