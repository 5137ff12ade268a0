"""What every feature module uses: the application a handler runs in (`App`), the message it
answers (`Context`), and the few replies every feature can give (the menu, a stale button,
a refusal). Feature modules import this at the top; handlers/assistant.py imports the features.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from core import i18n
from core.callbacks import CallbackData
from core.clock import Clock
from core.i18n import _
from core.messages import Button, Incoming, Reply
from core.outbox import Outbox
from core.settings import Settings
from knowledge.base import KnowledgeBase
from schedules.disclosure import DisclosureWatch
from schedules.service import ReminderService
from storage.dialogs import DialogRepo, DialogState
from storage.disclosures import DisclosureRepo
from storage.feedback import FeedbackRepo
from storage.invites import InviteRepo
from storage.safety import SafetyRepo
from storage.users import UserRepo, UserRow
from storage.volunteers import VolunteerRepo

log = logging.getLogger(__name__)
HELP_TOPIC = "help"


@dataclass
class Context:
    """What a handler needs about the message it answers."""

    msg: Incoming
    user: UserRow
    lang: str
    dialog: DialogState | None


Handler = Callable[["App", Context], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class FlowStart:
    """A flow a knowledge-base answer can start (entries name it with `flow:`)."""

    handler: Handler
    show_answer: bool  # the entry's answer is shown before the flow's first step


@dataclass(eq=False)
class App:
    """The dependencies handlers use, built once (app.py) and passed to every handler."""

    settings: Settings
    kb: KnowledgeBase
    users: UserRepo
    dialogs: DialogRepo
    volunteers: VolunteerRepo
    reminders: ReminderService
    invites: InviteRepo
    disclosures: DisclosureRepo
    disclosure_watch: DisclosureWatch
    safety: SafetyRepo
    feedback: FeedbackRepo
    clock: Clock
    outbox: Outbox
    flows: Mapping[str, FlowStart]
    private_links: Mapping[str, Handler]  # `/start <name>` from a group's link -> the command


# --- buttons every feature shows --------------------------------------------------------------
class Menu(CallbackData, prefix="menu"):
    """Back to the main menu."""


class Topic(CallbackData, prefix="m"):
    """A topic of the main menu (or help)."""

    topic: str


def main_menu(kb: KnowledgeBase) -> tuple[tuple[Button, ...], ...]:
    """The topic buttons (two per row) and help."""
    buttons = [Button(i18n.pick(t.title_zh, t.title_en), Topic(t.id).pack()) for t in kb.menu]
    buttons.append(Button(_("Help"), Topic(HELP_TOPIC).pack()))
    return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))


def back_to_menu() -> Button:
    return Button(_("Back to menu"), Menu().pack())


async def stale_button(app: App, ctx: Context) -> list[Reply]:
    """A button from an old message, or data nobody of ours made: say so, offer the menu."""
    log.info("stale or unknown button data from update %s", ctx.msg.update_id)
    return [Reply(_("That button is no longer valid. Here is the menu again."),
                  buttons=main_menu(app.kb))]


def command_args(ctx: Context) -> list[str]:
    """The words after the command, e.g. ['123', 'district', '岳麓区'] for '/promote 123 ...'."""
    return (ctx.msg.text or "").strip().split()[1:]


def refuse() -> list[Reply]:
    """An administrator-only command from someone else."""
    return [Reply(_("Sorry, only administrators can do that. If you need help, send /help."))]


def actor(ctx: Context) -> str:
    """Who did it, as recorded in the database's labels (`telegram:12345`)."""
    return f"{ctx.user.channel}:{ctx.user.external_id}"
