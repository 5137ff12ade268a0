"""Application services: what the chat, the command line (and later the web console) all do
the same way — grant a role, add a reminder rule, acknowledge a reminder, decide who may see
which sign-ups. Above storage and schedules, below handlers/, channels/ and cli.py."""
