"""Console channel: a chat in the terminal. Buttons become numbered choices; type the number."""
from __future__ import annotations

import asyncio
import re
import sys
from typing import TextIO

from core import i18n
from core.i18n import _
from core.messages import Contact, Incoming, Reply, User
from handlers.assistant import Assistant

CHANNEL = "console"
_LOC = re.compile(r"^loc\s+(-?\d+(?:\.\d+)?)[\s,]+(-?\d+(?:\.\d+)?)$", re.IGNORECASE)
_PHOTO = re.compile(r"^photo\s+(\S{1,200})$", re.IGNORECASE)
_CONTACT = re.compile(r"^contact\s+(\+?[\d\s-]{5,20})$", re.IGNORECASE)
_ASK_HINTS = {"location": "  (share a location: type `loc LAT LON`, e.g. loc 28.19 112.98)",
              "contact": "  (share your number: type `contact 13800138000`)"}


def format_replies(replies: list[Reply]) -> tuple[str, list[str]]:
    """Text for the terminal, and the payloads the numbers stand for."""
    lines: list[str] = []
    payloads: list[str] = []
    for reply in replies:
        lines.append(reply.text)
        for row in reply.buttons:
            for button in row:
                payloads.append(button.payload)
                lines.append(f"  [{len(payloads)}] {button.label}")
        if reply.document is not None:
            lines.append(f"  (file: {reply.document.filename}, {len(reply.document.content)} B)")
        if reply.location is not None:
            lines.append(f"  (location: {reply.location[0]:.5f}, {reply.location[1]:.5f})")
        if reply.photo is not None:
            lines.append(f"  (photo: {reply.photo})")
        if reply.image is not None:
            lines.append(f"  (picture: {len(reply.image)} B PNG)")
        if reply.ask in _ASK_HINTS:
            lines.append(_ASK_HINTS[reply.ask])
    return "\n".join(lines), payloads


def to_incoming(line: str, payloads: list[str], user: User) -> Incoming:
    """A typed line: a choice number, `loc LAT LON`, `contact NUMBER` (one's own),
    `photo FILE_ID` (a photo), or text."""
    stripped = line.strip()
    if stripped.isdigit() and 1 <= int(stripped) <= len(payloads):
        return Incoming(user, CHANNEL, payload=payloads[int(stripped) - 1])
    if m := _LOC.match(stripped):
        return Incoming(user, CHANNEL, location=(float(m.group(1)), float(m.group(2))))
    if m := _PHOTO.match(stripped):
        return Incoming(user, CHANNEL, media="photo", photo=m.group(1))
    if m := _CONTACT.match(stripped):
        return Incoming(user, CHANNEL, contact=Contact(m.group(1).strip(), user.external_id))
    return Incoming(user, CHANNEL, text=line.rstrip("\n"))


def out_of_range(line: str, payloads: list[str]) -> str | None:
    """A choice number that is not on the list ("9" after three choices): say which are,
    rather than reading it as a question."""
    stripped = line.strip()
    if not payloads or not stripped.isdigit() or len(stripped) > 2:
        return None
    if 1 <= int(stripped) <= len(payloads):
        return None
    return _("Please type a number from 1 to {n} to choose, or type your question.").format(
        n=len(payloads))


class ConsoleNotifier:
    """Messages the bot starts itself, printed to the terminal."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    async def notify(self, external_id: str, replies: list[Reply]) -> None:
        text, _payloads = format_replies(replies)
        print(text, file=self._out, flush=True)


async def run_console_chat(assistant: Assistant, *, stdin: TextIO | None = None,
                           stdout: TextIO | None = None, user_id: str = "local",
                           language_code: str | None = None) -> None:
    """Read lines until EOF (works interactively and with piped input, one message a line).
    Standard input and output are looked up when called, not when this module is imported."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    user = User(CHANNEL, user_id, language_code, "console")
    interactive = stdin.isatty()
    payloads: list[str] = []
    loop = asyncio.get_running_loop()
    first = await assistant.handle(Incoming(user, CHANNEL, text="/start"))
    text, payloads = format_replies(first)
    print(text, file=stdout, flush=True)
    while True:
        if interactive:
            print("> ", end="", file=stdout, flush=True)
        line = await loop.run_in_executor(None, stdin.readline)
        if not line:
            break
        if not line.strip():
            continue
        with i18n.use(i18n.language_from_code(language_code)):
            wrong = out_of_range(line, payloads)
        if wrong:
            print(wrong, file=stdout, flush=True)
            continue
        replies = await assistant.handle(to_incoming(line, payloads, user))
        text, new_payloads = format_replies(replies)
        payloads = new_payloads or payloads
        print(text, file=stdout, flush=True)
        if not interactive:
            print("", file=stdout, flush=True)
