"""Community services directory: browse by district and community, ask in words, or share a
location for the nearest service points that have coordinates."""
from __future__ import annotations

import re
from typing import TypedDict, cast

from core import i18n
from core.callbacks import CallbackData
from core.i18n import _
from core.messages import Button, Reply
from handlers.context import App, Context, back_to_menu, stale_button
from handlers.router import Feature, on_button
from handlers.volunteer_steps import JoinTeam
from knowledge.base import Decision, KnowledgeBase
from knowledge.directory import ServicePoint, ServiceType, in_changsha
from knowledge.places import Place

NEAR_FLOW = "near"
NEAR_KM = 20.0
NEAREST = 5
MAX_LISTED = 15
OTHER = "_"  # communities whose district is not recorded
_NEAR = re.compile(r"附近|周边|周围|旁边|离我|我这边|最近的|近一点|nearby|near me|closest|nearest|"
                   r"around me|close to me", re.IGNORECASE)


class Browse(CallbackData, prefix="sv"):
    """The directory's start: districts, and the nearest-to-me option."""


class District(CallbackData, prefix="sd"):
    district: str  # a district's id, or OTHER


class CommunityListing(CallbackData, prefix="sc"):
    community: str


class DistrictListing(CallbackData, prefix="sl"):
    district: str


class Nearest(CallbackData, prefix="sn"):
    """Ask for the user's location."""


class NearQuestion(TypedDict):
    """Dialog data while the bot waits for a location: the service type wanted ("" = any)."""

    type: str


