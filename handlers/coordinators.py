"""Who hears about a team's sign-ups: its coordinator, else the cadres of its area."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core import i18n
from core.i18n import _
from core.messages import Reply
from handlers.areas import covers, team_visible
from knowledge.directory import Team
from storage.users import LEVELS, UserRow
from storage.volunteers import Signup

if TYPE_CHECKING:
    from handlers.core import Assistant

log = logging.getLogger(__name__)


async def recipients(assistant: Assistant, team: Team) -> list[UserRow]:
    """The team's coordinator if they are a cadre of its area (or an administrator); else the
    most local cadres whose area covers the team; else the administrators."""
    users = assistant.users
    if team.coordinator:
        channel, _sep, ext = team.coordinator.rpartition(":")
        user = await users.get(channel or "telegram", ext)
        if user is not None and (user.role == "admin" or team_visible(
                assistant.kb.directory, await users.areas_of(user.id), team)):
            return [user]
    area = assistant.kb.directory.team_area(team)
    covering = [a for a in await users.list_cadres() if covers(a.level, a.area_path, area)]
    if covering:
        deepest = max(LEVELS.index(a.level) for a in covering)
        out: list[UserRow] = []
        for a in covering:
            if LEVELS.index(a.level) == deepest:
                user = await users.get(a.channel, a.external_id)
                if user is not None and user not in out:
                    out.append(user)
        return out
    return await users.admins()


async def _send(assistant: Assistant, user: UserRow, build) -> None:  # type: ignore[no-untyped-def]
    with i18n.use(user.language or i18n.language_from_code(user.language_code)):
        replies = build()
    await assistant.outbox.send(user.channel, user.external_id, replies)


async def tell_new_signup(assistant: Assistant, team: Team, signup: Signup) -> None:
    """A message per new sign-up, with what the volunteer agreed the coordinator may see."""
    from handlers.volunteer_steps import slot_names

    def build() -> list[Reply]:
        names = slot_names()
        return [Reply(_("New volunteer for {team} ({ref}): {name}, mobile {phone}, available: "
                        "{when}. They agreed to be contacted about volunteering. /volunteers "
                        "lists all sign-ups.").format(
                            team=team.name(i18n.current()), ref=signup.ref, name=signup.name,
                            phone=signup.phone,
                            when=i18n.pick("、", ", ").join(
                                names[s] for s in signup.availability)))]

    targets = await recipients(assistant, team)
    if not targets:
        log.warning("sign-up %s for team %s: no coordinator, cadre or administrator to tell",
                    signup.ref, team.id)
    for user in targets:
        await _send(assistant, user, build)


async def tell_withdrawal(assistant: Assistant, team: Team, signup: Signup) -> None:
    """The volunteer left the team: their data is gone, the coordinator should know."""

    def build() -> list[Reply]:
        return [Reply(_("Volunteer {ref} ({name}) has withdrawn from {team}; their details "
                        "were deleted.").format(ref=signup.ref, name=signup.name,
                                                team=team.name(i18n.current())))]

    for user in await recipients(assistant, team):
        await _send(assistant, user, build)
