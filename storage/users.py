"""Users, their roles and cadre areas, with explicit SQL."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from core.areas import LEVELS
from storage.db import Database, ts


@dataclass(frozen=True)
class UserRow:
    id: int
    channel: str
    external_id: str
    language: str | None
    language_code: str | None
    role: str
    first_seen: str
    last_seen: str

    @classmethod
    def _from_row(cls, row: aiosqlite.Row) -> UserRow:
        return cls(**{k: row[k] for k in row.keys()})


@dataclass(frozen=True)
class CadreArea:
    user_id: int
    level: str
    area_path: str
    granted_at: str
    channel: str
    external_id: str

    @classmethod
    def _from_row(cls, row: aiosqlite.Row) -> CadreArea:
        return cls(**{k: row[k] for k in row.keys()})


_USER_COLS = "id, channel, external_id, language, language_code, role, first_seen, last_seen"
_AREA_SQL = ("SELECT c.user_id, c.level, c.area_path, c.granted_at, u.channel, u.external_id "
             "FROM cadre_areas c JOIN users u ON u.id = c.user_id {where} "
             "ORDER BY c.area_path, u.external_id")


class UserRepo:
    """Stores every user who writes to the bot, on any channel."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def touch(
        self, channel: str, external_id: str, language_code: str | None, now: datetime,
        *, is_admin: bool, update_id: str | None = None,
    ) -> UserRow | None:
        """Create or update the user seen now; the admin role follows BOT_ADMINS every time.

        With `update_id`, the update is recorded too, and None is returned when it was handled
        before (a re-delivered update). One transaction: this runs for every message.
        """
        stamp = ts(now)
        admin = 1 if is_admin else 0
        async with self._db.transaction() as conn:
            if update_id is not None:
                cur = await conn.execute(
                    "INSERT OR IGNORE INTO seen_updates (channel, update_id, at) VALUES (?, ?, ?)",
                    (channel, update_id, stamp))
                if cur.rowcount == 0:
                    return None
            async with conn.execute(
                "INSERT INTO users (channel, external_id, language_code, role, first_seen, "
                "last_seen) VALUES (?, ?, ?, CASE WHEN ? THEN 'admin' ELSE 'resident' END, ?, ?) "
                "ON CONFLICT (channel, external_id) DO UPDATE SET "
                "language_code = COALESCE(excluded.language_code, users.language_code), "
                "last_seen = excluded.last_seen, blocked_at = NULL, "
                "role = CASE WHEN ? THEN 'admin' "
                "WHEN EXISTS (SELECT 1 FROM cadre_areas c WHERE c.user_id = users.id) "
                "THEN 'cadre' ELSE 'resident' END "
                f"RETURNING {_USER_COLS}",
                (channel, external_id, language_code, admin, stamp, stamp, admin),
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return UserRow._from_row(row)

    async def get(self, channel: str, external_id: str) -> UserRow | None:
        async with self._db.read() as conn, conn.execute(
            f"SELECT {_USER_COLS} FROM users WHERE channel = ? AND external_id = ?",
            (channel, external_id),
        ) as cur:
            row = await cur.fetchone()
        return UserRow._from_row(row) if row else None

    async def set_language(self, user_id: int, language: str | None) -> None:
        """Remember the language the user chose (None: follow the platform again)."""
        async with self._db.transaction() as conn:
            await conn.execute("UPDATE users SET language = ? WHERE id = ?", (language, user_id))

    async def list_users(self, limit: int = 100) -> list[UserRow]:
        async with self._db.read() as conn, conn.execute(
            f"SELECT {_USER_COLS} FROM users ORDER BY last_seen DESC LIMIT ?", (limit,)
        ) as cur:
            return [UserRow._from_row(r) for r in await cur.fetchall()]

    async def grant_area(
        self, user: UserRow, level: str, area_path: str, now: datetime,
        *, by_user: int | None, by_label: str,
    ) -> bool:
        """Make the user a cadre of an area; False if the user already had exactly that area."""
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}")
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO cadre_areas "
                "(user_id, level, area_path, granted_by, granted_at) VALUES (?, ?, ?, ?, ?)",
                (user.id, level, area_path, by_user, ts(now)),
            )
            if cur.rowcount == 0:
                return False
            await log_change(conn, user.id, "grant", level, area_path, by_user, by_label, now)
            await conn.execute(
                "UPDATE users SET role = 'cadre' WHERE id = ? AND role = 'resident'", (user.id,))
        return True

    async def revoke_areas(
        self, user: UserRow, now: datetime, *, by_user: int | None, by_label: str
    ) -> int:
        """Take back all of a user's cadre areas; returns how many were removed."""
        async with self._db.transaction() as conn:
            areas = await _areas(conn, "WHERE c.user_id = ?", (user.id,))
            for area in areas:
                await log_change(conn, user.id, "revoke", area.level, area.area_path, by_user,
                           by_label, now)
            await conn.execute("DELETE FROM cadre_areas WHERE user_id = ?", (user.id,))
            await conn.execute(
                "UPDATE users SET role = 'resident' WHERE id = ? AND role = 'cadre'", (user.id,))
        return len(areas)

    async def admins(self) -> list[UserRow]:
        """Administrators who have written to the bot (BOT_ADMINS who never did are unknown)."""
        async with self._db.read() as conn, conn.execute(
            f"SELECT {_USER_COLS} FROM users WHERE role = 'admin' ORDER BY id"
        ) as cur:
            return [UserRow._from_row(r) for r in await cur.fetchall()]

    async def with_roles(self, channel: str) -> list[UserRow]:
        """The cadres and administrators of a channel."""
        async with self._db.read() as conn, conn.execute(
            f"SELECT {_USER_COLS} FROM users WHERE channel = ? AND role IN ('cadre', 'admin') "
            "ORDER BY id", (channel,),
        ) as cur:
            return [UserRow._from_row(r) for r in await cur.fetchall()]

    async def mark_blocked(self, user_id: int, now: datetime) -> bool:
        """Remember that the user blocked the bot; True the first time (to report it once)."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE users SET blocked_at = ? WHERE id = ? AND blocked_at IS NULL",
                (ts(now), user_id))
            return cur.rowcount == 1

    async def get_by_id(self, user_id: int) -> UserRow | None:
        async with self._db.read() as conn, conn.execute(
            f"SELECT {_USER_COLS} FROM users WHERE id = ?", (user_id,)
        ) as cur:
            row = await cur.fetchone()
        return UserRow._from_row(row) if row else None

    async def replace_areas(self, user: UserRow, level: str, area_path: str, now: datetime,
                            *, by_user: int | None, by_label: str) -> None:
        """Change a cadre's area: all old areas revoked and the new one granted, at once."""
        async with self._db.transaction() as conn:
            for area in await _areas(conn, "WHERE c.user_id = ?", (user.id,)):
                await log_change(conn, user.id, "revoke", area.level, area.area_path, by_user,
                           by_label, now)
            await conn.execute("DELETE FROM cadre_areas WHERE user_id = ?", (user.id,))
            await conn.execute(
                "INSERT INTO cadre_areas (user_id, level, area_path, granted_by, granted_at) "
                "VALUES (?, ?, ?, ?, ?)", (user.id, level, area_path, by_user, ts(now)))
            await log_change(conn, user.id, "grant", level, area_path, by_user, by_label, now)
            await conn.execute(
                "UPDATE users SET role = 'cadre' WHERE id = ? AND role = 'resident'", (user.id,))

    async def delete(self, user_id: int) -> None:
        """Remove a user and, by cascade, everything stored about them."""
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
        await self._db.scrub()

    async def areas_of(self, user_id: int) -> list[CadreArea]:
        async with self._db.read() as conn:
            return await _areas(conn, "WHERE c.user_id = ?", (user_id,))

    async def list_cadres(self) -> list[CadreArea]:
        async with self._db.read() as conn:
            return await _areas(conn, "", ())

    async def role_history(self, user_id: int) -> list[tuple[str, str, str, str]]:
        async with self._db.read() as conn, conn.execute(
            "SELECT action, level, area_path, by_label FROM role_changes "
            "WHERE user_id = ? ORDER BY id", (user_id,),
        ) as cur:
            return [tuple(r) for r in await cur.fetchall()]


async def _areas(conn: aiosqlite.Connection, where: str,
                 args: tuple[object, ...]) -> list[CadreArea]:
    async with conn.execute(_AREA_SQL.format(where=where), args) as cur:
        return [CadreArea._from_row(r) for r in await cur.fetchall()]


async def log_change(conn: aiosqlite.Connection, user_id: int, action: str, level: str,
                     area_path: str, by_user: int | None, by_label: str, now: datetime) -> None:
    """Record a grant or revoke in role_changes, inside the caller's transaction."""
    await conn.execute(
        "INSERT INTO role_changes (user_id, action, level, area_path, by_user, by_label, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (user_id, action, level, area_path, by_user, by_label, ts(now)),
    )
