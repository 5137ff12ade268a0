-- Volunteer sign-ups: personal data (name, mobile) given with explicit consent.
-- One sign-up per user and team, enforced here (a second confirm, a re-delivered update or a
-- second attempt to join the same team cannot create a duplicate). Withdrawing deletes the row;
-- /forget deletes all of a user's rows. team_id names a team in knowledge/directory/teams*.yaml.
CREATE TABLE volunteer_signups (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    team_id         TEXT NOT NULL,
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 40),
    phone           TEXT NOT NULL CHECK (length(phone) = 11 AND phone GLOB '1[3-9][0-9]*'),
    availability    TEXT NOT NULL,               -- comma list: weekday_day, evening, weekend
    consent_version TEXT NOT NULL,               -- which consent text the user accepted
    consented_at    TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    UNIQUE (user_id, team_id)
);
CREATE INDEX volunteer_signups_team ON volunteer_signups (team_id, created_at);
