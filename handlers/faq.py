"""Free-text questions answered from the knowledge base: answer, ask back, or decline."""
from __future__ import annotations

import dataclasses
import re
from typing import TypedDict, cast

from core import i18n
from core.callbacks import CallbackData
from core.i18n import _
from core.messages import Button, Reply
from handlers import services
from handlers.context import App, Context, FlowStart, back_to_menu, main_menu, stale_button
from handlers.router import Feature, on_button
from knowledge.base import Decision, Entry, KnowledgeBase
from knowledge.pinyin import looks_pinyin
from knowledge.places import Place, PlaceMatch
from knowledge.text import has_content

PLACE_FLOW = "place"
LABEL_CHARS = 40
MAX_QUESTION_CHARS = 1000  # longer texts are not questions; ranking them helps nobody
MAX_SUGGESTED = 2  # entries offered under a decline
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]+")


class EntryButton(CallbackData, prefix="e"):
    """A knowledge-base entry (menu item, clarification, related question)."""

    entry: str


class PlaceButton(CallbackData, prefix="p"):
    """The district chosen for a place-dependent entry."""

    entry: str
    place: str


class NoneOfThese(CallbackData, prefix="nx"):
    """"None of these" under a clarifying question (its feedback row, 0 when none)."""

    row: int


class Vote(CallbackData, prefix="fb"):
    """👍 / 👎 under an answer: its feedback row."""

    row: int
    vote: str  # up | down


class PlaceQuestion(TypedDict):
    """Dialog data while the bot waits for a district ("which district or county?")."""

    entry: str


def entry_label(kb: KnowledgeBase, entry: Entry) -> str:
    """A short button label for an entry: its own label, its menu label, else its first
    phrasing; English starts with a capital, and a long label is cut between words."""
    label = i18n.pick(entry.label_zh, entry.label_en)
    for topic in kb.menu:
        for eid, zh, en in topic.items:
            if not label and eid == entry.id:
                label = i18n.pick(zh, en)
    if not label:
        label = i18n.pick(entry.q_zh[0] if entry.q_zh else entry.id,
                          entry.q_en[0] if entry.q_en else entry.id)
    return shorten(label[:1].upper() + label[1:])


def shorten(label: str, limit: int = LABEL_CHARS) -> str:
    """At most `limit` characters; a Latin text is cut at a space, never inside a word."""
    if len(label) <= limit:
        return label
    cut = label[: limit - 1]
    if " " in cut and label[limit - 1] != " ":
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def office_text(place: Place) -> str:
    """The registry's operator fields, or how to confirm them when they are not recorded."""
    reg = place.registry
    labels = {"address": _("Address"), "phone": _("Phone"), "hours": _("Opening hours"),
              "appointment": _("Appointments")}
    lines = [f"{labels[k]}: {reg[k]}" for k in labels if reg.get(k)]
    if not lines:
        lines.append(_("The address, phone number and opening hours of this registry are not "
                       "recorded here yet. Please confirm them by calling 12345 or asking the "
                       "{place} civil affairs bureau.").format(place=place.name(i18n.current())))
    elif len(lines) < len(labels):
        lines.append(_("Before you go, you can confirm these by calling 12345 or asking the "
                       "{place} civil affairs bureau.").format(place=place.name(i18n.current())))
    return "\n".join(lines)


def entry_text(kb: KnowledgeBase, entry: Entry, place: PlaceMatch | None) -> str:
    """The answer of an entry in the current language, with place details filled in."""
    text = i18n.pick(entry.a_zh, entry.a_en)
    if place is not None:
        lang = i18n.current()
        text = text.replace("{place}", place.place.name(lang))
        text = text.replace("{office}", office_text(place.place))
        extras = [i18n.pick(e.a_zh, e.a_en) for e in kb.entries.values()
                  if place.place.id in e.places and e.topic == "community"]
        if entry.needs_place == "any" and extras:
            text += "\n\n" + "\n\n".join(extras)
        if place.former:
            note = i18n.pick(place.place.former_note_zh, place.place.former_note_en)
            text = f"{note}\n{text}" if note else text
    return text.strip()


