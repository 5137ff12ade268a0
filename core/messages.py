"""Channel-agnostic message types: what a channel hands the core, and what the core returns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class User:
    channel: str
    external_id: str
    language_code: str | None = None
    display_name: str = ""


@dataclass(frozen=True)
class Contact:
    phone: str
    user_external_id: str | None = None


@dataclass(frozen=True)
class Incoming:
    """One thing a user sent. Exactly one of text / payload / location / contact / media is set."""

    user: User
    chat_id: str
    text: str | None = None
    payload: str | None = None  # button data; never trusted
    location: tuple[float, float] | None = None
    contact: Contact | None = None
    media: str | None = None  # "sticker", "photo", "voice", "document", ... (unsupported kinds)
    photo: str | None = None  # a photo's file id on its channel (set with media="photo")
    photo_data: bytes | None = None  # the photo itself, when the channel could fetch it
    update_id: str | None = None
    private: bool = True  # a one-to-one chat; False in groups, where personal data is never shown


@dataclass(frozen=True)
class Button:
    label: str
    payload: str


@dataclass(frozen=True)
class Document:
    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    document: Document | None = None
    location: tuple[float, float] | None = None
    # Ask the user to share something with a one-tap keyboard button: "location" or "contact".
    # A message can carry inline buttons or such a keyboard, not both.
    ask: str | None = None
    ask_label: str = ""
    clear_keyboard: bool = False  # remove a keyboard an earlier `ask` showed
    photo: str | None = None  # send a photo the channel already has (its file id), text as caption
    image: bytes | None = None  # upload a picture (PNG), text as caption
    # A button that opens the user's private chat with the bot, starting it with this
    # parameter (Telegram: a t.me deep link); channels that are always private ignore it.
    private_link: str | None = None
    multi: bool = False  # the buttons are choices of which several may be picked, then "Done"


class DeliveryError(Exception):
    """A message did not reach the user. `blocked`: they blocked the bot (403); `refused`: the
    platform refused this message and would refuse it again (400); `retry_after`: a flood wait
    the platform asked for, in seconds; `undeliverable`: the platform allows no message to
    this user now (WeChat: outside the customer-service window, no template message), kept
    for the administrators' count, not retried. Otherwise (timeouts, 5xx) trying later may
    work."""

    def __init__(self, message: str, *, blocked: bool = False, refused: bool = False,
                 retry_after: float | None = None, undeliverable: bool = False) -> None:
        super().__init__(message)
        self.blocked = blocked
        self.refused = refused
        self.retry_after = retry_after
        self.undeliverable = undeliverable


class Transport(Protocol):
    """A channel's one attempt to deliver one reply to a chat (the outbox's sender retries).
    Raises DeliveryError when it did not go."""

    async def deliver(self, chat_id: str, reply: Reply) -> None: ...


class Notifier(Protocol):
    """Sends messages the bot starts itself (reminders, notices). Each channel implements it;
    it raises DeliveryError when the message could not be delivered."""

    async def notify(self, external_id: str, replies: list[Reply]) -> None: ...
