-- Pictures the bot shows on every channel (a disclosure's noticeboard photo recorded on
-- Telegram reaches a WeChat subscriber, and the other way round): the bytes themselves, by
-- their SHA-256, referred to as "pic:<sha256>" where a channel's file id used to be.
CREATE TABLE pictures (
    sha256     TEXT PRIMARY KEY,
    data       BLOB NOT NULL,
    mime       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
