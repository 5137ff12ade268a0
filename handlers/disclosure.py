"""Residents and village-affairs disclosure: when will my village publish next, what did it
publish last (with the noticeboard photo), and subscriptions to a village's disclosures."""
from __future__ import annotations

import re
from typing import TypedDict, cast

from core import i18n
from core.callbacks import CallbackData
from core.i18n import _
from core.messages import Button, Reply
from handlers import faq
from handlers.context import App, Context, FlowStart, command_args, stale_button
from handlers.router import Feature, on_button
from knowledge.villages import Village, period_label
from schedules.disclosure import next_due
from storage.disclosures import Record

ASK_FLOW = "village"  # "which village?" asked
_OTHER_VILLAGE = re.compile(r"[\u4e00-\u9fff]{1,4}(?:村|社区)")
_GENERIC = ("我们", "我", "咱", "本", "俺", "你们", "这个", "那个", "哪个", "村里")
PHOTOS = 3


class VillageQuestion(TypedDict):
    then: str  # "lookup" | "subscribe": what to do with the village named


class Lookup(CallbackData, prefix="dl"):
    village: str


class AskVillage(CallbackData, prefix="dq"):
    """The menu's disclosure button: which village?"""


class Subscribe(CallbackData, prefix="ds"):
    village: str


class Unsubscribe(CallbackData, prefix="du"):
    village: str


def tracked(app: App, text: str) -> tuple[list[Village], bool]:
    """The tracked villages a text names: ([one], False), ([several], False) when a name is
    ambiguous, ([], True) when it names a place that is not tracked, ([], False) for none."""
    book = app.kb.villages
    named_any = False
    for places in app.kb.gazetteer.candidates(text):
        villages = [book.villages[p.id] for p in places if p.id in book.villages]
        if villages:
            return villages, False
        named_any = named_any or any(p.kind == "community" for p in places)
    return [], named_any


def village_label(app: App, village: Village) -> str:
    lang = i18n.current()
    district = app.kb.gazetteer.places.get(village.place.district)
    parts = [village.name(lang)]
    if village.township:
        parts.append(village.township)
    if district:
        parts.append(district.name(lang))
    return " · ".join(parts)


def pick_village(app: App, villages: list[Village],
                 kind: type[Lookup] | type[Subscribe]) -> Reply:
    rows = tuple((Button(village_label(app, v)[:40], kind(v.id).pack()),)
                 for v in villages[:10])
    return Reply(_("Which one do you mean?"), buttons=rows)


def record_lines(app: App, record: Record) -> str:
    lang = i18n.current()
    items = "、".join(app.kb.villages.items[i].name(lang) for i in record.items
                     if i in app.kb.villages.items)
    day = record.at.astimezone(app.settings.tz).strftime("%Y-%m-%d")
    line = _("{day}: {period} — {items}. {summary}").format(
        day=day, period=period_label(record.period), items=items, summary=record.summary)
    if record.corrects:
        line += " " + _("(corrected)")
    return line


async def lookup(app: App, ctx: Context, village: Village) -> list[Reply]:
    """Next due dates from the rules and the records, then the latest records with photos."""
    lang = i18n.current()
    tz = app.settings.tz
    records = await app.disclosures.current([village.id])
    today = app.clock.now().astimezone(tz).date()
    lines = [village_label(app, village)]
    if village.example:
        lines.append(_("(Example from a historical report: the operator has not confirmed this "
                       "village's data yet.)"))
    for rule, st in next_due(app.kb.villages, village, records, today, tz):
        if st.state == "missing":
            lines.append("• " + _("{rule}: {period} was due by {due} and is not recorded as "
                                  "published.").format(rule=rule.name(lang),
                                                       period=period_label(st.period),
                                                       due=st.due.isoformat()))
        else:
            lines.append("• " + _("{rule}: next, for {period}, due by {due}.").format(
                rule=rule.name(lang), period=period_label(st.period),
                due=st.due.isoformat()))
    latest = sorted(records, key=lambda r: r.recorded_at, reverse=True)[:PHOTOS]
    if latest:
        lines.append(_("Latest disclosures recorded by the village:"))
        lines += ["• " + record_lines(app, r) for r in latest]
    else:
        lines.append(_("No disclosure has been recorded here yet."))
    if village.noticeboard:
        lines.append(_("Noticeboard: {where}").format(where=village.noticeboard))
    lines.append(_("The noticeboard itself is the official record; if something is missing, "
                   "you can report it to the township government."))
    subscribed = village.id in await app.disclosures.subscriptions(ctx.user.id)
    button = (Button(_("Stop notifications"), Unsubscribe(village.id).pack()) if subscribed
              else Button(_("Notify me of new disclosures"), Subscribe(village.id).pack()))
    replies = [Reply("\n".join(lines), buttons=((button,),))]
    for r in latest:
        if r.photo_file_id:
            replies.append(Reply(record_lines(app, r)[:1000], photo=r.photo_file_id))
    return replies


async def start_lookup(app: App, ctx: Context) -> list[Reply]:
    """From a question ("红星村下次什么时候公开") or /disclosure [village]."""
    text = " ".join(command_args(ctx)) if (ctx.msg.text or "").startswith("/") else (
        ctx.msg.text or "")
    return await _resolve(app, ctx, text, "lookup")


