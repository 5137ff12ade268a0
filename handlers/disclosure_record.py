"""Village cadres record a disclosure in a short conversation (village -> items -> period ->
noticeboard photo -> one-line summary -> confirm), may correct it within a day, and see their
area's record as a chart. Role and area are checked on the server at every step."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, timedelta
from typing import TypedDict, cast

from core import i18n
from core.areas import AreaPath
from core.callbacks import CallbackData
from core.clean import clean_line
from core.i18n import _
from core.messages import Button, Document, Reply
from handlers.context import App, Context, actor, stale_button
from handlers.disclosure import record_lines, village_label
from handlers.router import Feature, on_button
from handlers.volunteer_steps import QuitFlow
from knowledge.villages import Village, period_label, period_of, shift
from schedules import charts
from schedules.disclosure import monthly_counts
from schedules.messages import RecordDisclosure
from storage.disclosures import Record

FLOW = "disclose"
MAX_SUMMARY = 200
CORRECT_WITHIN = timedelta(days=1)


class DisclosureDraft(TypedDict, total=False):
    """The record's dialog data, filled in step by step."""

    village: str
    items: list[str]
    period: str
    photo: str | None
    summary: str
    corrects: int  # the record this one corrects


class Item(CallbackData, prefix="di"):
    item: str  # an item id, or "done"


class Period(CallbackData, prefix="dp"):
    period: str


class SkipPhoto(CallbackData, prefix="dx"):
    what: str  # "skip"


class ConfirmRecord(CallbackData, prefix="dk"):
    """Store the record."""


class Correct(CallbackData, prefix="dc"):
    record: int


async def my_villages(app: App, ctx: Context) -> list[Village]:
    """The tracked villages inside the user's cadre areas (administrators: all)."""
    book = app.kb.villages
    if ctx.user.role == "admin":
        return list(book.villages.values())
    if ctx.user.role != "cadre":
        return []
    areas = [AreaPath.parse(a.area_path) for a in await app.users.areas_of(ctx.user.id)]
    return [v for v in book.villages.values()
            if any(a.covers(app.disclosure_watch.area(v)) for a in areas)]


def period_choices(today: date) -> list[str]:
    month, quarter = period_of(today, "month"), period_of(today, "quarter")
    return [month, shift(month, -1), quarter, shift(quarter, -1)]


def ask_items(app: App, village: Village, chosen: list[str]) -> Reply:
    lang = i18n.current()
    rows = tuple((Button(("✅ " if i in chosen else "▫️ ") + item.name(lang), Item(i).pack()),)
                 for i, item in app.kb.villages.items.items())
    rows += ((Button(_("Done"), Item("done").pack()),),)
    return Reply(_("Recording a disclosure for {village}.\nWhich items were published? Choose one "
                   "or more, then press Done. (/cancel stops.)").format(
                       village=village.name(lang)), buttons=rows, multi=True)


def ask_period(today: date) -> Reply:
    rows = tuple((Button(period_label(p), Period(p).pack()),) for p in period_choices(today))
    return Reply(_("For which period?"), buttons=rows)


def ask_photo() -> Reply:
    return Reply(_("Send a photo of the noticeboard, or press Skip."),
                 buttons=((Button(_("Skip"), SkipPhoto("skip").pack()),),))


async def start(app: App, ctx: Context) -> list[Reply]:
    """/disclose: only cadres, only for villages in their area."""
    villages = await my_villages(app, ctx)
    if ctx.user.role not in ("cadre", "admin"):
        return [Reply(_("Only the village's cadres can record a disclosure. To see what a "
                        "village published, ask e.g. 红星村最近公开了什么."))]
    if not villages:
        return [Reply(_("None of the villages I track lies in your area."))]
    if len(villages) == 1:
        return await _begin(app, ctx, villages[0], {})
    rows = tuple((Button(village_label(app, v)[:40], RecordDisclosure(v.id).pack()),)
                 for v in villages[:20])
    return [Reply(_("Which village?"), buttons=rows)]


async def _begin(app: App, ctx: Context, village: Village,
                 extra: DisclosureDraft) -> list[Reply]:
    data = DisclosureDraft(village=village.id, items=[])
    data.update(extra)
    await app.dialogs.set(ctx.user.id, FLOW, "items", data, app.clock.now())
    return [ask_items(app, village, list(data["items"]))]


async def _village_allowed(app: App, ctx: Context, vid: str) -> Village | None:
    return next((v for v in await my_villages(app, ctx) if v.id == vid), None)


