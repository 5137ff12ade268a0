"""Who hears about a team's sign-ups: its coordinator, else the cadres of its area."""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from core import i18n
from core.areas import LEVELS, AreaPath
from core.i18n import _
from core.messages import Reply
from handlers.context import App
from knowledge.directory import Team
from services.visibility import team_visible
from storage.users import UserRow
from storage.volunteers import Signup, slot_names

log = logging.getLogger(__name__)


async def recipients(app: App, team: Team) -> list[UserRow]:
    """The team's coordinator if they are a cadre of its area (or an administrator); else the
    most local cadres whose area covers the team; else the administrators."""
    users = app.users
    if team.coordinator:
        channel, _sep, ext = team.coordinator.rpartition(":")
        user = await users.get(channel or "telegram", ext)
        if user is not None and (user.role == "admin" or team_visible(
                app.kb.directory, await users.areas_of(user.id), team)):
            return [user]
    area = app.kb.directory.team_area(team)
    covering = [a for a in await users.list_cadres()
                if AreaPath.parse(a.area_path).covers(area)]
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


async def _send(app: App, user: UserRow, build: Callable[[], list[Reply]]) -> None:
    with i18n.use(user.language or i18n.language_from_code(user.language_code)):
        replies = build()
    await app.outbox.queue(user.channel, user.external_id, replies)


async def tell_new_signup(app: App, team: Team, signup: Signup) -> bool:
    """A message per new sign-up, with what the volunteer agreed the coordinator may see.
    False when nobody could be told: the sign-up waits for the first administrator who
    writes (`tell_held`)."""
    targets = await recipients(app, team)
    if not targets:
        log.warning("sign-up %s for team %s: no coordinator, cadre or administrator to tell; "
                    "kept for the first administrator who writes", signup.ref, team.id)
        await app.volunteers.hold_notice(signup.id, app.clock.now())
        return False
    for user in targets:
        await _send(app, user, lambda: _signup_notice(team, signup))
    return True


async def tell_held(app: App, admin: UserRow) -> None:
    """An administrator wrote: pass on the sign-ups nobody could be told of."""
    for signup in await app.volunteers.take_unannounced():
        team = app.kb.directory.teams.get(signup.team_id)
        if team is not None:
            await _send(app, admin, functools.partial(_signup_notice, team, signup))


def _signup_notice(team: Team, signup: Signup) -> list[Reply]:
    names = slot_names()
    return [Reply(_("New volunteer for {team} ({ref}): {name}, mobile {phone}, available: "
                    "{when}. They agreed to be contacted about volunteering. /volunteers "
                    "lists all sign-ups.").format(
                        team=team.name(i18n.current()), ref=signup.ref, name=signup.name,
                        phone=signup.phone,
                        when=i18n.pick("、", ", ").join(
                            names[s] for s in signup.availability)))]


async def tell_withdrawal(app: App, team: Team, signup: Signup) -> None:
    """The volunteer left the team: their data is gone, the coordinator should know."""
    def build() -> list[Reply]:
        return [Reply(_("Volunteer {ref} ({name}) has withdrawn from {team}; their details "
                        "were deleted.").format(ref=signup.ref, name=signup.name,
                                                team=team.name(i18n.current())))]

    for user in await recipients(app, team):
        await _send(app, user, build)
