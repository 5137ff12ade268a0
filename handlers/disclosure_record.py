"""Village cadres record a disclosure in a short conversation (village -> items -> period ->
noticeboard photo -> one-line summary -> confirm), may correct it within a day, and see their
area's record as a chart. Role and area are checked on the server at every step."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import TYPE_CHECKING

from core import i18n
from core.i18n import _
from core.messages import Button, Document, Reply
from handlers.areas import covers
from handlers.disclosure import record_lines, village_label
from knowledge.villages import Village, period_of, shift

if TYPE_CHECKING:
    from handlers.core import Assistant, Context

FLOW = "disclose"
MAX_SUMMARY = 200
CORRECT_WITHIN = timedelta(days=1)


async def my_villages(assistant: Assistant, ctx: Context) -> list[Village]:
    """The tracked villages inside the user's cadre areas (administrators: all)."""
    book = assistant.kb.villages
    if ctx.user.role == "admin":
        return list(book.villages.values())
    if ctx.user.role != "cadre":
        return []
    areas = await assistant.users.areas_of(ctx.user.id)
    watch = assistant.reminders.disclosure
    assert watch is not None
    return [v for v in book.villages.values()
            if any(covers(a.level, a.area_path, watch.area(v)) for a in areas)]


def period_choices(today: date) -> list[str]:
    month, quarter = period_of(today, "month"), period_of(today, "quarter")
    return [month, shift(month, -1), quarter, shift(quarter, -1)]


def ask_items(assistant: Assistant, village: Village, chosen: list[str]) -> Reply:
    lang = i18n.current()
    rows = tuple((Button(("✅ " if i in chosen else "▫️ ") + item.name(lang), f"di:{i}"),)
                 for i, item in assistant.kb.villages.items.items())
    rows += ((Button(_("Done"), "di:done"),),)
    return Reply(_("Recording a disclosure for {village}.\nWhich items were published? Choose one "
                   "or more, then press Done. (/cancel stops.)").format(
                       village=village.name(lang)), buttons=rows)


def ask_period(today: date) -> Reply:
    rows = tuple((Button(p, f"dp:{p}"),) for p in period_choices(today))
    return Reply(_("For which period?"), buttons=rows)


def ask_photo() -> Reply:
    return Reply(_("Send a photo of the noticeboard, or press Skip."),
                 buttons=((Button(_("Skip"), "dx:skip"),),))


async def start(assistant: Assistant, ctx: Context) -> list[Reply]:
    """/disclose: only cadres, only for villages in their area."""
    villages = await my_villages(assistant, ctx)
    if ctx.user.role not in ("cadre", "admin"):
        return [Reply(_("Only the village's cadres can record a disclosure. To see what a "
                        "village published, ask e.g. 红星村最近公开了什么."))]
    if not villages:
        return [Reply(_("None of the villages I track lies in your area."))]
    if len(villages) == 1:
        return await _begin(assistant, ctx, villages[0], {})
    rows = tuple((Button(village_label(assistant, v)[:40], f"dv:{v.id}"),) for v in villages[:20])
    return [Reply(_("Which village?"), buttons=rows)]


async def _begin(assistant: Assistant, ctx: Context, village: Village,
                 data: dict) -> list[Reply]:
    data = {"village": village.id, "items": [], **data}
    await assistant.dialogs.set(ctx.user.id, FLOW, "items", data, assistant.clock.now())
    return [ask_items(assistant, village, list(data["items"]))]


async def _village_allowed(assistant: Assistant, ctx: Context, vid: str) -> Village | None:
    return next((v for v in await my_villages(assistant, ctx) if v.id == vid), None)


