-- A sign-up's reference number (V000001...) identifies it forever: AUTOINCREMENT never gives
-- a withdrawn sign-up's id to the next one. The mobile number is checked whole: eleven ASCII
-- digits (GLOB's [0-9] matches only those; the old check looked at three characters).
CREATE TABLE volunteer_signups_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    team_id         TEXT NOT NULL,
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 40),
    phone           TEXT NOT NULL CHECK (length(phone) = 11 AND
                    phone GLOB '1[3-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    availability    TEXT NOT NULL,
    consent_version TEXT NOT NULL,
    consented_at    TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    UNIQUE (user_id, team_id)
);
INSERT INTO volunteer_signups_new
    SELECT id, user_id, team_id, name, phone, availability, consent_version, consented_at,
           created_at FROM volunteer_signups;
DROP TABLE volunteer_signups;
ALTER TABLE volunteer_signups_new RENAME TO volunteer_signups;
CREATE INDEX volunteer_signups_team ON volunteer_signups (team_id, created_at);
