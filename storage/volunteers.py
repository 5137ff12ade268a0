"""Volunteer sign-ups, with explicit SQL. Holds personal data: never log a row."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from core.i18n import _
from storage.db import Database, ts

SLOTS = ("weekday_day", "evening", "weekend")


def slot_names() -> dict[str, str]:
    """The availability slots in the user's language."""
    return {"weekday_day": _("Weekday daytime"), "evening": _("Evenings"),
            "weekend": _("Weekends")}


@dataclass(frozen=True)
class Signup:
    id: int
    user_id: int
    team_id: str
    name: str
    phone: str
    availability: tuple[str, ...]
    consent_version: str
    consented_at: str
    created_at: str

    @property
    def ref(self) -> str:
        """The reference number shown to the volunteer and in exports."""
        return f"V{self.id:06d}"

    @classmethod
    def _from_row(cls, row: aiosqlite.Row) -> Signup:
        data = {k: row[k] for k in row.keys()}
        data["availability"] = tuple(a for a in data["availability"].split(",") if a)
        return cls(**data)


@dataclass(frozen=True)
class NewSignup:
    user_id: int
    team_id: str
    name: str
    phone: str
    availability: tuple[str, ...]
    consent_version: str
    consented_at: datetime


_COLS = ("id, user_id, team_id, name, phone, availability, consent_version, consented_at, "
         "created_at")


class Full(Exception):
    """The team has reached its capacity."""


class VolunteerRepo:
    """Sign-ups per user and team; uniqueness and capacity are checked inside one statement."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, new: NewSignup, now: datetime,
                     capacity: int | None = None) -> tuple[Signup, bool]:
        """Store a sign-up; returns (sign-up, created). An existing one is returned unchanged.

        Raises Full when the team already has `capacity` members.
        """
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                f"INSERT INTO volunteer_signups ({_COLS.removeprefix('id, ')}) "
                "SELECT ?, ?, ?, ?, ?, ?, ?, ? "
                "WHERE ? IS NULL "
                "OR (SELECT COUNT(*) FROM volunteer_signups WHERE team_id = ?) < ? "
                "ON CONFLICT (user_id, team_id) DO NOTHING RETURNING " + _COLS,
                (new.user_id, new.team_id, new.name, new.phone, ",".join(new.availability),
                 new.consent_version, ts(new.consented_at), ts(now),
                 capacity, new.team_id, capacity),
            )
            row = await cur.fetchone()
            await cur.close()
            if row is not None:
                return Signup._from_row(row), True
            existing = await _one(conn, "WHERE user_id = ? AND team_id = ?",
                                  (new.user_id, new.team_id))
        if existing is None:
            raise Full(new.team_id)
        return existing, False

    async def get(self, signup_id: int) -> Signup | None:
        async with self._db.read() as conn:
            return await _one(conn, "WHERE id = ?", (signup_id,))

    async def find(self, user_id: int, team_id: str) -> Signup | None:
        async with self._db.read() as conn:
            return await _one(conn, "WHERE user_id = ? AND team_id = ?", (user_id, team_id))

    async def of_user(self, user_id: int) -> list[Signup]:
        async with self._db.read() as conn:
            return await _many(conn, "WHERE user_id = ? ORDER BY created_at, id", (user_id,))

    async def of_teams(self, team_ids: Iterable[str] | None) -> list[Signup]:
        """Sign-ups of the given teams (None = all), oldest first."""
        async with self._db.read() as conn:
            if team_ids is None:
                return await _many(conn, "ORDER BY created_at, id", ())
            ids = sorted(set(team_ids))
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            return await _many(conn, f"WHERE team_id IN ({marks}) ORDER BY created_at, id",
                               tuple(ids))

    async def count(self, team_id: str) -> int:
        async with self._db.read() as conn, conn.execute(
            "SELECT COUNT(*) FROM volunteer_signups WHERE team_id = ?", (team_id,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def withdraw(self, signup_id: int, user_id: int) -> Signup | None:
        """Delete one of the user's own sign-ups; None if it is not theirs or already gone."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                f"DELETE FROM volunteer_signups WHERE id = ? AND user_id = ? RETURNING {_COLS}",
                (signup_id, user_id))
            row = await cur.fetchone()
            await cur.close()
        if row:
            await self._db.scrub()
        return Signup._from_row(row) if row else None

    async def forget_user(self, user_id: int) -> int:
        """Delete all of a user's sign-ups and open dialog; returns how many sign-ups."""
        async with self._db.transaction() as conn:
            cur = await conn.execute("DELETE FROM volunteer_signups WHERE user_id = ?",
                                     (user_id,))
            count = cur.rowcount
            await conn.execute("DELETE FROM dialog_state WHERE user_id = ?", (user_id,))
        await self._db.scrub()
        return count

    async def hold_notice(self, signup_id: int, now: datetime) -> None:
        """Nobody could be told of this sign-up: keep it for the first administrator."""
        async with self._db.transaction() as conn:
            await conn.execute("INSERT OR IGNORE INTO unannounced_signups (signup_id, at) "
                               "VALUES (?, ?)", (signup_id, ts(now)))

    async def take_unannounced(self) -> list[Signup]:
        """The sign-ups nobody has heard of yet, oldest first; they are taken (removed)."""
        async with self._db.transaction() as conn:
            async with conn.execute("SELECT signup_id FROM unannounced_signups ORDER BY at"
                                    ) as cur:
                ids = [int(r[0]) for r in await cur.fetchall()]
            if not ids:
                return []
            await conn.execute("DELETE FROM unannounced_signups")
            marks = ",".join("?" * len(ids))
            found = {s.id: s for s in await _many(conn, f"WHERE id IN ({marks})", tuple(ids))}
        return [found[i] for i in ids if i in found]

    async def purge_older_than(self, before: datetime) -> int:
        """Retention: delete sign-ups made before `before`; returns how many."""
        async with self._db.transaction() as conn:
            cur = await conn.execute("DELETE FROM volunteer_signups WHERE created_at < ?",
                                     (ts(before),))
            count = cur.rowcount
        if count:
            await self._db.scrub()
        return count


async def _one(conn: aiosqlite.Connection, where: str, args: tuple) -> Signup | None:
    rows = await _many(conn, where, args)
    return rows[0] if rows else None


async def _many(conn: aiosqlite.Connection, where: str, args: tuple) -> list[Signup]:
    async with conn.execute(f"SELECT {_COLS} FROM volunteer_signups {where}", args) as cur:
        return [Signup._from_row(r) for r in await cur.fetchall()]
