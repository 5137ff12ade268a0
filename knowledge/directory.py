"""The community services directory: service types, service points and volunteer teams.

Loaded from knowledge/directory/{types,services*,teams*}.yaml (hand-edited files and the files
`bot.py directory import` writes). Places (districts, communities) come from the gazetteer.
"""
from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass
from pathlib import Path

from core.areas import PlaceArea
from knowledge.files import layered, read_yaml
from knowledge.places import Gazetteer, Place
from knowledge.text import normalise

ID_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# Changsha lies within about 27.85-28.70 N, 111.88-114.25 E; a little margin either side.
LAT_RANGE = (27.5, 29.0)
LON_RANGE = (111.5, 114.6)
EARTH_KM = 6371.0088


@dataclass(frozen=True)
class ServiceType:
    id: str
    name_zh: str
    name_en: str
    keywords: tuple[str, ...] = ()

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


@dataclass(frozen=True)
class ServicePoint:
    id: str
    name_zh: str
    name_en: str
    type: str
    community: str = ""
    district: str = ""
    address: str = ""
    hours: str = ""
    phone: str = ""
    lat: float | None = None
    lon: float | None = None
    source: str = ""
    historical: bool = False
    file: str = ""

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name_zh


@dataclass(frozen=True)
class Team:
    id: str
    name_zh: str
    name_en: str
    community: str
    service_type: str = ""
    description_zh: str = ""
    description_en: str = ""
    coordinator: str = ""
    capacity: int | None = None
    source: str = ""
    historical: bool = False
    file: str = ""

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name_zh

    def description(self, lang: str) -> str:
        return self.description_en if lang == "en" and self.description_en else self.description_zh


def _text(raw: dict, key: str) -> str:
    value = raw.get(key)
    return "" if value is None else str(value).strip()


def _float(raw: dict, key: str) -> float | None:
    value = raw.get(key)
    if value is None or str(value).strip() == "":
        return None
    return float(value)


def point_from_data(raw: dict, file: str = "") -> ServicePoint:
    return ServicePoint(
        id=_text(raw, "id"), name_zh=_text(raw, "name_zh"), name_en=_text(raw, "name_en"),
        type=_text(raw, "type"), community=_text(raw, "community"),
        district=_text(raw, "district"), address=_text(raw, "address"),
        hours=_text(raw, "hours"), phone=_text(raw, "phone"), lat=_float(raw, "lat"),
        lon=_float(raw, "lon"), source=_text(raw, "source"),
        historical=bool(raw.get("historical")), file=file)


def team_from_data(raw: dict, file: str = "") -> Team:
    capacity = raw.get("capacity")
    return Team(
        id=_text(raw, "id"), name_zh=_text(raw, "name_zh"), name_en=_text(raw, "name_en"),
        community=_text(raw, "community"), service_type=_text(raw, "service_type"),
        description_zh=_text(raw, "description_zh"), description_en=_text(raw, "description_en"),
        coordinator=_text(raw, "coordinator"),
        capacity=int(capacity) if capacity not in (None, "") else None,
        source=_text(raw, "source"), historical=bool(raw.get("historical")), file=file)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


