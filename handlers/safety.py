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
# Kinds where the knowledge base's answer, when it has a sure one, follows the help: someone
# asking what to do for a stranger in the cold or an abandoned baby gets the emergency reply
# and then the aid station's or the adoption's answer ("桥底下睡了个流浪汉 天这么冷 打哪个电话").
# A decline never follows the help.
ANSWER_IF_SURE = frozenset({"street", "child"})


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
    then = crisis.asks_procedure and kind.kind in ANSWER_AFTER
    if not then and kind.kind in ANSWER_IF_SURE and ctx.dialog is None:
        then = app.kb.decide(text).kind == "answer"
    return GuardReply([reply], then_answer=then)


FEATURE = Feature("safety", guards=(crisis_guard,))