async def on_village_button(app: App, ctx: Context, data: RecordDisclosure) -> list[Reply]:
    """Start recording for a village (from the chooser or an overdue reminder)."""
    village = await _village_allowed(app, ctx, data.village)
    if village is None:
        return [Reply(_("You cannot record disclosures for that village."))]
    return await _begin(app, ctx, village, {})


async def _state(app: App, ctx: Context, step: str) -> DisclosureDraft | None:
    if ctx.dialog is None or ctx.dialog.flow != FLOW or ctx.dialog.step != step:
        return None
    data = cast(DisclosureDraft, dict(ctx.dialog.data))
    if await _village_allowed(app, ctx, str(data.get("village"))) is None:
        return None  # the area changed meanwhile: checked again at every step
    return data


async def on_item_button(app: App, ctx: Context, button: Item) -> list[Reply]:
    data = await _state(app, ctx, "items")
    choice = button.item
    book = app.kb.villages
    if data is None or (choice not in book.items and choice != "done"):
        return await stale_button(app, ctx)
    village = book.villages[data["village"]]
    chosen = [i for i in data["items"] if i in book.items]
    if choice == "done":
        if not chosen:
            return [Reply(_("Please choose at least one item.")),
                    ask_items(app, village, chosen)]
        await app.dialogs.set(ctx.user.id, FLOW, "period", data, app.clock.now())
        return [ask_period(app.clock.now().astimezone(app.settings.tz).date())]
    data["items"] = [i for i in book.items if (i in chosen) != (i == choice)]
    await app.dialogs.set(ctx.user.id, FLOW, "items", data, app.clock.now())
    return [ask_items(app, village, data["items"])]


async def on_period_button(app: App, ctx: Context, button: Period) -> list[Reply]:
    data = await _state(app, ctx, "period")
    key = button.period
    today = app.clock.now().astimezone(app.settings.tz).date()
    if data is None or key not in period_choices(today):
        return await stale_button(app, ctx)
    data["period"] = key
    await app.dialogs.set(ctx.user.id, FLOW, "photo", data, app.clock.now())
    return [ask_photo()]


async def on_skip_photo(app: App, ctx: Context, button: SkipPhoto) -> list[Reply]:
    data = await _state(app, ctx, "photo")
    if data is None:
        return await stale_button(app, ctx)
    data["photo"] = None
    await app.dialogs.set(ctx.user.id, FLOW, "summary", data, app.clock.now())
    return [Reply(_("One line: what was published? (at most 200 characters)"))]


async def on_dialog(app: App, ctx: Context) -> list[Reply]:
    """Typed text, a photo, or anything else while recording."""
    assert ctx.dialog is not None
    step = ctx.dialog.step
    data = await _state(app, ctx, step)
    if data is None:
        await app.dialogs.clear(ctx.user.id)
        return [Reply(_("You cannot record disclosures for that village."))]
    if step == "photo" and ctx.msg.photo:
        data["photo"] = ctx.msg.photo
        if ctx.msg.photo_data:  # the picture itself, so that every channel can show it
            data["photo"] = await app.disclosures.pictures.save(ctx.msg.photo_data,
                                                                app.clock.now())
        await app.dialogs.set(ctx.user.id, FLOW, "summary", data, app.clock.now())
        return [Reply(_("Photo received. One line: what was published? (at most 200 "
                        "characters)"))]
    if step == "summary" and clean_line(ctx.msg.text):
        summary = clean_line(ctx.msg.text)
        if len(summary) > MAX_SUMMARY:
            return [Reply(_("That is longer than 200 characters; please shorten it."))]
        data["summary"] = summary
        await app.dialogs.set(ctx.user.id, FLOW, "confirm", data, app.clock.now())
        return [_summary(app, data)]
    village = app.kb.villages.villages[data["village"]]
    today = app.clock.now().astimezone(app.settings.tz).date()
    prompts: dict[str, Callable[[], Reply]] = {
        "items": lambda: ask_items(app, village, list(data["items"])),
        "period": lambda: ask_period(today),
        "photo": ask_photo,
        "summary": lambda: Reply(_("One line: what was published? (at most 200 characters)")),
        "confirm": lambda: _summary(app, data)}
    return [Reply(_("Please use the buttons, or type what is asked.")), prompts[step]()]


