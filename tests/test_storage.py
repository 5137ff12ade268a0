from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta

import aiosqlite
import pytest

from storage.db import Database, DatabaseTooNew, connect, migrate, migrations, open_database
from storage.dialogs import DialogRepo
from storage.reminder_types import Custom, MessageKind, Quarterly, RuleKind, Special
from storage.reminders import ReminderRepo
from storage.users import UserRepo

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def test_connect_sets_pragmas_and_migrates(tmp_path):
    conn = await connect(tmp_path / "a.sqlite3")
    try:
        async with conn.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
        async with conn.execute("PRAGMA foreign_keys") as cur:
            assert (await cur.fetchone())[0] == 1
        async with conn.execute("PRAGMA busy_timeout") as cur:
            assert (await cur.fetchone())[0] == 5000
        async with conn.execute("PRAGMA user_version") as cur:
            assert (await cur.fetchone())[0] == migrations()[-1][0]
    finally:
        await conn.close()


async def test_reopen_is_idempotent_and_newer_db_is_refused(tmp_path):
    path = tmp_path / "a.sqlite3"
    db = await open_database(path)
    await UserRepo(db).touch("telegram", "1", "en", NOW, is_admin=False)
    await db.close()
    conn = await connect(path)  # migrations already applied: nothing re-run, data kept
    assert (await UserRepo(Database(conn)).get("telegram", "1")) is not None
    await conn.execute("PRAGMA user_version = 999")
    await conn.commit()
    await conn.close()
    with pytest.raises(DatabaseTooNew):
        await connect(path)


async def test_failed_migration_leaves_database_unchanged(tmp_path):
    migdir = tmp_path / "migs"
    migdir.mkdir()
    (migdir / "0001_a.sql").write_text("CREATE TABLE a (x INTEGER);")
    (migdir / "0002_b.sql").write_text("CREATE TABLE b (y INTEGER); INSERT INTO nope VALUES (1);")

    conn = await aiosqlite.connect(tmp_path / "m.sqlite3")
    with pytest.raises(aiosqlite.OperationalError):
        await migrate(conn, migdir)
    async with conn.execute("PRAGMA user_version") as cur:
        assert (await cur.fetchone())[0] == 1
    async with conn.execute("SELECT name FROM sqlite_master WHERE name = 'b'") as cur:
        assert await cur.fetchone() is None
    await conn.close()


async def test_users_roles_and_history(tmp_path):
    conn = await open_database(tmp_path / "a.sqlite3")
    users = UserRepo(conn)
    u = await users.touch("telegram", "42", "zh-hans", NOW, is_admin=False)
    assert u.role == "resident" and u.first_seen == u.last_seen
    later = NOW + timedelta(hours=1)
    u = await users.touch("telegram", "42", None, later, is_admin=False)
    assert u.last_seen == later.isoformat() and u.first_seen == NOW.isoformat()
    assert u.language_code == "zh-hans"
    assert await users.grant_area(u, "district", "长沙市/岳麓区", NOW, by_user=None,
                                  by_label="cli")
    assert not await users.grant_area(u, "district", "长沙市/岳麓区", NOW, by_user=None,
                                      by_label="cli")
    assert (await users.get("telegram", "42")).role == "cadre"
    assert await users.revoke_areas(u, NOW, by_user=None, by_label="cli") == 1
    assert (await users.get("telegram", "42")).role == "resident"
    assert [h[0] for h in await users.role_history(u.id)] == ["grant", "revoke"]
    admin = await users.touch("telegram", "7", None, NOW, is_admin=True)
    assert admin.role == "admin"
    assert (await users.touch("telegram", "7", None, NOW, is_admin=False)).role == "resident"
    await conn.close()


async def test_dialog_state_expires_and_survives_reconnect(tmp_path):
    path = tmp_path / "a.sqlite3"
    conn = await open_database(path)
    u = await UserRepo(conn).touch("console", "x", None, NOW, is_admin=False)
    await DialogRepo(conn).set(u.id, "place", "ask_place", {"entry": "e"}, NOW,
                               ttl=timedelta(hours=24))
    await conn.close()
    conn = await open_database(path)
    dialogs = DialogRepo(conn)
    state = await dialogs.get(u.id, NOW + timedelta(hours=1))
    assert state is not None and state.data == {"entry": "e"}
    assert await dialogs.get(u.id, NOW + timedelta(hours=25)) is None
    users = UserRepo(conn)
    assert await users.touch("telegram", "9", None, NOW, is_admin=False, update_id="5")
    assert await users.touch("telegram", "9", None, NOW, is_admin=False, update_id="5") is None
    await conn.close()


