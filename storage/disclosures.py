"""Disclosure records and subscriptions, with explicit SQL."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.db import Database, ts
from storage.pictures import PictureRepo


@dataclass(frozen=True)
class Record:
    id: int
    village_id: str
    period: str
    items: tuple[str, ...]
    summary: str
    photo_file_id: str | None
    recorded_by: int | None
    recorded_by_label: str
    recorded_at: str
    corrects: int | None
    superseded_by: int | None

    @property
    def at(self) -> datetime:
        return datetime.fromisoformat(self.recorded_at)

    @classmethod
    def _from_row(cls, row: aiosqlite.Row) -> Record:
        data = {k: row[k] for k in row.keys()}
        data["items"] = tuple(x for x in data["items"].split(",") if x)
        return cls(**data)


_COLS = ("id, village_id, period, items, summary, photo_file_id, recorded_by, "
         "recorded_by_label, recorded_at, corrects, superseded_by")


class DisclosureRepo:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.pictures = PictureRepo(db)  # noticeboard photos, shown on every channel

    async def record(self, village_id: str, period: str, items: tuple[str, ...], summary: str,
                     photo: str | None, by: int, by_label: str, now: datetime,
                     corrects: int | None = None) -> Record:
        """Store a disclosure; a correction also marks the corrected record superseded."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO disclosures (village_id, period, items, summary, photo_file_id, "
                "recorded_by, recorded_by_label, recorded_at, corrects) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLS}",
                (village_id, period, ",".join(items), summary, photo, by, by_label, ts(now),
                 corrects))
            row = await cur.fetchone()
            await cur.close()
            assert row is not None
            if corrects is not None:
                await conn.execute("UPDATE disclosures SET superseded_by = ? WHERE id = ?",
                                   (row["id"], corrects))
        return Record._from_row(row)

    async def get(self, record_id: int) -> Record | None:
        rows = await self._many("WHERE id = ?", (record_id,))
        return rows[0] if rows else None

    async def latest(self, village_id: str, limit: int = 3) -> list[Record]:
        return await self._many("WHERE village_id = ? AND superseded_by IS NULL "
                                "ORDER BY recorded_at DESC, id DESC LIMIT ?", (village_id, limit))

    async def current(self, village_ids: Iterable[str] | None = None) -> list[Record]:
        """Records not superseded by a correction (of some villages, or all), oldest first."""
        if village_ids is None:
            return await self._many("WHERE superseded_by IS NULL ORDER BY recorded_at, id", ())
        ids = sorted(set(village_ids))
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return await self._many(f"WHERE superseded_by IS NULL AND village_id IN ({marks}) "
                                "ORDER BY recorded_at, id", tuple(ids))

    async def _many(self, where: str, args: tuple) -> list[Record]:
        async with self._db.read() as conn, conn.execute(
                f"SELECT {_COLS} FROM disclosures {where}", args) as cur:
            return [Record._from_row(r) for r in await cur.fetchall()]

    # --- subscriptions --------------------------------------------------------------------
    async def subscribe(self, user_id: int, village_id: str, now: datetime) -> bool:
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO disclosure_subscriptions (user_id, village_id, "
                "created_at) VALUES (?, ?, ?)", (user_id, village_id, ts(now)))
            return cur.rowcount == 1

    async def unsubscribe(self, user_id: int, village_id: str) -> bool:
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM disclosure_subscriptions WHERE user_id = ? AND village_id = ?",
                (user_id, village_id))
            return cur.rowcount == 1

    async def subscriptions(self, user_id: int) -> list[str]:
        async with self._db.read() as conn, conn.execute(
                "SELECT village_id FROM disclosure_subscriptions WHERE user_id = ? "
                "ORDER BY created_at", (user_id,)) as cur:
            return [r[0] for r in await cur.fetchall()]

    async def subscribers(self, village_id: str) -> list[int]:
        async with self._db.read() as conn, conn.execute(
                "SELECT user_id FROM disclosure_subscriptions WHERE village_id = ?",
                (village_id,)) as cur:
            return [r[0] for r in await cur.fetchall()]
