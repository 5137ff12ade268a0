"""Stickers, photos, voice, files, locations, contacts: say politely what the bot understands."""
from __future__ import annotations

from typing import TYPE_CHECKING

from core.i18n import _
from core.messages import Reply

if TYPE_CHECKING:
    from handlers.core import Assistant, Context


async def on_unsupported(assistant: Assistant, ctx: Context) -> list[Reply]:
    """Anything that is not text or a button. Nothing is stored from it."""
    from handlers.start import main_menu

    if ctx.msg.location is not None:
        text = _("Thanks for the location. I can't search services by location yet; please "
                 "type your district or community name instead.")
    elif ctx.msg.contact is not None:
        text = _("I don't need your phone number for this. Please type your question.")
    else:
        text = _("I can only read text messages. Please type your question, or choose a topic "
                 "below.")
    return [Reply(text, buttons=main_menu(assistant.kb))]
