-- The WeChat Official Account channel.
--
-- outbox.inbox_id: the message a reply answers (NULL for notices the bot starts). WeChat takes
-- the first reply to a message in the HTTP response itself ("passive" reply); the rest, and
-- everything when the answer is late, go through its customer-service API. A reply waits
-- (next_at) while its message's request may still take it. `undeliverable`: WeChat's window
-- for that user was closed and no template message was possible; counted for the
-- administrators, never retried.
CREATE TABLE outbox_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    channel    TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    body       TEXT,
    created_at TEXT NOT NULL,
    next_at    TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    status     TEXT NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'sent', 'expired', 'blocked', 'refused',
                                 'undeliverable')),
    done_at    TEXT,
    error      TEXT,
    inbox_id   INTEGER
);
INSERT INTO outbox_new (id, channel, chat_id, body, created_at, next_at, attempts, status,
                        done_at, error)
    SELECT id, channel, chat_id, body, created_at, next_at, attempts, status, done_at, error
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (channel, chat_id, id) WHERE status = 'pending';
CREATE INDEX outbox_done ON outbox (done_at) WHERE status != 'pending';
CREATE INDEX outbox_answers ON outbox (inbox_id) WHERE inbox_id IS NOT NULL;

-- Per WeChat follower: the customer-service window (opened by their last message: 48 hours,
-- 5 messages), whether they follow the account, and the numbered choices of the last
-- message that had buttons (JSON), so that "2" means the same after a restart. An openid is
-- a pseudonym; the row goes with the user's other data (/forget).
CREATE TABLE wechat_users (
    openid          TEXT PRIMARY KEY,
    last_in_at      TEXT,
    sent_since      INTEGER NOT NULL DEFAULT 0,
    window_closed   INTEGER NOT NULL DEFAULT 0,
    unsubscribed_at TEXT,
    choices         TEXT
);
CREATE TRIGGER wechat_users_forget AFTER DELETE ON users WHEN OLD.channel = 'wechat'
BEGIN
    DELETE FROM wechat_users WHERE openid = OLD.external_id;
END;

-- The access token every process shares (one refresher: WeChat's stable_token).
CREATE TABLE wechat_tokens (
    app_id     TEXT PRIMARY KEY,
    token      TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
