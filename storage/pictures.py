"""Pictures kept by content (SHA-256), so that every channel can send them."""
from __future__ import annotations

import hashlib
from datetime import datetime

from storage.db import Database, ts

PREFIX = "pic:"
MAX_BYTES = 5 * 1024 * 1024  # a noticeboard photo is a few hundred KB


def is_picture(ref: str | None) -> bool:
    return bool(ref and ref.startswith(PREFIX))


def mime_of(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:4] == b"GIF8":
        return "image/gif"
    return "image/jpeg"


class PictureRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, data: bytes, now: datetime) -> str:
        """Keep a picture (once, whoever sends it again); returns its reference."""
        if not data or len(data) > MAX_BYTES:
            raise ValueError(f"a picture of {len(data)} bytes")
        digest = hashlib.sha256(data).hexdigest()
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO pictures (sha256, data, mime, created_at) "
                "VALUES (?, ?, ?, ?)", (digest, data, mime_of(data), ts(now)))
        return PREFIX + digest

    async def get(self, ref: str) -> bytes | None:
        if not is_picture(ref):
            return None
        async with self._db.read() as conn, conn.execute(
            "SELECT data FROM pictures WHERE sha256 = ?", (ref[len(PREFIX):],),
        ) as cur:
            row = await cur.fetchone()
        return bytes(row["data"]) if row else None
