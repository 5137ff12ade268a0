"""Volunteer sign-up in one short conversation: team -> name -> mobile -> availability ->
consent -> summary -> confirmation. Each step is dialog state in the database, so a restart
resumes where the user was; the schema makes a second sign-up for the same team impossible."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core import i18n
from core.i18n import _
from core.messages import Reply
from handlers import coordinators
from handlers.volunteer_steps import (ask_consent, ask_name, ask_phone, ask_when, check_name,
                                      normalise_phone, summary, team_chooser)
from knowledge.directory import Team
from storage.volunteers import SLOTS, Full, NewSignup

if TYPE_CHECKING:
    from handlers.core import Assistant, Context

log = logging.getLogger(__name__)
FLOW = "volunteer"
CONSENT_VERSION = "2026-11-v1"


# --- entering the flow ---------------------------------------------------------------------
async def start(assistant: Assistant, ctx: Context, query: str = "") -> list[Reply]:
    """Show the teams (all, or those matching `query`) and wait for a choice or a search."""
    directory = assistant.kb.directory
    teams = directory.search_teams(query) if query else directory.sorted_teams()
    if not directory.teams:
        return [Reply(_("No volunteer teams are listed in the bot yet. Ask your community, or "
                        "call 12345."))]
    await assistant.dialogs.set(ctx.user.id, FLOW, "team", {"query": query},
                                assistant.clock.now())
    if not teams:
        teams = directory.sorted_teams()
        intro = _("No team matches “{query}”. Here are all teams:").format(query=query[:40])
    else:
        intro = _("Choose a volunteer team to join, or type a community or district name to "
                  "search.")
    return [team_chooser(assistant, teams, 0, intro)]


async def begin_team(assistant: Assistant, ctx: Context, team_id: str) -> list[Reply]:
    """A team was chosen (button, poster link or search): check it, then ask the name."""
    team = assistant.kb.directory.teams.get(team_id)
    if team is None:
        return [Reply(_("That team is not in my list (any more)."))] + await start(assistant, ctx)
    existing = await assistant.volunteers.find(ctx.user.id, team.id)
    if existing is not None:
        await assistant.dialogs.clear(ctx.user.id)
        return [Reply(_("You are already signed up for {team} (reference {ref}). See /my.")
                      .format(team=team.name(i18n.current()), ref=existing.ref))]
    if team.capacity is not None and await assistant.volunteers.count(team.id) >= team.capacity:
        return [Reply(_("{team} is full at the moment. Please choose another team.").format(
            team=team.name(i18n.current())))] + await start(assistant, ctx)
    await assistant.dialogs.set(ctx.user.id, FLOW, "name", {"team": team.id},
                                assistant.clock.now())
    return [ask_name(team)]


async def on_volunteer(assistant: Assistant, ctx: Context) -> list[Reply]:
    """/volunteer [words]: list teams (or search them)."""
    from handlers.core import command_args

    return await start(assistant, ctx, " ".join(command_args(ctx))[:100])


async def on_start_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    return await start(assistant, ctx)


async def on_join_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`vj:<team>` from the chooser, a listing or the summary's "start again"."""
    return await begin_team(assistant, ctx, (ctx.msg.payload or "").partition(":")[2])


