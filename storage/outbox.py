"""The outbox: every reply and notice the bot sends, one row a reply, written in the
transaction that produced it and delivered by the channel's sender, which marks each row."""
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.messages import Button, Document, Reply
from storage.db import Database, ts

LEASED = "passive"  # `error` of a row a request is sending in its HTTP response


def reply_to_json(reply: Reply) -> str:
    data: dict[str, object] = {"text": reply.text}
    if reply.buttons:
        data["buttons"] = [[[b.label, b.payload] for b in row] for row in reply.buttons]
    if reply.document is not None:
        doc = reply.document
        data["document"] = [doc.filename, base64.b64encode(doc.content).decode(), doc.mime_type]
    if reply.location is not None:
        data["location"] = list(reply.location)
    if reply.ask is not None:
        data["ask"] = [reply.ask, reply.ask_label]
    if reply.clear_keyboard:
        data["clear_keyboard"] = True
    if reply.photo is not None:
        data["photo"] = reply.photo
    if reply.image is not None:
        data["image"] = base64.b64encode(reply.image).decode()
    if reply.private_link is not None:
        data["private_link"] = reply.private_link
    if reply.multi:
        data["multi"] = True
    return json.dumps(data, ensure_ascii=False)


def reply_from_json(body: str) -> Reply:
    data = json.loads(body)
    doc = data.get("document")
    loc = data.get("location")
    ask = data.get("ask") or [None, ""]
    image = data.get("image")
    return Reply(
        data["text"],
        buttons=tuple(tuple(Button(label, payload) for label, payload in row)
                      for row in data.get("buttons", ())),
        document=Document(doc[0], base64.b64decode(doc[1]), doc[2]) if doc else None,
        location=(loc[0], loc[1]) if loc else None,
        ask=ask[0], ask_label=ask[1], clear_keyboard=bool(data.get("clear_keyboard")),
        photo=data.get("photo"), image=base64.b64decode(image) if image else None,
        private_link=data.get("private_link"), multi=bool(data.get("multi")),
    )


@dataclass(frozen=True)
class OutRow:
    id: int
    chat_id: str
    reply: Reply
    created_at: str
    attempts: int
    inbox_id: int | None = None  # the message it answers; None for a notice


class OutboxRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(self, channel: str, chat_id: str, replies: Sequence[Reply],
                      now: datetime) -> None:
        """Queue replies to a chat, in order (inside the caller's unit of work, if any)."""
        await self.enqueue_many(channel, [(chat_id, r) for r in replies], now)

    async def enqueue_many(self, channel: str, replies: Sequence[tuple[str, Reply]],
                           now: datetime) -> None:
        """Queue (chat id, reply) pairs, in order."""
        await self.enqueue_answers(channel, [(c, r, None, now) for c, r in replies], now)

    async def enqueue_answers(
        self, channel: str, replies: Sequence[tuple[str, Reply, int | None, datetime]],
        now: datetime,
    ) -> None:
        """Queue (chat id, reply, inbox id of the message it answers, not before) rows."""
        if not replies:
            return
        stamp = ts(now)
        async with self._db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO outbox (channel, chat_id, body, created_at, next_at, inbox_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(channel, chat_id, reply_to_json(r), stamp, ts(max(at, now)), inbox_id)
                 for chat_id, r, inbox_id, at in replies])

    async def take_answer(self, inbox_id: int, now: datetime, lease: timedelta,
                          takes: Callable[[Reply], bool] | None = None,
                          ) -> tuple[OutRow | None, bool]:
        """The first reply to a message, leased to the caller to send in the HTTP response
        (WeChat's passive reply): nobody else sends it for `lease`; `finish` it once the
        response is written, or `release` it. The message's later replies wait behind it
        (one chat's replies go in order). None when nothing is pending, when the reply's hold
        is over (the sender may be sending it), when another request has it, when an earlier
        message's reply to the chat still waits, or when the first reply is not one `takes`
        accepts (then all go through the sender). The flag: whether other replies to the message
        are pending (the sender has them to send)."""
        stamp = ts(now)
        async with self._db.transaction() as conn:
            async with conn.execute(
                "SELECT o.id, o.chat_id, o.body, o.created_at, o.attempts, o.error, o.next_at, "
                "EXISTS (SELECT 1 FROM outbox p WHERE p.channel = o.channel AND p.chat_id = "
                "o.chat_id AND p.status = 'pending' AND p.id < o.id) AS behind FROM outbox o "
                "WHERE o.inbox_id = ? AND o.status = 'pending' ORDER BY o.id LIMIT 1",
                (inbox_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return None, False
            if row["behind"]:  # an earlier message's reply still waits: it goes first
                await conn.execute(
                    "UPDATE outbox SET next_at = ? WHERE inbox_id = ? AND status = 'pending' "
                    "AND next_at > ?", (stamp, inbox_id, stamp))
                return None, True
            if row["next_at"] <= stamp or row["error"] == LEASED:
                return None, True  # the sender's now (its hold is over), or another request's
            reply = reply_from_json(row["body"])
            if takes is not None and not takes(reply):
                await conn.execute(
                    "UPDATE outbox SET next_at = ? WHERE inbox_id = ? AND status = 'pending'",
                    (stamp, inbox_id))
                return None, True
            await conn.execute(
                "UPDATE outbox SET next_at = ?, error = ? WHERE id = ?",
                (ts(now + lease), LEASED, row["id"]))
            others = await conn.execute(
                "UPDATE outbox SET next_at = ? WHERE inbox_id = ? AND status = 'pending' "
                "AND id != ?", (stamp, inbox_id, row["id"]))
            more = others.rowcount > 0
        return OutRow(row["id"], row["chat_id"], reply, row["created_at"], row["attempts"],
                      inbox_id), more

    async def release(self, row_id: int, now: datetime) -> None:
        """A leased reply whose response could not be written: the sender sends it."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET next_at = ?, error = NULL WHERE id = ? AND "
                "status = 'pending'", (ts(now), row_id))

    async def release_leases(self, channel: str, now: datetime) -> None:
        """Every lease of a channel ends (at start: the requests that held them are gone)."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET next_at = ?, error = NULL WHERE channel = ? AND "
                "status = 'pending' AND error = ?", (ts(now), channel, LEASED))

    async def release_answers(self, inbox_id: int, now: datetime) -> None:
        """A message's replies go through the sender now (its request gave up waiting); one
        another request has leased stays with it."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET next_at = ? WHERE inbox_id = ? AND status = 'pending' "
                "AND next_at > ? AND error IS NOT ?", (ts(now), inbox_id, ts(now), LEASED))

    async def due(self, channel: str, now: datetime, limit: int = 200) -> list[OutRow]:
        """Pending rows that may go now, oldest first: a row waits while an older row to the
        same chat is still waiting (replies arrive in the order they were written)."""
        stamp = ts(now)
        async with self._db.read() as conn, conn.execute(
            "SELECT o.id, o.chat_id, o.body, o.created_at, o.attempts, o.inbox_id FROM outbox o "
            "WHERE o.channel = ? AND o.status = 'pending' AND o.next_at <= ? AND NOT EXISTS ("
            " SELECT 1 FROM outbox p WHERE p.channel = o.channel AND p.chat_id = o.chat_id"
            " AND p.status = 'pending' AND p.id < o.id AND p.next_at > ?) "
            "ORDER BY o.id LIMIT ?", (channel, stamp, stamp, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [OutRow(r["id"], r["chat_id"], reply_from_json(r["body"]), r["created_at"],
                       r["attempts"], r["inbox_id"]) for r in rows]

    async def next_due(self, channel: str) -> str | None:
        """When the earliest pending row may go (None: nothing pending)."""
        async with self._db.read() as conn, conn.execute(
            "SELECT MIN(next_at) FROM outbox WHERE channel = ? AND status = 'pending'",
            (channel,),
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def finish(self, row_id: int, status: str, now: datetime,
                     error: str | None = None) -> None:
        """Sent, or given up (expired, blocked, refused): the body is emptied."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET status = ?, done_at = ?, error = ?, body = NULL, "
                "attempts = attempts + 1 WHERE id = ?", (status, ts(now), error, row_id))

    async def finish_many(self, row_ids: Sequence[int], status: str, now: datetime) -> None:
        """Several rows finished alike, in one transaction."""
        if not row_ids:
            return
        async with self._db.transaction() as conn:
            await conn.executemany(
                "UPDATE outbox SET status = ?, done_at = ?, error = NULL, body = NULL, "
                "attempts = attempts + 1 WHERE id = ?", [(status, ts(now), i) for i in row_ids])

    async def retry_at(self, row_id: int, at: datetime, error: str, *,
                       count: bool = True) -> None:
        """Try again at `at`; a flood wait (count=False) is not a failed attempt."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET next_at = ?, error = ?, attempts = attempts + ? "
                "WHERE id = ?", (ts(at), error[:200], 1 if count else 0, row_id))

    async def counts(self, channel: str) -> dict[str, int]:
        async with self._db.read() as conn, conn.execute(
            "SELECT status, COUNT(*) AS n FROM outbox WHERE channel = ? GROUP BY status",
            (channel,),
        ) as cur:
            return {r["status"]: r["n"] for r in await cur.fetchall()}

    async def finished_since(self, status: str, since: datetime) -> int:
        """Rows of every channel finished with `status` after `since`."""
        async with self._db.read() as conn, conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE status = ? AND done_at > ?", (status, ts(since)),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def prune(self, before: datetime) -> None:
        """Forget finished rows older than `before`."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE status != 'pending' AND done_at < ?", (ts(before),))
