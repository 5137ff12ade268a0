-- Users of every channel, their language and role; cadre areas; role changes; dialog state.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    channel       TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    language      TEXT CHECK (language IN ('zh', 'en')),      -- chosen with /lang; NULL = follow the platform
    language_code TEXT,                                        -- as the platform reports it
    role          TEXT NOT NULL DEFAULT 'resident' CHECK (role IN ('resident', 'cadre', 'admin')),
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL,
    UNIQUE (channel, external_id)
);

CREATE TABLE cadre_areas (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    level      TEXT NOT NULL CHECK (level IN ('city', 'district', 'township', 'village')),
    area_path  TEXT NOT NULL,              -- e.g. 长沙市/岳麓区/望月湖街道
    granted_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    granted_at TEXT NOT NULL,
    UNIQUE (user_id, level, area_path)
);

CREATE TABLE role_changes (
    id        INTEGER PRIMARY KEY,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    action    TEXT NOT NULL CHECK (action IN ('grant', 'revoke')),
    level     TEXT,
    area_path TEXT,
    by_user   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    by_label  TEXT NOT NULL,               -- 'cli' or the acting user's channel:id
    at        TEXT NOT NULL
);

CREATE TABLE dialog_state (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    flow       TEXT NOT NULL,
    step       TEXT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}',  -- JSON
    updated_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Handled updates, so that a re-delivered update is not answered twice.
CREATE TABLE seen_updates (
    channel   TEXT NOT NULL,
    update_id TEXT NOT NULL,
    at        TEXT NOT NULL,
    PRIMARY KEY (channel, update_id)
) WITHOUT ROWID;
