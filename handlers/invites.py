"""Cadre onboarding by single-use invite codes, and changing a cadre's area."""
from __future__ import annotations

from typing import TYPE_CHECKING

from core.i18n import _
from core.messages import Reply
from handlers.admin import RoleError, find_target, level_name, parse_area, parse_level, refuse

if TYPE_CHECKING:
    from handlers.core import Assistant, Context


async def on_invite(assistant: Assistant, ctx: Context) -> list[Reply]:
    """/invite LEVEL AREA (administrators): a code valid for 7 days, usable once."""
    from handlers.core import command_args

    if ctx.user.role != "admin":
        return refuse()
    args = command_args(ctx)
    if not args:
        return [Reply(_("Usage: /invite LEVEL AREA, e.g. /invite township 岳麓区/望月湖街道"))]
    try:
        level = parse_level(args[0])
        area = parse_area(assistant.kb.gazetteer, level, " ".join(args[1:]))
    except RoleError as exc:
        return [Reply(str(exc))]
    invite = await assistant.invites.create(level, area, assistant.clock.now(),
                                            by=f"{ctx.user.channel}:{ctx.user.external_id}")
    from datetime import datetime

    expires = datetime.fromisoformat(invite.expires_at).astimezone(
        assistant.settings.tz).strftime("%Y-%m-%d %H:%M")
    return [Reply(_("Invite code {code} for a {level} cadre of {area}, valid until {expires}, "
                    "usable once. The new cadre sends: /cadre {code}").format(
                        code=invite.code, level=level_name(level), area=area, expires=expires))]


async def on_cadre(assistant: Assistant, ctx: Context) -> list[Reply]:
    """/cadre CODE: become the cadre the code was made for."""
    from handlers.core import command_args

    args = command_args(ctx)
    if not args:
        return [Reply(_("Send /cadre followed by the invite code you were given."))]
    invite = await assistant.invites.redeem(args[0][:20], ctx.user, assistant.clock.now())
    if invite is None:
        return [Reply(_("That code is not valid: it may be mistyped, used already or expired "
                        "(codes last 7 days). Ask the administrator for a new one."))]
    return [Reply(_("Welcome! You are now a {level} cadre of {area}. You will receive "
                    "inspection reminders here; /volunteers shows the volunteer sign-ups of "
                    "your area.").format(level=level_name(invite.level), area=invite.area_path))]


async def on_setarea(assistant: Assistant, ctx: Context) -> list[Reply]:
    """/setarea USER LEVEL AREA (administrators): replace a cadre's area."""
    from handlers.core import command_args

    if ctx.user.role != "admin":
        return refuse()
    args = command_args(ctx)
    if len(args) < 2:
        return [Reply(_("Usage: /setarea USER_ID LEVEL AREA, e.g. /setarea 12345 district "
                        "雨花区"))]
    try:
        target = await find_target(assistant.users, args[0], ctx.user.channel)
        level = parse_level(args[1])
        area = parse_area(assistant.kb.gazetteer, level, " ".join(args[2:]))
    except RoleError as exc:
        return [Reply(str(exc))]
    await assistant.users.replace_areas(target, level, area, assistant.clock.now(),
                                        by_user=ctx.user.id,
                                        by_label=f"{ctx.user.channel}:{ctx.user.external_id}")
    return [Reply(_("{user} is now a {level} cadre of {area} (other areas removed).").format(
        user=args[0], level=level_name(level), area=area))]


COMMANDS = {"invite": on_invite, "cadre": on_cadre, "setarea": on_setarea}