def _summary(app: App, data: DisclosureDraft) -> Reply:
    lang = i18n.current()
    book = app.kb.villages
    items = "、".join(book.items[i].name(lang) for i in data["items"] if i in book.items)
    text = _("Please check:\nVillage: {village}\nPeriod: {period}\nItems: {items}\nPhoto: "
             "{photo}\nSummary: {summary}").format(
        village=book.villages[data["village"]].name(lang), period=period_label(data["period"]),
        items=items,
        photo=_("yes") if data.get("photo") else _("no"), summary=data["summary"])
    return Reply(text, buttons=((Button(_("Confirm"), ConfirmRecord().pack()),
                                 Button(_("Cancel"), QuitFlow().pack())),))


async def on_confirm(app: App, ctx: Context, button: ConfirmRecord) -> list[Reply]:
    """Store the record (a correction supersedes the earlier one), tell subscribers."""
    data = await _state(app, ctx, "confirm")
    if data is None:
        return await stale_button(app, ctx)
    await app.dialogs.clear(ctx.user.id)
    record = await app.disclosures.record(
        data["village"], data["period"], tuple(data["items"]), data["summary"],
        data.get("photo"), ctx.user.id, actor(ctx),
        app.clock.now(), corrects=data.get("corrects"))
    village = app.kb.villages.villages[data["village"]]
    told = await _tell_subscribers(app, village, record)
    return [Reply(_("Recorded (no. {id}). {count} subscribers were notified. You can correct it "
                    "within a day.").format(id=record.id, count=told),
                  buttons=((Button(_("Correct it"), Correct(record.id).pack()),),))]


async def _tell_subscribers(app: App, village: Village, record: Record) -> int:
    told = 0
    for uid in await app.disclosures.subscribers(village.id):
        user = await app.users.get_by_id(uid)
        if user is None:
            continue
        with i18n.use(user.language or i18n.language_from_code(user.language_code)):
            text = _("{village} recorded a disclosure:").format(
                village=village.name(i18n.current())) + "\n" + record_lines(app, record)
            replies = [Reply(text[:1000], photo=record.photo_file_id)]
        await app.outbox.queue(user.channel, user.external_id, replies)
        told += 1
    return told


async def on_correct(app: App, ctx: Context, button: Correct) -> list[Reply]:
    """The same cadre, within a day, records a correction (the old one is kept)."""
    record = await app.disclosures.get(button.record)
    now = app.clock.now()
    if (record is None or record.recorded_by != ctx.user.id or record.superseded_by is not None
            or now - record.at > CORRECT_WITHIN):
        return [Reply(_("That record can no longer be corrected (only by whoever recorded it, "
                        "within a day)."))]
    village = await _village_allowed(app, ctx, record.village_id)
    if village is None:
        return [Reply(_("You cannot record disclosures for that village."))]
    return await _begin(app, ctx, village, DisclosureDraft(items=list(record.items),
                                                           corrects=record.id))


# --- the area's record as a chart ----------------------------------------------------------
async def on_chart(app: App, ctx: Context) -> list[Reply]:
    """/disclosures: on time / late / missing per month for the last 12 months, PNG and CSV."""
    if ctx.user.role not in ("cadre", "admin"):
        return [Reply(_("Only cadres can see the disclosure record of an area."))]
    villages = await my_villages(app, ctx)
    if not villages:
        return [Reply(_("None of the villages I track lies in your area."))]
    watch = app.disclosure_watch
    today = app.clock.now().astimezone(app.settings.tz).date()
    months = charts.last_months(today, 12)
    confirmed = [v for v in villages if not v.example]
    if not confirmed:
        return [Reply(_("There is nothing to chart yet: the {n} villages of your area in my "
                        "list are examples from a historical report (about 2006-07), which "
                        "are not counted. The operator loads the real list of villages with "
                        "`python bot.py disclosure import`; disclosures you record with "
                        "/disclose are kept meanwhile.").format(n=len(villages)))]
    counts = monthly_counts(await watch.all_statuses(today, confirmed), months)
    if not any(sum(c.values()) for c in counts.values()):
        return [Reply(_("There is nothing to chart yet: none of the {n} villages of your area "
                        "had a disclosure due in the last 12 months.").format(
                            n=len(confirmed)))]
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


FEATURE = Feature(
    "disclosure_record",
    commands={"disclose": start, "disclosures": on_chart},
    buttons=(on_button(RecordDisclosure, on_village_button), on_button(Item, on_item_button),
             on_button(Period, on_period_button), on_button(SkipPhoto, on_skip_photo),
             on_button(ConfirmRecord, on_confirm), on_button(Correct, on_correct)),
    dialogs={FLOW: on_dialog},
    rich_dialogs=frozenset({FLOW}),
)
