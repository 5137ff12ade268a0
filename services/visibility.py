"""Who may see which volunteer teams' sign-ups: cadres' areas matched against the directory
(core/areas.py says how unknown names are treated)."""
from __future__ import annotations

from core.areas import AreaPath
from knowledge.directory import Directory, Team
from storage.users import CadreArea, UserRepo, UserRow


def team_visible(directory: Directory, areas: list[CadreArea], team: Team) -> bool:
    place = directory.team_area(team)
    return any(AreaPath.parse(a.area_path).covers(place) for a in areas)


def teams_in(directory: Directory, area: AreaPath) -> set[str]:
    """Ids of the teams that lie in an area."""
    return {t.id for t in directory.teams.values() if area.covers(directory.team_area(t))}


async def visible_team_ids(users: UserRepo, directory: Directory,
                           user: UserRow) -> set[str] | None:
    """Team ids whose sign-ups the user may see: None = all (administrator), empty = none."""
    if user.role == "admin":
        return None
    if user.role != "cadre":
        return set()
    areas = await users.areas_of(user.id)
    return set().union(*(teams_in(directory, AreaPath.parse(a.area_path)) for a in areas))
