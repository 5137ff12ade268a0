"""Residents and village-affairs disclosure: when will my village publish next, what did it
publish last (with the noticeboard photo), and subscriptions to a village's disclosures."""
from __future__ import annotations

from typing import TYPE_CHECKING

from core import i18n
from core.i18n import _
from core.messages import Button, Reply
from knowledge.villages import Village
from schedules.disclosure import next_due

if TYPE_CHECKING:
    from handlers.core import Assistant, Context
    from storage.disclosures import Record

ASK_FLOW = "village"  # "which village?" asked; data: {"then": "lookup" | "subscribe"}
PHOTOS = 3


def tracked(assistant: Assistant, text: str) -> tuple[list[Village], bool]:
    """The tracked villages a text names: ([one], False), ([several], False) when a name is
    ambiguous, ([], True) when it names a place that is not tracked, ([], False) for none."""
    book = assistant.kb.villages
    named_any = False
    for places in assistant.kb.gazetteer.candidates(text):
        villages = [book.villages[p.id] for p in places if p.id in book.villages]
        if villages:
            return villages, False
        named_any = named_any or any(p.kind == "community" for p in places)
    return [], named_any


def village_label(assistant: Assistant, village: Village) -> str:
    lang = i18n.current()
    district = assistant.kb.gazetteer.places.get(village.place.district)
    parts = [village.name(lang)]
    if village.township:
        parts.append(village.township)
    if district:
        parts.append(district.name(lang))
    return " · ".join(parts)


def pick_village(assistant: Assistant, villages: list[Village], prefix: str) -> Reply:
    rows = tuple((Button(village_label(assistant, v)[:40], f"{prefix}:{v.id}"),)
                 for v in villages[:10])
    return Reply(_("Which one do you mean?"), buttons=rows)


def record_lines(assistant: Assistant, record: Record) -> str:
    lang = i18n.current()
    items = "、".join(assistant.kb.villages.items[i].name(lang) for i in record.items
                     if i in assistant.kb.villages.items)
    day = record.at.astimezone(assistant.settings.tz).strftime("%Y-%m-%d")
    line = _("{day}: {period} — {items}. {summary}").format(
        day=day, period=record.period, items=items, summary=record.summary)
    if record.corrects:
        line += " " + _("(corrected)")
    return line


async def lookup(assistant: Assistant, ctx: Context, village: Village) -> list[Reply]:
    """Next due dates from the rules and the records, then the latest records with photos."""
    lang = i18n.current()
    tz = assistant.settings.tz
    records = await assistant.disclosures.current([village.id])
    today = assistant.clock.now().astimezone(tz).date()
    lines = [village_label(assistant, village)]
    if village.example:
        lines.append(_("(Example from a historical report: the operator has not confirmed this "
                       "village's data yet.)"))
    for rule, st in next_due(assistant.kb.villages, village, records, today, tz):
        if st.state == "missing":
            lines.append("• " + _("{rule}: {period} was due by {due} and is not recorded as "
                                  "published.").format(rule=rule.name(lang), period=st.period,
                                                       due=st.due.isoformat()))
        else:
            lines.append("• " + _("{rule}: next, for {period}, due by {due}.").format(
                rule=rule.name(lang), period=st.period, due=st.due.isoformat()))
    latest = sorted(records, key=lambda r: r.recorded_at, reverse=True)[:PHOTOS]
    if latest:
        lines.append(_("Latest disclosures recorded by the village:"))
        lines += ["• " + record_lines(assistant, r) for r in latest]
    else:
        lines.append(_("No disclosure has been recorded here yet."))
    if village.noticeboard:
        lines.append(_("Noticeboard: {where}").format(where=village.noticeboard))
    lines.append(_("The noticeboard itself is the official record; if something is missing, "
                   "you can report it to the township government."))
    subscribed = village.id in await assistant.disclosures.subscriptions(ctx.user.id)
    button = (Button(_("Stop notifications"), f"du:{village.id}") if subscribed else
              Button(_("Notify me of new disclosures"), f"ds:{village.id}"))
    replies = [Reply("\n".join(lines), buttons=((button,),))]
    for r in latest:
        if r.photo_file_id:
            replies.append(Reply(record_lines(assistant, r)[:1000], photo=r.photo_file_id))
    return replies