class Directory:
    """Service points and teams, with lookups by place, by type, by distance and by words."""

    def __init__(self, types: list[ServiceType], points: list[ServicePoint], teams: list[Team],
                 gazetteer: Gazetteer, duplicates: tuple[str, ...] = ()) -> None:
        self.types = {t.id: t for t in types}
        self.points = {p.id: p for p in points}
        self.teams = {t.id: t for t in teams}
        self.gazetteer = gazetteer
        self.duplicates = duplicates  # ids defined twice (reported by kb check)
        self._type_words = sorted(
            ((normalise(w), t) for t in types for w in (t.name_zh, t.name_en, *t.keywords) if w),
            key=lambda wt: -len(wt[0]))
        located = [p for p in points if p.lat is not None and p.lon is not None]
        self._located = located
        self._lat = [math.radians(p.lat) for p in located]  # type: ignore[arg-type]
        self._lon = [math.radians(p.lon) for p in located]  # type: ignore[arg-type]

    @classmethod
    def load(cls, folder: Path, gazetteer: Gazetteer,
             overlay: Path | None = None) -> Directory:
        """The shipped folder's files, then the operator's (`overlay`)."""
        types_data = read_yaml(folder / "types.yaml") if (folder / "types.yaml").exists() else {}
        types = [ServiceType(str(t["id"]), str(t["name_zh"]), str(t["name_en"]),
                             tuple(str(k) for k in t.get("keywords") or ()))
                 for t in (types_data or {}).get("types") or ()]
        seen: dict[str, str] = {}
        dups: list[str] = []
        points: list[ServicePoint] = []
        teams: list[Team] = []
        for path in layered(folder, "services*.yaml", overlay):
            for raw in (read_yaml(path) or {}).get("services") or ():
                points.append(point_from_data(raw, path.name))
        for path in layered(folder, "teams*.yaml", overlay):
            for raw in (read_yaml(path) or {}).get("teams") or ():
                teams.append(team_from_data(raw, path.name))
        for kind, items in (("service", points), ("team", teams)):
            for item in items:
                key = f"{kind}:{item.id}"
                if key in seen:
                    dups.append(f"{kind} {item.id} ({seen[key]}, {item.file})")
                seen.setdefault(key, item.file)
        return cls(types, points, teams, gazetteer, tuple(dups))

    # --- places -------------------------------------------------------------------------
    def district_of(self, community_id: str, district_id: str = "") -> Place | None:
        """The district of a point or team: its own, else its community's, else None."""
        places = self.gazetteer.places
        community = places.get(community_id)
        did = district_id or (community.district if community else "")
        place = places.get(did)
        return place if place is not None and place.kind == "district" else None

    def points_in(self, place: Place, type_id: str | None = None) -> list[ServicePoint]:
        """Points of a community, of a district (its communities' too) or of the city."""
        out = []
        for p in self.points.values():
            if type_id and p.type != type_id:
                continue
            if place.kind == "city" or place.kind == "community" and p.community == place.id:
                out.append(p)
            elif place.kind == "district":
                district = self.district_of(p.community, p.district)
                if district is not None and district.id == place.id:
                    out.append(p)
        return sorted(out, key=lambda p: (p.community, p.type, p.name_zh))

    def teams_in(self, place: Place) -> list[Team]:
        out = []
        for t in self.teams.values():
            if place.kind == "city" or (place.kind == "community" and t.community == place.id):
                out.append(t)
            elif place.kind == "district":
                district = self.district_of(t.community)
                if district is not None and district.id == place.id:
                    out.append(t)
        return sorted(out, key=lambda t: t.name_zh)

    def team_area(self, team: Team) -> PlaceArea:
        """Where the team lies, for matching cadres' areas; None where not recorded."""
        community = self.gazetteer.places.get(team.community)
        district = self.district_of(team.community)
        return PlaceArea(self.gazetteer.city.name_zh, district.name_zh if district else None,
                         (community.street or None) if community else None,
                         community.name_zh if community else None)

    def sorted_teams(self, teams: list[Team] | None = None) -> list[Team]:
        """Teams in browsing order: by district, community, then name (numbers counted)."""
        districts = [p.id for p in self.gazetteer.districts()]

        def key(team: Team) -> tuple:
            district = self.district_of(team.community)
            rank = districts.index(district.id) if district else len(districts)
            parts = re.split(r"(\d+)", team.name_zh)
            name = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)
            return (rank, team.community, name)

        return sorted(self.teams.values() if teams is None else teams, key=key)

    # --- words --------------------------------------------------------------------------
    def detect_type(self, text: str) -> ServiceType | None:
        """The service type a question asks about, from its words (longest keyword first)."""
        norm = normalise(text)
        for word, stype in self._type_words:
            if word and word in norm:
                return stype
        return None

    def search_teams(self, query: str) -> list[Team]:
        """Teams whose name, community, district, type or description contains the words."""
        words = [w for w in normalise(query).split() if w]
        places = {pm.place.id for pm in self.gazetteer.find(query)}
        stype = self.detect_type(query)
        out = []
        for team in self.sorted_teams():
            community = self.gazetteer.places.get(team.community)
            district = self.district_of(team.community)
            hay = normalise(" ".join(filter(None, (
                team.name_zh, team.name_en, team.description_zh, team.description_en,
                community.name_zh if community else "", community.name_en if community else "",
                district.name_zh if district else "", district.name_en if district else ""))))
            in_place = bool(places) and (team.community in places
                                         or (district is not None and district.id in places))
            of_type = stype is not None and team.service_type == stype.id
            if in_place or of_type or (words and all(w in hay for w in words)):
                out.append(team)
        return out

    # --- distance -----------------------------------------------------------------------
    @property
    def located_count(self) -> int:
        return len(self._located)

    def nearest(self, lat: float, lon: float, *, limit: int = 5, max_km: float = 20.0,
                type_id: str | None = None) -> list[tuple[ServicePoint, float]]:
        """The closest points with coordinates within `max_km`, nearest first, with km.

        An equirectangular estimate picks the candidates (fast and exact enough within a city);
        the haversine distance is then computed for those only.
        """
        if not self._located:
            return []
        phi, lam = math.radians(lat), math.radians(lon)
        k = math.cos(phi) ** 2
        lats, lons = self._lat, self._lon
        order = heapq.nsmallest(
            limit * 4 if type_id else limit, range(len(lats)),
            key=lambda i: (lats[i] - phi) ** 2 + k * (lons[i] - lam) ** 2)
        if type_id:  # few of that type nearby: fall back to a full scan of that type
            order = [i for i in order if self._located[i].type == type_id][:limit]
            if len(order) < limit:
                cands = [i for i, p in enumerate(self._located) if p.type == type_id]
                order = heapq.nsmallest(
                    limit, cands, key=lambda i: (lats[i] - phi) ** 2 + k * (lons[i] - lam) ** 2)
        out = []
        for i in order:
            p = self._located[i]
            km = distance_km(lat, lon, p.lat, p.lon)  # type: ignore[arg-type]
            if km <= max_km:
                out.append((p, km))
        return sorted(out, key=lambda pk: pk[1])


