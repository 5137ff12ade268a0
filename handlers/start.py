"""Greeting, menu, help and language choice."""
from __future__ import annotations

from typing import TYPE_CHECKING

from core import i18n
from core.i18n import _
from core.messages import Button, Reply
from knowledge.base import KnowledgeBase

if TYPE_CHECKING:
    from handlers.core import Assistant, Context

HELP_TOPIC = "help"


def main_menu(kb: KnowledgeBase) -> tuple[tuple[Button, ...], ...]:
    """The topic buttons (two per row) and help."""
    buttons = [Button(i18n.pick(t.title_zh, t.title_en), f"m:{t.id}") for t in kb.menu]
    buttons.append(Button(_("Help"), f"m:{HELP_TOPIC}"))
    return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))


def help_text() -> str:
    return _(
        "I answer questions about marriage and divorce registration, village-affairs "
        "disclosure, community services and volunteering in Changsha.\n"
        "Type your question in your own words, or use the menu.\n"
        "Commands: /start menu, /lang 中文/English, /help this text, /cancel stop what you "
        "are doing, /volunteer join a volunteer team, /my your sign-ups, /forget delete your "
        "data.\n"
        "Cadres: /cadre CODE to register with an invite code, /volunteers sign-ups of your "
        "area.\n"
        "I only know what my knowledge base says; for anything else, or to confirm an "
        "address or opening hours, call the 12345 government service hotline."
    )


async def on_start(assistant: Assistant, ctx: Context) -> list[Reply]:
    """Greet in the user's language and show the topic menu; `/start join_<team>` (a poster's
    deep link) goes straight to joining that team."""
    from handlers import volunteers
    from handlers.core import command_args

    args = command_args(ctx)
    if args and args[0].startswith("join_"):
        return await volunteers.begin_team(assistant, ctx, args[0][len("join_"):][:64])
    await assistant.dialogs.clear(ctx.user.id)
    return [Reply(_("Hello! I am the civil affairs assistant for Changsha. What would you "
                    "like to know?"), buttons=main_menu(assistant.kb))]


async def on_help(assistant: Assistant, ctx: Context) -> list[Reply]:
    return [Reply(help_text(), buttons=main_menu(assistant.kb))]


async def on_menu(assistant: Assistant, ctx: Context) -> list[Reply]:
    return [Reply(_("Choose a topic:"), buttons=main_menu(assistant.kb))]


async def on_lang(assistant: Assistant, ctx: Context) -> list[Reply]:
    """Offer the two languages as buttons."""
    return [Reply(_("Choose your language:"),
                  buttons=((Button("中文", "l:zh"), Button("English", "l:en")),))]


async def on_lang_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    """Remember the chosen language and confirm in it."""
    from handlers.core import stale_button

    choice = (ctx.msg.payload or "").partition(":")[2]
    if choice not in i18n.LANGUAGES:
        return await stale_button(assistant, ctx)
    await assistant.users.set_language(ctx.user.id, choice)
    with i18n.use(choice):
        return [Reply(_("Language set to English."), buttons=main_menu(assistant.kb))]


async def on_topic_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    """A topic from the main menu: its common questions as buttons."""
    from handlers.core import stale_button

    topic_id = (ctx.msg.payload or "").partition(":")[2]
    if topic_id == HELP_TOPIC:
        return await on_help(assistant, ctx)
    topic = next((t for t in assistant.kb.menu if t.id == topic_id), None)
    if topic is None:
        return await stale_button(assistant, ctx)
    rows = tuple((Button(i18n.pick(zh, en), payload),) for payload, zh, en in topic.actions)
    rows += tuple((Button(i18n.pick(zh, en), f"e:{eid}"),) for eid, zh, en in topic.items)
    rows += ((Button(_("Back to menu"), "menu:"),),)
    text = _("{topic}: choose a question, or type your own.").format(
        topic=i18n.pick(topic.title_zh, topic.title_en))
    return [Reply(text, buttons=rows)]


async def on_menu_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    return await on_menu(assistant, ctx)


COMMANDS = {"start": on_start, "help": on_help, "menu": on_menu, "lang": on_lang}
BUTTONS = {"l": on_lang_button, "m": on_topic_button, "menu": on_menu_button}
