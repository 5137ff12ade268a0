"""Messages the bot starts itself, sent through the notifier of the recipient's channel."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.clock import Clock, SystemClock
from core.messages import DeliveryError, Notifier, Reply

log = logging.getLogger(__name__)


class SendResult(StrEnum):
    SENT = "sent"
    BLOCKED = "blocked"  # the user blocked the bot
    FAILED = "failed"  # try again later
    UNDELIVERABLE = "undeliverable"  # the platform allows no message now (WeChat's window)
    NO_CHANNEL = "no_channel"  # that channel is not running here


class Queue(Protocol):
    """The durable outbox (storage): replies written now, delivered by the channel's sender."""

    async def enqueue(self, channel: str, chat_id: str, replies: Sequence[Reply],
                      now: datetime) -> None: ...


class Outbox:
    """Channels register their notifier; the core sends to (channel, external id). `queue`
    writes to the durable outbox instead, inside the current unit of work: the message goes
    when the handling commits, and waits (for the channel to run, for the platform to come
    back) rather than being lost."""

    def __init__(self, queue: Queue | None = None, clock: Clock | None = None) -> None:
        self._notifiers: dict[str, Notifier] = {}
        self._queue = queue
        self._clock = clock or SystemClock()

    async def queue(self, channel: str, external_id: str, replies: list[Reply]) -> None:
        """A notice to a user's private chat, delivered durably (or sent now without a
        durable outbox, as in tests that build the core alone)."""
        if self._queue is None:
            await self.send(channel, external_id, replies)
            return
        await self._queue.enqueue(channel, external_id, replies, self._clock.now())

    def register(self, channel: str, notifier: Notifier) -> None:
        self._notifiers[channel] = notifier

    async def send(self, channel: str, external_id: str, replies: list[Reply]) -> SendResult:
        """Deliver through the channel's notifier. Logged without the message text, which may
        hold personal data."""
        notifier = self._notifiers.get(channel)
        if notifier is None:
            log.warning("no %s channel running; a notification to user %s was not sent",
                        channel, external_id)
            return SendResult.NO_CHANNEL
        try:
            await notifier.notify(external_id, replies)
        except DeliveryError as exc:
            log.warning("notification to %s:%s not delivered: %s", channel, external_id, exc)
            if exc.undeliverable:
                return SendResult.UNDELIVERABLE
            return SendResult.BLOCKED if exc.blocked else SendResult.FAILED
        except Exception:  # one recipient's failure must not break the sender's flow
            log.exception("notification to %s:%s failed", channel, external_id)
            return SendResult.FAILED
        return SendResult.SENT
