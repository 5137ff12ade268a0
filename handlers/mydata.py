"""A resident's own data: /my lists their sign-ups (withdraw each), /forget deletes it all."""
from __future__ import annotations

from typing import TYPE_CHECKING

from core import i18n
from core.i18n import _, ngettext
from core.messages import Button, Reply
from handlers import coordinators

if TYPE_CHECKING:
    from handlers.core import Assistant, Context


def _signup_id(ctx: Context) -> int | None:
    raw = (ctx.msg.payload or "").partition(":")[2]
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


async def on_my(assistant: Assistant, ctx: Context) -> list[Reply]:
    """/my: the user's sign-ups, each with a withdraw button."""
    from handlers.volunteer_steps import slot_names

    signups = await assistant.volunteers.of_user(ctx.user.id)
    if not signups:
        return [Reply(_("You have no volunteer sign-ups. /volunteer shows the teams you can "
                        "join."))]
    lang = i18n.current()
    names = slot_names()
    lines = [_("Your volunteer sign-ups:")]
    rows = []
    for s in signups:
        team = assistant.kb.directory.teams.get(s.team_id)
        title = team.name(lang) if team else s.team_id
        sep = i18n.pick("、", ", ")
        lines.append(f"• {s.ref} {title}{i18n.pick('：', ': ')}{s.name}{sep}{s.phone}{sep}"
                     + sep.join(names[a] for a in s.availability if a in names))
        rows.append((Button(_("Withdraw from {team}").format(team=title)[:60], f"vw:{s.id}"),))
    lines.append(_("/forget deletes all your data."))
    return [Reply("\n".join(lines), buttons=tuple(rows))]


async def on_withdraw_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`vw:<id>`: ask before withdrawing (only from one's own sign-up)."""
    from handlers.core import stale_button

    sid = _signup_id(ctx)
    signup = await assistant.volunteers.get(sid) if sid is not None else None
    if signup is None or signup.user_id != ctx.user.id:
        return await stale_button(assistant, ctx)
    team = assistant.kb.directory.teams.get(signup.team_id)
    title = team.name(i18n.current()) if team else signup.team_id
    return [Reply(_("Withdraw from {team}? Your name and number for this team will be "
                    "deleted.").format(team=title),
                  buttons=((Button(_("Yes, withdraw"), f"vy:{signup.id}"),
                            Button(_("No, keep it"), "vn:")),))]


async def on_withdraw_confirm(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`vy:<id>`: delete the sign-up if it is the user's; tell the coordinator."""
    sid = _signup_id(ctx)
    signup = await assistant.volunteers.withdraw(sid, ctx.user.id) if sid is not None else None
    if signup is None:
        return [Reply(_("That sign-up is already gone. /my shows what is left."))]
    team = assistant.kb.directory.teams.get(signup.team_id)
    if team is not None:
        await coordinators.tell_withdrawal(assistant, team, signup)
    title = team.name(i18n.current()) if team else signup.team_id
    return [Reply(_("You have withdrawn from {team}; your details for it were deleted.").format(
        team=title))]


async def on_keep_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    return [Reply(_("Nothing changed."))]


async def on_forget(assistant: Assistant, ctx: Context) -> list[Reply]:
    """/forget: say what will be deleted and ask to confirm."""
    count = len(await assistant.volunteers.of_user(ctx.user.id))
    text = ngettext(
        "This deletes everything I store about you: {count} volunteer sign-up (name, mobile "
        "number, availability), any unfinished conversation and your language setting. It "
        "cannot be undone. Delete?",
        "This deletes everything I store about you: {count} volunteer sign-ups (names, mobile "
        "numbers, availability), any unfinished conversation and your language setting. It "
        "cannot be undone. Delete?", count).format(count=count)
    return [Reply(text, buttons=((Button(_("Delete my data"), "fg:yes"),
                                  Button(_("Keep it"), "fg:no")),))]


async def on_forget_button(assistant: Assistant, ctx: Context) -> list[Reply]:
    """`fg:yes` deletes; a resident's user record goes too, a cadre keeps the role."""
    if (ctx.msg.payload or "") != "fg:yes":
        return [Reply(_("Nothing was deleted."))]
    signups = await assistant.volunteers.of_user(ctx.user.id)
    count = await assistant.volunteers.forget_user(ctx.user.id)
    for village_id in await assistant.disclosures.subscriptions(ctx.user.id):
        await assistant.disclosures.unsubscribe(ctx.user.id, village_id)
    for s in signups:
        team = assistant.kb.directory.teams.get(s.team_id)
        if team is not None:
            await coordinators.tell_withdrawal(assistant, team, s)
    text = ngettext("Deleted: {count} volunteer sign-up with your name and mobile number, and "
                    "any unfinished conversation.",
                    "Deleted: {count} volunteer sign-ups with your names and mobile numbers, "
                    "and any unfinished conversation.", count).format(count=count)
    if ctx.user.role == "resident":
        await assistant.users.delete(ctx.user.id)
        text += "\n" + _("Your user record (chat id and language) was deleted too.")
    else:
        text += "\n" + _("Your cadre role is kept; an administrator can remove it.")
    return [Reply(text, clear_keyboard=True)]


COMMANDS = {"my": on_my, "forget": on_forget}
BUTTONS = {"vm": on_my, "vw": on_withdraw_button, "vy": on_withdraw_confirm, "vn": on_keep_button,
           "fg": on_forget_button}
