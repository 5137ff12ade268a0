"""A resident's own data: /my lists their sign-ups (withdraw each), /forget deletes it all."""
from __future__ import annotations

from core import i18n
from core.callbacks import CallbackData
from core.i18n import _, ngettext
from core.messages import Button, Reply
from handlers import coordinators
from handlers.context import App, Context, stale_button
from handlers.router import Feature, on_button
from storage.volunteers import slot_names


class MySignups(CallbackData, prefix="vm"):
    """/my as a button."""


class Withdraw(CallbackData, prefix="vw"):
    signup: int


class WithdrawYes(CallbackData, prefix="vy"):
    signup: int


class Keep(CallbackData, prefix="vn"):
    """No, keep the sign-up."""


class Forget(CallbackData, prefix="fg"):
    answer: str  # "yes" deletes; anything else keeps


async def on_my(app: App, ctx: Context) -> list[Reply]:
    """/my: the user's sign-ups, each with a withdraw button."""
    signups = await app.volunteers.of_user(ctx.user.id)
    if not signups:
        return [Reply(_("You have no volunteer sign-ups. /volunteer shows the teams you can "
                        "join."))]
    lang = i18n.current()
    names = slot_names()
    lines = [_("Your volunteer sign-ups:")]
    rows = []
    for s in signups:
        team = app.kb.directory.teams.get(s.team_id)
        title = team.name(lang) if team else s.team_id
        sep = i18n.pick("、", ", ")
        lines.append(f"• {s.ref} {title}{i18n.pick('：', ': ')}{s.name}{sep}{s.phone}{sep}"
                     + sep.join(names[a] for a in s.availability if a in names))
        rows.append((Button(_("Withdraw from {team}").format(team=title)[:60],
                            Withdraw(s.id).pack()),))
    lines.append(_("/forget deletes all your data."))
    return [Reply("\n".join(lines), buttons=tuple(rows))]


async def on_my_button(app: App, ctx: Context, data: MySignups) -> list[Reply]:
    return await on_my(app, ctx)


async def on_withdraw_button(app: App, ctx: Context, data: Withdraw) -> list[Reply]:
    """Ask before withdrawing (only from one's own sign-up)."""
    signup = await app.volunteers.get(data.signup)
    if signup is None or signup.user_id != ctx.user.id:
        return await stale_button(app, ctx)
    team = app.kb.directory.teams.get(signup.team_id)
    title = team.name(i18n.current()) if team else signup.team_id
    return [Reply(_("Withdraw from {team}? Your name and number for this team will be "
                    "deleted.").format(team=title),
                  buttons=((Button(_("Yes, withdraw"), WithdrawYes(signup.id).pack()),
                            Button(_("No, keep it"), Keep().pack())),))]


async def on_withdraw_confirm(app: App, ctx: Context, data: WithdrawYes) -> list[Reply]:
    """Delete the sign-up if it is the user's; tell the coordinator."""
    signup = await app.volunteers.withdraw(data.signup, ctx.user.id)
    if signup is None:
        return [Reply(_("That sign-up is already gone. /my shows what is left."))]
    team = app.kb.directory.teams.get(signup.team_id)
    if team is not None:
        await coordinators.tell_withdrawal(app, team, signup)
    title = team.name(i18n.current()) if team else signup.team_id
    return [Reply(_("You have withdrawn from {team}; your details for it were deleted.").format(
        team=title))]


async def on_keep_button(app: App, ctx: Context, data: Keep) -> list[Reply]:
    return [Reply(_("Nothing changed."))]


async def on_forget(app: App, ctx: Context) -> list[Reply]:
    """/forget: say what will be deleted and ask to confirm."""
    count = len(await app.volunteers.of_user(ctx.user.id))
    text = ngettext(
        "This deletes everything I store about you: {count} volunteer sign-up (name, mobile "
        "number, availability), any unfinished conversation and your language setting. It "
        "cannot be undone. Delete?",
        "This deletes everything I store about you: {count} volunteer sign-ups (names, mobile "
        "numbers, availability), any unfinished conversation and your language setting. It "
        "cannot be undone. Delete?", count).format(count=count)
    return [Reply(text, buttons=((Button(_("Delete my data"), Forget("yes").pack()),
                                  Button(_("Keep it"), Forget("no").pack())),))]


async def on_forget_button(app: App, ctx: Context, data: Forget) -> list[Reply]:
    """`yes` deletes; a resident's user record goes too, a cadre keeps the role."""
    if data.answer != "yes":
        return [Reply(_("Nothing was deleted."))]
    signups = await app.volunteers.of_user(ctx.user.id)
    count = await app.volunteers.forget_user(ctx.user.id)
    for village_id in await app.disclosures.subscriptions(ctx.user.id):
        await app.disclosures.unsubscribe(ctx.user.id, village_id)
    for s in signups:
        team = app.kb.directory.teams.get(s.team_id)
        if team is not None:
            await coordinators.tell_withdrawal(app, team, s)
    text = ngettext("Deleted: {count} volunteer sign-up with your name and mobile number, and "
                    "any unfinished conversation.",
                    "Deleted: {count} volunteer sign-ups with your names and mobile numbers, "
                    "and any unfinished conversation.", count).format(count=count)
    if ctx.user.role == "resident":
        await app.users.delete(ctx.user.id)
        text += "\n" + _("Your user record (chat id and language) was deleted too.")
    else:
        text += "\n" + _("Your cadre role is kept; an administrator can remove it.")
    return [Reply(text, clear_keyboard=True)]


FEATURE = Feature(
    "mydata",
    private="my",
    commands={"my": on_my, "forget": on_forget},
    buttons=(on_button(MySignups, on_my_button), on_button(Withdraw, on_withdraw_button),
             on_button(WithdrawYes, on_withdraw_confirm), on_button(Keep, on_keep_button),
             on_button(Forget, on_forget_button)),
)
