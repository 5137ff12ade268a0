"""Routes one incoming message to the feature that answers it, and returns the replies."""
from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core import i18n
from core.clock import Clock
from core.i18n import _
from core.messages import Incoming, Reply
from core.outbox import Outbox
from core.settings import Settings
from knowledge.base import KnowledgeBase
from storage.dialogs import DialogRepo, DialogState
from storage.users import UserRepo, UserRow
from storage.volunteers import VolunteerRepo

if TYPE_CHECKING:
    from schedules.service import ReminderService
    from storage.disclosures import DisclosureRepo
    from storage.invites import InviteRepo

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What a handler needs about the message it answers."""

    msg: Incoming
    user: UserRow
    lang: str
    dialog: DialogState | None


Handler = Callable[["Assistant", Context], Awaitable[list[Reply]]]


class Assistant:
    """The channel-agnostic core. Channels translate to `Incoming` and send back `Reply`s."""

    def __init__(self, *, settings: Settings, kb: KnowledgeBase, users: UserRepo,
                 dialogs: DialogRepo, volunteers: VolunteerRepo, reminders: ReminderService,
                 invites: InviteRepo, disclosures: DisclosureRepo, clock: Clock,
                 outbox: Outbox) -> None:
        from handlers import (admin, cadre_volunteers, disclosure as dis,
                              disclosure_record as rec, faq, invites as inv, media, mydata,
                              reminders as rem, services, start, volunteers as vol)

        self.settings = settings
        self.kb = kb
        self.users = users
        self.dialogs = dialogs
        self.volunteers = volunteers
        self.reminders = reminders
        self.invites = invites
        self.disclosures = disclosures
        self.clock = clock
        self.outbox = outbox
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self.commands: dict[str, Handler] = {
            **start.COMMANDS, **admin.COMMANDS, **faq.COMMANDS, **vol.COMMANDS,
            **mydata.COMMANDS, **cadre_volunteers.COMMANDS, **rem.COMMANDS, **inv.COMMANDS,
            **dis.COMMANDS, **rec.COMMANDS,
        }
        self.buttons: dict[str, Handler] = {
            **start.BUTTONS, **faq.BUTTONS, **services.BUTTONS, **vol.BUTTONS,
            **mydata.BUTTONS, **cadre_volunteers.BUTTONS, **rem.BUTTONS, **dis.BUTTONS,
            **rec.BUTTONS,
        }
        self._on_text: Handler = faq.on_text
        self._on_dialog: dict[str, Handler] = {**faq.DIALOGS, **vol.DIALOGS, **rem.DIALOGS,
                                                **dis.DIALOGS, **rec.DIALOGS}
        self._rich_flows = {*vol.DIALOGS, *rec.DIALOGS}  # flows that take contacts, photos...
        self._on_location: Handler = services.on_location
        self._on_media: Handler = media.on_unsupported
        # Flows an answer can start (entries name them with `flow:`), and whether the entry's
        # answer is shown first.
        self.flow_starters: dict[str, tuple[Handler, bool]] = {
            vol.FLOW: (vol.on_start_button, True), "disclosure": (dis.start_lookup, False)}

    async def handle(self, msg: Incoming) -> list[Reply]:
        """Answer one message. Never raises: an unexpected error becomes an apology."""
        key = f"{msg.user.channel}:{msg.user.external_id}"
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:  # one message at a time per user, so dialog steps stay in order
            return await self._handle(msg)

    async def _handle(self, msg: Incoming) -> list[Reply]:
        lang = i18n.language_from_code(msg.user.language_code)
        with i18n.use(lang):
            try:
                now = self.clock.now()
                user = await self.users.touch(
                    msg.user.channel, msg.user.external_id, msg.user.language_code, now,
                    is_admin=self.settings.is_admin(msg.user.channel, msg.user.external_id),
                    update_id=msg.update_id,
                )
                if user is None:
                    log.info("update %s delivered again; ignored", msg.update_id)
                    return []
                lang = user.language or lang
                with i18n.use(lang):
                    dialog = await self.dialogs.get(user.id, now)
                    return await self._route(Context(msg, user, lang, dialog))
            except Exception:
                log.exception("handler failed for update %s", msg.update_id)
                return [Reply(_("Sorry, something went wrong on our side. Please try again "
                                "in a moment, or call the 12345 hotline."))]

    async def _route(self, ctx: Context) -> list[Reply]:
        msg = ctx.msg
        if msg.payload is not None:
            prefix = msg.payload.split(":", 1)[0]
            handler = self.buttons.get(prefix)
            if handler is None:
                return await stale_button(self, ctx)
            return await handler(self, ctx)
        if msg.text is not None:
            text = msg.text.strip()
            if text.startswith("/"):
                name = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if text[1:] else ""
                handler = self.commands.get(name)
                if handler is None:
                    return [Reply(_("I don't know that command. Send /help to see what I can "
                                    "do."))]
                return await handler(self, ctx)
            if ctx.dialog and ctx.dialog.flow in self._on_dialog:
                return await self._on_dialog[ctx.dialog.flow](self, ctx)
            return await self._on_text(self, ctx)
        if msg.location is not None:
            return await self._on_location(self, ctx)
        if ctx.dialog and ctx.dialog.flow in self._rich_flows:
            return await self._on_dialog[ctx.dialog.flow](self, ctx)
        return await self._on_media(self, ctx)


async def stale_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    """A button from an old message, or data nobody of ours made: say so, offer the menu."""
    from handlers.start import main_menu

    log.info("stale or unknown button data from update %s", ctx.msg.update_id)
    return [Reply(_("That button is no longer valid. Here is the menu again."),
                  buttons=main_menu(assistant.kb))]


def command_args(ctx: Context) -> list[str]:
    """The words after the command, e.g. ['123', 'district', '岳麓区'] for '/promote 123 ...'."""
    return (ctx.msg.text or "").strip().split()[1:]