async def on_village_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`dv:<village>`: start recording for it (from the chooser or an overdue reminder)."""
    village = await _village_allowed(assistant, ctx, (ctx.msg.payload or "").partition(":")[2])
    if village is None:
        return [Reply(_("You cannot record disclosures for that village."))]
    return await _begin(assistant, ctx, village, {})


async def _state(assistant: Assistant, ctx: Context, step: str) -> dict | None:
    if ctx.dialog is None or ctx.dialog.flow != FLOW or ctx.dialog.step != step:
        return None
    data = dict(ctx.dialog.data)
    if await _village_allowed(assistant, ctx, str(data.get("village"))) is None:
        return None  # the area changed meanwhile: checked again at every step
    return data


async def on_item_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    from handlers.core import stale_button

    data = await _state(assistant, ctx, "items")
    choice = (ctx.msg.payload or "").partition(":")[2]
    book = assistant.kb.villages
    if data is None or (choice not in book.items and choice != "done"):
        return await stale_button(assistant, ctx)
    village = book.villages[data["village"]]
    chosen = [i for i in data["items"] if i in book.items]
    if choice == "done":
        if not chosen:
            return [Reply(_("Please choose at least one item.")),
                    ask_items(assistant, village, chosen)]
        await assistant.dialogs.set(ctx.user.id, FLOW, "period", data, assistant.clock.now())
        return [ask_period(assistant.clock.now().astimezone(assistant.settings.tz).date())]
    data["items"] = [i for i in book.items if (i in chosen) != (i == choice)]
    await assistant.dialogs.set(ctx.user.id, FLOW, "items", data, assistant.clock.now())
    return [ask_items(assistant, village, data["items"])]


async def on_period_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    from handlers.core import stale_button

    data = await _state(assistant, ctx, "period")
    key = (ctx.msg.payload or "").partition(":")[2]
    today = assistant.clock.now().astimezone(assistant.settings.tz).date()
    if data is None or key not in period_choices(today):
        return await stale_button(assistant, ctx)
    data["period"] = key
    await assistant.dialogs.set(ctx.user.id, FLOW, "photo", data, assistant.clock.now())
    return [ask_photo()]


async def on_skip_photo(assistant: Assistant, ctx: Context) -> list[Reply]:
    from handlers.core import stale_button

    data = await _state(assistant, ctx, "photo")
    if data is None:
        return await stale_button(assistant, ctx)
    data["photo"] = None
    await assistant.dialogs.set(ctx.user.id, FLOW, "summary", data, assistant.clock.now())
    return [Reply(_("One line: what was published? (at most 200 characters)"))]


async def on_dialog(assistant: Assistant, ctx: Context) -> list[Reply]:
    """Typed text, a photo, or anything else while recording."""
    assert ctx.dialog is not None
    step = ctx.dialog.step
    data = await _state(assistant, ctx, step)
    if data is None:
        await assistant.dialogs.clear(ctx.user.id)
        return [Reply(_("You cannot record disclosures for that village."))]
    if step == "photo" and ctx.msg.photo:
        data["photo"] = ctx.msg.photo
        await assistant.dialogs.set(ctx.user.id, FLOW, "summary", data, assistant.clock.now())
        return [Reply(_("Photo received. One line: what was published? (at most 200 "
                        "characters)"))]
    if step == "summary" and ctx.msg.text and ctx.msg.text.strip():
        summary = " ".join(ctx.msg.text.split())
        if len(summary) > MAX_SUMMARY:
            return [Reply(_("That is longer than 200 characters; please shorten it."))]
        data["summary"] = summary
        await assistant.dialogs.set(ctx.user.id, FLOW, "confirm", data, assistant.clock.now())
        return [_summary(assistant, data)]
    prompts = {"items": lambda: ask_items(assistant, assistant.kb.villages.villages[
        data["village"]], list(data["items"])),
        "period": lambda: ask_period(assistant.clock.now().astimezone(
            assistant.settings.tz).date()),
        "photo": ask_photo,
        "summary": lambda: Reply(_("One line: what was published? (at most 200 characters)")),
        "confirm": lambda: _summary(assistant, data)}
    return [Reply(_("Please use the buttons, or type what is asked.")), prompts[step]()]


def _summary(assistant: Assistant, data: dict) -> Reply:
    lang = i18n.current()
    book = assistant.kb.villages
    items = "、".join(book.items[i].name(lang) for i in data["items"] if i in book.items)
    text = _("Please check:\nVillage: {village}\nPeriod: {period}\nItems: {items}\nPhoto: "
             "{photo}\nSummary: {summary}").format(
        village=book.villages[data["village"]].name(lang), period=data["period"], items=items,
        photo=_("yes") if data.get("photo") else _("no"), summary=data["summary"])
    return Reply(text, buttons=((Button(_("Confirm"), "dk:"), Button(_("Cancel"), "vq:")),))


async def on_confirm(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`dk:` store the record (a correction supersedes the earlier one), tell subscribers."""
    from handlers.core import stale_button

    data = await _state(assistant, ctx, "confirm")
    if data is None:
        return await stale_button(assistant, ctx)
    await assistant.dialogs.clear(ctx.user.id)
    record = await assistant.disclosures.record(
        data["village"], data["period"], tuple(data["items"]), data["summary"],
        data.get("photo"), ctx.user.id, f"{ctx.user.channel}:{ctx.user.external_id}",
        assistant.clock.now(), corrects=data.get("corrects"))
    village = assistant.kb.villages.villages[data["village"]]
    told = await _tell_subscribers(assistant, village, record)
    return [Reply(_("Recorded (no. {id}). {count} subscribers were notified. You can correct it "
                    "within a day.").format(id=record.id, count=told),
                  buttons=((Button(_("Correct it"), f"dc:{record.id}"),),))]


