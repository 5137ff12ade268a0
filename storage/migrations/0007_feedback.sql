-- What residents asked and were not answered well, for the clerks who edit the knowledge base:
-- declined questions, "none of these", and votes under answers. The question is stored with
-- phone and ID numbers masked; no user id. An answer nobody voted on is kept one day only.
CREATE TABLE feedback (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('declined', 'clarify', 'none_of_these', 'answer')),
    question TEXT NOT NULL CHECK (length(question) <= 1000),
    entry_id TEXT,
    lang     TEXT NOT NULL DEFAULT 'zh',
    vote     TEXT CHECK (vote IS NULL OR vote IN ('up', 'down'))
);
CREATE INDEX feedback_at ON feedback (at);
