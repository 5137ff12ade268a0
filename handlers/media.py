"""Stickers, photos, voice, files, locations, contacts: say politely what the bot understands."""
from __future__ import annotations

from core.i18n import _
from core.messages import Reply
from handlers.context import App, Context, main_menu
from handlers.router import Feature


async def on_unsupported(app: App, ctx: Context) -> list[Reply]:
    """Anything that is not text or a button. Nothing is stored from it."""
    if ctx.msg.location is not None:
        text = _("Thanks for the location. I can't search services by location yet; please "
                 "type your district or community name instead.")
    elif ctx.msg.contact is not None:
        text = _("I don't need your phone number for this. Please type your question.")
    else:
        text = _("I can only read text messages. Please type your question, or choose a topic "
                 "below.")
    return [Reply(text, buttons=main_menu(app.kb))]


FEATURE = Feature("media", on_media=on_unsupported)
