-- Every message in and out goes through the database. An update is written to the inbox when
-- it arrives, before the platform is told it was received; handling it, the state it changes
-- and its replies (written to the outbox) are one transaction; a sender delivers the outbox
-- and marks each row. Bodies hold personal data (what residents typed, the replies that echo
-- it): a body is emptied as soon as it is handled or sent, and rows are pruned after days.
CREATE TABLE inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    channel     TEXT NOT NULL,
    key         TEXT NOT NULL,  -- the platform's id of the update, for re-deliveries
    body        TEXT,           -- the update as received; NULL once handled
    received_at TEXT NOT NULL,
    handled_at  TEXT,
    outcome     TEXT CHECK (outcome IS NULL OR outcome IN ('handled', 'ignored', 'unreadable', 'failed')),
    UNIQUE (channel, key)
);
CREATE INDEX inbox_pending ON inbox (channel, id) WHERE handled_at IS NULL;

CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    channel    TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    body       TEXT,            -- one reply (JSON); NULL once sent or given up
    created_at TEXT NOT NULL,
    next_at    TEXT NOT NULL,   -- not before (a retry's backoff, a flood wait)
    attempts   INTEGER NOT NULL DEFAULT 0,
    status     TEXT NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'sent', 'expired', 'blocked', 'refused')),
    done_at    TEXT,
    error      TEXT
);
CREATE INDEX outbox_pending ON outbox (channel, chat_id, id) WHERE status = 'pending';
CREATE INDEX outbox_done ON outbox (done_at) WHERE status != 'pending';
