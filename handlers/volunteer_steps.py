"""The volunteer sign-up's steps: what the bot asks at each one, and how it checks the answers
(handlers/volunteers.py runs the conversation)."""
from __future__ import annotations

import re
from typing import TypedDict

from core import i18n
from core.callbacks import CallbackData
from core.clean import clean_line
from core.i18n import _
from core.messages import Button, Reply
from handlers.context import App
from knowledge.directory import Team
from storage.volunteers import SLOTS, slot_names

PAGE = 8
MAX_NAME = 40
_PHONE_JUNK = re.compile(r"[\s\-()（）]")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")  # ASCII digits: \d would take ١٢٣ too
_NOT_NAME = re.compile(r"[0-9０-９@#/\\<>{}=_*;\"]|https?:|www\.", re.IGNORECASE)


class VolunteerDraft(TypedDict, total=False):
    """The sign-up's dialog data, filled in step by step (kept in the database)."""

    query: str  # step "team": the search typed, kept across pages
    team: str
    name: str
    phone: str
    when: list[str]  # chosen slots (storage.volunteers.SLOTS)
    consented_at: str  # ISO time the volunteer agreed


# --- the sign-up's buttons --------------------------------------------------------------------
class StartSignup(CallbackData, prefix="vs"):
    """The menu's "volunteer" button: list the teams."""


class JoinTeam(CallbackData, prefix="vj"):
    team: str


class TeamPage(CallbackData, prefix="vp"):
    page: int


class Availability(CallbackData, prefix="va"):
    slot: str  # one of SLOTS, or "done"


class Consent(CallbackData, prefix="vc"):
    answer: str  # "yes" | "no"


class ConfirmSignup(CallbackData, prefix="vk"):
    team: str


class QuitFlow(CallbackData, prefix="vq"):
    """Cancel the flow (the summary's Cancel, in the sign-up and the disclosure record)."""


def normalise_phone(raw: str) -> str | None:
    """A mainland mobile number as 11 digits, or None. Accepts +86/0086, spaces and dashes."""
    digits = _PHONE_JUNK.sub("", clean_line(raw))  # NFKC: full-width digits become ASCII
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
            break
    return digits if _MOBILE.match(digits) else None


def check_name(raw: str | None) -> tuple[str | None, str]:
    """(name, "") or (None, reason shown to the user)."""
    name = clean_line(raw)
    if not name or not any(ch.isalpha() for ch in name):
        return None, _("Please type your name in letters or characters.")
    if len(name) > MAX_NAME:
        return None, _("That is too long for a name (at most {n} characters).").format(n=MAX_NAME)
    if _NOT_NAME.search(name):
        return None, _("A name should not contain digits or symbols. Please type just your "
                       "name.")
    return name, ""


# --- steps: what the bot asks --------------------------------------------------------------
def team_label(app: App, team: Team) -> str:
    lang = i18n.current()
    community = app.kb.gazetteer.places.get(team.community)
    label = team.name(lang)
    if community and community.name_zh not in team.name_zh:
        label += f" · {community.name(lang)}"
    return label if len(label) <= 40 else label[:39] + "…"


def team_chooser(app: App, teams: list[Team], page: int, intro: str) -> Reply:
    pages = max(1, -(-len(teams) // PAGE))
    page = min(max(page, 0), pages - 1)
    shown = teams[page * PAGE : (page + 1) * PAGE]
    rows: list[tuple[Button, ...]] = [(Button(team_label(app, t), JoinTeam(t.id).pack()),)
                                      for t in shown]
    nav = []
    if page > 0:
        nav.append(Button(_("◀ Previous"), TeamPage(page - 1).pack()))
    if page < pages - 1:
        nav.append(Button(_("Next ▶"), TeamPage(page + 1).pack()))
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
    rows = tuple((Button(("✅ " if s in chosen else "▫️ ") + names[s], Availability(s).pack()),)
                 for s in SLOTS)
    rows += ((Button(_("Done"), Availability("done").pack()),),)
    return Reply(_("Step 3 of 4: when can you help? Choose one or more, then press Done."),
                 buttons=rows, multi=True)


def ask_consent(app: App, team: Team) -> Reply:
    days = app.settings.volunteer_retention_days
    text = _(
        "Step 4 of 4: your consent.\n"
        "I will store your name, mobile number, availability and the team you chose, so that "
        "the team can contact you about volunteering. Only the team's coordinator, the civil "
        "affairs cadres responsible for {place} and the bot's administrators at the civil "
        "affairs bureau can see them; they are not published and not used for anything else. "
        "They are kept while you are in the team, at most {days} days; "
        "you can withdraw any time with /my, or delete everything with /forget.\n"
        "Do you agree?").format(place=_place_name(app, team), days=days)
    return Reply(text, buttons=((Button(_("I agree"), Consent("yes").pack()),
                                 Button(_("I do not agree"), Consent("no").pack())),))


def summary(app: App, data: VolunteerDraft) -> Reply:
    team = app.kb.directory.teams[str(data["team"])]
    names = slot_names()
    when = i18n.pick("、", ", ").join(names[s] for s in SLOTS if s in data.get("when", []))
    text = _("Please check:\nTeam: {team}\nName: {name}\nMobile: {phone}\nAvailable: {when}\n"
             "Is this right?").format(team=team.name(i18n.current()), name=data["name"],
                                      phone=data["phone"], when=when)
    return Reply(text, buttons=((Button(_("Confirm"), ConfirmSignup(team.id).pack()),),
                                (Button(_("Start again"), JoinTeam(team.id).pack()),
                                 Button(_("Cancel"), QuitFlow().pack())),))


def _place_name(app: App, team: Team) -> str:
    place = app.kb.gazetteer.places.get(team.community)
    return place.name(i18n.current()) if place else team.name(i18n.current())
