"""The inbox: each update written when it arrives (before the platform is told it was
received), then handled once, in the transaction that writes its replies."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, ts


@dataclass(frozen=True)
class InboxRow:
    id: int
    key: str
    body: str
    received_at: str = ""


class InboxRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def receive(self, channel: str, updates: Sequence[tuple[str, str]],
                      now: datetime) -> int:
        """Write a fetched batch of (key, body) in one transaction; a key already received (a
        re-delivery) is ignored. Returns how many were new."""
        async with self._db.transaction() as conn:
            before = conn.total_changes
            await conn.executemany(
                "INSERT OR IGNORE INTO inbox (channel, key, body, received_at) "
                "VALUES (?, ?, ?, ?)",
                [(channel, key, body, ts(now)) for key, body in updates])
            return conn.total_changes - before

    async def pending(self, channel: str, limit: int = 64) -> list[InboxRow]:
        """Received and not yet handled, oldest first."""
        async with self._db.read() as conn, conn.execute(
            "SELECT id, key, body, received_at FROM inbox WHERE channel = ? "
            "AND handled_at IS NULL ORDER BY id LIMIT ?", (channel, limit),
        ) as cur:
            return [InboxRow(r["id"], r["key"], r["body"] or "", r["received_at"])
                    for r in await cur.fetchall()]

    async def receive_one(self, channel: str, key: str, body: str,
                          now: datetime) -> tuple[int, bool]:
        """Write one update (a re-delivery of a key is ignored); its row id, and whether it
        was handled already."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO inbox (channel, key, body, received_at) "
                "VALUES (?, ?, ?, ?)", (channel, key, body, ts(now)))
            async with conn.execute(
                "SELECT id, handled_at FROM inbox WHERE channel = ? AND key = ?",
                (channel, key),
            ) as cur:
                row = await cur.fetchone()
        assert row is not None  # written just now, or before
        return int(row["id"]), row["handled_at"] is not None

    async def find(self, channel: str, key: str) -> tuple[int, bool] | None:
        """(row id, handled yet) of a received key."""
        async with self._db.read() as conn, conn.execute(
            "SELECT id, handled_at FROM inbox WHERE channel = ? AND key = ?", (channel, key),
        ) as cur:
            row = await cur.fetchone()
        return (int(row["id"]), row["handled_at"] is not None) if row else None

    async def done_many(self, outcomes: Sequence[tuple[int, str]], now: datetime) -> None:
        """(row id, outcome) handled, inside the unit of work that handled them; the bodies
        are emptied."""
        async with self._db.transaction() as conn:
            await conn.executemany(
                "UPDATE inbox SET handled_at = ?, outcome = ?, body = NULL WHERE id = ?",
                [(ts(now), outcome, row_id) for row_id, outcome in outcomes])

    async def last_key(self, channel: str) -> str | None:
        """The newest key received (Telegram: fetch from the update after it)."""
        async with self._db.read() as conn, conn.execute(
            "SELECT key FROM inbox WHERE channel = ? ORDER BY id DESC LIMIT 1", (channel,),
        ) as cur:
            row = await cur.fetchone()
        return str(row["key"]) if row else None

    async def counts(self, channel: str) -> dict[str, int]:
        async with self._db.read() as conn, conn.execute(
            "SELECT COALESCE(outcome, 'pending') AS o, COUNT(*) AS n FROM inbox "
            "WHERE channel = ? GROUP BY o", (channel,),
        ) as cur:
            return {r["o"]: r["n"] for r in await cur.fetchall()}

    async def prune(self, before: datetime) -> None:
        """Forget handled rows older than `before` (their keys guard against re-deliveries,
        which Telegram makes within a day)."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM inbox WHERE handled_at IS NOT NULL AND handled_at < ?",
                (ts(before),))
