"""Single-use invite codes that make their holder a cadre of an area."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.db import Database, ts
from storage.users import UserRow, log_change

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed from paper
VALID_FOR = timedelta(days=7)


@dataclass(frozen=True)
class Invite:
    code: str
    level: str
    area_path: str
    expires_at: str


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_code(text: str) -> str:
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == 8 else raw


class InviteRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, level: str, area_path: str, now: datetime, *, by: str) -> Invite:
        invite = Invite(new_code(), level, area_path, ts(now + VALID_FOR))
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO invites (code, level, area_path, created_by_label, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (invite.code, level, area_path, by, ts(now), invite.expires_at))
        return invite

    async def redeem(self, code: str, user: UserRow, now: datetime) -> Invite | None:
        """Use the code once: the user becomes a cadre of its area. None if unknown, used or
        expired. The claim and the grant are one transaction."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE invites SET used_by = ?, used_at = ? WHERE code = ? AND used_by IS NULL "
                "AND used_at IS NULL AND expires_at > ? "
                "RETURNING code, level, area_path, expires_at, created_by_label",
                (user.id, ts(now), normalise_code(code), ts(now)))
            row = await cur.fetchone()
            await cur.close()
            if row is None:
                return None
            await conn.execute(
                "INSERT OR IGNORE INTO cadre_areas (user_id, level, area_path, granted_at) "
                "VALUES (?, ?, ?, ?)", (user.id, row["level"], row["area_path"], ts(now)))
            await log_change(conn, user.id, "grant", row["level"], row["area_path"], None,
                       f"invite {row['code']} from {row['created_by_label']}", now)
            await conn.execute(
                "UPDATE users SET role = 'cadre' WHERE id = ? AND role = 'resident'", (user.id,))
        return Invite(row["code"], row["level"], row["area_path"], row["expires_at"])

    async def record_failure(self, user_id: int, now: datetime) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("INSERT INTO code_failures (user_id, at) VALUES (?, ?)",
                               (user_id, ts(now)))

    async def failures(self, user_id: int | None, since: datetime) -> int:
        """Wrong codes since `since`, by one user (or by everyone: None)."""
        where, args = ("user_id = ? AND ", (user_id,)) if user_id is not None else ("", ())
        async with self._db.read() as conn, conn.execute(
            f"SELECT COUNT(*) FROM code_failures WHERE {where}at >= ?", (*args, ts(since)),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def prune_failures(self, before: datetime) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM code_failures WHERE at < ?", (ts(before),))