async def _tell_subscribers(assistant: Assistant, village: Village, record) -> int:  # type: ignore[no-untyped-def]
    told = 0
    for uid in await assistant.disclosures.subscribers(village.id):
        user = await assistant.users.get_by_id(uid)
        if user is None:
            continue
        with i18n.use(user.language or i18n.language_from_code(user.language_code)):
            text = _("{village} recorded a disclosure:").format(
                village=village.name(i18n.current())) + "\n" + record_lines(assistant, record)
            replies = [Reply(text[:1000], photo=record.photo_file_id)]
        if await assistant.outbox.send(user.channel, user.external_id, replies) == "sent":
            told += 1
    return told


async def on_correct(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`dc:<record>`: the same cadre, within a day, records a correction (the old one is kept)."""
    raw = (ctx.msg.payload or "").partition(":")[2]
    record = await assistant.disclosures.get(int(raw)) if raw.isdigit() and len(raw) < 12 else None
    now = assistant.clock.now()
    if (record is None or record.recorded_by != ctx.user.id or record.superseded_by is not None
            or now - record.at > CORRECT_WITHIN):
        return [Reply(_("That record can no longer be corrected (only by whoever recorded it, "
                        "within a day)."))]
    village = await _village_allowed(assistant, ctx, record.village_id)
    if village is None:
        return [Reply(_("You cannot record disclosures for that village."))]
    return await _begin(assistant, ctx, village, {"items": list(record.items),
                                                  "corrects": record.id})


# --- the area's record as a chart ----------------------------------------------------------
async def on_chart(assistant: Assistant, ctx: Context) -> list[Reply]:
    """/disclosures: on time / late / missing per month for the last 12 months, PNG and CSV."""
    from schedules import charts
    from schedules.disclosure import monthly_counts

    if ctx.user.role not in ("cadre", "admin"):
        return [Reply(_("Only cadres can see the disclosure record of an area."))]
    villages = await my_villages(assistant, ctx)
    if not villages:
        return [Reply(_("None of the villages I track lies in your area."))]
    watch = assistant.reminders.disclosure
    assert watch is not None
    today = assistant.clock.now().astimezone(assistant.settings.tz).date()
    months = charts.last_months(today, 12)
    confirmed = [v for v in villages if not v.example]
    counts = monthly_counts(await watch.all_statuses(today, confirmed), months)
    png = charts.render(counts, _("Village-affairs disclosure, {n} villages").format(
        n=len(confirmed)), {"on_time": _("on time"), "late": _("late"),
                           "missing": _("missing")})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([_("Month"), _("on time"), _("late"), _("missing")])
    for month in months:
        c = counts[month]
        writer.writerow([month, c["on_time"], c["late"], c["missing"]])
    doc = Document(f"disclosures-{today.isoformat()}.csv", buf.getvalue().encode("utf-8-sig"),
                   "text/csv")
    return [Reply(_("Disclosures due each month in your area (last 12 months)."), image=png),
            Reply(_("The same figures as a spreadsheet."), document=doc)]


COMMANDS = {"disclose": start, "disclosures": on_chart}
BUTTONS = {"dv": on_village_button, "di": on_item_button, "dp": on_period_button,
           "dx": on_skip_photo, "dk": on_confirm, "dc": on_correct}
DIALOGS = {FLOW: on_dialog}
