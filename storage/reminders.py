"""Reminder rules, handled send instants, deliveries and acknowledgements, with explicit SQL."""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import aiosqlite

from storage.db import Database, ts
from storage.reminder_types import (
    Body,
    DeliveryKind,
    DeliveryStatus,
    MessageKind,
    Rule,
    RuleKind,
    Schedule,
    schedule_from_json,
    schedule_to_json,
)


@dataclass(frozen=True)
class Delivery:
    id: int
    rule_id: int
    occurrence: str
    due: str
    recipient_id: int
    kind: DeliveryKind
    message: MessageKind
    body: Body
    status: DeliveryStatus
    late: bool
    attempts: int
    not_before: str
    sent_at: str | None
    error: str | None

    @classmethod
    def _from_row(cls, row: aiosqlite.Row) -> Delivery:
        return cls(id=row["id"], rule_id=row["rule_id"], occurrence=row["occurrence"],
                   due=row["due"], recipient_id=row["recipient_id"],
                   kind=DeliveryKind(row["kind"]), message=MessageKind(row["message"]),
                   body=cast(Body, json.loads(row["body"] or "{}")),
                   status=DeliveryStatus(row["status"]), late=bool(row["late"]),
                   attempts=row["attempts"], not_before=row["not_before"],
                   sent_at=row["sent_at"], error=row["error"])


@dataclass(frozen=True)
class Owed:
    """A delivery to create; occurrence and due default to the run's."""

    recipient_id: int
    kind: DeliveryKind
    message: MessageKind
    body: Body
    not_before: datetime
    late: bool = False
    occurrence: str | None = None
    due: str | None = None


@dataclass(frozen=True)
class Ack:
    rule_id: int
    due: str
    user_id: int
    status: str
    remark: str | None
    at: str


log = logging.getLogger(__name__)
_RULE_COLS = ("id, kind, title_zh, title_en, levels, scope, schedule, escalate, active, "
              "created_at")
_DELIVERY_COLS = ("id, rule_id, occurrence, due, recipient_id, kind, message, body, status, "
                  "late, attempts, not_before, sent_at, error")


def _rule(row: aiosqlite.Row) -> Rule:
    return Rule(id=row["id"], kind=RuleKind(row["kind"]), title_zh=row["title_zh"],
                title_en=row["title_en"], levels=tuple(x for x in row["levels"].split(",") if x),
                scope=tuple(json.loads(row["scope"])),
                schedule=schedule_from_json(row["kind"], row["schedule"]),
                escalate=bool(row["escalate"]), active=bool(row["active"]),
                created_at=row["created_at"])


