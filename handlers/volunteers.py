"""Volunteer sign-up in one short conversation: team -> name -> mobile -> availability ->
consent -> summary -> confirmation. Each step is dialog state in the database, so a restart
resumes where the user was; the schema makes a second sign-up for the same team impossible."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import cast

from core import i18n
from core.i18n import _
from core.messages import Reply
from handlers import coordinators, faq
from handlers.context import App, Context, FlowStart, command_args, stale_button
from handlers.router import Feature, on_button
from handlers.volunteer_steps import (
    Availability,
    ConfirmSignup,
    Consent,
    JoinTeam,
    QuitFlow,
    StartSignup,
    TeamPage,
    VolunteerDraft,
    ask_consent,
    ask_name,
    ask_phone,
    ask_when,
    check_name,
    normalise_phone,
    summary,
    team_chooser,
)
from storage.volunteers import SLOTS, Full, NewSignup

log = logging.getLogger(__name__)
FLOW = "volunteer"
CONSENT_VERSION = "2026-11-v1"


# --- entering the flow ---------------------------------------------------------------------
async def start(app: App, ctx: Context, query: str = "") -> list[Reply]:
    """Show the teams (all, or those matching `query`) and wait for a choice or a search."""
    directory = app.kb.directory
    teams = directory.search_teams(query) if query else directory.sorted_teams()
    if not directory.teams:
        return [Reply(_("No volunteer teams are listed in the bot yet. Ask your community, or "
                        "call 12345."))]
    await app.dialogs.set(ctx.user.id, FLOW, "team", VolunteerDraft(query=query),
                          app.clock.now())
    if not teams:
        teams = directory.sorted_teams()
        intro = _("No team matches “{query}”. Here are all teams:").format(query=query[:40])
    else:
        intro = _("Choose a volunteer team to join, or type a community or district name to "
                  "search.")
    return [team_chooser(app, teams, 0, intro)]


async def begin_team(app: App, ctx: Context, team_id: str) -> list[Reply]:
    """A team was chosen (button, poster link or search): check it, then ask the name."""
    team = app.kb.directory.teams.get(team_id)
    if team is None:
        return [Reply(_("That team is not in my list (any more)."))] + await start(app, ctx)
    existing = await app.volunteers.find(ctx.user.id, team.id)
    if existing is not None:
        await app.dialogs.clear(ctx.user.id)
        return [Reply(_("You are already signed up for {team} (reference {ref}). See /my.")
                      .format(team=team.name(i18n.current()), ref=existing.ref))]
    if team.capacity is not None and await app.volunteers.count(team.id) >= team.capacity:
        return [Reply(_("{team} is full at the moment. Please choose another team.").format(
            team=team.name(i18n.current())))] + await start(app, ctx)
    await app.dialogs.set(ctx.user.id, FLOW, "name", VolunteerDraft(team=team.id),
                          app.clock.now())
    return [ask_name(team)]


async def on_volunteer(app: App, ctx: Context) -> list[Reply]:
    """/volunteer [words]: list teams (or search them)."""
    return await start(app, ctx, " ".join(command_args(ctx))[:100])


async def on_start_flow(app: App, ctx: Context) -> list[Reply]:
    return await start(app, ctx)


async def on_start_button(app: App, ctx: Context, data: StartSignup) -> list[Reply]:
    return await start(app, ctx)


async def on_join_button(app: App, ctx: Context, data: JoinTeam) -> list[Reply]:
    """A team from the chooser, a listing or the summary's "start again"."""
    return await begin_team(app, ctx, data.team)


async def on_page_button(app: App, ctx: Context, data: TeamPage) -> list[Reply]:
    """Another page of the chooser (the search is kept in the dialog)."""
    if data.page > 9999:
        return await stale_button(app, ctx)
    query = ""
    if ctx.dialog is not None and ctx.dialog.flow == FLOW and ctx.dialog.step == "team":
        query = str(_draft(ctx).get("query") or "")
    directory = app.kb.directory
    teams = (directory.search_teams(query) if query else []) or directory.sorted_teams()
    return [team_chooser(app, teams, data.page, _("Choose a volunteer team to join:"))]


def _draft(ctx: Context) -> VolunteerDraft:
    """The sign-up's dialog data (a copy: steps change it before storing it again)."""
    assert ctx.dialog is not None
    return cast(VolunteerDraft, dict(ctx.dialog.data))


