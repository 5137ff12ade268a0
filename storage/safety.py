"""Crisis replies given: kind and time only (never the message, never who sent it)."""
from __future__ import annotations

from datetime import datetime

from storage.db import Database, ts


class SafetyRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, kind: str, now: datetime) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("INSERT INTO safety_events (kind, at) VALUES (?, ?)",
                               (kind, ts(now)))

    async def counts(self, since: datetime | None = None) -> dict[str, int]:
        """Crisis replies per kind (since a moment, or ever)."""
        async with self._db.read() as conn, conn.execute(
                "SELECT kind, COUNT(*) FROM safety_events WHERE at >= ? GROUP BY kind",
                (ts(since) if since else "",)) as cur:
            return {r[0]: r[1] for r in await cur.fetchall()}
