"""Roles: administrators (from BOT_ADMINS) make users cadres of an area and take it back."""
from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from core.i18n import _
from core.messages import Reply
from knowledge.places import Gazetteer
from storage.users import LEVELS, UserRepo, UserRow

if TYPE_CHECKING:
    from handlers.core import Assistant, Context

LEVEL_ALIASES = {
    "city": "city", "市": "city", "市级": "city",
    "district": "district", "county": "district", "区": "district", "县": "district",
    "区县": "district", "区县级": "district",
    "township": "township", "street": "township", "乡镇": "township", "街道": "township",
    "乡镇街道": "township",
    "village": "village", "community": "village", "村": "village", "社区": "village",
    "村社区": "village",
}
# How many names below the city each level's area path must have.
_DEPTH = {"city": 0, "district": 1, "township": 2, "village": 3}
_SEP = re.compile(r"\s*[/／>]\s*")


class RoleError(ValueError):
    """A role command that cannot be carried out; the message is for the user."""


def parse_level(text: str) -> str:
    level = LEVEL_ALIASES.get(text.strip().lower())
    if level is None:
        raise RoleError(_("Unknown level {level}. Use one of: city, district, township, "
                          "village.").format(level=text))
    return level


def parse_area(gazetteer: Gazetteer, level: str, text: str) -> str:
    """`岳麓区/望月湖街道` -> `长沙市/岳麓区/望月湖街道`; the district must be one we know."""
    city = gazetteer.places["changsha"].name_zh
    parts = [p for p in _SEP.split(text.strip()) if p]
    if parts and gazetteer.find(parts[0]) and gazetteer.find(parts[0])[0].place.kind == "city":
        parts = parts[1:]
    need = _DEPTH[level]
    if len(parts) != need:
        raise RoleError(_("A {level} area needs {count} name(s) below the city, separated by "
                          "/, for example 岳麓区/XX街道/XX社区.").format(level=level, count=need))
    if need:
        found = [pm for pm in gazetteer.find(parts[0]) if pm.place.kind == "district"]
        if not found:
            raise RoleError(_("{name} is not a district or county of Changsha.").format(
                name=parts[0]))
        parts[0] = found[0].place.name_zh
    if any(len(p) > 40 for p in parts):
        raise RoleError(_("That area name is too long."))
    return "/".join([city, *parts])


async def find_target(users: UserRepo, ref: str, default_channel: str) -> UserRow:
    """A user by `id` (same channel as the actor) or `channel:id`; they must have written."""
    channel, _sep, ext = ref.rpartition(":")
    user = await users.get(channel or default_channel, ext)
    if user is None:
        raise RoleError(_("No user {ref} has written to the bot yet. Ask them to send /start "
                          "first.").format(ref=ref))
    return user


async def grant(users: UserRepo, gazetteer: Gazetteer, target: UserRow, level_text: str,
                area_text: str, now: datetime, *, by: UserRow | None) -> str:
    """Make `target` a cadre; returns the area path. Shared by the chat and the CLI."""
    level = parse_level(level_text)
    area = parse_area(gazetteer, level, area_text)
    await users.grant_area(target, level, area, now, by_user=by.id if by else None,
                           by_label=f"{by.channel}:{by.external_id}" if by else "cli")
    return area


async def revoke(users: UserRepo, target: UserRow, now: datetime, *, by: UserRow | None) -> int:
    return await users.revoke_areas(target, now, by_user=by.id if by else None,
                                    by_label=f"{by.channel}:{by.external_id}" if by else "cli")


def level_name(level: str) -> str:
    names = {"city": _("city"), "district": _("district/county"),
             "township": _("township/street"), "village": _("village/community")}
    return names.get(level, level)


def refuse() -> list[Reply]:
    return [Reply(_("Sorry, only administrators can do that. If you need help, send /help."))]


async def on_whoami(assistant: Assistant, ctx: Context) -> list[Reply]:
    """Shows the user's own id and role (what an administrator needs to make them a cadre)."""
    areas = await assistant.users.areas_of(ctx.user.id)
    role = {"resident": _("resident"), "cadre": _("cadre"), "admin": _("administrator")}
    text = _("Your id: {id}\nRole: {role}").format(id=ctx.user.external_id,
                                                   role=role[ctx.user.role])
    for a in areas:
        text += f"\n- {level_name(a.level)}: {a.area_path}"
    return [Reply(text)]


async def on_promote(assistant: Assistant, ctx: Context) -> list[Reply]:
    """/promote <user id> <level> <area path>"""
    from handlers.core import command_args

    if ctx.user.role != "admin":
        return refuse()
    args = command_args(ctx)
    if len(args) < 2 or (len(args) < 3 and parse_level_safe(args[1]) != "city"):
        return [Reply(_("Usage: /promote <user id> <level> <area>\nLevels: city, district, "
                        "township, village. Example: /promote 12345 district 岳麓区"))]
    try:
        target = await find_target(assistant.users, args[0], ctx.user.channel)
        area = await grant(assistant.users, assistant.kb.gazetteer, target, args[1],
                           " ".join(args[2:]), assistant.clock.now(), by=ctx.user)
    except RoleError as exc:
        return [Reply(str(exc))]
    return [Reply(_("{user} is now a cadre of {area}.").format(user=args[0], area=area))]


def parse_level_safe(text: str) -> str | None:
    return LEVEL_ALIASES.get(text.strip().lower())


async def on_demote(assistant: Assistant, ctx: Context) -> list[Reply]:
    """/demote <user id>: takes back all the user's cadre areas."""
    from handlers.core import command_args

    if ctx.user.role != "admin":
        return refuse()
    args = command_args(ctx)
    if len(args) != 1:
        return [Reply(_("Usage: /demote <user id>"))]
    try:
        target = await find_target(assistant.users, args[0], ctx.user.channel)
    except RoleError as exc:
        return [Reply(str(exc))]
    count = await revoke(assistant.users, target, assistant.clock.now(), by=ctx.user)
    return [Reply(_("{user}: {count} cadre area(s) removed.").format(user=args[0], count=count))]


async def on_cadres(assistant: Assistant, ctx: Context) -> list[Reply]:
    """/cadres: every cadre and area (administrators only)."""
    if ctx.user.role != "admin":
        return refuse()
    cadres = await assistant.users.list_cadres()
    if not cadres:
        return [Reply(_("There are no cadres yet."))]
    lines = [f"{c.channel}:{c.external_id} — {level_name(c.level)} — {c.area_path}"
             for c in cadres]
    return [Reply(_("Cadres:") + "\n" + "\n".join(lines))]


COMMANDS = {"whoami": on_whoami, "promote": on_promote, "demote": on_demote,
            "cadres": on_cadres}
assert set(_DEPTH) == set(LEVELS)
