"""The channel-agnostic core: routes one incoming message to the feature that answers it, and
returns the replies. Channels translate to `Incoming` and send back the `Reply`s."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import weakref
from collections.abc import Sequence

from core import i18n
from core.callbacks import prefix_of
from core.clean import strip_invisible
from core.clock import Clock
from core.i18n import _
from core.messages import Incoming, Reply
from core.outbox import Outbox
from core.settings import Settings
from handlers import (
    admin,
    cadre_volunteers,
    coordinators,
    disclosure,
    disclosure_record,
    faq,
    invites,
    media,
    mydata,
    reminders,
    safety,
    services,
    start,
    volunteers,
)
from handlers.context import App, Context, stale_button
from handlers.router import Feature, Router
from knowledge.base import KnowledgeBase
from schedules.disclosure import DisclosureWatch
from schedules.service import ReminderService
from storage.dialogs import DialogRepo
from storage.disclosures import DisclosureRepo
from storage.feedback import FeedbackRepo
from storage.invites import InviteRepo
from storage.safety import SafetyRepo
from storage.users import UserRepo
from storage.volunteers import VolunteerRepo

log = logging.getLogger(__name__)
FEATURES: tuple[Feature, ...] = (
    safety.FEATURE, start.FEATURE, admin.FEATURE, faq.FEATURE, services.FEATURE,
    volunteers.FEATURE, mydata.FEATURE, cadre_volunteers.FEATURE, reminders.FEATURE,
    invites.FEATURE, disclosure.FEATURE, disclosure_record.FEATURE, media.FEATURE,
)


def apology() -> Reply:
    """What a user reads when handling their message failed on our side."""
    return Reply(_("Sorry, something went wrong on our side. Please try again in a moment, or "
                   "call the 12345 hotline."))


class Assistant(App):
    """The application plus its router: `handle(Incoming) -> list[Reply]`."""

    def __init__(self, *, settings: Settings, kb: KnowledgeBase, users: UserRepo,
                 dialogs: DialogRepo, volunteers: VolunteerRepo, reminders: ReminderService,
                 invites: InviteRepo, disclosures: DisclosureRepo,
                 disclosure_watch: DisclosureWatch, safety: SafetyRepo,
                 feedback: FeedbackRepo, clock: Clock, outbox: Outbox,
                 features: Sequence[Feature] = FEATURES) -> None:
        self.router = Router(features)
        self.router.check()
        if self.router.missing():
            raise ValueError(f"no feature handles {', '.join(self.router.missing())}")
        super().__init__(settings=settings, kb=kb, users=users, dialogs=dialogs,
                         volunteers=volunteers, reminders=reminders, invites=invites,
                         disclosures=disclosures, disclosure_watch=disclosure_watch,
                         safety=safety, feedback=feedback, clock=clock, outbox=outbox,
                         flows=self.router.flows, private_links=self.router.private_links)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    async def handle(self, msg: Incoming) -> list[Reply]:
        """Answer one message. Never raises: an unexpected error becomes an apology."""
        key = f"{msg.user.channel}:{msg.user.external_id}"
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:  # one message at a time per user, so dialog steps stay in order
            return await self._handle(msg)

    async def _handle(self, msg: Incoming) -> list[Reply]:
        if msg.text is not None:  # NUL, zero-width and bidi controls reach no handler
            msg = dataclasses.replace(msg, text=strip_invisible(msg.text))
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
                if user.role == "admin":  # sign-ups nobody could be told of reach them now
                    await coordinators.tell_held(self, user)
                with i18n.use(lang):
                    dialog = await self.dialogs.get(user.id, now)
                    return await self._route(Context(msg, user, lang, dialog))
            except Exception:
                log.exception("handler failed for update %s", msg.update_id)
                return [apology()]

    async def _route(self, ctx: Context) -> list[Reply]:
        msg, router = ctx.msg, self.router
        if msg.payload is not None:
            route = router.buttons.get(prefix_of(msg.payload))
            data = route.kind.unpack(msg.payload) if route is not None else None
            if route is None or data is None:
                return await stale_button(self, ctx)
            return await route.handler(self, ctx, data)
        if msg.text is not None:
            text = msg.text.strip()
            if not text.startswith("/"):
                for guard in router.guards:
                    said = await guard(self, ctx)
                    if said is not None:
                        if said.then_answer and ctx.dialog is None:
                            answer = await router.fallbacks["on_text"](self, ctx)
                            return said.replies + answer + said.after
                        return said.replies
            if text.startswith("/"):
                name = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if text[1:] else ""
                handler = router.commands.get(name)
                if handler is None:
                    return [Reply(_("I don't know that command. Send /help to see what I can "
                                    "do."))]
                return await handler(self, ctx)
            if ctx.dialog and ctx.dialog.flow in router.dialogs:
                return await router.dialogs[ctx.dialog.flow](self, ctx)
            return await router.fallbacks["on_text"](self, ctx)
        if msg.location is not None:
            return await router.fallbacks["on_location"](self, ctx)
        if ctx.dialog and ctx.dialog.flow in router.rich_dialogs:
            return await router.dialogs[ctx.dialog.flow](self, ctx)
        return await router.fallbacks["on_media"](self, ctx)
