"""Messages the bot starts itself, sent through the notifier of the recipient's channel."""
from __future__ import annotations

import logging

from core.messages import Notifier, Reply

log = logging.getLogger(__name__)


class Outbox:
    """Channels register their notifier; the core sends to (channel, external id)."""

    def __init__(self) -> None:
        self._notifiers: dict[str, Notifier] = {}

    def register(self, channel: str, notifier: Notifier) -> None:
        self._notifiers[channel] = notifier

    async def send(self, channel: str, external_id: str, replies: list[Reply]) -> bool:
        """Deliver; False when the channel is not running here or sending failed (logged
        without the message text, which may hold personal data)."""
        notifier = self._notifiers.get(channel)
        if notifier is None:
            log.warning("no %s channel running; a notification to user %s was not sent",
                        channel, external_id)
            return False
        try:
            await notifier.notify(external_id, replies)
        except Exception:  # one recipient's failure must not break the sender's flow
            log.exception("notification to %s:%s failed", channel, external_id)
            return False
        return True
