"""Nothing lost under faults: `python bot.py` as a real process against the fake Bot API on
127.0.0.1, a burst of questions and volunteer sign-ups, and one fault per scenario.

    python bench/faults.py [--questions 200] [--signups 20] [--only NAME ...]

Scenarios: SIGKILL at three moments of the burst (after 10%, 40% and 70% of the answers),
502 on every third call for 10 s, a 429 storm (the fake allows 5 messages a second), a 30 s
outage of the fake (every call 502), and the case that stays at-least-once: the fake sends a
message and then answers 502 (every third sendMessage for 10 s).

Prints per scenario: questions answered, answered twice or more, lost; sign-ups completed (a
sign-up is a short conversation, each step waiting for the bot's reply, as a user does); and
the wall time. Goal: 0 lost everywhere, duplicates only in the accepted-then-failed case.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_bot_api import FakeBotAPI  # noqa: E402

TOKEN = "123456:FAULTS-token-abcdefghijklmnopqrstuvwxyz"
QUESTION = "结婚登记要带什么材料"
ANSWER_MARK = "身份证"
TEAM = "chigang-yigong"
STEP_TIMEOUT = 90.0  # a user waits this long for each reply before giving up


class Bot:
    """`python bot.py` polling the fake; restartable."""

    def __init__(self, api: FakeBotAPI, db: Path) -> None:
        self.env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.base_url,
           "BOT_HTTP_PORT": "0",
                    "BOT_DB": str(db), "BOT_LOG_LEVEL": "ERROR"}
        self.api = api
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        polls = self.api.calls["getUpdates"]
        # Popen returns at once; the fake runs in this event loop
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py")],  # noqa: ASYNC220
                                     env=self.env, cwd=ROOT, stderr=subprocess.DEVNULL)
        await self.api.wait_for(lambda _s: self.api.calls["getUpdates"] > polls, timeout=60)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.get_running_loop().run_in_executor(None, self.proc.wait)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.get_running_loop().run_in_executor(None, self.proc.wait)


def answers(api: FakeBotAPI, users: range) -> Counter[int]:
    got: Counter[int] = Counter()
    for record in api.sent:
        chat = record.get("chat_id")
        if (record["method"] == "sendMessage" and isinstance(chat, int) and chat in users
                and ANSWER_MARK in (record["params"].get("text") or "")):
            got[chat] += 1
    return got


def _markup_has(record: dict[str, Any], needle: str) -> bool:
    markup = record["params"].get("reply_markup") or {}
    return any(needle in str(b.get("callback_data", "")) for row in markup.get("inline_keyboard",
                                                                            []) for b in row)


async def _step(api: FakeBotAPI, uid: int, send: Callable[[], object],
                done: Callable[[dict[str, Any]], bool]) -> bool:
    """Send, then wait for a reply to this user that `done` accepts."""
    before = len(api.sent_to(uid))
    send()
    try:
        await api.wait_for(lambda _s: any(done(r) for r in api.sent_to(uid)[before:]),
                           timeout=STEP_TIMEOUT)
    except AssertionError:
        return False
    return True


async def sign_up(api: FakeBotAPI, uid: int) -> bool:
    """The whole sign-up as a user does it; False if a step's reply never came."""
    steps: list[tuple[Callable[[], object], Callable[[dict[str, Any]], bool]]] = [
        (lambda: api.push_text(uid, f"/start join_{TEAM}"),
         lambda r: "姓名" in (r["params"].get("text") or "")),
        (lambda: api.push_text(uid, "张" + chr(0x4E00 + uid % 500)),  # no digits in a name
         lambda r: "request_contact" in str(r["params"].get("reply_markup"))),
        (lambda: api.push_text(uid, f"1380013{uid % 10000:04d}"),
         lambda r: _markup_has(r, "va:done")),
        (lambda: api.push_callback(uid, "va:weekend"), lambda r: _markup_has(r, "va:done")),
        (lambda: api.push_callback(uid, "va:done"), lambda r: _markup_has(r, "vc:yes")),
        (lambda: api.push_callback(uid, "vc:yes"), lambda r: _markup_has(r, f"vk:{TEAM}")),
        (lambda: api.push_callback(uid, f"vk:{TEAM}"),
         lambda r: "V0" in (r["params"].get("text") or "")),
    ]
    for send, done in steps:
        if not await _step(api, uid, send, done):
            return False
    return True


