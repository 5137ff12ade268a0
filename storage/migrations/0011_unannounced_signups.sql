-- Sign-ups nobody could be told of (no coordinator, no cadre of the area, no administrator who
-- has written to the bot): passed on to the first administrator who writes. Only the sign-up's
-- id is kept; the notice is built from the sign-up itself, and a withdrawn or deleted sign-up
-- takes its row with it.
CREATE TABLE unannounced_signups (
    signup_id INTEGER PRIMARY KEY REFERENCES volunteer_signups (id) ON DELETE CASCADE,
    at        TEXT NOT NULL
);