# --- inside the flow: typed text and contacts ----------------------------------------------
async def on_dialog(app: App, ctx: Context) -> list[Reply]:
    """Text, a shared contact or anything else while a sign-up is open."""
    assert ctx.dialog is not None
    step, data = ctx.dialog.step, _draft(ctx)
    if ctx.msg.text is None and not (step == "phone" and ctx.msg.contact is not None):
        return [Reply(_("I can only read text here (nothing was stored from that)."))] + (
            await _reprompt(app, ctx))
    team = app.kb.directory.teams.get(str(data.get("team", "")))
    if step != "team" and team is None:  # the team left the directory meanwhile
        await app.dialogs.clear(ctx.user.id)
        return [Reply(_("That team is not in my list (any more)."))] + await start(app, ctx)
    if step == "team" or team is None:
        return await _on_search(app, ctx)
    if step == "name":
        return await _on_name(app, ctx, data)
    if step == "phone":
        return await _on_phone(app, ctx, data)
    if step == "when":
        return [Reply(_("Please use the buttons, then press Done.")),
                ask_when(data.get("when", []))]
    if step == "consent":
        return [Reply(_("Please answer with the buttons: I agree, or I do not agree.")),
                ask_consent(app, team)]
    return [Reply(_("Please press Confirm, or send /cancel.")), summary(app, data)]


async def _on_search(app: App, ctx: Context) -> list[Reply]:
    query = (ctx.msg.text or "").strip()
    teams = app.kb.directory.search_teams(query) if query else []
    if not teams:  # not a team search after all: answer it as a question
        await app.dialogs.clear(ctx.user.id)
        return await faq.on_text(app, ctx)
    if len(teams) == 1:
        return await begin_team(app, ctx, teams[0].id)
    await app.dialogs.set(ctx.user.id, FLOW, "team", VolunteerDraft(query=query[:100]),
                          app.clock.now())
    return [team_chooser(app, teams, 0, _("Teams matching “{query}”:").format(
        query=query[:40]))]


async def _on_name(app: App, ctx: Context, data: VolunteerDraft) -> list[Reply]:
    name, reason = check_name(ctx.msg.text)
    if name is None:
        return [Reply(reason)]
    data["name"] = name
    await app.dialogs.set(ctx.user.id, FLOW, "phone", data, app.clock.now())
    return [ask_phone()]


async def _on_phone(app: App, ctx: Context, data: VolunteerDraft) -> list[Reply]:
    contact = ctx.msg.contact
    if contact is not None:
        if contact.user_external_id != ctx.msg.user.external_id:
            return [Reply(_("That is someone else's contact. Please share your own number with "
                            "the button, or type it."))]
        raw = contact.phone
    else:
        raw = ctx.msg.text or ""
    phone = normalise_phone(raw)
    if phone is None:
        return [Reply(_("That does not look like a mainland China mobile number (11 digits "
                        "starting with 1, e.g. 138 0013 8000). Please try again."))]
    data["phone"], data["when"] = phone, []
    await app.dialogs.set(ctx.user.id, FLOW, "when", data, app.clock.now())
    return [Reply(_("Thank you, number noted."), clear_keyboard=True), ask_when([])]


# --- inside the flow: buttons --------------------------------------------------------------
def _expect(ctx: Context, step: str) -> VolunteerDraft | None:
    """The dialog data when the user is at `step` of a sign-up, else None."""
    if ctx.dialog is None or ctx.dialog.flow != FLOW or ctx.dialog.step != step:
        return None
    return _draft(ctx)


async def _step_over(app: App, ctx: Context) -> list[Reply]:
    if ctx.dialog is not None and ctx.dialog.flow == FLOW:
        return [Reply(_("That button belongs to another step. Please continue below, or send "
                        "/cancel."))] + await _reprompt(app, ctx)
    return await stale_button(app, ctx)


async def _reprompt(app: App, ctx: Context) -> list[Reply]:
    assert ctx.dialog is not None
    data = _draft(ctx)
    team = app.kb.directory.teams.get(str(data.get("team", "")))
    step = ctx.dialog.step
    if step == "team" or team is None:
        return await start(app, ctx, str(data.get("query") or ""))
    prompts: dict[str, Callable[[], Reply]] = {
               "name": lambda: ask_name(team), "phone": ask_phone,
               "when": lambda: ask_when(list(data.get("when", []))),
               "consent": lambda: ask_consent(app, team),
               "confirm": lambda: summary(app, data)}
    return [prompts.get(step, lambda: ask_name(team))()]


