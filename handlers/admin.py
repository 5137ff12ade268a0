"""Roles in the chat: /whoami for everyone; administrators (from BOT_ADMINS) make users cadres
of an area and take it back (services/roles.py does the work, for the CLI too)."""
from __future__ import annotations

from core.areas import level_name
from core.i18n import _
from core.messages import Reply
from handlers.context import App, Context, command_args, refuse
from handlers.router import Feature
from services.roles import RoleError, find_target, grant, parse_level_safe, revoke


async def on_whoami(app: App, ctx: Context) -> list[Reply]:
    """Shows the user's own id and role (what an administrator needs to make them a cadre)."""
    areas = await app.users.areas_of(ctx.user.id)
    role = {"resident": _("resident"), "cadre": _("cadre"), "admin": _("administrator")}
    text = _("Your id: {id}\nRole: {role}").format(id=ctx.user.external_id,
                                                   role=role[ctx.user.role])
    for a in areas:
        text += f"\n- {level_name(a.level)}: {a.area_path}"
    return [Reply(text)]


async def on_promote(app: App, ctx: Context) -> list[Reply]:
    """/promote <user id> <level> <area path>"""
    if ctx.user.role != "admin":
        return refuse()
    args = command_args(ctx)
    if len(args) < 2 or (len(args) < 3 and parse_level_safe(args[1]) != "city"):
        return [Reply(_("Usage: /promote <user id> <level> <area>\nLevels: city, district, "
                        "township, village. Example: /promote 12345 district 岳麓区"))]
    try:
        target = await find_target(app.users, args[0], ctx.user.channel)
        area = await grant(app.users, app.kb.gazetteer, target, args[1],
                           " ".join(args[2:]), app.clock.now(), by=ctx.user)
    except RoleError as exc:
        return [Reply(str(exc))]
    return [Reply(_("{user} is now a cadre of {area}.").format(user=args[0], area=area))]


async def on_demote(app: App, ctx: Context) -> list[Reply]:
    """/demote <user id>: takes back all the user's cadre areas."""
    if ctx.user.role != "admin":
        return refuse()
    args = command_args(ctx)
    if len(args) != 1:
        return [Reply(_("Usage: /demote <user id>"))]
    try:
        target = await find_target(app.users, args[0], ctx.user.channel)
    except RoleError as exc:
        return [Reply(str(exc))]
    count = await revoke(app.users, target, app.clock.now(), by=ctx.user)
    return [Reply(_("{user}: {count} cadre area(s) removed.").format(user=args[0], count=count))]


async def on_cadres(app: App, ctx: Context) -> list[Reply]:
    """/cadres: every cadre and area (administrators only)."""
    if ctx.user.role != "admin":
        return refuse()
    cadres = await app.users.list_cadres()
    if not cadres:
        return [Reply(_("There are no cadres yet."))]
    lines = [f"{c.channel}:{c.external_id} — {level_name(c.level)} — {c.area_path}"
             for c in cadres]
    return [Reply(_("Cadres:") + "\n" + "\n".join(lines))]


FEATURE = Feature(
    "admin",
    commands={"whoami": on_whoami, "promote": on_promote, "demote": on_demote,
              "cadres": on_cadres},
)