async def test_sql_looking_text_is_stored_as_text(tmp_path):
    conn = await open_database(tmp_path / "a.sqlite3")
    users = UserRepo(conn)
    evil = "1'); DROP TABLE users; --"
    await users.touch("telegram", evil, evil, NOW, is_admin=False)
    u = await users.get("telegram", evil)
    assert u is not None and u.language_code == evil
    assert len(await users.list_users()) == 1
    await conn.close()


async def test_concurrent_messages_share_one_connection_safely(tmp_path):
    """Many tasks touching users and dialogs at once: no 'statements in progress' errors."""
    db = await open_database(tmp_path / "a.sqlite3")
    users, dialogs = UserRepo(db), DialogRepo(db)

    async def one(i: int) -> None:
        u = await users.touch("telegram", str(i % 50), "zh", NOW, is_admin=False,
                              update_id=str(i))
        await dialogs.set(u.id, "place", "ask_place", {"i": i}, NOW)
        assert await dialogs.get(u.id, NOW) is not None

    await asyncio.gather(*(one(i) for i in range(400)))
    assert len(await users.list_users(limit=1000)) == 50
    await db.close()


async def test_typed_reminders_migration_splits_titles_and_stores_message_kinds(tmp_path):
    """A database written before migration 0005: default titles were "中文 English" and a
    delivery's kind of message was guessed from its body's keys; now both are stored."""
    old = tmp_path / "old_migrations"
    old.mkdir()
    for number, path in migrations():
        if number <= 4:
            shutil.copy(path, old / path.name)
    conn = await aiosqlite.connect(tmp_path / "old.sqlite3")
    await migrate(conn, old)
    await conn.executescript("""
        INSERT INTO users (id, channel, external_id, role, first_seen, last_seen)
            VALUES (1, 'telegram', '1', 'cadre', 't', 't');
        INSERT INTO reminder_rules (id, kind, title, levels, schedule, created_by_label,
                                    created_at)
            VALUES (1, 'quarterly', '季度村务公开督查 Quarterly village-affairs inspection',
                    'district', '{"at": "09:00", "leads": ["month_start", "7d"]}', 'default',
                    't'),
                   (2, 'custom', '每月 例会', 'district', '{"cron": "0 9 1 * *"}',
                    'telegram:1000', 't');
        INSERT INTO deliveries (rule_id, occurrence, due, recipient_id, kind, body, not_before)
            VALUES (1, 'a', 'd', 1, 'reminder', '{}', 't'),
                   (1, 'b', 'd', 1, 'reminder', '{"village": "v", "rule": "r"}', 't'),
                   (1, 'c', 'd', 1, 'escalation', '{"villages": ["v"]}', 't'),
                   (1, 'd', 'd', 1, 'escalation', '{"items": []}', 't'),
                   (1, 'e', 'd', 1, 'warning', '{"summary": {}}', 't'),
                   (1, 'f', 'd', 1, 'warning', '{"blocked": "telegram:1"}', 't'),
                   (1, 'g', 'd', 1, 'warning', '{"year": 2027, "count": 0}', 't');
        """)
    await conn.commit()
    await conn.close()
    db = await open_database(tmp_path / "old.sqlite3")  # applies 0005
    try:
        repo = ReminderRepo(db)
        default, custom = await repo.rules()
        assert (default.title_zh, default.title_en) == ("季度村务公开督查",
                                                        "Quarterly village-affairs inspection")
        assert (custom.title_zh, custom.title_en) == ("每月 例会", None)  # typed by a person
        assert default.schedule == Quarterly(leads=("month_start", "7d"), at="09:00")
        assert custom.schedule == Custom(cron="0 9 1 * *")
        kinds = [d.message for d in await repo.deliveries(1)]
        assert kinds == [MessageKind.REMINDER, MessageKind.DISCLOSURE_DUE,
                         MessageKind.DISCLOSURE_OVERDUE, MessageKind.ESCALATION,
                         MessageKind.DISCLOSURE_SUMMARY, MessageKind.BLOCKED,
                         MessageKind.SPECIAL_CHECK]
    finally:
        await db.close()


async def test_updating_a_rule_with_nothing_to_change_is_refused(tmp_path):
    db = await open_database(tmp_path / "r.sqlite3")
    try:
        repo = ReminderRepo(db)
        rule = await repo.add_rule(RuleKind.SPECIAL, "专项", ("district",), (),
                                   Special(date="2027-04-15"), datetime.now(UTC), by="test")
        assert await repo.update_rule(rule.id) is False  # no "SET  WHERE" statement
        assert await repo.update_rule(rule.id, active=False) is True
        assert (await repo.rule(rule.id)).active is False
    finally:
        await db.close()