async def on_page_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`vp:<page>`: another page of the chooser (the search is kept in the dialog)."""
    from handlers.core import stale_button

    raw = (ctx.msg.payload or "").partition(":")[2]
    if not raw.isdigit() or len(raw) > 4:
        return await stale_button(assistant, ctx)
    query = ""
    if ctx.dialog is not None and ctx.dialog.flow == FLOW and ctx.dialog.step == "team":
        query = str(ctx.dialog.data.get("query") or "")
    directory = assistant.kb.directory
    teams = (directory.search_teams(query) if query else []) or directory.sorted_teams()
    return [team_chooser(assistant, teams, int(raw), _("Choose a volunteer team to join:"))]


# --- inside the flow: typed text and contacts ----------------------------------------------
async def on_dialog(assistant: Assistant, ctx: Context) -> list[Reply]:
    """Text, a shared contact or anything else while a sign-up is open."""
    assert ctx.dialog is not None
    step, data = ctx.dialog.step, dict(ctx.dialog.data)
    if ctx.msg.text is None and not (step == "phone" and ctx.msg.contact is not None):
        return [Reply(_("I can only read text here (nothing was stored from that)."))] + (
            await _reprompt(assistant, ctx))
    team = assistant.kb.directory.teams.get(str(data.get("team", "")))
    if step != "team" and team is None:  # the team left the directory meanwhile
        await assistant.dialogs.clear(ctx.user.id)
        return [Reply(_("That team is not in my list (any more)."))] + await start(assistant, ctx)
    if step == "team":
        return await _on_search(assistant, ctx)
    if step == "name":
        return await _on_name(assistant, ctx, data, team)  # type: ignore[arg-type]
    if step == "phone":
        return await _on_phone(assistant, ctx, data)
    if step == "when":
        return [Reply(_("Please use the buttons, then press Done.")), ask_when(data["when"])]
    if step == "consent":
        return [Reply(_("Please answer with the buttons: I agree, or I do not agree.")),
                ask_consent(assistant, team)]  # type: ignore[arg-type]
    return [Reply(_("Please press Confirm, or send /cancel.")), summary(assistant, data)]


async def _on_search(assistant: Assistant, ctx: Context) -> list[Reply]:
    from handlers.faq import on_text

    query = (ctx.msg.text or "").strip()
    teams = assistant.kb.directory.search_teams(query) if query else []
    if not teams:  # not a team search after all: answer it as a question
        await assistant.dialogs.clear(ctx.user.id)
        return await on_text(assistant, ctx)
    if len(teams) == 1:
        return await begin_team(assistant, ctx, teams[0].id)
    await assistant.dialogs.set(ctx.user.id, FLOW, "team", {"query": query[:100]},
                                assistant.clock.now())
    return [team_chooser(assistant, teams, 0, _("Teams matching “{query}”:").format(
        query=query[:40]))]


async def _on_name(assistant: Assistant, ctx: Context, data: dict, team: Team) -> list[Reply]:
    name, reason = check_name(ctx.msg.text)
    if name is None:
        return [Reply(reason)]
    data["name"] = name
    await assistant.dialogs.set(ctx.user.id, FLOW, "phone", data, assistant.clock.now())
    return [ask_phone()]


async def _on_phone(assistant: Assistant, ctx: Context, data: dict) -> list[Reply]:
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
    await assistant.dialogs.set(ctx.user.id, FLOW, "when", data, assistant.clock.now())
    return [Reply(_("Thank you, number noted."), clear_keyboard=True), ask_when([])]


# --- inside the flow: buttons --------------------------------------------------------------
async def _expect(assistant: Assistant, ctx: Context, step: str) -> dict | None:
    """The dialog data when the user is at `step` of a sign-up, else None."""
    if ctx.dialog is None or ctx.dialog.flow != FLOW or ctx.dialog.step != step:
        return None
    return dict(ctx.dialog.data)


async def _step_over(assistant: Assistant, ctx: Context) -> list[Reply]:
    from handlers.core import stale_button

    if ctx.dialog is not None and ctx.dialog.flow == FLOW:
        return [Reply(_("That button belongs to another step. Please continue below, or send "
                        "/cancel."))] + await _reprompt(assistant, ctx)
    return await stale_button(assistant, ctx)


async def _reprompt(assistant: Assistant, ctx: Context) -> list[Reply]:
    assert ctx.dialog is not None
    data = dict(ctx.dialog.data)
    team = assistant.kb.directory.teams.get(str(data.get("team", "")))
    step = ctx.dialog.step
    if step == "team" or team is None:
        return await start(assistant, ctx, str(data.get("query") or ""))
    prompts = {"name": lambda: ask_name(team), "phone": ask_phone,
               "when": lambda: ask_when(list(data.get("when", []))),
               "consent": lambda: ask_consent(assistant, team),
               "confirm": lambda: summary(assistant, data)}
    return [prompts.get(step, lambda: ask_name(team))()]


async def on_when_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`va:<slot>` toggles a time slot; `va:done` goes on when at least one is chosen."""
    data = await _expect(assistant, ctx, "when")
    choice = (ctx.msg.payload or "").partition(":")[2]
    if data is None or (choice not in SLOTS and choice != "done"):
        return await _step_over(assistant, ctx)
    chosen = [s for s in data.get("when", []) if s in SLOTS]
    if choice == "done":
        if not chosen:
            return [Reply(_("Please choose at least one time first.")), ask_when(chosen)]
        await assistant.dialogs.set(ctx.user.id, FLOW, "consent", data, assistant.clock.now())
        return [ask_consent(assistant, assistant.kb.directory.teams[str(data["team"])])]
    chosen = [s for s in SLOTS if (s in chosen) != (s == choice)]
    data["when"] = chosen
    await assistant.dialogs.set(ctx.user.id, FLOW, "when", data, assistant.clock.now())
    return [ask_when(chosen)]