async def start_lookup(assistant: Assistant, ctx: Context) -> list[Reply]:
    """From a question ("红星村下次什么时候公开") or /disclosure [village]."""
    from handlers.core import command_args

    text = " ".join(command_args(ctx)) if (ctx.msg.text or "").startswith("/") else (
        ctx.msg.text or "")
    return await _resolve(assistant, ctx, text, "lookup")


async def _resolve(assistant: Assistant, ctx: Context, text: str, then: str) -> list[Reply]:
    villages, untracked = tracked(assistant, text)
    prefix = "dl" if then == "lookup" else "ds"
    if len(villages) == 1:
        await assistant.dialogs.clear(ctx.user.id)
        if then == "lookup":
            return await lookup(assistant, ctx, villages[0])
        return await _subscribe(assistant, ctx, villages[0])
    if villages:
        return [pick_village(assistant, villages, prefix)]
    await assistant.dialogs.set(ctx.user.id, ASK_FLOW, "ask", {"then": then},
                                assistant.clock.now())
    names = "、".join(v.name(i18n.current()) for v in list(
        assistant.kb.villages.villages.values())[:8])
    intro = _("I don't have that village's disclosure calendar.") + " " if untracked else ""
    return [Reply(intro + _("Which village? Type its name (villages I know: {names}).").format(
        names=names or "-"))]


async def on_village_reply(assistant: Assistant, ctx: Context) -> list[Reply]:
    """The answer to "which village?": a village, or else a new question."""
    from handlers.faq import on_text

    assert ctx.dialog is not None
    villages, _untracked = tracked(assistant, ctx.msg.text or "")
    if not villages:
        await assistant.dialogs.clear(ctx.user.id)
        return await on_text(assistant, ctx)
    return await _resolve(assistant, ctx, ctx.msg.text or "", str(ctx.dialog.data["then"]))


async def _with_village(assistant: Assistant, ctx: Context,
                        then) -> list[Reply]:  # type: ignore[no-untyped-def]
    """A button naming a village (`dl:<id>`, `ds:<id>`): that village, or a stale button."""
    from handlers.core import stale_button

    village = assistant.kb.villages.villages.get((ctx.msg.payload or "").partition(":")[2])
    if village is None:
        return await stale_button(assistant, ctx)
    return await then(assistant, ctx, village)


async def on_lookup_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    return await _with_village(assistant, ctx, lookup)


async def on_ask_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`dq:` from the menu: which village?"""
    return await _resolve(assistant, ctx, "", "lookup")


# --- subscriptions ------------------------------------------------------------------------
async def _subscribe(assistant: Assistant, ctx: Context, village: Village) -> list[Reply]:
    await assistant.disclosures.subscribe(ctx.user.id, village.id, assistant.clock.now())
    return [Reply(_("Subscribed: I will tell you when {village} records a disclosure. "
                    "/unsubscribe stops it.").format(village=village.name(i18n.current())))]


async def on_subscribe(assistant: Assistant, ctx: Context) -> list[Reply]:
    """/subscribe [village]."""
    from handlers.core import command_args

    return await _resolve(assistant, ctx, " ".join(command_args(ctx)), "subscribe")


async def on_subscribe_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    return await _with_village(assistant, ctx, _subscribe)


async def on_unsubscribe(assistant: Assistant, ctx: Context) -> list[Reply]:
    """/unsubscribe: one button per subscription."""
    ids = await assistant.disclosures.subscriptions(ctx.user.id)
    villages = [assistant.kb.villages.villages[i] for i in ids
                if i in assistant.kb.villages.villages]
    if not villages:
        return [Reply(_("You have no subscriptions."))]
    rows = tuple((Button(_("Stop: {village}").format(village=v.name(i18n.current())),
                         f"du:{v.id}"),) for v in villages)
    return [Reply(_("Which notifications should stop?"), buttons=rows)]


async def on_unsubscribe_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    vid = (ctx.msg.payload or "").partition(":")[2][:64]
    if await assistant.disclosures.unsubscribe(ctx.user.id, vid):
        return [Reply(_("Unsubscribed."))]
    return [Reply(_("You were not subscribed to that village."))]


COMMANDS = {"disclosure": start_lookup, "subscribe": on_subscribe,
            "unsubscribe": on_unsubscribe}
BUTTONS = {"dl": on_lookup_button, "dq": on_ask_button, "ds": on_subscribe_button,
           "du": on_unsubscribe_button}
DIALOGS = {ASK_FLOW: on_village_reply}
