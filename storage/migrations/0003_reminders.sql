-- Cadre invites, reminder rules, their handled send instants, deliveries and acknowledgements.
-- The database is the source of truth; APScheduler's jobs are rebuilt from it at start.

ALTER TABLE users ADD COLUMN blocked_at TEXT;  -- Telegram said 403 (blocked); cleared on contact

CREATE TABLE invites (
    code             TEXT PRIMARY KEY,
    level            TEXT NOT NULL CHECK (level IN ('city', 'district', 'township', 'village')),
    area_path        TEXT NOT NULL,
    created_by_label TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    used_by          INTEGER REFERENCES users (id) ON DELETE SET NULL,
    used_at          TEXT
);

CREATE TABLE reminder_rules (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL
                     CHECK (kind IN ('quarterly', 'special', 'custom', 'special_check',
                                     'disclosure')),
    title            TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    levels           TEXT NOT NULL,              -- comma list of cadre levels ('' = administrators)
    scope            TEXT NOT NULL DEFAULT '[]', -- JSON list of area paths; [] = the whole city
    schedule         TEXT NOT NULL,              -- JSON, see schedules/rules.py
    escalate         INTEGER NOT NULL DEFAULT 1,
    active           INTEGER NOT NULL DEFAULT 1,
    created_by_label TEXT NOT NULL,
    created_at       TEXT NOT NULL
);

-- Each send instant of a rule is handled once: planned (deliveries made) or skipped (too old).
CREATE TABLE reminder_runs (
    rule_id    INTEGER NOT NULL REFERENCES reminder_rules (id) ON DELETE CASCADE,
    occurrence TEXT NOT NULL,
    due        TEXT NOT NULL,
    send_at    TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('planned', 'skipped')),
    at         TEXT NOT NULL,
    PRIMARY KEY (rule_id, occurrence)
) WITHOUT ROWID;

-- One row per message the bot owes someone: the unique key makes it exactly once.
CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY,
    rule_id      INTEGER NOT NULL REFERENCES reminder_rules (id) ON DELETE CASCADE,
    occurrence   TEXT NOT NULL,
    due          TEXT NOT NULL,
    recipient_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('reminder', 'escalation', 'warning')),
    body         TEXT NOT NULL DEFAULT '{}',     -- JSON: what the message needs
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'sending', 'sent', 'blocked', 'failed', 'skipped')),
    late         INTEGER NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0,
    not_before   TEXT NOT NULL,
    sent_at      TEXT,
    error        TEXT,
    UNIQUE (rule_id, occurrence, recipient_id)
);
CREATE INDEX deliveries_due ON deliveries (status, not_before);
CREATE INDEX deliveries_rule ON deliveries (rule_id, due);

CREATE TABLE acks (
    rule_id INTEGER NOT NULL REFERENCES reminder_rules (id) ON DELETE CASCADE,
    due     TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status  TEXT NOT NULL CHECK (status IN ('done', 'snoozed')),
    remark  TEXT CHECK (remark IS NULL OR length(remark) <= 200),
    at      TEXT NOT NULL,
    PRIMARY KEY (rule_id, due, user_id)
) WITHOUT ROWID;

CREATE TABLE scheduler_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