async def on_when_button(app: App, ctx: Context, button: Availability) -> list[Reply]:
    """A time slot toggled; `done` goes on when at least one is chosen."""
    data = _expect(ctx, "when")
    choice = button.slot
    if data is None or (choice not in SLOTS and choice != "done"):
        return await _step_over(app, ctx)
    chosen = [s for s in data.get("when", []) if s in SLOTS]
    if choice == "done":
        if not chosen:
            return [Reply(_("Please choose at least one time first.")), ask_when(chosen)]
        await app.dialogs.set(ctx.user.id, FLOW, "consent", data, app.clock.now())
        return [ask_consent(app, app.kb.directory.teams[str(data["team"])])]
    chosen = [s for s in SLOTS if (s in chosen) != (s == choice)]
    data["when"] = chosen
    await app.dialogs.set(ctx.user.id, FLOW, "when", data, app.clock.now())
    return [ask_when(chosen)]


async def on_consent_button(app: App, ctx: Context, button: Consent) -> list[Reply]:
    """`yes` records the time of consent and shows the summary; `no` stores nothing."""
    data = _expect(ctx, "consent")
    choice = button.answer
    if data is None or choice not in ("yes", "no"):
        return await _step_over(app, ctx)
    if choice == "no":
        await app.dialogs.clear(ctx.user.id)
        return [Reply(_("Understood. Nothing was stored. You can still volunteer by contacting "
                        "your community directly."))]
    data["consented_at"] = app.clock.now().isoformat()
    await app.dialogs.set(ctx.user.id, FLOW, "confirm", data, app.clock.now())
    return [summary(app, data)]


async def on_confirm_button(app: App, ctx: Context, button: ConfirmSignup) -> list[Reply]:
    """Store the sign-up (once), confirm with a reference, tell the coordinator."""
    team_id = button.team
    data = _expect(ctx, "confirm")
    if data is None or data.get("team") != team_id:
        existing = await app.volunteers.find(ctx.user.id, team_id)
        if existing is not None:
            return [Reply(_("You are already signed up (reference {ref}). See /my.").format(
                ref=existing.ref))]
        return await _step_over(app, ctx)
    team = app.kb.directory.teams.get(team_id)
    if team is None:
        await app.dialogs.clear(ctx.user.id)
        return [Reply(_("That team is not in my list (any more)."))]
    new = NewSignup(ctx.user.id, team_id, str(data["name"]), str(data["phone"]),
                    tuple(s for s in SLOTS if s in data.get("when", [])), CONSENT_VERSION,
                    datetime.fromisoformat(str(data["consented_at"])))
    try:
        signup, created = await app.volunteers.create(new, app.clock.now(),
                                                            team.capacity)
    except Full:
        await app.dialogs.clear(ctx.user.id)
        return [Reply(_("Sorry, {team} filled up a moment ago. Nothing was stored; please choose "
                        "another team with /volunteer.").format(team=team.name(i18n.current())))]
    await app.dialogs.clear(ctx.user.id)
    told = True
    if created:
        log.info("volunteer sign-up %s stored for team %s", signup.ref, team_id)
        told = await coordinators.tell_new_signup(app, team, signup)
    if not told:
        return [Reply(_("Thank you! You are signed up for {team}. Your reference number is "
                        "{ref}. No contact person is assigned to this team yet: your sign-up "
                        "is kept and passed on to the administrators, who will arrange "
                        "contact. /my shows your sign-ups.").format(
                            team=team.name(i18n.current()), ref=signup.ref))]
    return [Reply(_("Thank you! You are signed up for {team}. Your reference number is {ref}. "
                    "The coordinator will contact you. /my shows your sign-ups.").format(
                        team=team.name(i18n.current()), ref=signup.ref))]


async def on_quit_button(app: App, ctx: Context, button: QuitFlow) -> list[Reply]:
    """The summary's Cancel."""
    return await faq.on_cancel(app, ctx)


FEATURE = Feature(
    "volunteers",
    private="volunteer",
    commands={"volunteer": on_volunteer},
    buttons=(on_button(StartSignup, on_start_button), on_button(JoinTeam, on_join_button),
             on_button(TeamPage, on_page_button), on_button(Availability, on_when_button),
             on_button(Consent, on_consent_button), on_button(ConfirmSignup, on_confirm_button),
             on_button(QuitFlow, on_quit_button)),
    dialogs={FLOW: on_dialog},
    rich_dialogs=frozenset({FLOW}),
    flows={FLOW: FlowStart(on_start_flow, show_answer=True)},
)