async def on_consent_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`vc:yes` records the time of consent and shows the summary; `vc:no` stores nothing."""
    data = await _expect(assistant, ctx, "consent")
    choice = (ctx.msg.payload or "").partition(":")[2]
    if data is None or choice not in ("yes", "no"):
        return await _step_over(assistant, ctx)
    if choice == "no":
        await assistant.dialogs.clear(ctx.user.id)
        return [Reply(_("Understood. Nothing was stored. You can still volunteer by contacting "
                        "your community directly."))]
    data["consented_at"] = assistant.clock.now().isoformat()
    await assistant.dialogs.set(ctx.user.id, FLOW, "confirm", data, assistant.clock.now())
    return [summary(assistant, data)]


async def on_confirm_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`vk:<team>`: store the sign-up (once), confirm with a reference, tell the coordinator."""
    from datetime import datetime

    team_id = (ctx.msg.payload or "").partition(":")[2]
    data = await _expect(assistant, ctx, "confirm")
    if data is None or data.get("team") != team_id:
        existing = await assistant.volunteers.find(ctx.user.id, team_id)
        if existing is not None:
            return [Reply(_("You are already signed up (reference {ref}). See /my.").format(
                ref=existing.ref))]
        return await _step_over(assistant, ctx)
    team = assistant.kb.directory.teams.get(team_id)
    if team is None:
        await assistant.dialogs.clear(ctx.user.id)
        return [Reply(_("That team is not in my list (any more)."))]
    new = NewSignup(ctx.user.id, team_id, str(data["name"]), str(data["phone"]),
                    tuple(s for s in SLOTS if s in data.get("when", [])), CONSENT_VERSION,
                    datetime.fromisoformat(str(data["consented_at"])))
    try:
        signup, created = await assistant.volunteers.create(new, assistant.clock.now(),
                                                            team.capacity)
    except Full:
        await assistant.dialogs.clear(ctx.user.id)
        return [Reply(_("Sorry, {team} filled up a moment ago. Nothing was stored; please choose "
                        "another team with /volunteer.").format(team=team.name(i18n.current())))]
    await assistant.dialogs.clear(ctx.user.id)
    if created:
        log.info("volunteer sign-up %s stored for team %s", signup.ref, team_id)
        await coordinators.tell_new_signup(assistant, team, signup)
    return [Reply(_("Thank you! You are signed up for {team}. Your reference number is {ref}. "
                    "The coordinator will contact you. /my shows your sign-ups.").format(
                        team=team.name(i18n.current()), ref=signup.ref))]


async def on_quit_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`vq:` the summary's Cancel."""
    from handlers.faq import on_cancel

    return await on_cancel(assistant, ctx)


COMMANDS = {"volunteer": on_volunteer}
BUTTONS = {"vs": on_start_button, "vj": on_join_button, "vp": on_page_button,
           "va": on_when_button, "vc": on_consent_button, "vk": on_confirm_button,
           "vq": on_quit_button}
DIALOGS = {FLOW: on_dialog}
