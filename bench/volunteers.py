"""Volunteer sign-up and directory speed on this machine.

    python bench/volunteers.py [--users 100] [--writes 2000] [--points 5000]

Prints:
- sign-ups completed per second end to end: `--users` residents at once, each doing the whole
  conversation (deep link, name, number, availability, Done, consent, Confirm: 7 updates and 8
  replies) through the real PTB application and a fake Bot API on 127.0.0.1 (AIORateLimiter's
  30 msg/s cap lifted, as in bench/throughput.py; with Telegram's real cap, 8 replies per
  sign-up allow at most 30/8 = 3.75 sign-ups/s whatever the bot does);
- raw storage writes per second (one sign-up per transaction, the way the bot writes) with WAL,
  and the same with the rollback journal (journal_mode=DELETE) as a baseline in the same run;
- the nearest-service lookup time over `--points` service points with coordinates (goal: under
  5 ms), and a full haversine scan of the same points as a baseline.
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import open_runtime  # noqa: E402
from channels.telegram import TelegramChannel, build_application  # noqa: E402
from core.settings import Settings  # noqa: E402
from knowledge.base import KnowledgeBase  # noqa: E402
from knowledge.directory import Directory, ServicePoint, distance_km  # noqa: E402
from storage.db import open_database  # noqa: E402
from storage.users import UserRepo  # noqa: E402
from storage.volunteers import NewSignup, VolunteerRepo  # noqa: E402
from tests.fake_bot_api import FakeBotAPI  # noqa: E402

TOKEN = "123456:BENCH-token-abcdefghijklmnopqrstuvwxyz"
TEAM = "hongxing-elderly"  # from tests/data/directory


def knowledge_with_test_teams(tmp: Path) -> Path:
    target = tmp / "knowledge"
    shutil.copytree(ROOT / "knowledge", target,
                    ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    for path in (ROOT / "tests" / "data" / "directory").glob("*.yaml"):
        shutil.copy(path, target / "directory" / path.name)
    return target


async def one_sign_up(api: FakeBotAPI, uid: int) -> None:
    """The whole conversation; each step waits for the bot's reply, like a person would."""
    async def step(push: Callable[[], object], replies: int = 1) -> None:
        push()
        await api.wait_replies(uid, replies, timeout=120)

    await step(lambda: api.push_text(uid, f"/start join_{TEAM}"))
    await step(lambda: api.push_text(uid, "张三"))
    await step(lambda: api.push_text(uid, f"139{uid:08d}"), 2)
    for data in ("va:weekend", "va:done", "vc:yes", f"vk:{TEAM}"):
        await step(functools.partial(api.push_callback, uid, data))


async def bench_sign_ups(settings: Settings, kb: KnowledgeBase, users: int) -> tuple[float, int]:
    async with FakeBotAPI() as api:
        s = replace(settings, telegram_base_url=api.base_url, telegram_max_rate=0)
        async with open_runtime(s, kb=kb) as runtime:
            assistant = runtime.assistant
            channel = TelegramChannel(runtime, s, build_application(s, poll_timeout=1))
            stop = asyncio.Event()
            task = asyncio.create_task(channel.run(stop, poll_timeout=1))
            await api.wait_for(lambda _s: api.calls["getUpdates"] > 0)
            await one_sign_up(api, 1)  # warm-up
            t0 = time.perf_counter()
            await asyncio.gather(*(one_sign_up(api, 100 + i) for i in range(users)))
            seconds = time.perf_counter() - t0
            stored = len(await assistant.volunteers.of_teams([TEAM])) - 1
            stop.set()
            await task
    return users / seconds, stored


async def bench_writes(path: Path, n: int, journal: str) -> float:
    db = await open_database(path)
    try:
        async with db.read() as conn:  # outside a transaction: journal_mode cannot change inside
            await (await conn.execute(f"PRAGMA journal_mode={journal}")).close()
        users, repo = UserRepo(db), VolunteerRepo(db)
        now = datetime.now(UTC)
        ids = []
        for i in range(n):
            user = await users.touch("bench", str(i), None, now, is_admin=False)
            assert user is not None
            ids.append(user.id)
        t0 = time.perf_counter()
        for i, uid in enumerate(ids):
            await repo.create(NewSignup(uid, TEAM, "张三", f"139{i:08d}", ("weekend",), "v",
                                        now), now)
        return n / (time.perf_counter() - t0)
    finally:
        await db.close()


def bench_nearest(kb: KnowledgeBase, n: int, lookups: int = 2000) -> dict[str, float]:
    rng = random.Random(1)
    points = [ServicePoint(f"p{i}", f"点{i}", "", rng.choice(list(kb.directory.types)),
                           district="yuelu", lat=rng.uniform(27.9, 28.6),
                           lon=rng.uniform(112.5, 113.6)) for i in range(n)]
    directory = Directory(list(kb.directory.types.values()), points, [], kb.gazetteer)
    queries = [(rng.uniform(28.0, 28.4), rng.uniform(112.8, 113.2)) for _ in range(lookups)]
    ours, typed, scan = [], [], []
    for lat, lon in queries:
        t0 = time.perf_counter()
        directory.nearest(lat, lon, limit=5)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        directory.nearest(lat, lon, limit=5, type_id="minors")
        typed.append(time.perf_counter() - t0)
    for lat, lon in queries[:200]:
        t0 = time.perf_counter()
        sorted(points, key=lambda p: distance_km(lat, lon, p.lat, p.lon))[:5]  # type: ignore[arg-type]
        scan.append(time.perf_counter() - t0)

    def ms(xs: list[float], q: float) -> float:
        return statistics.quantiles(xs, n=100)[int(q) - 1] * 1000 if q < 100 else max(xs) * 1000

    return {"p50": ms(ours, 50), "p99": ms(ours, 99), "typed_p50": ms(typed, 50),
            "typed_p99": ms(typed, 99), "scan_p50": ms(scan, 50)}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--writes", type=int, default=2000)
    ap.add_argument("--points", type=int, default=5000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase.load(knowledge_with_test_teams(Path(tmp)))
        settings = Settings(telegram_bot_token=TOKEN, bot_db=Path(tmp) / "bot.sqlite3")
        rate, stored = await bench_sign_ups(settings, kb, args.users)
        print(f"sign-ups end to end: {args.users} residents at once, {rate:.1f} sign-ups/s "
              f"({rate * 7:.0f} updates/s, {rate * 8:.0f} replies/s); stored {stored} "
              f"(expected {args.users}); Telegram's 30 msg/s cap would allow at most 3.75/s")
        wal = await bench_writes(Path(tmp) / "wal.sqlite3", args.writes, "WAL")
        rollback = await bench_writes(Path(tmp) / "del.sqlite3", args.writes, "DELETE")
        print(f"storage writes (one sign-up per transaction, synchronous=NORMAL): WAL "
              f"{wal:.0f}/s vs rollback journal {rollback:.0f}/s (ratio {wal / rollback:.1f}x)")
    near = bench_nearest(kb, args.points)
    print(f"nearest 5 of {args.points} points: p50 {near['p50']:.2f} ms, p99 {near['p99']:.2f} "
          f"ms (goal < 5 ms); of one type: p50 {near['typed_p50']:.2f} ms, p99 "
          f"{near['typed_p99']:.2f} ms; full haversine scan baseline p50 "
          f"{near['scan_p50']:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
