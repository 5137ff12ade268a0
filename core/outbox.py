"""Messages the bot starts itself, sent through the notifier of the recipient's channel."""
from __future__ import annotations

import logging
from enum import StrEnum

from core.messages import DeliveryError, Notifier, Reply

log = logging.getLogger(__name__)


class SendResult(StrEnum):
    SENT = "sent"
    BLOCKED = "blocked"  # the user blocked the bot
    FAILED = "failed"  # try again later
    NO_CHANNEL = "no_channel"  # that channel is not running here


class Outbox:
    """Channels register their notifier; the core sends to (channel, external id)."""

    def __init__(self) -> None:
        self._notifiers: dict[str, Notifier] = {}

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
            return SendResult.BLOCKED if exc.blocked else SendResult.FAILED
        except Exception:  # one recipient's failure must not break the sender's flow
            log.exception("notification to %s:%s failed", channel, external_id)
            return SendResult.FAILED
        return SendResult.SENT
