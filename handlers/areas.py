"""Which volunteer teams a cadre may see: area paths matched against the directory.

A cadre's area is a path `长沙市/区县/乡镇街道/村社区` (see handlers/admin.py). A team lies in its
community; the directory knows the community's district and street only when the operator has
recorded them. Unknown parts never match (privacy first): a district cadre does not see a
community whose district is not recorded; only city-level cadres and administrators do.
"""
from __future__ import annotations

from knowledge.directory import Directory, Team
from storage.users import CadreArea, UserRepo, UserRow


def covers(level: str, area_path: str, team_area: tuple[str | None, ...]) -> bool:
    """Does a cadre area (level + path) include a team's (city, district, street, community)?"""
    parts = area_path.split("/")
    city, district, street, community = (tuple(team_area) + (None,) * 4)[:4]
    if not parts or parts[0] != city:
        return False
    if level == "city":
        return True
    if district is None or len(parts) < 2 or parts[1] != district:
        return False
    if level == "district":
        return True
    if level == "township":
        return street is not None and len(parts) >= 3 and parts[2] == street
    if level == "village":
        return (community is not None and len(parts) >= 4 and parts[3] == community
                and (street is None or parts[2] == street))
    return False


def team_visible(directory: Directory, areas: list[CadreArea], team: Team) -> bool:
    area = directory.team_area(team)
    return any(covers(a.level, a.area_path, area) for a in areas)


async def visible_team_ids(users: UserRepo, directory: Directory,
                           user: UserRow) -> set[str] | None:
    """Team ids whose sign-ups the user may see: None = all (administrator), empty = none."""
    if user.role == "admin":
        return None
    if user.role != "cadre":
        return set()
    areas = await users.areas_of(user.id)
    return {t.id for t in directory.teams.values() if team_visible(directory, areas, t)}
