"""Logging set-up that never writes the bot token (or anything shaped like one) or a mobile
number."""
from __future__ import annotations

import logging
import re
from pathlib import Path

_TOKEN_SHAPE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
_ACCESS_TOKEN = re.compile(r"(access_token=)[^&\s\"']+")  # WeChat's, in a URL
# Mainland mobile numbers (personal data) are masked in every log line: 138****8000.
_MOBILE = re.compile(r"(?<![\d])(\+?86[\s-]?)?(1[3-9]\d)[\s-]?\d{4}[\s-]?(\d{4})(?!\d)")


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then hides secrets in the whole line, tracebacks included."""

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        # A short value (a WeChat token may be 3 characters) would mangle every line it
        # happens to be a part of; those are not replaced as text.
        self._secrets = [s for s in secrets if s and len(s) >= 8]

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


def redact(text: str, secrets: list[str]) -> str:
    text = _TOKEN_SHAPE.sub("<token>", text)
    text = _ACCESS_TOKEN.sub(r"\1<token>", text)
    text = _MOBILE.sub(r"\2****\3", text)
    for secret in secrets:
        text = text.replace(secret, "<token>")
    return text


def setup_logging(level: str, secrets: list[str], log_file: Path | None = None) -> None:
    """Log to stderr; quiet httpx, whose request lines contain the token in the URL. With
    `log_file` (the console chat) the log goes to that file and only warnings and errors to
    the terminal, so that nothing is printed over the conversation."""
    fmt = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(fmt)
    handlers: list[logging.Handler] = [handler]
    if log_file is not None:
        handler.setLevel(logging.WARNING)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(fmt)
        handlers.append(to_file)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters (names, phone numbers) at DEBUG.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
