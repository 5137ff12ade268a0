"""Nothing lost: the inbox and outbox under faults, through the real PTB application and the
fake Bot API, and a real `python bot.py` process killed with SIGKILL in the middle of a burst."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from channels.durable import CHATS_IN_FLIGHT, Sender
from core.clock import FixedClock
from core.messages import DeliveryError, Reply
from storage.db import open_database
from storage.inbox import InboxRepo
from storage.outbox import OutboxRepo, reply_from_json, reply_to_json
from tests.conftest import ROOT
from tests.fake_bot_api import FakeBotAPI
from tests.test_telegram import TOKEN, body, running_bot, say

QUESTION = "结婚登记要带什么材料"


@pytest.fixture
async def api():
    async with FakeBotAPI() as fake:
        yield fake


def answered(api: FakeBotAPI, users: range) -> Counter[int]:
    """How many answers each user got to their question."""
    return Counter(r["params"]["chat_id"] for u in users
                   for r in api.sent_to(u, "sendMessage") if "身份证" in body(r))


async def test_an_update_python_telegram_bot_cannot_parse_is_skipped(api, settings, clock, kb,
                                                                     caplog):
    async with running_bot(api, settings, clock, kb) as channel:
        message = api._user_message(41, "zh-hans", "private", None, "Test", None)
        message["poll"] = {"id": "p1", "question": "?", "options": [{"text": "a",
                           "voter_count": 0}], "total_voter_count": 0, "is_closed": False,
                           "is_anonymous": True, "type": "regular",
                           "allows_multiple_answers": False}  # no persistent_id
        api._push_message(message)
        (r,) = await say(api, 42, QUESTION)  # the next user is answered
        assert "身份证" in body(r)
        polls = api.calls["getUpdates"]
        await asyncio.sleep(1.0)
        assert api.calls["getUpdates"] - polls < 10  # long polling, not a loop on one batch
        counts = await channel.inbox.counts("telegram")
    assert counts.get("unreadable") == 1 and counts.get("handled", 0) >= 1
    skipped = [r for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(skipped) == 1


async def test_outages_and_flood_waits_delay_replies_but_lose_none(api, settings, clock, kb):
    users = range(500, 520)
    async with running_bot(api, settings, clock, kb) as channel:
        api.fail_next("sendMessage", 502, times=6)
        for u in users[:10]:
            api.push_text(u, QUESTION)
        await api.wait_for(lambda _s: len(answered(api, users[:10])) == 10, timeout=30)
        api.fail_next("sendMessage", 429, retry_after=1, times=4)
        for u in users[10:]:
            api.push_text(u, QUESTION)
        await api.wait_for(lambda _s: len(answered(api, users)) == 20, timeout=30)
        assert channel.sender.retried >= 10
    assert set(answered(api, users).values()) == {1}  # each once


async def test_handled_update_and_sent_reply_keep_no_text(api, settings, clock, kb):
    async with running_bot(api, settings, clock, kb):
        await say(api, 43, "我叫周九，电话13300133000")
    db = await open_database(settings.bot_db)
    async with db.read() as conn:
        for table in ("inbox", "outbox"):
            async with conn.execute(f"SELECT COUNT(*), COUNT(body) FROM {table}") as cur:
                total, with_body = await cur.fetchone()
            assert total >= 1 and with_body == 0, table
    await db.close()


class FlakyTransport:
    """The platform's side of a transport: refuses or fails as told, records what went."""

    def __init__(self, errors: list[DeliveryError | None]) -> None:
        self.errors = errors
        self.delivered: list[tuple[str, str]] = []

    async def deliver(self, chat_id: str, reply: Reply) -> None:
        error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error
        self.delivered.append((chat_id, reply.text))


async def test_sender_keeps_order_per_chat_and_drops_replies_too_old(settings):
    db = await open_database(settings.bot_db)
    repo = OutboxRepo(db)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    await repo.enqueue("t", "old", [Reply("stale")], now - timedelta(hours=25))
    await repo.enqueue("t", "a", [Reply("a1"), Reply("a2")], now)
    await repo.enqueue("t", "b", [Reply("b1")], now)
    transport = FlakyTransport([DeliveryError("502"), None, None, None])
    clock = FixedClock(now)
    sender = Sender("t", outbox=repo, transport=transport, max_age=timedelta(hours=24),
                    clock=clock)
    await sender.flush()
    # a1 failed: a2 waits behind it; b is not held up; the stale reply is dropped
    assert transport.delivered == [("b", "b1")] and sender.expired == 1
    clock.advance(timedelta(seconds=2))
    await sender.flush()
    assert transport.delivered == [("b", "b1"), ("a", "a1"), ("a", "a2")]
    assert await repo.counts("t") == {"sent": 3, "expired": 1}
    transport.errors = [DeliveryError("blocked", blocked=True),
                        DeliveryError("bad", refused=True)]
    await repo.enqueue("t", "c", [Reply("c1"), Reply("c2")], now)
    await sender.flush()
    assert await repo.counts("t") == {"sent": 3, "expired": 1, "blocked": 1, "refused": 1}
    await db.close()