class ReminderRepo:
    """Everything the reminder service stores; each method is one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- rules ----------------------------------------------------------------------------
    async def add_rule(self, kind: RuleKind, title: str, levels: tuple[str, ...],
                       scope: tuple[str, ...], schedule: Schedule, now: datetime, *, by: str,
                       escalate: bool = True, title_en: str | None = None) -> Rule:
        """Store a rule; `title` is shown to everyone unless `title_en` gives an English one."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO reminder_rules (kind, title_zh, title_en, levels, scope, schedule, "
                "escalate, created_by_label, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                f"RETURNING {_RULE_COLS}",
                (str(kind), title, title_en, ",".join(levels),
                 json.dumps(list(scope), ensure_ascii=False), schedule_to_json(schedule),
                 int(escalate), by, ts(now)))
            row = await cur.fetchone()
            await cur.close()
        assert row is not None
        return _rule(row)

    async def rules(self, *, active_only: bool = False) -> list[Rule]:
        """The rules (a row that cannot be read is logged and left out, not fatal)."""
        where = "WHERE active = 1" if active_only else ""
        async with self._db.read() as conn, conn.execute(
            f"SELECT {_RULE_COLS} FROM reminder_rules {where} ORDER BY id"
        ) as cur:
            rows = await cur.fetchall()
        out = []
        for row in rows:
            try:
                out.append(_rule(row))
            except ValueError as exc:
                log.error("reminder rule %s cannot be read, left out: %s", row["id"], exc)
        return out

    async def rule(self, rule_id: int) -> Rule | None:
        async with self._db.read() as conn, conn.execute(
            f"SELECT {_RULE_COLS} FROM reminder_rules WHERE id = ?", (rule_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        try:
            return _rule(row)
        except ValueError as exc:
            log.error("reminder rule %s cannot be read: %s", rule_id, exc)
            return None

    async def update_rule(self, rule_id: int, *, active: bool | None = None,
                          schedule: Schedule | None = None) -> bool:
        """Switch a rule on or off, or change its schedule; False if there is no such rule
        (or nothing to change)."""
        sets: list[str] = []
        args: list[object] = []
        if active is not None:
            sets.append("active = ?")
            args.append(int(active))
        if schedule is not None:
            sets.append("schedule = ?")
            args.append(schedule_to_json(schedule))
        if not sets:
            return False
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                f"UPDATE reminder_rules SET {', '.join(sets)} WHERE id = ?", (*args, rule_id))
            return cur.rowcount == 1

    # --- state and runs -------------------------------------------------------------------
    async def state(self, key: str) -> str | None:
        async with self._db.read() as conn, conn.execute(
            "SELECT value FROM scheduler_state WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def set_state(self, key: str, value: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO scheduler_state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    async def record_run(self, rule_id: int, occurrence: str, due: str, send_at: datetime,
                         outcome: str, now: datetime, deliveries: Sequence[Owed] = ()) -> bool:
        """Handle one send instant once: the run and its deliveries in one transaction. False
        if the instant was handled before. A delivery whose key exists already is left."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO reminder_runs (rule_id, occurrence, due, send_at, "
                "outcome, at) VALUES (?, ?, ?, ?, ?, ?)",
                (rule_id, occurrence, due, ts(send_at), outcome, ts(now)))
            if cur.rowcount == 0:
                return False
            await conn.executemany(
                "INSERT OR IGNORE INTO deliveries (rule_id, occurrence, due, recipient_id, kind, "
                "message, body, late, not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(rule_id, o.occurrence or occurrence, o.due or due, o.recipient_id,
                  str(o.kind), str(o.message), json.dumps(o.body, ensure_ascii=False),
                  int(o.late), ts(o.not_before))
                 for o in deliveries])
        return True

    # --- deliveries -----------------------------------------------------------------------
    async def add_delivery(self, rule_id: int, occurrence: str, due: str, recipient_id: int,
                           kind: DeliveryKind, message: MessageKind, not_before: datetime,
                           body: Body | None = None) -> bool:
        """One more delivery (a snoozed reminder, a notice); False if its key exists."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO deliveries (rule_id, occurrence, due, recipient_id, kind, "
                "message, body, not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (rule_id, occurrence, due, recipient_id, str(kind), str(message),
                 json.dumps(body or {}, ensure_ascii=False), ts(not_before)))
            return cur.rowcount == 1

    async def claim(self, now: datetime, limit: int) -> list[Delivery]:
        """Take up to `limit` deliveries that are due, marking them `sending` (one claimer)."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE deliveries SET status = 'sending', attempts = attempts + 1 "
                "WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' "
                "AND not_before <= ? ORDER BY not_before, id LIMIT ?) "
                f"RETURNING {_DELIVERY_COLS}", (ts(now), limit))
            rows = await cur.fetchall()
            await cur.close()
        return sorted((Delivery._from_row(r) for r in rows), key=lambda d: d.id)

    async def finish(self, delivery_id: int, status: DeliveryStatus, now: datetime,
                     error: str | None = None) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE deliveries SET status = ?, sent_at = ?, error = ? WHERE id = ?",
                (str(status), ts(now) if status == DeliveryStatus.SENT else None, error,
                 delivery_id))

    async def retry_later(self, delivery_id: int, not_before: datetime, error: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE deliveries SET status = 'pending', not_before = ?, error = ? "
                "WHERE id = ?", (ts(not_before), error, delivery_id))

    async def release_unfinished(self) -> int:
        """After a crash: deliveries left `sending` are sent again (see README, exactly once)."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE deliveries SET status = 'pending' WHERE status = 'sending'")
            return cur.rowcount

    async def delivery(self, delivery_id: int) -> Delivery | None:
        async with self._db.read() as conn, conn.execute(
            f"SELECT {_DELIVERY_COLS} FROM deliveries WHERE id = ?", (delivery_id,)
        ) as cur:
            row = await cur.fetchone()
        return Delivery._from_row(row) if row else None

    async def deliveries(self, rule_id: int, due: str | None = None) -> list[Delivery]:
        sql = f"SELECT {_DELIVERY_COLS} FROM deliveries WHERE rule_id = ?"
        args: tuple[object, ...] = (rule_id,)
        if due is not None:
            sql, args = sql + " AND due = ?", (rule_id, due)
        async with self._db.read() as conn, conn.execute(sql + " ORDER BY id", args) as cur:
            return [Delivery._from_row(r) for r in await cur.fetchall()]

    async def status_counts(self) -> dict[str, int]:
        async with self._db.read() as conn, conn.execute(
            "SELECT status, COUNT(*) FROM deliveries GROUP BY status") as cur:
            return {r[0]: r[1] for r in await cur.fetchall()}

    # --- acknowledgements -----------------------------------------------------------------
    async def ack(self, rule_id: int, due: str, user_id: int, status: str,
                  now: datetime) -> None:
        """Done replaces snoozed; snoozed never replaces done."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO acks (rule_id, due, user_id, status, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (rule_id, due, user_id) DO UPDATE SET "
                "status = CASE WHEN acks.status = 'done' THEN 'done' ELSE excluded.status END, "
                "at = CASE WHEN acks.status = 'done' THEN acks.at ELSE excluded.at END",
                (rule_id, due, user_id, status, ts(now)))

    async def set_remark(self, rule_id: int, due: str, user_id: int, remark: str) -> bool:
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE acks SET remark = ? WHERE rule_id = ? AND due = ? AND user_id = ? "
                "AND status = 'done'", (remark, rule_id, due, user_id))
            return cur.rowcount == 1

    async def acks(self, rule_id: int, due: str) -> dict[int, Ack]:
        async with self._db.read() as conn, conn.execute(
            "SELECT rule_id, due, user_id, status, remark, at FROM acks "
            "WHERE rule_id = ? AND due = ?", (rule_id, due)) as cur:
            return {r["user_id"]: Ack(**{k: r[k] for k in r.keys()})
                    for r in await cur.fetchall()}

    async def latest_due(self, rule_id: int) -> str | None:
        async with self._db.read() as conn, conn.execute(
            "SELECT due FROM deliveries WHERE rule_id = ? AND kind = 'reminder' "
            "ORDER BY not_before DESC, id DESC LIMIT 1", (rule_id,)) as cur:
            row = await cur.fetchone()
        return row[0] if row else None