def in_changsha(lat: float, lon: float) -> bool:
    return LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1]


def check(directory: Directory) -> list[tuple[str, str]]:
    """Problems for `kb check`: ("error"|"warning", message)."""
    out: list[tuple[str, str]] = []
    places = directory.gazetteer.places
    for dup in directory.duplicates:
        out.append(("error", f"directory: id defined twice: {dup}"))
    empty_ops = 0
    for p in directory.points.values():
        where = f"{p.file}: service {p.id or '(no id)'}"
        if not ID_SHAPE.match(p.id):
            out.append(("error", f"{where}: id must be 1-40 letters, digits, _ or -"))
        if not p.name_zh:
            out.append(("error", f"{where}: name_zh is empty"))
        if p.type not in directory.types:
            out.append(("error", f"{where}: unknown type {p.type!r}"))
        if p.community and places.get(p.community, None) is None:
            out.append(("error", f"{where}: unknown community {p.community!r}"))
        if p.district and (places.get(p.district) is None
                           or places[p.district].kind != "district"):
            out.append(("error", f"{where}: unknown district {p.district!r}"))
        if not p.community and not p.district:
            out.append(("error", f"{where}: needs a community or a district"))
        if (p.lat is None) != (p.lon is None):
            out.append(("error", f"{where}: give both lat and lon, or neither"))
        elif p.lat is not None and not in_changsha(p.lat, p.lon):  # type: ignore[arg-type]
            out.append(("error", f"{where}: coordinates {p.lat},{p.lon} are not in Changsha"))
        if not (p.address and p.hours and p.phone and p.lat is not None):
            empty_ops += 1
    if empty_ops:
        out.append(("warning", f"directory: {empty_ops} service point(s) lack address, hours, "
                               "phone or coordinates (operator fields; the bot says how to "
                               "confirm)"))
    for t in directory.teams.values():
        where = f"{t.file}: team {t.id or '(no id)'}"
        if not ID_SHAPE.match(t.id):
            out.append(("error", f"{where}: id must be 1-40 letters, digits, _ or -"))
        if not t.name_zh:
            out.append(("error", f"{where}: name_zh is empty"))
        community = places.get(t.community)
        if community is None or community.kind != "community":
            out.append(("error", f"{where}: unknown community {t.community!r}"))
        elif not community.district:
            out.append(("warning", f"{where}: the district of {community.name_zh} is not "
                                   "recorded, so only city-level cadres and administrators "
                                   "see its sign-ups"))
        if t.service_type and t.service_type not in directory.types:
            out.append(("error", f"{where}: unknown service_type {t.service_type!r}"))
        if t.capacity is not None and t.capacity < 1:
            out.append(("error", f"{where}: capacity must be at least 1"))
        if not t.coordinator:
            out.append(("warning", f"{where}: no coordinator; sign-ups go to the area's cadres"))
    return out
