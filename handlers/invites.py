"""Cadre onboarding by single-use invite codes, and changing a cadre's area."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from core.areas import level_name
from core.i18n import _
from core.messages import Reply
from handlers.context import App, Context, command_args, refuse
from handlers.router import Feature
from services.roles import RoleError, find_target, invite, set_area

log = logging.getLogger(__name__)
# Wrong codes allowed in an hour before codes are refused unchecked: per user (a cadre who
# mistypes a few times), and overall (many accounts guessing together).
CODE_TRIES_PER_USER = 5
CODE_TRIES_OVERALL = 50


async def on_invite(app: App, ctx: Context) -> list[Reply]:
    """/invite LEVEL AREA (administrators): a code valid for 7 days, usable once."""
    if ctx.user.role != "admin":
        return refuse()
    args = command_args(ctx)
    if not args:
        return [Reply(_("Usage: /invite LEVEL AREA, e.g. /invite township 岳麓区/望月湖街道"))]
    try:
        code = await invite(app.invites, app.kb.gazetteer, args[0], " ".join(args[1:]),
                            app.clock.now(), by=ctx.user)
    except RoleError as exc:
        return [Reply(str(exc))]
    expires = datetime.fromisoformat(code.expires_at).astimezone(
        app.settings.tz).strftime("%Y-%m-%d %H:%M")
    return [Reply(_("Invite code {code} for a {level} cadre of {area}, valid until {expires}, "
                    "usable once. The new cadre sends: /cadre {code}").format(
                        code=code.code, level=level_name(code.level), area=code.area_path,
                        expires=expires))]


async def on_cadre(app: App, ctx: Context) -> list[Reply]:
    """/cadre CODE: become the cadre the code was made for."""
    args = command_args(ctx)
    if not args:
        return [Reply(_("Send /cadre followed by the invite code you were given."))]
    now = app.clock.now()
    hour_ago = now - timedelta(hours=1)
    if (await app.invites.failures(ctx.user.id, hour_ago) >= CODE_TRIES_PER_USER
            or await app.invites.failures(None, hour_ago) >= CODE_TRIES_OVERALL):
        log.warning("invite code refused unchecked: too many wrong codes (user %s)",
                    ctx.user.id)
        return [Reply(_("Too many wrong codes in the last hour. Please try again in an hour, "
                        "or ask the administrator for help."))]
    redeemed = await app.invites.redeem(args[0][:20], ctx.user, now)
    if redeemed is None:
        await app.invites.record_failure(ctx.user.id, now)
        log.warning("wrong invite code from user %s", ctx.user.id)
        return [Reply(_("That code is not valid: it may be mistyped, used already or expired "
                        "(codes last 7 days). Ask the administrator for a new one."))]
    return [Reply(_("Welcome! You are now a {level} cadre of {area}. You will receive "
                    "inspection reminders here; /volunteers shows the volunteer sign-ups of "
                    "your area.").format(level=level_name(redeemed.level),
                                         area=redeemed.area_path))]


async def on_setarea(app: App, ctx: Context) -> list[Reply]:
    """/setarea USER LEVEL AREA (administrators): replace a cadre's area."""
    if ctx.user.role != "admin":
        return refuse()
    args = command_args(ctx)
    if len(args) < 2:
        return [Reply(_("Usage: /setarea USER_ID LEVEL AREA, e.g. /setarea 12345 district "
                        "雨花区"))]
    try:
        target = await find_target(app.users, args[0], ctx.user.channel)
        level, area = await set_area(app.users, app.kb.gazetteer, target, args[1],
                                     " ".join(args[2:]), app.clock.now(), by=ctx.user)
    except RoleError as exc:
        return [Reply(str(exc))]
    return [Reply(_("{user} is now a {level} cadre of {area} (other areas removed).").format(
        user=args[0], level=level_name(level), area=area))]


FEATURE = Feature("invites", commands={"invite": on_invite, "cadre": on_cadre,
                                       "setarea": on_setarea})
