-- Village-affairs disclosures recorded by village cadres, and residents' subscriptions.
-- A correction is a new row pointing at the one it corrects; the old row is kept.
CREATE TABLE disclosures (
    id                INTEGER PRIMARY KEY,
    village_id        TEXT NOT NULL,          -- knowledge/disclosure/villages*.yaml
    period            TEXT NOT NULL,          -- '2026-11' (month) or '2026-Q4' (quarter)
    items             TEXT NOT NULL,          -- comma list of item ids
    summary           TEXT NOT NULL CHECK (length(summary) BETWEEN 1 AND 200),
    photo_file_id     TEXT,                   -- Telegram file id of the noticeboard photo
    recorded_by       INTEGER REFERENCES users (id) ON DELETE SET NULL,
    recorded_by_label TEXT NOT NULL,
    recorded_at       TEXT NOT NULL,
    corrects          INTEGER REFERENCES disclosures (id),
    superseded_by     INTEGER REFERENCES disclosures (id)
);
CREATE INDEX disclosures_village ON disclosures (village_id, period);

CREATE TABLE disclosure_subscriptions (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    village_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, village_id)
) WITHOUT ROWID;
