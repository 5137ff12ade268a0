"""What the WeChat channel keeps per follower (the customer-service window, following or not,
the numbered choices on screen) and the access token all processes share."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, ts


@dataclass(frozen=True)
class Follower:
    openid: str
    last_in_at: str | None  # their last message: the customer-service window opened then
    sent_since: int  # customer-service messages sent since
    window_closed: bool  # WeChat said 45015 since their last message
    unsubscribed: bool


@dataclass(frozen=True)
class Choices:
    payloads: tuple[str, ...]
    multi: bool  # several may be picked ("1 3")


class WeChatRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def came_in(self, openid: str, now: datetime) -> None:
        """The follower wrote (or clicked, or followed): a new window of 48 hours."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO wechat_users (openid, last_in_at) VALUES (?, ?) "
                "ON CONFLICT (openid) DO UPDATE SET last_in_at = excluded.last_in_at, "
                "sent_since = 0, window_closed = 0, unsubscribed_at = NULL",
                (openid, ts(now)))

    async def unsubscribed(self, openid: str, now: datetime) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO wechat_users (openid, unsubscribed_at, choices) VALUES (?, ?, NULL) "
                "ON CONFLICT (openid) DO UPDATE SET unsubscribed_at = excluded.unsubscribed_at, "
                "choices = NULL", (openid, ts(now)))

    async def follower(self, openid: str) -> Follower | None:
        async with self._db.read() as conn, conn.execute(
            "SELECT openid, last_in_at, sent_since, window_closed, unsubscribed_at "
            "FROM wechat_users WHERE openid = ?", (openid,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return Follower(row["openid"], row["last_in_at"], row["sent_since"],
                        bool(row["window_closed"]), row["unsubscribed_at"] is not None)

    async def sent(self, openid: str) -> None:
        """One more customer-service message in the follower's window."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE wechat_users SET sent_since = sent_since + 1 WHERE openid = ?",
                (openid,))

    async def close_window(self, openid: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO wechat_users (openid, window_closed) VALUES (?, 1) "
                "ON CONFLICT (openid) DO UPDATE SET window_closed = 1", (openid,))

    async def choices(self, openid: str) -> Choices | None:
        async with self._db.read() as conn, conn.execute(
            "SELECT choices FROM wechat_users WHERE openid = ?", (openid,),
        ) as cur:
            row = await cur.fetchone()
        if row is None or not row["choices"]:
            return None
        data = json.loads(row["choices"])
        return Choices(tuple(str(p) for p in data["payloads"]), bool(data.get("multi")))

    async def set_choices(self, openid: str, choices: Choices | None) -> None:
        """The choices the follower's numbers now mean (None: none)."""
        body = None if choices is None else json.dumps(
            {"payloads": list(choices.payloads), "multi": choices.multi}, ensure_ascii=False)
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO wechat_users (openid, choices) VALUES (?, ?) "
                "ON CONFLICT (openid) DO UPDATE SET choices = excluded.choices", (openid, body))

    async def token(self, app_id: str) -> tuple[str, datetime] | None:
        async with self._db.read() as conn, conn.execute(
            "SELECT token, expires_at FROM wechat_tokens WHERE app_id = ?", (app_id,),
        ) as cur:
            row = await cur.fetchone()
        return (row["token"], datetime.fromisoformat(row["expires_at"])) if row else None

    async def save_token(self, app_id: str, token: str, expires_at: datetime) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO wechat_tokens (app_id, token, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (app_id) DO UPDATE SET token = excluded.token, "
                "expires_at = excluded.expires_at", (app_id, token, ts(expires_at)))
