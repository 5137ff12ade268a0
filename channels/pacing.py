"""Pacing of the messages the bot starts itself (reminders, notices), per channel: each
platform has its own limits (Telegram: about 30 messages a second overall and one a second
per chat; WeCom: 30 a minute and 1,000 an hour per member), so each channel's notifier brings
its own pacer."""
from __future__ import annotations

import asyncio
import time
from collections import deque


class Pacer:
    """Keeps sends under `rate` a second overall, counted as Telegram counts them: over the
    last second of actual send times (a stalled event loop cannot cause a burst), and one a
    second per chat."""

    def __init__(self, rate: float, margin: int = 1) -> None:
        self._limit = max(1, int(rate) - margin) if rate > 0 else 0
        self._gap = 1.0 / rate if rate > 0 else 0.0
        self._sent: deque[float] = deque()
        self._per_chat: dict[str, float] = {}

    async def wait(self, chat: str) -> None:
        while self._limit:
            now = time.monotonic()
            while self._sent and now - self._sent[0] >= 1.0:
                self._sent.popleft()
            last = self._sent[-1] if self._sent else -1.0
            ready = max(last + self._gap, self._per_chat.get(chat, 0.0))
            if len(self._sent) >= self._limit:
                ready = max(ready, self._sent[0] + 1.0)
            if ready <= now:
                self._sent.append(now)
                if len(self._per_chat) > 4096:  # forget chats whose spacing has passed
                    self._per_chat = {c: t for c, t in self._per_chat.items() if t > now}
                self._per_chat[chat] = now + 1.0
                return
            await asyncio.sleep(ready - now)