async def _resolve(app: App, ctx: Context, text: str, then: str) -> list[Reply]:
    villages, untracked = tracked(app, text)
    kind = Lookup if then == "lookup" else Subscribe
    if len(villages) == 1:
        await app.dialogs.clear(ctx.user.id)
        if then == "lookup":
            return await lookup(app, ctx, villages[0])
        return await _subscribe(app, ctx, villages[0])
    if villages:
        return [pick_village(app, villages, kind)]
    await app.dialogs.set(ctx.user.id, ASK_FLOW, "ask", VillageQuestion(then=then),
                          app.clock.now())
    known = list(app.kb.villages.villages.values())
    rows = tuple((Button(village_label(app, v)[:40], kind(v.id).pack()),) for v in known[:8])
    replies = []
    other = _OTHER_VILLAGE.search(text)
    if untracked or other:  # a village the bot does not track: the general rules, not a wall
        rules = app.kb.entries.get("disclosure.frequency")
        named = other.group(0) if other else ""
        if not named or named.startswith(_GENERIC):
            named = _("your village")
        text_ = _("I don't have the disclosure calendar of {village}. What the rules say for "
                  "every village:").format(village=named)
        if rules is not None:
            text_ += "\n" + i18n.pick(rules.a_zh, rules.a_en)
        text_ += "\n" + _("The village's own noticeboard is the official record: ask the "
                          "village committee, or the township government if nothing is "
                          "posted.")
        replies.append(Reply(text_))
    replies.append(Reply(_("Which village? Choose one I know, or type its name."),
                         buttons=rows))
    return replies


async def on_village_reply(app: App, ctx: Context) -> list[Reply]:
    """The answer to "which village?": a village, or else a new question."""
    assert ctx.dialog is not None
    villages, _untracked = tracked(app, ctx.msg.text or "")
    if not villages:
        await app.dialogs.clear(ctx.user.id)
        return await faq.on_text(app, ctx)
    then = str(cast(VillageQuestion, ctx.dialog.data).get("then") or "lookup")
    return await _resolve(app, ctx, ctx.msg.text or "", then)


async def _village(app: App, ctx: Context, village_id: str) -> Village | None:
    return app.kb.villages.villages.get(village_id)


async def on_lookup_button(app: App, ctx: Context, data: Lookup) -> list[Reply]:
    village = await _village(app, ctx, data.village)
    if village is None:
        return await stale_button(app, ctx)
    return await lookup(app, ctx, village)


async def on_ask_button(app: App, ctx: Context, data: AskVillage) -> list[Reply]:
    """From the menu: which village?"""
    return await _resolve(app, ctx, "", "lookup")


# --- subscriptions ------------------------------------------------------------------------
async def _subscribe(app: App, ctx: Context, village: Village) -> list[Reply]:
    await app.disclosures.subscribe(ctx.user.id, village.id, app.clock.now())
    return [Reply(_("Subscribed: I will tell you when {village} records a disclosure. "
                    "/unsubscribe stops it.").format(village=village.name(i18n.current())))]


async def subscribe_from_text(app: App, ctx: Context) -> list[Reply]:
    """"订阅火焰村" typed as a message."""
    return await _resolve(app, ctx, ctx.msg.text or "", "subscribe")


async def on_subscribe(app: App, ctx: Context) -> list[Reply]:
    """/subscribe [village]."""
    return await _resolve(app, ctx, " ".join(command_args(ctx)), "subscribe")


async def on_subscribe_button(app: App, ctx: Context, data: Subscribe) -> list[Reply]:
    village = await _village(app, ctx, data.village)
    if village is None:
        return await stale_button(app, ctx)
    return await _subscribe(app, ctx, village)


async def on_unsubscribe(app: App, ctx: Context) -> list[Reply]:
    """/unsubscribe: one button per subscription."""
    ids = await app.disclosures.subscriptions(ctx.user.id)
    villages = [app.kb.villages.villages[i] for i in ids
                if i in app.kb.villages.villages]
    if not villages:
        return [Reply(_("You have no subscriptions."))]
    rows = tuple((Button(_("Stop: {village}").format(village=v.name(i18n.current())),
                         Unsubscribe(v.id).pack()),) for v in villages)
    return [Reply(_("Which notifications should stop?"), buttons=rows)]


async def on_unsubscribe_button(app: App, ctx: Context, data: Unsubscribe) -> list[Reply]:
    village = app.kb.villages.villages.get(data.village)
    if village is not None and await app.disclosures.unsubscribe(ctx.user.id, data.village):
        return [Reply(_("You will no longer be told of {village}'s disclosures.").format(
            village=village.name(i18n.current())))]
    return [Reply(_("You were not subscribed to that village."))]


FEATURE = Feature(
    "disclosure",
    commands={"disclosure": start_lookup, "subscribe": on_subscribe,
              "unsubscribe": on_unsubscribe},
    buttons=(on_button(Lookup, on_lookup_button), on_button(AskVillage, on_ask_button),
             on_button(Subscribe, on_subscribe_button),
             on_button(Unsubscribe, on_unsubscribe_button)),
    dialogs={ASK_FLOW: on_village_reply},
    flows={"disclosure": FlowStart(start_lookup, show_answer=False),
           "disclosure_subscribe": FlowStart(subscribe_from_text, show_answer=False)},
)
