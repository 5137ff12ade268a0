"""Roles: administrators (from BOT_ADMINS) make users cadres of an area and take it back; area
names typed by people become area paths. Shared by the chat and the CLI."""
from __future__ import annotations

import re
from datetime import datetime

from core.areas import LEVELS, level_name
from core.i18n import _
from knowledge.places import Gazetteer
from storage.invites import Invite, InviteRepo
from storage.users import UserRepo, UserRow

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
assert set(_DEPTH) == set(LEVELS)


class RoleError(ValueError):
    """A role command that cannot be carried out; the message is for the user."""


def parse_level(text: str) -> str:
    level = LEVEL_ALIASES.get(text.strip().lower())
    if level is None:
        raise RoleError(_("Unknown level {level}. Use one of: city, district, township, "
                          "village.").format(level=text))
    return level


def parse_level_safe(text: str) -> str | None:
    return LEVEL_ALIASES.get(text.strip().lower())


def level_for_depth(text: str) -> str:
    """The level an area typed as names implies: `雨花区` district, `雨花区/XX街道` township..."""
    depth = len([p for p in _SEP.split(text.strip()) if p])
    return LEVELS[min(depth, 3)]


def parse_area(gazetteer: Gazetteer, level: str, text: str) -> str:
    """`岳麓区/望月湖街道` -> `长沙市/岳麓区/望月湖街道`; the district must be one we know."""
    city = gazetteer.places["changsha"].name_zh
    parts = [p for p in _SEP.split(text.strip()) if p]
    if parts:
        first = gazetteer.find(parts[0])
        if (first and first[0].place.kind == "city") or parts[0].lower() in ("all", "全市"):
            parts = parts[1:]
    need = _DEPTH[level]
    if len(parts) != need:
        raise RoleError(_area_hint(level))
    if need:
        found = [pm for pm in gazetteer.find(parts[0]) if pm.place.kind == "district"]
        if not found:
            raise RoleError(_("{name} is not a district or county of Changsha.").format(
                name=parts[0]))
        parts[0] = found[0].place.name_zh
    if any(len(p) > 40 for p in parts):
        raise RoleError(_("That area name is too long."))
    return "/".join([city, *parts])


def _area_hint(level: str) -> str:
    """How an area of this level is written, with an example of that level."""
    examples = {"district": "岳麓区", "township": "岳麓区/XX街道",
                "village": "岳麓区/XX街道/XX社区"}
    if level == "city":
        return _("A city-level area is the whole city: write all (or 全市).")
    return _("A {level} area is written like {example} (names below the city, separated "
             "by /).").format(level=level_name(level), example=examples[level])


async def find_target(users: UserRepo, ref: str, default_channel: str) -> UserRow:
    """A user by `id` (same channel as the actor) or `channel:id`; they must have written."""
    channel, _sep, ext = ref.rpartition(":")
    user = await users.get(channel or default_channel, ext)
    if user is None:
        raise RoleError(_("No user {ref} has written to the bot yet. Ask them to send /start "
                          "first.").format(ref=ref))
    return user


def _label(by: UserRow | None) -> str:
    return f"{by.channel}:{by.external_id}" if by else "cli"


async def grant(users: UserRepo, gazetteer: Gazetteer, target: UserRow, level_text: str,
                area_text: str, now: datetime, *, by: UserRow | None) -> str:
    """Make `target` a cadre; returns the area path."""
    level = parse_level(level_text)
    area = parse_area(gazetteer, level, area_text)
    await users.grant_area(target, level, area, now, by_user=by.id if by else None,
                           by_label=_label(by))
    return area


async def revoke(users: UserRepo, target: UserRow, now: datetime, *, by: UserRow | None) -> int:
    """Take back all the target's cadre areas; returns how many."""
    return await users.revoke_areas(target, now, by_user=by.id if by else None,
                                    by_label=_label(by))


async def set_area(users: UserRepo, gazetteer: Gazetteer, target: UserRow, level_text: str,
                   area_text: str, now: datetime, *, by: UserRow | None) -> tuple[str, str]:
    """Replace a cadre's areas by one; returns (level, area path)."""
    level = parse_level(level_text)
    area = parse_area(gazetteer, level, area_text)
    await users.replace_areas(target, level, area, now, by_user=by.id if by else None,
                              by_label=_label(by))
    return level, area


async def invite(invites: InviteRepo, gazetteer: Gazetteer, level_text: str, area_text: str,
                 now: datetime, *, by: UserRow | None) -> Invite:
    """A single-use code that makes its holder a cadre of the area."""
    level = parse_level(level_text)
    area = parse_area(gazetteer, level, area_text)
    return await invites.create(level, area, now, by=_label(by))
