-- A crisis reply was given: its kind and when, nothing else (not the text, not the user).
CREATE TABLE safety_events (
    id   INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('suicide', 'violence', 'domestic', 'medical', 'child',
                                       'street')),
    at   TEXT NOT NULL
);
CREATE INDEX safety_events_at ON safety_events (at);
