-- Wrong invite codes, to limit guessing: failures per user and overall in the last hour. No
-- code text is kept (a wrong guess may be a valid code mistyped).
CREATE TABLE code_failures (
    id      INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at      TEXT NOT NULL
);
CREATE INDEX code_failures_user ON code_failures (user_id, at);
CREATE INDEX code_failures_at ON code_failures (at);
