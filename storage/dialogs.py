"""Dialog state of multi-step flows, kept in the database so flows survive restarts."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.db import Database, ts


@dataclass(frozen=True)
class DialogState:
    flow: str
    step: str
    data: dict[str, object]


class DialogRepo:
    """One open flow per user at most; an expired flow reads as none."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, user_id: int, now: datetime) -> DialogState | None:
        async with self._db.read() as conn, conn.execute(
            "SELECT flow, step, data, expires_at FROM dialog_state WHERE user_id = ?", (user_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None or row["expires_at"] <= ts(now):
            return None
        return DialogState(row["flow"], row["step"], json.loads(row["data"]))

    async def set(
        self, user_id: int, flow: str, step: str, data: Mapping[str, object], now: datetime,
        ttl: timedelta = timedelta(hours=24),
    ) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO dialog_state (user_id, flow, step, data, updated_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                "flow = excluded.flow, step = excluded.step, data = excluded.data, "
                "updated_at = excluded.updated_at, expires_at = excluded.expires_at",
                (user_id, flow, step, json.dumps(data, ensure_ascii=False), ts(now),
                 ts(now + ttl)),
            )

    async def clear(self, user_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM dialog_state WHERE user_id = ?", (user_id,))

    async def prune_seen_updates(self, before: datetime) -> None:
        """Forget handled update ids older than `before` (Telegram re-delivers within a day)."""
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM seen_updates WHERE at < ?", (ts(before),))
