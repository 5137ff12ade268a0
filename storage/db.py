"""SQLite through aiosqlite: pragmas on connect, numbered migrations recorded in user_version."""
from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)
def ts(moment: datetime) -> str:
    """How times are stored: ISO 8601 in UTC, so that comparing the text compares the time."""
    return moment.astimezone(UTC).isoformat()


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class DatabaseUnavailable(RuntimeError):
    """The database file cannot be opened or written (BOT_DB is wrong); says which and why."""


class DatabaseTooNew(RuntimeError):
    """The database was written by a newer version of the bot than this one."""


def migrations(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, Path]]:
    """The numbered migration files, in order; numbers must run 1, 2, 3... without gaps."""
    found = sorted((int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name)))
    for expected, (number, path) in enumerate(found, start=1):
        if number != expected:
            raise RuntimeError(f"migration numbering gap at {path.name}")
    return found


async def migrate(conn: aiosqlite.Connection, directory: Path = MIGRATIONS_DIR) -> int:
    """Apply pending migrations, each in one transaction; refuse a database newer than the code."""
    steps = migrations(directory)
    latest = steps[-1][0] if steps else 0
    async with conn.execute("PRAGMA user_version") as cur:
        (current,) = await cur.fetchone()  # type: ignore[misc]
    if current > latest:
        raise DatabaseTooNew(
            f"database schema version {current} is newer than this bot's ({latest}); "
            "upgrade the bot instead of running an older one against this database"
        )
    for number, path in steps:
        if number <= current:
            continue
        sql = path.read_text(encoding="utf-8")
        try:
            await conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
        except Exception:
            await conn.rollback()
            raise
        log.info("applied migration %s", path.name)
    return latest


class Database:
    """One aiosqlite connection shared by the repositories, one unit of work at a time.

    Concurrent updates run as concurrent tasks; without the lock one task's commit could land
    in the middle of another's statements ("cannot commit - SQL statements in progress").

    `unit()` makes everything a task does inside it one transaction: handling a message, the
    state it changes and the replies it writes commit together or not at all. Inside a unit a
    repository's `transaction()` and `read()` just use the unit's connection (no lock, no
    commit). An error inside such a `transaction()` block marks the unit `poisoned`: whoever
    caught the error, the unit's owner must roll it back (the pipeline then handles the
    messages one at a time, and sets aside the one that fails again).
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()
        self._unit_task: contextvars.ContextVar[asyncio.Task[Any] | None] = (
            contextvars.ContextVar(f"unit{id(self)}", default=None))
        self._scrub_after_unit = False
        self.poisoned = False

    def _in_unit(self) -> bool:
        task = self._unit_task.get()
        return task is not None and task is asyncio.current_task()

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[aiosqlite.Connection]:
        """One transaction around a whole unit of work; commits at the end, rolls back on
        error. Not re-entrant (a unit inside a unit is a programming error)."""
        if self._in_unit():
            raise RuntimeError("a unit of work inside a unit of work")
        async with self._lock:
            token = self._unit_task.set(asyncio.current_task())
            self.poisoned = False
            try:
                await self.conn.execute("BEGIN")
                yield self.conn
            except BaseException:
                await self.conn.rollback()
                self._scrub_after_unit = False
                raise
            else:
                await self.conn.commit()
            finally:
                self._unit_task.reset(token)
            if self._scrub_after_unit:
                self._scrub_after_unit = False
                await self._checkpoint()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Exclusive use of the connection; commits at the end, rolls back on error. Inside a
        unit of work: part of the unit's transaction (an error poisons the unit)."""
        if self._in_unit():
            try:
                yield self.conn
            except BaseException:
                self.poisoned = True
                raise
            return
        async with self._lock:
            try:
                yield self.conn
            except BaseException:
                await self.conn.rollback()
                raise
            await self.conn.commit()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """Exclusive use of the connection for reads only: no commit round trip."""
        if self._in_unit():
            yield self.conn
            return
        async with self._lock:
            yield self.conn

    async def scrub(self) -> None:
        """After personal data was deleted: copy the write-ahead log into the database file
        and empty it (TRUNCATE), so that no older copy of a deleted row stays on disk
        (secure_delete, set at connect, zeroes the deleted rows themselves). Inside a unit of
        work this happens once the unit has committed."""
        if self._in_unit():
            self._scrub_after_unit = True
            return
        async with self._lock:
            await self._checkpoint()

    async def _checkpoint(self) -> None:
        async with self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cur:
            busy, _, _ = await cur.fetchone()  # type: ignore[misc]
        if busy:
            log.warning("the write-ahead log could not be emptied after a deletion")

    async def close(self) -> None:
        async with self._lock:
            await self.conn.close()


async def open_database(path: Path | str, *, busy_timeout_ms: int = 5000) -> Database:
    return Database(await connect(path, busy_timeout_ms=busy_timeout_ms))


async def connect(path: Path | str, *, busy_timeout_ms: int = 5000) -> aiosqlite.Connection:
    """Open the database with WAL, foreign keys and a busy timeout, then migrate it."""
    path = Path(path)
    try:
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                raise IsADirectoryError("it is a directory")
        conn = await aiosqlite.connect(path)
    except (OSError, sqlite3.Error) as exc:
        raise DatabaseUnavailable(f"cannot open the database {path}: {_cause(exc)}") from exc
    try:
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA secure_delete = ON")  # deleted personal data is zeroed
        await migrate(conn)
    except sqlite3.Error as exc:
        await conn.close()
        raise DatabaseUnavailable(f"cannot use the database {path}: {_cause(exc)}") from exc
    except BaseException:
        await conn.close()
        raise
    return conn


def _cause(exc: BaseException) -> str:
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return "a part of the path is a file, not a directory"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