def district_buttons(kb: KnowledgeBase, entry: Entry) -> tuple[tuple[Button, ...], ...]:
    lang = i18n.current()
    buttons = [Button(p.name(lang), PlaceButton(entry.id, p.id).pack())
               for p in kb.gazetteer.districts()]
    return tuple(tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3))


def related_buttons(kb: KnowledgeBase, entry: Entry,
                    runners_up: tuple[Entry, ...] = ()) -> tuple[tuple[Button, ...], ...]:
    """The questions close to this one (the ranking's runners-up first), then the menu."""
    ids = [e.id for e in runners_up] + [s for s in entry.see_also if s in kb.entries]
    ids = list(dict.fromkeys(i for i in ids if i != entry.id))[:3]
    rows = tuple((Button(entry_label(kb, kb.entries[i]), EntryButton(i).pack()),) for i in ids)
    return rows + ((back_to_menu(),),)


def fallback_reply(kb: KnowledgeBase, suggested: tuple[Entry, ...] = ()) -> Reply:
    """The decline: what the bot can help with and 12345; with the entries that came close
    (`suggested`) as buttons first, since the words may have missed a question we answer."""
    text = _("Sorry, I can't answer that one. I can help with marriage and divorce "
             "registration, social assistance (dibao, temporary assistance), elderly "
             "care, funerals and other civil affairs, village-affairs disclosure, "
             "community services and volunteering. For anything else, call the 12345 "
             "government service hotline (24 hours a day).")
    if not suggested:
        return Reply(text, buttons=main_menu(kb))
    rows = tuple((Button(entry_label(kb, e), EntryButton(e.id).pack()),) for e in suggested)
    return Reply(_("I am not sure I understood. Did you mean one of these?") + "\n\n" + text,
                 buttons=rows + main_menu(kb))


def suggestions(kb: KnowledgeBase, decision: Decision) -> tuple[Entry, ...]:
    """At most two entries a declined question came close to: ours, needing no place, and
    above `threshold_suggest` (ranking.yaml)."""
    bar = kb.ranking.get("threshold_suggest", 1.0)
    return tuple(e for e, s in decision.candidates
                 if s >= bar and not e.out_of_scope and not e.needs_place)[:MAX_SUGGESTED]


def render(kb: KnowledgeBase, decision: Decision, row: int = 0) -> list[Reply]:
    """Turn a ranking decision into replies (shared by the chat and `bot.py ask`). With the
    question's feedback `row`, answers carry 👍/👎 and "none of these" is recorded."""
    entry = decision.entry
    if decision.kind == "empty":
        return [Reply(_("Please type your question in words, for example: What do I need to "
                        "register a marriage?"))]
    if decision.kind == "fallback" or entry is None:
        return [fallback_reply(kb, suggestions(kb, decision))]
    if decision.kind == "out_of_scope":
        return [Reply(entry_text(kb, entry, None))]
    if decision.kind == "clarify":
        rows = tuple((Button(entry_label(kb, e), EntryButton(e.id).pack()),)
                     for e, _s in decision.candidates)
        rows += ((Button(_("None of these"), NoneOfThese(row).pack()),),)
        return [Reply(_("Which of these do you mean?"), buttons=rows)]
    if decision.kind == "need_place":
        return [Reply(_("Which district or county? Choose below or type its name."),
                      buttons=district_buttons(kb, entry))]
    place = kb.place_for(entry, decision.places)
    runners_up = tuple(e for e, _s in decision.candidates)
    text = entry_text(kb, entry, place)
    if decision.also:  # several questions in one message: each answer under its question
        sections = [(entry, text)] + [(d.entry, entry_text(kb, d.entry,
                                                           kb.place_for(d.entry, d.places)))
                                      for d in decision.also if d.entry is not None]
        text = "\n\n".join(i18n.pick(f"【{entry_label(kb, e)}】\n{t}",
                                     f"{entry_label(kb, e)}:\n{t}") for e, t in sections)
    buttons = related_buttons(kb, entry, runners_up)
    if row:
        buttons = ((Button("👍", Vote(row, "up").pack()), Button("👎", Vote(row, "down").pack())),
                   *buttons)
    return [Reply(text, buttons=buttons)]


