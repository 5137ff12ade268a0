"""Safety first: a message about danger gets the emergency reply before anything else, in
every flow, instead of whatever the ranking would have said. Recorded as kind and time only."""
from __future__ import annotations

import logging

from core import i18n
from core.messages import Reply
from handlers.context import App, Context, main_menu
from handlers.router import Feature, GuardReply
from knowledge.text import guess_language

log = logging.getLogger(__name__)
MAX_SCANNED = 10_000  # characters of one message read for danger (a long story included)
# Kinds where a question about a procedure in the same message is answered after the help
# ("他以前打过我，现在想离婚要什么材料"); after suicidal words never a procedural answer.
ANSWER_AFTER = frozenset({"domestic", "violence"})


async def crisis_guard(app: App, ctx: Context) -> GuardReply | None:
    """The emergency reply (the right numbers and what each is for, then the menu), or None."""
    text = (ctx.msg.text or "")[:MAX_SCANNED]
    crisis = app.kb.safety.read(text)
    if crisis is None:
        return None
    kind = crisis.kind
    if crisis.over and ctx.dialog is None:
        # violence that has ended, behind a question: the answer, then where to turn (inside a
        # sign-up the message is no answer to its step: the help, as for any other)
        with i18n.use(guess_language(text)):
            note = Reply(i18n.pick(kind.note_zh, kind.note_en))
        return GuardReply([], then_answer=True, after=[note])
    await app.safety.record(kind.kind, app.clock.now())
    log.info("crisis reply given (%s)", kind.kind)  # never the text
    with i18n.use(guess_language(text)):  # the language the person wrote in
        reply = Reply(i18n.pick(kind.reply_zh, kind.reply_en), buttons=main_menu(app.kb))
    return GuardReply([reply], then_answer=crisis.asks_procedure and kind.kind in ANSWER_AFTER)


FEATURE = Feature("safety", guards=(crisis_guard,))
