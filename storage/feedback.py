"""Questions kept for the knowledge base's review (masked text, no user id)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.privacy import mask
from storage.db import Database, ts

MAX_QUESTION = 1000


@dataclass(frozen=True)
class ReviewRow:
    question: str
    kind: str  # declined | none_of_these | down | up
    entry_id: str | None
    count: int
    last_at: str


class FeedbackRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, kind: str, question: str, entry_id: str | None, lang: str,
                  now: datetime) -> int:
        """Keep a question (masked here, so no caller can forget to); returns its row id."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO feedback (at, kind, question, entry_id, lang) VALUES (?, ?, ?, ?, ?)",
                (ts(now), kind, mask(" ".join(question.split()))[:MAX_QUESTION], entry_id,
                 lang))
            return int(cur.lastrowid or 0)

    async def vote(self, row_id: int, vote: str) -> bool:
        """👍 or 👎 under an answer (the last press counts)."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE feedback SET vote = ? WHERE id = ? AND kind = 'answer'", (vote, row_id))
            return cur.rowcount == 1

    async def none_of_these(self, row_id: int) -> bool:
        """The options of a clarifying question did not fit."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE feedback SET kind = 'none_of_these' WHERE id = ? AND kind = 'clarify'",
                (row_id,))
            return cur.rowcount == 1

    async def review(self, since: datetime) -> list[ReviewRow]:
        """What was not answered well since a moment, most frequent first: declined questions,
        "none of these", 👎 (and 👍, for balance)."""
        async with self._db.read() as conn, conn.execute(
            "SELECT question, CASE WHEN kind = 'answer' THEN vote ELSE kind END AS what, "
            "entry_id, COUNT(*), MAX(at) FROM feedback WHERE at >= ? AND "
            "(kind IN ('declined', 'none_of_these') OR (kind = 'answer' AND vote IS NOT NULL)) "
            "GROUP BY lower(question), what, entry_id ORDER BY COUNT(*) DESC, MAX(at) DESC",
            (ts(since),),
        ) as cur:
            return [ReviewRow(r[0], r[1], r[2], r[3], r[4]) for r in await cur.fetchall()]

    async def purge(self, unvoted_before: datetime, before: datetime) -> int:
        """Retention: answers nobody voted on after a day, everything after the retention."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM feedback WHERE at < ? OR (at < ? AND vote IS NULL AND kind IN "
                "('answer', 'clarify'))", (ts(before), ts(unvoted_before)))
            return cur.rowcount