def decide(kb: KnowledgeBase, text: str, lang: str | None = None) -> Decision:
    """Rank a question, or say it had no words in it."""
    if not has_content(text):
        return Decision("empty", lang or i18n.current())
    return kb.decide(text, lang)


_SUBSCRIBE = re.compile(r"订阅|关注|提醒我|通知我|有新的?公开.{0,4}告诉我|subscribe|notify me|"
                        r"let me know|alert me", re.IGNORECASE)


def _village_flow(app: App, decision: Decision, text: str) -> FlowStart | None:
    """A question naming a tracked village about its disclosures goes to that village's
    record ("火焰村的账目什么时候公布"); "订阅火焰村" subscribes."""
    villages = app.kb.villages.villages
    if not any(pm.place.id in villages for pm in decision.places):
        return None
    if _SUBSCRIBE.search(text):
        return app.flows.get("disclosure_subscribe")
    about = "disclosure" in app.kb.concepts.present(text) or (
        decision.entry is not None and decision.entry.topic == "disclosure")
    return app.flows.get("disclosure") if about else None


def place_menu(kb: KnowledgeBase, decision: Decision, text: str) -> Reply | None:
    """A message that is only a place name ("星沙"): what the bot knows about that place."""
    if has_content(kb.gazetteer.strip(text)):
        return None
    places = [pm.place for pm in decision.places if pm.place.kind == "district"]
    if not places:
        return None
    place, lang = places[0], i18n.current()
    rows: list[tuple[Button, ...]] = []
    for eid in ("marriage.registry_local", "bureau.office"):
        if eid in kb.entries:
            rows.append((Button(entry_label(kb, kb.entries[eid]),
                                PlaceButton(eid, place.id).pack()),))
    rows.append((Button(_("Community services"), services.DistrictListing(place.id).pack()),))
    return Reply(_("{place}: what would you like to know? Choose below, or type your "
                   "question.").format(place=place.name(lang)), buttons=tuple(rows))


def reply_language(text: str, chosen: str) -> str:
    """The language a question is answered in: the one it is written in (an English question
    on WeChat, which tells no language, gets English; a Chinese one, Chinese, whatever /lang
    says; pinyin, Chinese), and the user's own (`chosen`) for text in neither language (digits,
    emoji) or a word too short to tell ("ok", "hi")."""
    if _CJK.search(text):
        return "zh"
    words = _LATIN.findall(text)
    if not words or (len(words) == 1 and len(words[0]) <= 3):
        return chosen
    return "zh" if looks_pinyin(text) else "en"


async def on_text(app: App, ctx: Context) -> list[Reply]:
    """A free-text question, answered in the language it is written in."""
    text = ctx.msg.text or ""
    lang = reply_language(text, ctx.lang)
    with i18n.use(lang):
        return await _on_question(app, dataclasses.replace(ctx, lang=lang), text)


async def _on_question(app: App, ctx: Context, text: str) -> list[Reply]:
    if len(text) > MAX_QUESTION_CHARS:
        return [Reply(_("That message is too long for me. Please ask one question in a "
                        "sentence or two."))]
    decision = decide(app.kb, text, ctx.lang)
    nearby, stype = services.wants_nearby(app, decision, text)
    if nearby:
        return await services.start_nearby(app, ctx, stype)
    listed = services.directory_answer(app, decision, text)
    if listed is not None:
        return listed
    village_flow = _village_flow(app, decision, text)
    if village_flow is not None:
        return await village_flow.handler(app, ctx)
    if decision.kind == "fallback":
        only_place = place_menu(app.kb, decision, text)
        if only_place is not None:
            return [only_place]
    entry = decision.entry
    start = app.flows.get(entry.flow or "") if entry is not None else None
    if decision.kind == "answer" and entry is not None and start is not None:
        first = [Reply(entry_text(app.kb, entry, None))] if start.show_answer else []
        return first + await start.handler(app, ctx)
    if decision.kind == "need_place" and decision.entry is not None:
        await app.dialogs.set(ctx.user.id, PLACE_FLOW, "ask_place",
                              PlaceQuestion(entry=decision.entry.id), app.clock.now())
    return render(app.kb, decision, await _keep_for_review(app, decision, text))