def test_replies_survive_the_outbox_as_they_were():
    from core.messages import Button, Document  # noqa: PLC0415 - only this test needs them

    reply = Reply("文本", buttons=((Button("是", "vc:yes"), Button("否", "vc:no")),),
                  document=Document("v.csv", b"\xef\xbb\xbfa,b", "text/csv"),
                  location=(28.1, 112.9), ask="contact", ask_label="分享", clear_keyboard=True,
                  photo="file-1", image=b"\x89PNG", private_link="my")
    assert reply_from_json(reply_to_json(reply)) == reply
    assert reply_from_json(reply_to_json(Reply("x"))) == Reply("x")


async def test_inbox_ignores_a_key_received_twice(settings):
    db = await open_database(settings.bot_db)
    inbox = InboxRepo(db)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert await inbox.receive("t", [("1", "{}"), ("2", "{}")], now) == 2
    assert await inbox.receive("t", [("2", "{}"), ("3", "{}")], now) == 1
    assert [r.key for r in await inbox.pending("t")] == ["1", "2", "3"]
    await db.close()


async def test_sigkill_in_a_burst_loses_no_question(api, tmp_path):
    """`python bot.py` killed with SIGKILL three times while 60 questions arrive; after each
    restart every question is answered. What a kill may repeat is bounded: the replies in
    flight (sent, not yet marked), at most CHATS_IN_FLIGHT a kill."""
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.base_url,
           "BOT_HTTP_PORT": "0",
           "BOT_DB": str(tmp_path / "k.sqlite3"), "BOT_LOG_LEVEL": "WARNING"}
    users = range(1000, 1060)
    loop = asyncio.get_running_loop()

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, str(ROOT / "bot.py")], env=env, cwd=ROOT,
                                stderr=subprocess.DEVNULL, text=True)

    proc = start()
    try:
        await api.wait_for(lambda _s: api.calls["getUpdates"] > 0, timeout=30)
        for u in users:
            api.push_text(u, QUESTION)
        for after in (1, 20, 40):  # kill after this many answers
            await api.wait_for(lambda _s, n=after: len(answered(api, users)) >= n, timeout=60)
            proc.send_signal(signal.SIGKILL)
            await loop.run_in_executor(None, proc.wait)
            polls = api.calls["getUpdates"]
            proc = start()
            await api.wait_for(lambda _s, p=polls: api.calls["getUpdates"] > p, timeout=30)
        await api.wait_for(lambda _s: len(answered(api, users)) == len(users), timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        await loop.run_in_executor(None, proc.wait)
    counts = answered(api, users)
    assert len(counts) == 60
    assert sum(c - 1 for c in counts.values()) <= 3 * CHATS_IN_FLIGHT
    logging.getLogger(__name__).info("answered twice: %d", sum(c > 1 for c in counts.values()))


async def test_a_failing_statement_rolls_back_only_its_own_message(api, settings, clock, kb):
    """A handler's statement fails (a fault injected into the database): that message's
    changes are rolled back and it gets the apology; the others of its batch are answered."""
    async with running_bot(api, settings, clock, kb) as channel:
        feedback = channel.assistant.feedback
        original = feedback.add

        async def add(kind, question, *args, **kwargs):  # the fault: a broken statement
            if "坏" in question:
                async with feedback._db.transaction() as conn:
                    await conn.execute("INSERT INTO no_such_table VALUES (1)")
            return await original(kind, question, *args, **kwargs)

        feedback.add = add
        for u in range(700, 706):
            api.push_text(u, QUESTION + ("坏" if u == 703 else ""))
        for u in range(700, 706):
            (r,) = await api.wait_replies(u, timeout=15)
            assert ("身份证" in body(r)) == (u != 703), body(r)
        assert "12345" in body(api.sent_to(703)[0])
        counts = await channel.inbox.counts("telegram")
        user = await channel.assistant.users.get("telegram", "703")
    assert counts.get("failed") == 1 and counts.get("handled", 0) >= 5
    assert user is None  # its first contact was rolled back with it