def signups_in(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM volunteer_signups").fetchone()[0])


async def scenario(name: str, n_questions: int, n_signups: int,
                   fault: Callable[[FakeBotAPI, Bot, range], Any]) -> str:
    rate = 5 if name == "429 storm" else None
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "faults.sqlite3"
        async with FakeBotAPI(rate_limit_per_second=rate) as api:
            bot = Bot(api, db)
            await bot.start()
            users = range(100_000, 100_000 + n_questions)
            t0 = time.perf_counter()
            for u in users:
                api.push_text(u, QUESTION)
            signups = [asyncio.ensure_future(sign_up(api, 200_000 + i)) for i in range(n_signups)]
            await fault(api, bot, users)
            with contextlib.suppress(AssertionError):
                await api.wait_for(lambda _s: len(answers(api, users)) == len(users),
                                   timeout=180)
            completed = sum(await asyncio.gather(*signups))
            seconds = time.perf_counter() - t0
            await asyncio.sleep(1.0)  # late duplicates would show now
            await bot.stop()
            got = answers(api, users)
            stored = signups_in(db)
    twice = sum(1 for c in got.values() if c > 1)
    lost = len(users) - len(got)
    return (f"  {name:28} answered {len(got):4}/{len(users)}  twice {twice:3}  lost {lost:3}  "
            f"sign-ups {completed:2}/{n_signups} (stored {stored:2})  {seconds:6.1f} s")


async def no_fault(api: FakeBotAPI, bot: Bot, users: range) -> None:
    return None


async def kill_three_times(api: FakeBotAPI, bot: Bot, users: range) -> None:
    for share in (0.1, 0.4, 0.7):
        want = int(len(users) * share)

        def reached(_sent: object, want: int = want) -> bool:
            return len(answers(api, users)) >= want

        await api.wait_for(reached, timeout=120)
        await bot.kill()
        await bot.start()


def _every_third(kind: str, methods: set[str] | None, seconds: float,
                 status: int = 502) -> Callable[[FakeBotAPI, Bot, range], Any]:
    async def fault(api: FakeBotAPI, bot: Bot, users: range) -> None:
        calls = Counter[str]()
        until = time.monotonic() + seconds

        def chaos(method: str) -> tuple[str, int] | None:
            if time.monotonic() > until or (methods and method not in methods):
                return None
            calls[method] += 1
            return (kind, status) if calls[method] % 3 == 0 else None

        api.chaos = chaos
    return fault


async def outage(api: FakeBotAPI, bot: Bot, users: range) -> None:
    until = time.monotonic() + 30.0
    api.chaos = lambda method: ("before", 502) if time.monotonic() < until else None


SCENARIOS: dict[str, Callable[[FakeBotAPI, Bot, range], Any]] = {
    "no fault": no_fault,
    "SIGKILL at 10/40/70%": kill_three_times,
    "502 every 3rd call, 10 s": _every_third("before", None, 10.0),
    "429 storm": no_fault,  # the fake allows 5 sendMessage a second
    "30 s outage": outage,
    "accepted, then 502 (3rd)": _every_third("after", {"sendMessage"}, 10.0),
}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--signups", type=int, default=20)
    ap.add_argument("--only", nargs="*", help="scenario names (substrings)")
    args = ap.parse_args()
    print(f"faults: {args.questions} questions from as many users and {args.signups} sign-ups, "
          "`python bot.py` against the fake Bot API on 127.0.0.1")
    for name, fault in SCENARIOS.items():
        if args.only and not any(o.lower() in name.lower() for o in args.only):
            continue
        print(await scenario(name, args.questions, args.signups, fault), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