def _rows(buttons: list[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def point_text(kb: KnowledgeBase, point: ServicePoint, km: float | None = None) -> str:
    """One service point: name, type, place, the operator fields that are recorded."""
    lang = i18n.current()
    stype = kb.directory.types.get(point.type)
    where = kb.gazetteer.places.get(point.community) or kb.directory.district_of(
        point.community, point.district)
    head = f"• {point.name(lang)}"
    if stype:
        head += i18n.pick(f"（{stype.name(lang)}）", f" ({stype.name(lang)})")
    lines = [head]
    if km is not None:
        lines.append("  " + _("{km} km away").format(km=f"{km:.1f}"))
    if where is not None:
        lines.append(f"  {where.name(lang)}")
    for label, value in ((_("Address"), point.address), (_("Opening hours"), point.hours),
                         (_("Phone"), point.phone)):
        if value:
            lines.append(f"  {label}{i18n.pick('：', ': ')}{value}")
    if point.historical:
        lines.append("  " + _("Historical record (about 2006-07): ask whether it still runs."))
    return "\n".join(lines)


def listing(kb: KnowledgeBase, place: Place, stype: ServiceType | None) -> Reply:
    """The service points and volunteer teams recorded for a place."""
    lang = i18n.current()
    points = kb.directory.points_in(place, stype.id if stype else None)
    teams = kb.directory.teams_in(place)
    what = stype.name(lang) if stype else _("community services")
    if not points:
        text = _("My directory has nothing recorded yet for {place} ({what}).").format(
            what=what, place=place.name(lang))
    else:
        text = _("{what} in {place}:").format(what=what, place=place.name(lang))
        text = text[:1].upper() + text[1:] + "\n"  # "community services in ..." starts a line
        text += "\n".join(point_text(kb, p) for p in points[:MAX_LISTED])
        if len(points) > MAX_LISTED:
            more = _("…and {count} more. Ask about one community to narrow it down.")
            text += "\n" + more.format(count=len(points) - MAX_LISTED)
    missing = any(not (p.address and p.hours and p.phone) for p in points[:MAX_LISTED])
    if missing or not points:
        text += "\n\n" + confirm_hint()
    buttons = [Button(_("Join: {team}").format(team=t.name(lang)), JoinTeam(t.id).pack())
               for t in teams[:6]]
    if teams:
        text += "\n\n" + _("Volunteer teams here: press one to join.")
    rows = _rows(buttons, 1) + ((Button(_("Browse by district"), Browse().pack()),
                                 back_to_menu()),)
    return Reply(text, buttons=rows)


def confirm_hint() -> str:
    return _("Addresses, opening hours and phone numbers that are not shown here are not "
             "recorded yet. Please confirm by calling the 12345 hotline or asking your community "
             "or the district civil affairs bureau.")


def ask_location(kb: KnowledgeBase, stype: ServiceType | None) -> list[Reply]:
    lang = i18n.current()
    what = stype.name(lang) if stype else _("community services")
    return [
        Reply(_("To find {what} near you, press the button below to share your location (on a "
                "phone), or choose your district.").format(what=what),
              ask="location", ask_label=_("📍 Share my location")),
        Reply(_("Or choose a district:"), buttons=district_rows(kb)),
    ]


def district_rows(kb: KnowledgeBase) -> tuple[tuple[Button, ...], ...]:
    lang = i18n.current()
    buttons = [Button(p.name(lang), District(p.id).pack()) for p in kb.gazetteer.districts()]
    if kb.gazetteer.communities(""):
        buttons.append(Button(_("Other communities"), District(OTHER).pack()))
    return _rows(buttons, 3)


def directory_answer(app: App, decision: Decision, text: str) -> list[Reply] | None:
    """A directory reply when the question is about services in a place or near the user;
    None to let the FAQ answer it."""
    kb = app.kb
    entries = [e for e in (decision.entry, *(c for c, _s in decision.candidates)) if e]
    if decision.kind == "fallback":
        entries = []  # below the threshold: only a named service type counts
    # the best match decides, or a place plus a service type ("雨花区有什么养老服务")
    about_services = bool(entries) and entries[0].directory
    stype = kb.directory.detect_type(text)
    if stype is not None and stype.id == "marriage_registry":
        return None  # the marriage entries answer that, with the registry's details
    places = [pm.place for pm in decision.places if pm.place.kind in ("community", "district")]
    if not (about_services or (stype is not None and (places or _NEAR.search(text)))):
        return None
    if places:
        reply = listing(kb, places[0], stype)
        if stype is not None and not kb.directory.points_in(places[0], stype.id):
            extra = [e for e in entries[:1] if e.directory and not e.needs_place]
            if extra:
                return [reply, Reply(i18n.pick(extra[0].a_zh, extra[0].a_en))]
        return [reply]
    return None


def wants_nearby(app: App, decision: Decision, text: str) -> tuple[bool, ServiceType | None]:
    """(True, the wanted type or None for any) when the question asks what is near the user."""
    if not _NEAR.search(text) or any(pm.place.kind != "city" for pm in decision.places):
        return False, None
    entries = [e for e in (decision.entry, *(c for c, _s in decision.candidates)) if e]
    if decision.kind == "fallback":
        entries = []
    stype = app.kb.directory.detect_type(text)
    if stype is not None and stype.id == "marriage_registry":
        return False, None
    if (entries and entries[0].directory) or stype is not None:  # the best match decides
        return True, stype
    return False, None


async def start_nearby(app: App, ctx: Context,
                       stype: ServiceType | None) -> list[Reply]:
    await app.dialogs.set(ctx.user.id, NEAR_FLOW, "ask_location",
                          NearQuestion(type=stype.id if stype else ""), app.clock.now())
    return ask_location(app.kb, stype)


async def on_location(app: App, ctx: Context) -> list[Reply]:
    """A shared location: the nearest service points that have coordinates, with distance."""
    kb = app.kb
    assert ctx.msg.location is not None
    lat, lon = ctx.msg.location
    type_id = ""
    if ctx.dialog is not None and ctx.dialog.flow == NEAR_FLOW:
        type_id = str(cast(NearQuestion, ctx.dialog.data).get("type") or "")
        await app.dialogs.clear(ctx.user.id)
    stype = kb.directory.types.get(type_id)
    lang = i18n.current()
    what = stype.name(lang) if stype else _("community services")
    if not in_changsha(lat, lon):
        text = _("That location seems to be outside Changsha. I only know services in Changsha; "
                 "choose a district below, or call 12345.")
        return [Reply(text, clear_keyboard=True), Reply(_("Choose a district:"),
                                                        buttons=district_rows(kb))]
    found = kb.directory.nearest(lat, lon, limit=NEAREST, max_km=NEAR_KM,
                                 type_id=stype.id if stype else None)
    if not found:
        if kb.directory.located_count == 0:
            text = _("I'm sorry: none of the service points in my directory has map coordinates "
                     "yet, so I can't tell which is nearest. Choose your district and community "
                     "instead, or call 12345.")
        else:
            text = _("No {what} with map coordinates are recorded within {km} km of you. Many "
                     "service points have no coordinates yet: choose your district to see them "
                     "all, or call 12345.").format(what=what, km=int(NEAR_KM))
        return [Reply(text, clear_keyboard=True),
                Reply(_("Choose a district:"), buttons=district_rows(kb))]
    text = _("The nearest {what} I know of (straight-line distance):").format(what=what) + "\n"
    text += "\n".join(point_text(kb, p, km) for p, km in found)
    if kb.directory.located_count < len(kb.directory.points):
        text += "\n\n" + _("Only service points with recorded coordinates are included; your "
                           "district may have others. Choose it below to see them all.")
    return [Reply(text, clear_keyboard=True),
            Reply(_("Browse by district:"), buttons=district_rows(kb))]


async def on_browse(app: App, ctx: Context, data: Browse) -> list[Reply]:
    """The directory's start: districts, and the nearest-to-me option."""
    rows = district_rows(app.kb) + ((Button(_("Nearest to me"), Nearest().pack()),),)
    return [Reply(_("Community services: choose your district."), buttons=rows)]


async def on_district_button(app: App, ctx: Context, data: District) -> list[Reply]:
    """A district's communities (or, with none recorded, its services)."""
    kb = app.kb
    did = data.district
    lang = i18n.current()
    if did == OTHER:
        communities = kb.gazetteer.communities("")
        title = _("Communities whose district is not recorded yet:")
    else:
        district = kb.gazetteer.places.get(did)
        if district is None or district.kind != "district":
            return await stale_button(app, ctx)
        communities = kb.gazetteer.communities(did)
        if not communities:
            return [listing(kb, district, None)]
        title = _("{district}: choose a community, or see the whole district.").format(
            district=district.name(lang))
    buttons = [Button(c.name(lang), CommunityListing(c.id).pack()) for c in communities]
    rows = _rows(buttons, 2)
    if did != OTHER:
        rows += ((Button(_("Whole district"), DistrictListing(did).pack()),),)
    return [Reply(title, buttons=rows + ((Button(_("Back"), Browse().pack()),),))]


async def _listing_of(app: App, ctx: Context, place_id: str, kind: str) -> list[Reply]:
    """What is recorded for a community or a whole district."""
    place = app.kb.gazetteer.places.get(place_id)
    if place is None or place.kind != kind:
        return await stale_button(app, ctx)
    return [listing(app.kb, place, None)]


async def on_community_listing(app: App, ctx: Context, data: CommunityListing) -> list[Reply]:
    return await _listing_of(app, ctx, data.community, "community")


async def on_district_listing(app: App, ctx: Context, data: DistrictListing) -> list[Reply]:
    return await _listing_of(app, ctx, data.district, "district")


async def on_nearest_button(app: App, ctx: Context, data: Nearest) -> list[Reply]:
    return await start_nearby(app, ctx, None)


FEATURE = Feature(
    "services",
    buttons=(on_button(Browse, on_browse), on_button(District, on_district_button),
             on_button(CommunityListing, on_community_listing),
             on_button(DistrictListing, on_district_listing),
             on_button(Nearest, on_nearest_button)),
    on_location=on_location,
)