async def _keep_for_review(app: App, decision: Decision, text: str) -> int:
    """Declined questions, clarifications and answers are kept (masked, no user id) for the
    knowledge base's review; returns the row that 👍/👎 or "none of these" will mark."""
    kind = {"fallback": "declined", "clarify": "clarify", "answer": "answer"}.get(decision.kind)
    if kind is None:
        return 0
    entry = decision.entry.id if decision.entry and kind == "answer" else None
    return await app.feedback.add(kind, text, entry, decision.lang, app.clock.now())


async def on_place_reply(app: App, ctx: Context) -> list[Reply]:
    """The user was asked which district: a typed place answers it, anything else is new."""
    await app.dialogs.clear(ctx.user.id)
    data = cast(PlaceQuestion, ctx.dialog.data) if ctx.dialog else None
    entry = app.kb.entries.get(str(data.get("entry"))) if data else None
    places = tuple(app.kb.gazetteer.find(ctx.msg.text or ""))
    place = app.kb.place_for(entry, places) if entry else None
    if entry is None or place is None:
        return await on_text(app, ctx)
    return [Reply(entry_text(app.kb, entry, place),
                  buttons=related_buttons(app.kb, entry))]


async def on_entry_button(app: App, ctx: Context, data: EntryButton) -> list[Reply]:
    """A button naming an entry (menu item, clarification, related question)."""
    entry = app.kb.entries.get(data.entry)
    if entry is None:
        return await stale_button(app, ctx)
    decision = Decision("need_place" if entry.needs_place else "answer", ctx.lang, entry, 1.0)
    if entry.needs_place:
        await app.dialogs.set(ctx.user.id, PLACE_FLOW, "ask_place",
                              PlaceQuestion(entry=entry.id), app.clock.now())
    return render(app.kb, decision)


async def on_place_button(app: App, ctx: Context, data: PlaceButton) -> list[Reply]:
    """The district chosen for a place-dependent entry."""
    entry = app.kb.entries.get(data.entry)
    place = app.kb.gazetteer.places.get(data.place)
    if entry is None or place is None or not entry.needs_place:
        return await stale_button(app, ctx)
    await app.dialogs.clear(ctx.user.id)
    match = PlaceMatch(place, place.name_zh, False)
    return [Reply(entry_text(app.kb, entry, match),
                  buttons=related_buttons(app.kb, entry))]


async def on_none_of_these(app: App, ctx: Context, data: NoneOfThese) -> list[Reply]:
    """The question was none of the ones offered: say what the bot can do, and where to ask."""
    if data.row:
        await app.feedback.none_of_these(data.row)
    return [fallback_reply(app.kb)]


async def on_vote(app: App, ctx: Context, data: Vote) -> list[Reply]:
    """👍 / 👎 under an answer: kept for the clerks who edit the knowledge base."""
    if data.vote not in ("up", "down") or not await app.feedback.vote(data.row, data.vote):
        return await stale_button(app, ctx)
    if data.vote == "up":
        return [Reply(_("Thank you for telling us."))]
    return [Reply(_("Sorry this did not help. Your question is passed on to the people who "
                    "keep my answers up to date. For a person to talk to now, call the 12345 "
                    "government service hotline (24 hours)."))]


async def on_cancel(app: App, ctx: Context) -> list[Reply]:
    """Leave whatever flow the user is in."""
    had = ctx.dialog is not None
    await app.dialogs.clear(ctx.user.id)
    if not had:
        return [Reply(_("There is nothing to cancel."), buttons=main_menu(app.kb))]
    # The flow may have shown a share-number/location keyboard: take it away, then the menu.
    return [Reply(_("Cancelled. Nothing from that step was stored."), clear_keyboard=True),
            Reply(_("Choose a topic:"), buttons=main_menu(app.kb))]


FEATURE = Feature(
    "faq",
    commands={"cancel": on_cancel},
    buttons=(on_button(EntryButton, on_entry_button), on_button(PlaceButton, on_place_button),
             on_button(NoneOfThese, on_none_of_these), on_button(Vote, on_vote)),
    dialogs={PLACE_FLOW: on_place_reply},
    on_text=on_text,
)
