"""Greeting, menu, help and language choice."""
from __future__ import annotations

import dataclasses

from core import i18n
from core.callbacks import CallbackData
from core.i18n import _
from core.messages import Button, Reply
from handlers import volunteers
from handlers.commands import help_lines
from handlers.context import (
    HELP_TOPIC,
    App,
    Context,
    Menu,
    Topic,
    back_to_menu,
    command_args,
    main_menu,
    stale_button,
)
from handlers.faq import EntryButton
from handlers.router import Feature, in_private, on_button


class Language(CallbackData, prefix="l"):
    lang: str


def help_text(role: str = "resident") -> str:
    """What the bot does and the commands this user may use."""
    intro = _(
        "I answer questions about marriage and divorce registration, social assistance "
        "(dibao, temporary assistance), elderly care, funerals and the other civil affairs, "
        "village-affairs disclosure, community services and volunteering in Changsha.\n"
        "Type your question in your own words, or use the menu.")
    outro = _("I only know what my knowledge base says; for anything else, or to confirm an "
              "address or opening hours, call the 12345 government service hotline.")
    return "\n".join([intro, *help_lines(role), outro])


async def on_start(app: App, ctx: Context) -> list[Reply]:
    """Greet in the user's language and show the topic menu; `/start join_<team>` (a poster's
    deep link) goes straight to joining that team."""
    args = command_args(ctx)
    if args and args[0].startswith("join_"):
        if not ctx.msg.private:
            return in_private(args[0][:64])
        return await volunteers.begin_team(app, ctx, args[0][len("join_"):][:64])
    if args and args[0] in app.private_links:  # the link a private feature gave in a group
        name = args[0]
        command = dataclasses.replace(ctx.msg, text=f"/{name}")
        return await app.private_links[name](app, dataclasses.replace(ctx, msg=command))
    await app.dialogs.clear(ctx.user.id)
    return [Reply(_("Hello! I am the civil affairs assistant for Changsha. What would you "
                    "like to know?"), buttons=main_menu(app.kb))]


async def on_help(app: App, ctx: Context) -> list[Reply]:
    return [Reply(help_text(ctx.user.role), buttons=main_menu(app.kb))]


async def on_menu(app: App, ctx: Context) -> list[Reply]:
    return [Reply(_("Choose a topic:"), buttons=main_menu(app.kb))]


async def on_lang(app: App, ctx: Context) -> list[Reply]:
    """Offer the two languages as buttons."""
    return [Reply(_("Choose your language:"),
                  buttons=((Button("中文", Language("zh").pack()),
                            Button("English", Language("en").pack())),))]


async def on_lang_button(app: App, ctx: Context, data: Language) -> list[Reply]:
    """Remember the chosen language and confirm in it."""
    if data.lang not in i18n.LANGUAGES:
        return await stale_button(app, ctx)
    await app.users.set_language(ctx.user.id, data.lang)
    with i18n.use(data.lang):
        return [Reply(_("Language set to English."), buttons=main_menu(app.kb))]


async def on_topic_button(app: App, ctx: Context, data: Topic) -> list[Reply]:
    """A topic from the main menu: its common questions as buttons."""
    if data.topic == HELP_TOPIC:
        return await on_help(app, ctx)
    topic = next((t for t in app.kb.menu if t.id == data.topic), None)
    if topic is None:
        return await stale_button(app, ctx)
    rows = tuple((Button(i18n.pick(zh, en), payload),) for payload, zh, en in topic.actions)
    rows += tuple((Button(i18n.pick(zh, en), EntryButton(eid).pack()),)
                  for eid, zh, en in topic.items)
    rows += ((back_to_menu(),),)
    text = _("{topic}: choose a question, or type your own.").format(
        topic=i18n.pick(topic.title_zh, topic.title_en))
    return [Reply(text, buttons=rows)]


async def on_menu_button(app: App, ctx: Context, data: Menu) -> list[Reply]:
    return await on_menu(app, ctx)


FEATURE = Feature(
    "start",
    commands={"start": on_start, "help": on_help, "menu": on_menu, "lang": on_lang},
    buttons=(on_button(Language, on_lang_button), on_button(Topic, on_topic_button),
             on_button(Menu, on_menu_button)),
)
