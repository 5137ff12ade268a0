"""The volunteer sign-up's steps: what the bot asks at each one, and how it checks the answers
(handlers/volunteers.py runs the conversation)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from core import i18n
from core.i18n import _
from core.messages import Button, Reply
from knowledge.directory import Team
from storage.volunteers import SLOTS

if TYPE_CHECKING:
    from handlers.core import Assistant

PAGE = 8
MAX_NAME = 40
_PHONE_JUNK = re.compile(r"[\s\-()（）]")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_NOT_NAME = re.compile(r"[0-9０-９@#/\\<>{}=_*;\"]|https?:|www\.", re.IGNORECASE)


def slot_names() -> dict[str, str]:
    return {"weekday_day": _("Weekday daytime"), "evening": _("Evenings"),
            "weekend": _("Weekends")}


def normalise_phone(raw: str) -> str | None:
    """A mainland mobile number as 11 digits, or None. Accepts +86/0086, spaces and dashes."""
    digits = _PHONE_JUNK.sub("", raw.strip())
    digits = digits.translate(str.maketrans("０１２３４５６７８９＋", "0123456789+"))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
            break
    return digits if _MOBILE.match(digits) else None


def check_name(raw: str) -> tuple[str | None, str]:
    """(name, "") or (None, reason shown to the user)."""
    name = " ".join(raw.split())
    if not name or not any(ch.isalpha() for ch in name):
        return None, _("Please type your name in letters or characters.")
    if len(name) > MAX_NAME:
        return None, _("That is too long for a name (at most {n} characters).").format(n=MAX_NAME)
    if _NOT_NAME.search(name):
        return None, _("A name should not contain digits or symbols. Please type just your "
                       "name.")
    return name, ""


# --- steps: what the bot asks --------------------------------------------------------------
def team_label(assistant: Assistant, team: Team) -> str:
    lang = i18n.current()
    community = assistant.kb.gazetteer.places.get(team.community)
    label = team.name(lang)
    if community and community.name_zh not in team.name_zh:
        label += f" · {community.name(lang)}"
    return label if len(label) <= 40 else label[:39] + "…"


def team_chooser(assistant: Assistant, teams: list[Team], page: int, intro: str) -> Reply:
    pages = max(1, -(-len(teams) // PAGE))
    page = min(max(page, 0), pages - 1)
    shown = teams[page * PAGE : (page + 1) * PAGE]
    rows: list[tuple[Button, ...]] = [(Button(team_label(assistant, t), f"vj:{t.id}"),)
                                      for t in shown]
    nav = []
    if page > 0:
        nav.append(Button(_("◀ Previous"), f"vp:{page - 1}"))
    if page < pages - 1:
        nav.append(Button(_("Next ▶"), f"vp:{page + 1}"))
    if nav:
        rows.append(tuple(nav))
    text = intro
    if pages > 1:
        text += "\n" + _("Page {page} of {pages}.").format(page=page + 1, pages=pages)
    return Reply(text, buttons=tuple(rows))


def ask_name(team: Team) -> Reply:
    lang = i18n.current()
    text = _("You are joining {team}.\nStep 1 of 4: what is your name? (Send /cancel to "
             "stop at any time.)").format(team=team.name(lang))
    about = team.description(lang)
    return Reply(f"{about}\n\n{text}" if about else text)


def ask_phone() -> Reply:
    return Reply(_("Step 2 of 4: your mobile number, so the coordinator can reach you. Type it "
                   "(11 digits), or press the button below to share the number of this "
                   "account."), ask="contact", ask_label=_("📱 Share my number"))


def ask_when(chosen: list[str]) -> Reply:
    names = slot_names()
    rows = tuple((Button(("✅ " if s in chosen else "▫️ ") + names[s], f"va:{s}"),) for s in SLOTS)
    rows += ((Button(_("Done"), "va:done"),),)
    return Reply(_("Step 3 of 4: when can you help? Choose one or more, then press Done."),
                 buttons=rows)


def ask_consent(assistant: Assistant, team: Team) -> Reply:
    days = assistant.settings.volunteer_retention_days
    text = _(
        "Step 4 of 4: your consent.\n"
        "I will store your name, mobile number, availability and the team you chose, so that "
        "the team can contact you about volunteering. Only the team's coordinator, the civil "
        "affairs cadres responsible for {place} and the bot's administrators at the civil "
        "affairs bureau can see them; they are not published and not used for anything else. "
        "They are kept while you are in the team, at most {days} days; "
        "you can withdraw any time with /my, or delete everything with /forget.\n"
        "Do you agree?").format(place=_place_name(assistant, team), days=days)
    return Reply(text, buttons=((Button(_("I agree"), "vc:yes"),
                                 Button(_("I do not agree"), "vc:no")),))


def summary(assistant: Assistant, data: dict) -> Reply:
    team = assistant.kb.directory.teams[str(data["team"])]
    names = slot_names()
    when = i18n.pick("、", ", ").join(names[s] for s in SLOTS if s in data.get("when", []))
    text = _("Please check:\nTeam: {team}\nName: {name}\nMobile: {phone}\nAvailable: {when}\n"
             "Is this right?").format(team=team.name(i18n.current()), name=data["name"],
                                      phone=data["phone"], when=when)
    return Reply(text, buttons=((Button(_("Confirm"), f"vk:{team.id}"),),
                                (Button(_("Start again"), f"vj:{team.id}"),
                                 Button(_("Cancel"), "vq:")),))


def _place_name(assistant: Assistant, team: Team) -> str:
    place = assistant.kb.gazetteer.places.get(team.community)
    return place.name(i18n.current()) if place else team.name(i18n.current())
